"""Optimizer state: checking and copying per-parameter state dicts, and the file format.

A state file holds ``{"format": "pyro-optim-state", "version": 1, "state": {param name: entry}}``
and only tensors and plain data, so that it is read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Union

import torch

from pyro.params import serialization

FORMAT = "pyro-optim-state"
VERSION = 1


def check_plain(obj: Any, where: str) -> None:
    """Raise ValueError unless ``obj`` holds only what a safe load can read back."""
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor, torch.dtype, torch.device)):
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_plain(v, f"{where}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise ValueError(f"cannot save optimizer state: key {k!r} at {where} is not a str or int")
            check_plain(v, f"{where}[{k!r}]")
        return
    raise ValueError(
        f"cannot save optimizer state: {where} holds a {type(obj).__name__}, which a safe load "
        f"could not read back (only tensors, numbers, strings and containers of them are saved)"
    )


def copy_tensors(obj: Any) -> Any:
    """Return ``obj`` with every tensor in it (in dicts, lists and tuples) detached and cloned."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: copy_tensors(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [copy_tensors(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(copy_tensors(v) for v in obj)
    return obj


def check_optimizer_state(entry: Any, name: str) -> None:
    """Raise ValueError unless ``entry`` is the torch state dict of an optimizer of param ``name`` alone."""
    if not isinstance(entry, dict) or set(entry) != {"state", "param_groups"}:
        raise ValueError(
            f"optimizer state of param '{name}' must be a torch optimizer state dict with keys "
            f"'state' and 'param_groups'"
        )
    groups = entry["param_groups"]
    if (not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict)
            or list(groups[0].get("params", ())) != [0]):
        raise ValueError(
            f"optimizer state of param '{name}' must describe exactly one parameter (one param "
            f"group with params [0])"
        )
    if not isinstance(entry["state"], dict) or not set(entry["state"]) <= {0}:
        raise ValueError(f"optimizer state of param '{name}' has per-parameter state for other parameters")


def write_state_file(state: Dict[str, Any], filename: Union[str, os.PathLike],
                     optimizer: Optional[str] = None) -> None:
    """Write ``state`` (``{param name: entry}``) to ``filename`` atomically; ``optimizer`` names
    the optimizer that saved it (e.g. ``"Adam"``), checked by :func:`read_state_file`.

    Raises:
        ValueError: ``state`` holds objects a safe load could not read back; nothing is written.
    """
    check_plain(state, "state")
    header: Dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if optimizer is not None:
        header["optimizer"] = optimizer
    serialization.atomic_save({**header, "state": state}, filename)


def read_state_file(filename: Union[str, os.PathLike], map_location: Any = None,
                    optimizer: Optional[str] = None) -> Any:
    """Return the state stored by :func:`write_state_file` (not yet checked entry by entry).

    Args:
        optimizer: the optimizer loading the file; a file that names another one is refused
            (a file that names none is read).

    Raises:
        pyro.params.StateFileError: the file is truncated, corrupt, not an optimizer state file,
            or saved by another optimizer.
    """
    stored = serialization.safe_load(filename, map_location, kind=FORMAT)
    saved_by = stored.get("optimizer")
    if optimizer is not None and saved_by is not None and saved_by != optimizer:
        raise serialization.StateFileError(
            f"{os.fspath(filename)!r} holds optimizer state saved by {saved_by}, but it is being "
            f"loaded into {optimizer}; load it with the optimizer that saved it"
        )
    return stored.get("state")
