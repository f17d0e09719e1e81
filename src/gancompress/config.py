"""Run configuration: frozen dataclasses, YAML files, dotted overrides, strict validation.

Every section is a dataclass; building one from a mapping rejects unknown keys with
a message naming the key and the valid ones, and each dataclass checks its ranges
in ``__post_init__``.
"""
from __future__ import annotations

import dataclasses
import logging
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from gancompress.io import read_yaml
from gancompress.pruning import PruneConfig


AMP_DTYPES = {"off": None, "bf16": "bfloat16", "fp16": "float16"}  # train.amp -> torch dtype name


class ConfigError(ValueError):
    """A configuration that cannot be run; the message names the offending key."""


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation loop, shared by `train` and `compress`."""

    steps: int = 600
    batch_size: int = 64
    lr_g: float | None = None  # None: the recipe's original learning rate
    lr_d: float | None = None
    # fraction of the run after which every learning rate falls linearly to 0 (1.0: constant)
    lr_decay_start: float = 1.0
    # decay of a moving average of the student's weights, which replaces them at the end (0: off)
    ema: float = 0.0
    seed: int = 0
    log_every: int = 10
    ckpt_every: int = 200  # 0 disables periodic checkpoints
    eval_every: int = 0  # 0: evaluate only at the end
    eval_samples: int = 1000
    device: str = "auto"  # auto (cuda when available) | cpu | cuda | cuda:N
    amp: str = "off"  # mixed precision of the training steps (evaluation stays float32): off | bf16 | fp16 (loss-scaled)
    channels_last: bool = False  # networks and image batches in NHWC memory layout (faster convs on GPUs)

    def __post_init__(self) -> None:
        _check(self.steps >= 1, "train.steps", self.steps, "must be >= 1")
        _check(self.batch_size >= 1, "train.batch_size", self.batch_size, "must be >= 1")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            _check(value is None or value > 0, f"train.{name}", value, "must be > 0")
        _check(0 <= self.lr_decay_start <= 1, "train.lr_decay_start", self.lr_decay_start, "must be in [0, 1]")
        _check(0 <= self.ema < 1, "train.ema", self.ema, "must be in [0, 1)")
        for name in ("log_every", "ckpt_every", "eval_every"):
            _check(getattr(self, name) >= 0, f"train.{name}", getattr(self, name), "must be >= 0")
        _check(self.device == "auto" or self.device.split(":")[0] in ("cpu", "cuda"),
               "train.device", self.device, "valid: auto, cpu, cuda, cuda:N")
        _check(self.eval_samples >= 2, "train.eval_samples", self.eval_samples, "must be >= 2")
        _check(self.amp in AMP_DTYPES, "train.amp", self.amp, f"valid: {', '.join(AMP_DTYPES)}")


@dataclass(frozen=True)
class RunConfig:
    """Everything a `train` or `compress` run needs."""

    recipe: str = "dcgan-digits"
    recipe_options: dict = field(default_factory=dict)  # checked by the recipe's own Options
    technique: str = "self-supervised"
    technique_options: dict = field(default_factory=dict)  # checked by the technique
    teacher: str | None = None  # a teacher directory; None: the one shipped for the recipe
    init: str | None = None  # train only: start G and D from this run's or teacher's weights (None: fresh)
    inception: str | None = None  # Inception TorchScript weights for standard FID
    out: str = "runs/compress"
    prune: PruneConfig = field(default_factory=PruneConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _check(ok: bool, key: str, value: Any, why: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r}: {why}")


def from_mapping(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    """Build dataclass `cls` from `data`, recursing into nested dataclasses.

    Unknown keys raise ConfigError naming the dotted key and the valid ones;
    range errors from ``__post_init__`` are re-raised as ConfigError.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix + unknown[0]!r}; valid keys: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        key = prefix + name
        if dataclasses.is_dataclass(hint):
            kwargs[name] = from_mapping(hint, value or {}, key + ".")
        else:
            kwargs[name] = _coerce(value, hint, key)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:  # e.g. PruneConfig's own checks
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: {err}") from None


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Check `value` against a simple type hint (int, float, str, bool, tuple, dict, Optional)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0])
    if origin is tuple or hint is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}={value!r}: expected a list")
        return tuple(value)
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}={value!r}: expected a mapping")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}={value!r}: expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}={value!r}: expected an integer")
        return value
    if hint is float:
        if isinstance(value, str):  # a Python caller's "5e-5" (read_yaml already reads it as a float)
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}={value!r}: expected a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}={value!r}: expected a string")
        return value
    return value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=value`` overrides (values parsed as YAML) to a nested dict copy."""
    out = _deep_copy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. prune.target=0.75")
        key, raw = item.split("=", 1)
        value = read_yaml(raw)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = value
    return out


def _deep_copy(data: Mapping) -> dict:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


SHIPPED_CONFIGS = Path(__file__).resolve().parent / "configs"


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in SHIPPED_CONFIGS.glob("*.yaml"))


def default_config_for(recipe: str) -> Path | None:
    """The shipped compression config of `recipe`, if there is one."""
    path = SHIPPED_CONFIGS / f"{recipe}.yaml"
    return path if path.exists() else None


def _config_path(name: str | Path, relative_to: Path | None = None) -> Path:
    """A config file's path: as given (or next to the config naming it), else a shipped config's name."""
    for candidate in ([relative_to / name] if relative_to is not None else []) + [Path(name)]:
        if candidate.exists():
            return candidate
    shipped = SHIPPED_CONFIGS / f"{name}.yaml"
    return shipped if shipped.exists() else Path(name)


def _read_config_file(path: Path) -> dict:
    try:
        data = read_yaml(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist; shipped configs: "
                          f"{', '.join(shipped_configs())}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(path)!r} is not text (a YAML file is expected)") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a folder, not a YAML file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of config keys; it holds a "
                          f"{type(data).__name__}")
    return data


def merged_over(base: Mapping, data: Mapping) -> dict:
    """`data` over `base`, section by section; `base`'s technique_options go when `data` changes technique."""
    out = _deep_copy(base)
    if "technique" in data and data["technique"] != base.get("technique"):
        out.pop("technique_options", None)
    for key, value in data.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = merged_over(out[key], value) if both else (_deep_copy(value) if isinstance(value, Mapping) else value)
    return out


