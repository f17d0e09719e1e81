"""What every command module shares: turning user errors into one line, and option helpers."""
from __future__ import annotations

import functools
import logging
from typing import Callable, Iterable

import click

from gancompress.errors import CheckpointError, NonFiniteLossError, RunsFailed
from gancompress.registry import UnknownNameError

# OSError covers what the user's paths do: a read-only or full disk, --out under a file, no permission
USER_ERRORS: tuple[type[BaseException], ...] = (UnknownNameError, ValueError, OSError, CheckpointError,
                                                NonFiniteLossError, RunsFailed)


def user_errors(fn):
    """Turn expected failures (bad config, missing file, corrupt checkpoint) into one clear line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as err:
            raise click.ClickException(str(err)) from None

    return wrapper


class _EchoHandler(logging.Handler):
    """Library log lines (which files were loaded, ...) on stderr, through click (so tests capture them)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def log_to_stderr() -> None:
    logger = logging.getLogger("gancompress")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler())
    logger.setLevel(logging.INFO)


def overrides(pairs: dict[str, object], extra: tuple[str, ...]) -> list[str]:
    return [f"{k}={v}" for k, v in pairs.items() if v is not None] + list(extra)


def command_config(config_path: str | None, recipe: str | None, pairs: dict[str, object], sets: tuple[str, ...]):
    """The config a many-run command starts from: `config_path`, else `recipe`'s shipped config (else the
    built-in defaults), with `pairs` (None: not given) and the --set overrides on top."""
    from gancompress.config import default_config_for, load_config

    if not config_path and recipe:
        config_path = default_config_for(recipe)
    return load_config(config_path, overrides({"recipe": recipe, **pairs}, sets))


def first_line(obj) -> str:
    return (obj.__doc__ or "").strip().splitlines()[0] if obj.__doc__ else ""


def set_option(fn):
    return click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                        help="Any config key, dotted (e.g. prune.every=10); repeatable.")(fn)


def jobs_option(fn):
    return click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
                        help="Runs at a time, each in its own process with the CPU threads shared out "
                             "(its output in <run dir>.log); 1: one after another, here.")(fn)


def _seed_list(ctx, param, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(s) for s in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a comma list of integers, e.g. 0,1,2") from None


def seeds_option(help: str):
    """``--seeds 0,1,2`` as a list of ints (None when not given); anything else is a usage error."""
    return click.option("--seeds", callback=_seed_list, metavar="S,S,...", help=help)


class _ListingOption(click.Option):
    """An option whose help lists a registry's names, looked up only when help is shown
    (importing the registries imports torch; ``gancompress --version`` should not wait for it)."""

    def __init__(self, *decls, names: Callable[[], Iterable[str]], sep: str = " | ", **kwargs):
        super().__init__(*decls, **kwargs)
        self._template, self._names, self._sep = kwargs.get("help") or "{names}", names, sep

    def get_help_record(self, ctx):
        self.help = self._template.format(names=self._sep.join(self._names()))
        return super().get_help_record(ctx)


def listing_option(*decls, names: Callable[[], Iterable[str]], sep: str = " | ", **kwargs):
    """``click.option`` whose help text's ``{names}`` becomes the names `names()` returns, joined by `sep`."""
    return click.option(*decls, cls=_ListingOption, names=names, sep=sep, **kwargs)


def granularity_names() -> list[str]:
    from gancompress.pruning import GRANULARITIES

    return GRANULARITIES.names()


def schedule_names() -> list[str]:
    from gancompress.pruning import SCHEDULES

    return SCHEDULES.names()


def technique_names() -> list[str]:
    from gancompress.techniques import TECHNIQUES

    return TECHNIQUES.names()


def table1_ids() -> list[str]:
    from gancompress.techniques.table1 import ROWS

    return list(ROWS)
