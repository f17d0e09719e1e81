"""`python -m gancompress ...` is the `gancompress` command (handy under torchrun)."""
from gancompress.cli import main

main()
