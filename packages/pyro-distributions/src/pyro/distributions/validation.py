"""Argument and sample validation that gives torch's verdicts at a fraction of its cost.

torch validates every parameter of a new distribution, and every value given to ``log_prob``,
with one or more tensor ops per constraint and a device-to-host read of the result: about 5 us
per check on the CPU, several checks per distribution (``Beta`` checks its parameters twice,
once more through the ``Dirichlet`` it builds). Most parameters and values in a model are
scalars on the CPU. For those, the check here reads the one number and compares it in Python,
with the very expression torch's constraint uses (so NaN, infinities and integer checks come
out the same); anything else (tensors with several elements, other devices, constraints not
listed here, tracing by the JIT) goes through torch's own check, unchanged.

The wrappers of :mod:`pyro.distributions.torch` build each distribution with torch's
validation off and then call :func:`validate_args` here; their ``_validate_sample`` is
:func:`validate_sample`. A distribution built inside another (``Beta``'s ``Dirichlet``,
``LogNormal``'s base ``Normal``) is therefore not checked a second time: its parameters are the
outer distribution's, which are.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch.distributions import constraints
from torch.distributions.utils import lazy_property

_C = constraints
_Number = (int, float)
_tracing = torch._C._get_tracing_state


def _scalar_predicate(constraint: Any) -> Optional[Callable[[Any], bool]]:
    """A Python function of one number agreeing with ``constraint.check``, or None."""
    kind = type(constraint)
    if kind is _C._Real:
        return lambda x: x == x
    if kind is _C._GreaterThan:
        low = constraint.lower_bound
        if type(low) in _Number:
            return lambda x: low < x
    elif kind is _C._GreaterThanEq:
        low = constraint.lower_bound
        if type(low) in _Number:
            return lambda x: low <= x
    elif kind is _C._LessThan:
        high = constraint.upper_bound
        if type(high) in _Number:
            return lambda x: x < high
    elif kind is _C._Interval:
        low, high = constraint.lower_bound, constraint.upper_bound
        if type(low) in _Number and type(high) in _Number:
            return lambda x: low <= x <= high
    elif kind is _C._HalfOpenInterval:
        low, high = constraint.lower_bound, constraint.upper_bound
        if type(low) in _Number and type(high) in _Number:
            return lambda x: low <= x < high
    elif kind is _C._Boolean:
        return lambda x: x == 0 or x == 1
    elif kind is _C._IntegerGreaterThan:
        low = constraint.lower_bound
        if type(low) in _Number:
            return lambda x: x % 1 == 0 and x >= low
    elif kind is _C._IntegerInterval:
        low, high = constraint.lower_bound, constraint.upper_bound
        if type(low) in _Number and type(high) in _Number:
            return lambda x: x % 1 == 0 and low <= x <= high
    return None


# Predicates of the constraint objects torch and Pyro share (constraints.positive, ...): these
# live as long as the program, so caching by identity is safe. Constraints built per
# distribution (e.g. Uniform's interval) are looked at each time.
_SHARED: Dict[int, Tuple[Any, Optional[Callable[[Any], bool]]]] = {}


def _predicate(constraint: Any) -> Optional[Callable[[Any], bool]]:
    hit = _SHARED.get(id(constraint))
    if hit is not None and hit[0] is constraint:
        return hit[1]
    return _scalar_predicate(constraint)


def _remember_shared() -> None:
    for name in dir(_C):
        obj = getattr(_C, name)
        if isinstance(obj, _C.Constraint) and not isinstance(obj, type):
            _SHARED[id(obj)] = (obj, _scalar_predicate(obj))


_remember_shared()


def _is_cpu_scalar(value: Any) -> bool:
    return type(value) is torch.Tensor and value.dim() == 0 and value.is_cpu


def _check(constraint: Any, value: Any) -> bool:
    """Whether every element of ``value`` satisfies ``constraint`` (torch's verdict)."""
    if _is_cpu_scalar(value) and not _tracing():
        predicate = _predicate(constraint)
        if predicate is not None:
            return bool(predicate(value.item()))
    return bool(torch._is_all_true(constraint.check(value)))


# Per class: the (name, constraint) pairs to check and the names that are lazily computed (a
# parameter not given to the constructor, e.g. ``logits`` of a Bernoulli built from ``probs``).
_ARGS: Dict[type, Tuple[List[Tuple[str, Any]], frozenset]] = {}


def _class_args(cls: type, arg_constraints: Dict[str, Any]) -> Tuple[List[Tuple[str, Any]], frozenset]:
    items = [(name, c) for name, c in arg_constraints.items() if not _C.is_dependent(c)]
    lazy = frozenset(name for name, _ in items
                     if isinstance(getattr(cls, name, None), lazy_property))
    return items, lazy


def validate_args(d: Any) -> None:
    """Check each parameter of ``d`` against ``d.arg_constraints``, as torch does at construction.

    Raises:
        ValueError: naming the parameter, its shape, the distribution and the constraint.
    """
    cls = type(d)
    static = getattr(cls, "arg_constraints", None)
    if isinstance(static, dict):
        entry = _ARGS.get(cls)
        if entry is None:
            entry = _ARGS[cls] = _class_args(cls, static)
    else:  # a property: computed per instance
        entry = _class_args(cls, d.arg_constraints)
    items, lazy = entry
    own = d.__dict__
    for name, constraint in items:
        if name in lazy and name not in own:
            continue
        value = getattr(d, name)
        if not _check(constraint, value):
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else ()
            raise ValueError(
                f"Expected parameter {name} ({type(value).__name__} of shape {shape}) of "
                f"distribution {d!r} to satisfy the constraint {constraint!r}, but found invalid "
                f"values:\n{value}"
            )


def validate_sample(d: Any, value: Any) -> None:
    """Check a value given to ``d.log_prob`` (and the like): its shape, then its support.

    A CPU scalar with a scalar event is checked in Python; anything else by torch's own
    ``_validate_sample``.
    """
    if not (_is_cpu_scalar(value) and not d._event_shape) or _tracing():
        torch.distributions.Distribution._validate_sample(d, value)
        return
    try:
        support = d.support
    except NotImplementedError:
        torch.distributions.Distribution._validate_sample(d, value)  # warns as torch does
        return
    if not _check(support, value):
        raise ValueError(
            f"Expected value argument ({type(value).__name__} of shape ()) to be within the "
            f"support ({support!r}) of the distribution {d!r}, but found invalid values:\n{value}"
        )
