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
tracing by the JIT) goes through torch's own check, unchanged. A longer value found inside a
support is remembered by identity and version counter, so the observed data of a model are
checked once, not at every step (an in-place change to them bumps the version: checked again).

The wrappers of :mod:`pyro.distributions.torch` build each distribution with torch's
validation off and then call :func:`validate_args` here; their ``_validate_sample`` is
:func:`validate_sample`. A distribution built inside another (``Beta``'s ``Dirichlet``,
``LogNormal``'s base ``Normal``) is therefore not checked a second time: its parameters are the
outer distribution's, which are.
"""

from __future__ import annotations

import numbers
import os
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch.distributions import constraints
from torch.distributions.utils import lazy_property

from pyro.call_site import pending_sample_site

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
    ndim = value.dim()
    rows = [value.tolist()] if ndim == 1 else (value if ndim == 2 else value.reshape(-1, k)).tolist()
    for row in rows:
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
                # An independent constraint holds where its base holds for every element (given
                # enough dims; with too few, torch's check raises its own error).
                while type(constraint) is _C._IndependentConstraint:
                    if value.dim() < constraint.reinterpreted_batch_ndims:
                        break
                    constraint = constraint.base_constraint
                else:
                    predicate = _predicate(constraint)
                    if predicate is not None:
                        flat = value if value.dim() == 1 else value.reshape(-1)
                        return all(map(predicate, flat.tolist()))
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


# Tensors found inside a shared support (``constraints.real``, ``boolean``, ...), by identity:
# ``id -> (weak reference, version, support)``.
# Observed data are the same tensor at every step of an inference loop; checking them again
# would cost a pass over all of them (and, on a GPU, a device sync) per step. An in-place change
# bumps the tensor's version counter, so a changed tensor is checked again.
_KNOWN_VALID: Dict[int, Tuple[Any, int, Any]] = {}
_KNOWN_VALID_MAX = 256


def _known_valid(value: torch.Tensor, support: Any) -> bool:
    entry = _KNOWN_VALID.get(id(value))
    return (entry is not None and entry[0]() is value and entry[2] is support
            and entry[1] == value._version)


def _remember_valid(value: torch.Tensor, support: Any) -> None:
    shared = _SHARED.get(id(support))
    if shared is None or shared[0] is not support:
        # A support built per distribution (an interval between tensors, say) may hold tensors
        # with autograd history: not kept alive here.
        return
    if len(_KNOWN_VALID) >= _KNOWN_VALID_MAX:
        _KNOWN_VALID.clear()
    _KNOWN_VALID[id(value)] = (weakref.ref(value), value._version, support)


def validate_sample(d: Any, value: Any) -> None:
    """Check a value given to ``d.log_prob`` (and the like): its shape, then its support.

    Same checks and verdicts as torch's ``Distribution._validate_sample``. The support check
    uses :func:`_check`'s fast paths, and a tensor of more than a few elements found valid is
    remembered (by identity and version counter) so that the same observed data are not
    checked again at every step.

    Raises:
        ValueError: the value's shape does not match the event shape or broadcast with the
            batch shape, or it has values outside the support.
    """
    if type(value) is not torch.Tensor or _tracing() or value.is_inference():
        torch.distributions.Distribution._validate_sample(d, value)
        return
    shape = value.shape
    event_shape = d._event_shape
    if shape[len(shape) - len(event_shape):] != event_shape:
        raise ValueError(
            f"The right-most size of value must match event_shape: {shape} vs {event_shape}."
        )
    expected = d._batch_shape + event_shape
    for i, j in zip(reversed(shape), reversed(expected)):
        if i != 1 and j != 1 and i != j:
            raise ValueError(
                f"Value is not broadcastable with batch_shape+event_shape: {shape} vs {expected}."
            )
    try:
        support = d.support
    except NotImplementedError:
        torch.distributions.Distribution._validate_sample(d, value)  # warns as torch does
        return
    large = value.numel() > _SMALL
    if large and _known_valid(value, support):
        return
    if not _check(support, value):
        raise ValueError(
            f"Expected value argument ({type(value).__name__} of shape {tuple(shape)}) to be "
            f"within the support ({support!r}) of the distribution {d!r}, but found invalid "
            f"values:\n{value}"
        )
    if large:
        _remember_valid(value, support)


#: Frames in these folders are the library's own; the first frame outside them is user code.
_LIBRARY_DIRS = (os.path.dirname(os.path.abspath(__file__)),
                 os.path.dirname(os.path.abspath(torch.__file__)))


class DistributionArgumentTypeError(TypeError, ValueError):
    """A distribution was given an argument of the wrong kind (a string or list for a tensor
    parameter, a number for a base distribution). A ``TypeError``, and a ``ValueError`` too, so
    code written for torch's and Pyro's ``ValueError`` here still catches it."""


def construction_error(message: str, kind: type = ValueError) -> ValueError:
    """The ``ValueError`` (or ``kind``) for a distribution that cannot be built: ``message``,
    led by the ``pyro.sample`` site the calling user code builds the distribution for, when its
    source names one (``site 'z': ...``). Called only once construction has failed."""
    if not message.startswith("site '"):
        site = pending_sample_site(_LIBRARY_DIRS)
        if site is not None:
            message = f"site '{site}': {message}"
    return kind(message)


def _tensor_like(value: Any) -> bool:
    # numbers.Number covers numpy scalars, which torch.as_tensor takes as Pyro does
    return value is None or isinstance(value, (numbers.Number, torch.Tensor)) or hasattr(
        value, "__torch_function__")


def argument_kind_error(dist_name: str, arguments: Dict[str, Any],
                        optional: Any = ()) -> Optional[ValueError]:
    """The error for the first argument of the wrong kind among a failed constructor's
    ``arguments`` (name -> value), or None when every argument is of a plausible kind.

    Arguments named ``*distribution`` must be distributions, ``*transform(s)`` are not
    checked, every other one must be a number or a tensor, or None when its name is in
    ``optional`` (the parameters whose default is None)."""
    from torch.distributions import Distribution

    for name, value in arguments.items():
        if name in ("self", "validate_args") or "transform" in name:
            continue
        if name.endswith("distribution"):
            if not isinstance(value, Distribution):
                return not_a_distribution(dist_name, name, value)
        elif not _tensor_like(value) or (value is None and name not in optional):
            hint = "; wrap it in torch.tensor(...)" if isinstance(value, (list, tuple)) else ""
            return construction_error(
                f"{dist_name}: parameter '{name}' must be a number or a tensor, got "
                f"{_kind(value)}{hint}", DistributionArgumentTypeError)
    return None


def not_a_distribution(dist_name: str, name: str, value: Any) -> ValueError:
    """The :class:`DistributionArgumentTypeError` for ``dist_name``'s argument ``name``, which
    must be a distribution instance but is ``value``."""
    return construction_error(
        f"{dist_name}: {name} must be a distribution instance, got {_kind(value)}",
        DistributionArgumentTypeError)


def check_distribution(dist_name: str, **arguments: Any) -> None:
    """Check that each of ``dist_name``'s ``arguments`` (name -> value) is a distribution.

    Raises:
        DistributionArgumentTypeError: naming the first argument that is not.
    """
    from torch.distributions import Distribution

    for name, value in arguments.items():
        if not isinstance(value, Distribution):
            raise not_a_distribution(dist_name, name, value)


def check_tensor_args(dist_name: str, **arguments: Any) -> None:
    """Check that each of ``dist_name``'s ``arguments`` (name -> value) is a number or a
    tensor, for constructors that convert them with ``torch.as_tensor`` or ``broadcast_all``.

    Raises:
        DistributionArgumentTypeError: naming the first argument of another kind.
    """
    for value in arguments.values():
        if not _tensor_like(value) or value is None:
            error = argument_kind_error(dist_name, arguments)
            if error is not None:
                raise error


def check_tensors(dist_name: str, **arguments: Any) -> None:
    """Check that each of ``dist_name``'s ``arguments`` (name -> value) is a tensor, for
    arguments whose dims the constructor reads (a matrix, a vector of logits).

    Raises:
        DistributionArgumentTypeError: naming the first argument that is not a tensor.
    """
    for name, value in arguments.items():
        if not isinstance(value, torch.Tensor):
            hint = "; wrap it in torch.tensor(...)" if isinstance(value, (list, tuple, int, float)) else ""
            raise construction_error(
                f"{dist_name}: {name} must be a tensor, got {_kind(value)}{hint}",
                DistributionArgumentTypeError)


def inner_error(error: Exception, outer: str, inner: str = "") -> Exception:
    """``error`` (raised building the distribution ``inner`` inside ``outer``'s constructor)
    again, of the same type, its message led by ``outer``'s name in place of ``inner``'s (after
    the site, when it names one)."""
    message = str(error)
    site = ""
    if message.startswith("site '"):
        site, _, message = message.partition(": ")
        site += ": "
    if inner and message.startswith((inner + ":", inner + "(")):
        message = outer + message[len(inner):]
    elif not message.startswith(outer):
        message = f"{outer}: {message}"
    try:
        return type(error)(site + message)
    except TypeError:  # an exception class with another signature: keep it as it was
        return error


class DistributionShapeError(ValueError, RuntimeError):
    """Shapes that do not go together (an ``expand`` to a shape that the batch shape does not
    broadcast to). A ``ValueError``, and a ``RuntimeError`` too, as torch and Pyro raise for an
    impossible expand, so code written for either still catches it."""

    #: The name of the distribution class the message is about.
    dist_name: str = ""


def cannot_expand(old: Any, new: Any) -> bool:
    """Whether a batch shape ``old`` cannot be expanded to ``new`` (shapes as sequences)."""
    if len(new) < len(old) or any(n < 0 for n in new):
        return True
    return any(o != 1 and o != n for o, n in zip(reversed(old), reversed(new)))


def expand_error(dist: Any, batch_shape: Any) -> DistributionShapeError:
    """The error for ``dist.expand(batch_shape)`` with a ``batch_shape`` that ``dist``'s batch
    shape does not expand to; the message names the class and both shapes."""
    name = type(dist).__name__
    error = DistributionShapeError(
        f"{name}: cannot expand batch_shape {tuple(dist.batch_shape)} to "
        f"{tuple(batch_shape)}; only size-1 dims and new leftmost dims can be expanded")
    error.dist_name = name
    return error


def _kind(value: Any) -> str:
    if isinstance(value, type):
        return f"the class {value.__name__} (build an instance)"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"

