"""Ground-floor file I/O: atomic writes, JSON/YAML files, network weights.

- Weights of networks: safetensors (``{net}.safetensors``), never pickle.
- Foreign ``.pth`` / ``.ckpt`` state dicts (e.g. from the reference implementations)
  load with ``weights_only=True``, so a pickle that would run code is refused.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from gancompress.errors import CheckpointError


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto `path`, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_weights(module_or_state: nn.Module | Mapping[str, torch.Tensor], path: str | Path,
                 metadata: Mapping[str, str] | None = None) -> Path:
    """Save a state dict as safetensors, atomically."""
    state = module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else module_or_state
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=dict(metadata or {})))


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors, or from .pth/.pt/.ckpt with weights_only loading."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"weights file {str(path)!r} does not exist")
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as err:
        raise CheckpointError(
            f"cannot load {str(path)!r}: {str(err).splitlines()[0][:300]} "
            "(only safetensors or weights-only torch files are accepted; a file that needs "
            "arbitrary unpickling is refused)"
        ) from None
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{str(path)!r} does not hold a state dict of tensors")
    return dict(state)


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Strict load that names the first missing/unexpected key or mismatched shape."""
    own = module.state_dict()
    state = {k.removeprefix("module."): v for k, v in state.items()}  # DataParallel/DDP prefixes
    for key, value in own.items():
        if key not in state:
            raise CheckpointError(f"{what}: key {key!r} is missing from the checkpoint "
                                  f"(is it for another architecture or other options?)")
        if tuple(state[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{what}: shape mismatch at {key!r}: checkpoint {tuple(state[key].shape)} "
                f"vs model {tuple(value.shape)} (is it for another architecture or other options?)"
            )
        if value.is_floating_point() and not state[key].is_floating_point():
            raise CheckpointError(f"{what}: {key!r} is {str(state[key].dtype).removeprefix('torch.')} in the "
                                  f"checkpoint; the model's is {str(value.dtype).removeprefix('torch.')} "
                                  "(a file saved with the wrong dtype would load as garbage)")
        if state[key].is_floating_point() and not bool(torch.isfinite(state[key]).all()):
            raise CheckpointError(f"{what}: {key!r} holds NaN or inf values (a diverged or corrupt checkpoint)")
    extra = sorted(set(state) - set(own))
    if extra:
        raise CheckpointError(f"{what}: unexpected key {extra[0]!r} in the checkpoint")
    module.load_state_dict(state, strict=True)


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML silently keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.2 floats without a dot ("3e-4", "1E5"): PyYAML's YAML 1.1 rules read them as strings, so an
# untyped option such as a term weight would silently become the text "3e-4".
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
                                    list("-+0123456789"))


def read_yaml(text: str):
    """Safe YAML with duplicate keys refused (yaml.YAMLError names the key and line)."""
    return yaml.load(text, Loader=_StrictLoader)


def write_json(path: str | Path, data: Any) -> Path:
    """`data` as indented JSON, atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n"))


def write_yaml(path: str | Path, data: Any, header: str = "") -> Path:
    """`data` as YAML (keys in their order) after `header` (comment lines), atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(header + yaml.safe_dump(data, sort_keys=False)))


def save_state_dict(state: Mapping[str, torch.Tensor], path: str | Path) -> Path:
    """A ``torch.save``d state dict (CPU tensors), as reference scripts write and read them, atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    return atomic_write(path, lambda tmp: torch.save(tensors, tmp))


def save_networks(nets: Mapping[str, nn.Module], out: str | Path, prefix: str = "") -> list[Path]:
    """Each network of `nets` as ``{prefix}{key}.safetensors`` in `out`."""
    return [save_weights(net, Path(out) / f"{prefix}{key}.safetensors") for key, net in nets.items()]
