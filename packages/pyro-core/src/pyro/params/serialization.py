"""Safe files for parameters and optimizer state: atomic writes, loads that never run code.

Files are written with :func:`torch.save` and read back with ``torch.load(weights_only=True)``,
which only rebuilds tensors and plain containers. Constraints are written as their registered
name plus their plain attributes, and rebuilt from the ``constraints`` registry.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict

import torch
from torch.distributions.constraints import Constraint

_CONSTRAINT_KEY = "__constraint__"


class StateFileError(ValueError):
    """A state file could not be read: missing, truncated, corrupt, or of another format."""


def _fspath(filename: Any, action: str) -> str:
    """``filename`` as a str path; a ``TypeError`` naming what was given otherwise."""
    try:
        return os.fspath(filename)
    except TypeError:
        raise TypeError(f"cannot {action}: the filename must be a str or os.PathLike, got "
                        f"{type(filename).__name__} {filename!r}") from None


def atomic_save(obj: Any, filename: str | os.PathLike) -> None:
    """Write ``obj`` with :func:`torch.save` so that a crash leaves any previous file intact.

    The data goes to a temporary file in the same directory, is flushed and synced to disk,
    and then renamed over ``filename`` in one step.
    """
    filename = _fspath(filename, "save")
    directory = os.path.dirname(os.path.abspath(filename))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(filename), dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filename)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def safe_load(filename: str | os.PathLike, map_location: Any = None, *, kind: str) -> Dict[str, Any]:
    """Read a file written by :func:`atomic_save` without unpickling arbitrary objects.

    Args:
        filename: path to read.
        map_location: as for :func:`torch.load` (a device, string, dict or function).
        kind: the expected ``"format"`` tag of the file, e.g. ``"pyro-param-store"``.

    Returns:
        The stored dict.

    Raises:
        StateFileError: the file is missing, truncated, corrupt, holds objects other than
            tensors and plain containers, or is not a ``kind`` file.
    """
    filename = _fspath(filename, f"load a {kind} file")
    try:
        obj = torch.load(filename, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # torch raises many types for damaged or unsafe files
        raise StateFileError(
            f"cannot load {kind} file {os.fspath(filename)!r}: the file is truncated, corrupt, "
            f"or contains objects other than tensors and plain containers ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''})"
        ) from e
    if not isinstance(obj, dict) or obj.get("format") != kind:
        raise StateFileError(f"{os.fspath(filename)!r} is not a {kind} file")
    return obj


def _constraint_registry() -> Any:
    from pyro.plugins import get_registry

    return get_registry("constraints")


def constraint_to_spec(constraint: Constraint) -> Dict[str, Any]:
    """Describe ``constraint`` by its registered name and plain attributes.

    Raises:
        ValueError: the constraint (or its class) is not registered, so it could not be loaded
            back by name.
    """
    registry = _constraint_registry()
    for name, obj in registry.items():
        if obj is constraint:
            return {"name": name}
    cls = type(constraint)
    for name, obj in registry.items():
        if obj is cls:
            attrs = {k: _encode(v) for k, v in vars(constraint).items()}
            return {"name": name, "attrs": attrs}
    raise ValueError(
        f"constraint {constraint!r} of type {cls.__name__} is not registered; register it "
        f"through the pyro_register_constraints hook so it can be saved by name"
    )


def constraint_from_spec(spec: Dict[str, Any]) -> Constraint:
    """Rebuild a constraint from :func:`constraint_to_spec`'s description."""
    registry = _constraint_registry()
    name = spec.get("name")
    if name not in registry:
        raise StateFileError(f"the file names constraint {name!r}, which is not registered here")
    obj = registry.get(name)
    if "attrs" not in spec:
        if not isinstance(obj, Constraint):
            raise StateFileError(f"constraint {name!r} needs attributes the file does not have")
        return obj
    if not (isinstance(obj, type) and issubclass(obj, Constraint)):
        raise StateFileError(f"registered constraint {name!r} is not a constraint class")
    constraint = obj.__new__(obj)
    constraint.__dict__.update({k: _decode(v) for k, v in spec["attrs"].items()})
    return constraint


def _encode(value: Any) -> Any:
    if isinstance(value, Constraint):
        return {_CONSTRAINT_KEY: constraint_to_spec(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    raise ValueError(f"cannot save constraint attribute of type {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and _CONSTRAINT_KEY in value:
        return constraint_from_spec(value[_CONSTRAINT_KEY])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def encode_constraints(constraints: Dict[str, Constraint]) -> Dict[str, Any]:
    """Encode a dict of constraints for :func:`atomic_save`."""
    return {name: constraint_to_spec(c) for name, c in constraints.items()}


def decode_constraints(specs: Any) -> Dict[str, Constraint]:
    """Decode what :func:`encode_constraints` wrote."""
    if not isinstance(specs, dict):
        raise StateFileError("malformed constraints section")
    return {name: constraint_from_spec(spec) for name, spec in specs.items()}


def check_tensor_dict(section: Any, what: str) -> Dict[str, torch.Tensor]:
    """Check that ``section`` maps names to tensors; raise :class:`StateFileError` if not."""
    if not isinstance(section, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in section.items()
    ):
        raise StateFileError(f"malformed {what} section: expected a dict of name -> tensor")
    return section
