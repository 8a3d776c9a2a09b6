"""Checks of the primitives' arguments, with the errors that name the site.

``pyro.sample`` tests its arguments with a type comparison or two and calls in here only when
one of them is unusual (a name that is not a ``str``, an ``infer`` dict asking for
enumeration, ...); everything else here runs once something is already wrong.
"""

from __future__ import annotations

import numbers
import sys
import warnings
from collections.abc import Mapping
from typing import Any, NoReturn

import torch

from pyro.util import short_repr as _shown

__all__ = ["check_sample_args", "check_site_tensor", "warn_no_module_params"]

#: What ``infer={"enumerate": ...}`` may say (``"flat"`` is Pyro's own setting for a flat search).
ENUMERATE_VALUES = (None, "parallel", "sequential", "flat")




def check_sample_args(name: Any, infer: Any) -> None:
    """Raise ``TypeError`` for a site name that is not a ``str`` or an ``infer`` that is not a
    dict, and ``ValueError`` for an ``infer["enumerate"]`` Pyro does not know."""
    if not isinstance(name, str):
        raise TypeError(f"pyro.sample: the site name must be a str, got {type(name).__name__} {_shown(name)}")
    if infer is None:
        return
    if not isinstance(infer, Mapping):
        raise TypeError(
            f"pyro.sample: site '{name}': infer must be a dict, got {type(infer).__name__} {_shown(infer)}"
        )
    enumerate_ = infer.get("enumerate")
    if enumerate_ not in ENUMERATE_VALUES:
        raise ValueError(
            f"pyro.sample: site '{name}': infer['enumerate'] must be 'parallel', 'sequential' or "
            f"None, got {_shown(enumerate_)}"
        )


def _sample_fn_is_class(name: Any, fn: type) -> NoReturn:
    """Raise the ``TypeError`` for a ``pyro.sample`` given a distribution class, not an instance
    (called after calling the class raised a ``TypeError``; other classes are left alone, as
    stochastic functions)."""
    raise TypeError(
        f"pyro.sample: site '{name}': fn is the class {fn.__name__}, not a distribution; "
        f"construct it first, e.g. {fn.__name__}(...)"
    )


def check_site_tensor(primitive: str, name: Any, argument: str, value: Any, numbers_ok: bool) -> None:
    """Raise ``TypeError`` unless ``value`` is a tensor (or, with ``numbers_ok``, a real number)."""
    if numbers_ok and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return
    expected = "a tensor or a number" if numbers_ok else "a tensor"
    raise TypeError(
        f"{primitive}: site '{name}': {argument} must be {expected}, got "
        f"{type(value).__name__} {_shown(value)}"
    )


def warn_no_module_params(name: str, nn_module: torch.nn.Module) -> None:
    """Warn that ``pyro.module(name, nn_module)`` registered nothing: the module has no parameters.

    Not when the call comes from ``PyroModule``, which registers each plain submodule it uses
    (an ``nn.ReLU`` among them) on every call.
    """
    caller = sys._getframe(2).f_globals.get("__name__", "")
    if caller.startswith("pyro.nn."):
        return
    warnings.warn(
        f"pyro.module('{name}'): {type(nn_module).__name__} has no parameters, so nothing is "
        f"registered in the param store",
        UserWarning,
        stacklevel=3,
    )
