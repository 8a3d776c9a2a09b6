"""Argument checks shared by the inference engines, run once at construction or per call
(never per site), and the error types they raise.

Both error types keep, as extra bases, the types Pyro raises for the same calls (often from a
bare ``assert``), so code written against Pyro still catches them.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping
from typing import Any

import torch

from pyro.util import describe_value

class EngineArgumentError(ValueError, AssertionError):
    """An inference engine was given a wrong value (out of range, unknown option).

    A ``ValueError``; an ``AssertionError`` too, the type Pyro's own asserts raise for many of
    these calls.
    """


class EngineArgumentTypeError(TypeError, ValueError, AssertionError):
    """An inference engine was given a wrong kind of value (a float count, a non-callable model).

    A ``TypeError``; also a ``ValueError`` and an ``AssertionError``, the types Pyro raises for
    some of these calls (later, or from an assert).
    """


#: ``"<type name> <repr>"`` of a value for error messages (pyro-core's one helper).
describe = describe_value


def check_count(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    """Refuse ``value`` unless it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise EngineArgumentTypeError(
            f"{owner}: {name} must be an int >= {minimum}, got {describe(value)}")
    if value < minimum:
        raise EngineArgumentError(f"{owner}: {name} must be an int >= {minimum}, got {value}")


def check_real(owner: str, name: str, value: Any) -> None:
    """Refuse ``value`` unless it is a real number: an int or float (not a bool or a string),
    or a 0-dim real tensor."""
    if isinstance(value, torch.Tensor):
        if value.dim() == 0 and value.dtype is not torch.bool and not value.is_complex():
            return
    elif not isinstance(value, bool) and isinstance(value, numbers.Real):
        return
    raise EngineArgumentTypeError(f"{owner}: {name} must be a number, got {describe(value)}")


def check_callable(owner: str, name: str, fn: Any, optional: bool = False) -> None:
    """Refuse ``fn`` unless it is callable (or ``None`` when ``optional``)."""
    if not callable(fn) and not (optional and fn is None):
        extra = " or None" if optional else ""
        raise EngineArgumentTypeError(
            f"{owner}: {name} must be a callable{extra}, got {describe(fn)}")


def check_mapping(owner: str, name: str, value: Any, what: str) -> None:
    """Refuse ``value`` unless it is a mapping (a dict or any ``collections.abc.Mapping``);
    ``what`` says what it maps, e.g. ``"site name to initial value"``."""
    if not isinstance(value, Mapping):
        raise EngineArgumentTypeError(f"{owner}: {name} must be a dict of {what}, got {describe(value)}")


def check_flag(owner: str, name: str, value: Any) -> None:
    """Refuse ``value`` unless it reads as a flag: a bool, ``None`` (false), an int 0 or 1, a
    numpy bool or a one-element bool tensor (a string, a list, another number is refused)."""
    if value is None or isinstance(value, bool) or type(value).__module__ == "numpy" and (
            type(value).__name__ in ("bool", "bool_")):
        return
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return
    if isinstance(value, torch.Tensor) and value.dtype == torch.bool and value.numel() == 1:
        return
    raise EngineArgumentTypeError(f"{owner}: {name} must be a bool, got {describe(value)}")


def check_model_args(owner: str, model: Any, args: Any, kwargs: Any = None) -> None:
    """Refuse ``args`` unless a tuple (or list) and ``kwargs`` unless a mapping (or None): a bare
    tensor as ``model_args`` would be unpacked element by element. The message names the
    model's first parameter, to show how to wrap a lone argument."""
    if not isinstance(args, (tuple, list)):
        try:
            first = next(iter(inspect.signature(model).parameters), "x")
        except (TypeError, ValueError):
            first = "x"
        raise EngineArgumentTypeError(
            f"{owner}: model_args must be a tuple of the model's positional arguments, got "
            f"{describe(args)}; for one argument {first} pass model_args=({first},)")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise EngineArgumentTypeError(
            f"{owner}: model_kwargs must be a dict of the model's keyword arguments, got "
            f"{describe(kwargs)}")


__all__ = ["EngineArgumentError", "EngineArgumentTypeError", "check_callable", "check_count",
           "check_flag", "check_model_args", "check_real", "describe"]
