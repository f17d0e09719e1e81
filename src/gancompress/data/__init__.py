"""Datasets: built-in real data and loaders for the standard layouts."""
