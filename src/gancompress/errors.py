"""Errors that mean "the user's input cannot be used"; the CLI prints them as one line."""
from __future__ import annotations


class CheckpointError(RuntimeError):
    """A checkpoint or weight file that cannot be used; the message says why."""


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or inf; the message names the term (and the trainer adds the step)."""

    def __init__(self, term: str, value: float, step: int | None = None, note: str = ""):
        self.term, self.value, self.step = term, value, step
        where = f"step {step}: " if step is not None else ""
        super().__init__(f"{where}loss term {term!r} is {value}{note}")


class RunsFailed(RuntimeError):
    """Some runs of a batch run in parallel failed; the message names each with its log and error."""
