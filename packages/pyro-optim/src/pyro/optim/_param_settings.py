"""Per-parameter settings: ``optim_args`` and ``clip_args`` given as callables of a param's name."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, Optional, Union

import torch

from pyro.params import module_from_param_with_module_name, normalize_param_name, user_param_name

#: Optimizer settings: one dict for every parameter, or a callable giving each parameter's dict.
OptimArgs = Union[Dict[str, Any], Callable[..., Dict[str, Any]]]


def arity(fn: Callable) -> int:
    """Return how many arguments ``fn`` takes (2, Pyro's convention, where that cannot be read)."""
    try:
        return len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return 2


def describe_param(p: torch.Tensor, name: Optional[str]) -> str:
    """Name ``p`` for an error message: by its store name, else by its shape."""
    if name is not None:
        return f"param '{name}'"
    return f"an unnamed tensor of shape {tuple(p.shape)} (not in the param store)"


def settings_for(fn: Callable, argc: Optional[int], p: torch.Tensor, name: Optional[str],
                 what: str) -> Dict[str, Any]:
    """Call a per-parameter settings callable for the parameter ``p`` stored as ``name``.

    Args:
        fn: the callable; with one argument it gets the store name written with dots, otherwise
            ``(module_name, param_name)``.
        argc: ``fn``'s :func:`arity`.
        p: the parameter.
        name: its store name (None raises: a callable needs a name).
        what: what ``fn`` is, for error messages (``"optim_args"``).

    Returns:
        The dict ``fn`` returned.
    """
    if name is None:
        raise ValueError(
            f"{what} is a callable of the parameter's name, but {describe_param(p, name)} has no name"
        )
    if argc == 1:
        args = fn(normalize_param_name(name))
    else:
        args = fn(module_from_param_with_module_name(name), user_param_name(name))
    if not isinstance(args, dict):
        raise TypeError(f"{what} for param '{name}' must return a dict, got {type(args).__name__}")
    return args
