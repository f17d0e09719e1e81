"""The generic trainer, checkpoints and distributed helpers."""