def read_config(path: Path, _chain: tuple[Path, ...] = ()) -> dict:
    """A config file's mapping, built on the config its ``extends:`` names (``shipped``: the shipped config of
    its recipe; else a shipped config's name or a path, relative to this file first)."""
    data = _read_config_file(path)
    base = data.pop("extends", None)
    if base is None:
        return data
    if base == "shipped":
        if not data.get("recipe"):
            raise ConfigError(f"config file {str(path)!r}: extends: shipped needs the file's recipe: key")
        base_path = default_config_for(str(data["recipe"]))
        if base_path is None:
            raise ConfigError(f"config file {str(path)!r}: extends: shipped, but no config is shipped for recipe "
                              f"{data['recipe']!r}; shipped configs: {', '.join(shipped_configs())}")
    elif isinstance(base, str) and base:
        base_path = _config_path(base, path.parent)
    else:
        raise ConfigError(f"config file {str(path)!r}: extends={base!r}: expected 'shipped', a shipped config's "
                          "name or a YAML file")
    chain = (*_chain, path.resolve())
    if base_path.resolve() in chain:
        raise ConfigError(f"config file {str(path)!r}: extends {str(base_path)!r}, which extends it back (a cycle)")
    return merged_over(read_config(base_path, chain), data)


def _say_which_base(file: Path, data: Mapping) -> None:
    """A user's config without ``extends:`` runs on the untuned built-in defaults: say so where a tuned
    shipped config exists for its recipe."""
    shipped = default_config_for(str(data.get("recipe", "")))
    if shipped is None or file.resolve().parent == SHIPPED_CONFIGS or "extends" in _read_config_file(file):
        return
    logging.getLogger("gancompress").info(
        f"{file} builds on the built-in defaults, not on the tuned shipped config of {data['recipe']!r} "
        f"({shipped.name}); add 'extends: shipped' to the file to build on it")


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    """A RunConfig from an optional YAML file (or a shipped config's name; ``extends:`` builds one file on
    another) plus dotted overrides. A file without ``extends:`` builds on the built-in defaults."""
    data: dict = {}
    if path is not None:
        file = _config_path(path)
        data = read_config(file)
        _say_which_base(file, data)
    merged = apply_overrides(data, list(overrides))
    if "technique_options" in data and merged.get("technique") != data.get("technique"):
        # the file's technique_options were written for the file's technique, not the overriding one
        merged = apply_overrides({k: v for k, v in data.items() if k != "technique_options"}, list(overrides))
    return from_mapping(RunConfig, merged)


def saved_config(path: str | Path) -> RunConfig:
    """The config a run wrote into its folder (complete as written, so nothing is said about its base)."""
    return from_mapping(RunConfig, read_config(Path(path)))


def to_dict(cfg: Any) -> dict:
    """A plain, YAML-friendly dict of a (nested) config dataclass."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}


def options_from(cls: type, data: Mapping[str, Any], section: str) -> Any:
    """Validate a free-form options section (recipe_options, technique_options) against `cls`."""
    return from_mapping(cls, data, section + ".")
