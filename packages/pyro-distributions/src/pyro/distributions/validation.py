"""Argument and sample validation that gives torch's verdicts at a fraction of its cost.

torch validates every parameter of a new distribution, and every value given to ``log_prob``,
with one or more tensor ops per constraint and a device-to-host read of the result: about 5 us
per check on the CPU, several checks per distribution (``Beta`` checks its parameters twice,
once more through the ``Dirichlet`` it builds; a ``simplex`` check is eight ops). Most
parameters and values in a model are scalars or short vectors on the CPU. For those, the check
here reads the numbers (one ``tolist``) and compares them in Python, with the very expression
torch's constraint uses (so NaN, infinities and integer checks come out the same). A simplex is
accepted in Python only when the row sums are within 1e-6 of one by a margin that covers
float32 rounding of torch's sum; a borderline or failing row goes to torch's check, which has
the last word. Anything else (longer tensors, other devices, constraints not listed here,
tracing by the JIT) goes through torch's own check, unchanged.

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


# Up to this many elements, reading a CPU tensor into Python and comparing there costs less
# than one tensor op (a tolist of 32 floats takes about 0.5 us; an op about 2 us).
_SMALL = 32
# Bound on the rounding of a sum of k numbers of total magnitude 1 in these dtypes, per term
# (the unit roundoff, with room to spare): torch's sum may differ from the exact one by k times
# this, whatever the order it adds in.
_SUM_ROUNDING = {torch.float32: 2.0 ** -23, torch.float64: 2.0 ** -52}
_SIMPLEX_TOL = 1e-6


def _simplex_rows_ok(value: torch.Tensor) -> bool:
    """True only if torch's simplex check surely passes; False means "ask torch"."""
    unit = _SUM_ROUNDING.get(value.dtype)
    if unit is None or value.dim() == 0:
        return False
    k = value.shape[-1]
    tol = _SIMPLEX_TOL * (1 - 1e-7) - (k + 1) * unit * 1.01
    for row in value.reshape(-1, k).tolist():
        total = 0.0
        for x in row:
            if not x >= 0:
                return False
            total += x
        if not abs(total - 1.0) < tol:
            return False
    return True


def _check(constraint: Any, value: Any) -> bool:
    """Whether every element of ``value`` satisfies ``constraint`` (torch's verdict)."""
    if type(value) is torch.Tensor and value.is_cpu and not _tracing():
        n = value.numel()
        if n == 1 and value.dim() == 0:
            predicate = _predicate(constraint)
            if predicate is not None:
                return bool(predicate(value.item()))
        elif 0 < n <= _SMALL:
            if constraint is _C.simplex:
                if _simplex_rows_ok(value):
                    return True
            else:
                while type(constraint) is _C._IndependentConstraint:
                    if value.dim() < constraint.reinterpreted_batch_ndims:
                        break
                    constraint = constraint.base_constraint
                else:
                    predicate = _predicate(constraint)
                    if predicate is not None:
                        return all(map(predicate, value.reshape(-1).tolist()))
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
