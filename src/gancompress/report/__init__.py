"""Pictures, tables and the HTML report built from run directories."""
