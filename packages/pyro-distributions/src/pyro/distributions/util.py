"""Shape and masking helpers used by distributions and by code that handles log-densities."""

from __future__ import annotations

import copy
import functools
import inspect
import numbers
import weakref
from typing import Any, Callable, Sequence

import torch

from pyro.ops.score_parts import scale_and_mask


def broadcast_shape(*shapes: Sequence[int], strict: bool = False) -> tuple:
    """Return the shape that ``shapes`` broadcast to.

    Args:
        shapes: shapes (tuples or ``torch.Size``).
        strict: if True, a size-1 dim does not stretch: sizes must agree where both exist.

    Raises:
        ValueError: the shapes cannot be broadcast together.
    """
    rev: list = []
    for shape in shapes:
        for i, size in enumerate(reversed(tuple(shape))):
            if i >= len(rev):
                rev.append(size)
            elif rev[i] == size:
                continue
            elif rev[i] == 1 and not strict:
                rev[i] = size
            elif size == 1 and not strict:
                continue
            else:
                raise ValueError(
                    "shape mismatch: objects cannot be broadcast to a single shape: "
                    + " vs ".join(str(tuple(s)) for s in shapes)
                )
    return tuple(reversed(rev))


def sum_rightmost(value: Any, dim: int) -> Any:
    """Sum out the ``dim`` rightmost dims of ``value`` (a number is returned as it is).

    A negative ``dim`` keeps the ``-dim`` leftmost dims and sums the rest.
    """
    if not isinstance(value, torch.Tensor) or dim == 0:
        return value
    if dim < 0:
        dim += value.dim()
    if dim == 0:
        return value
    return value.reshape(value.shape[: value.dim() - dim] + (-1,)).sum(-1)


def sum_leftmost(value: Any, dim: int) -> Any:
    """Sum out the ``dim`` leftmost dims of ``value`` (a number is returned as it is).

    A negative ``dim`` keeps the ``-dim`` rightmost dims and sums the rest; a ``dim`` at least
    ``value.dim()`` sums everything.
    """
    if not isinstance(value, torch.Tensor):
        return value
    if dim < 0:
        dim += value.dim()
    if dim <= 0:
        return value
    if dim >= value.dim():
        return value.sum()
    return value.reshape((-1,) + value.shape[dim:]).sum(0)


def scalar_like(prototype: torch.Tensor, fill_value: Any) -> torch.Tensor:
    """Return a 0-dim tensor holding ``fill_value`` with ``prototype``'s dtype and device."""
    return torch.tensor(fill_value, dtype=prototype.dtype, device=prototype.device)


#: ``torch.logsumexp`` (Pyro's name for it in this module).
logsumexp = torch.logsumexp


def is_identically_zero(x: Any) -> bool:
    """Return whether ``x`` is the number 0 (a tensor is never considered identically zero)."""
    return isinstance(x, numbers.Number) and x == 0


def is_identically_one(x: Any) -> bool:
    """Return whether ``x`` is the number 1 (a tensor is never considered identically one)."""
    return isinstance(x, numbers.Number) and x == 1


def eye_like(value: torch.Tensor, m: int, n: int | None = None) -> torch.Tensor:
    """Return an ``m x n`` identity matrix with ``value``'s dtype and device."""
    n = m if n is None else n
    return torch.eye(m, n, dtype=value.dtype, device=value.device)


def copy_docs_from(source_class: type, full_text: bool = False) -> Callable[[type], type]:
    """Class decorator: give undocumented methods and properties the docs of ``source_class``.

    Every function or property defined in the decorated class without a docstring, whose name
    ``source_class`` also has (documented), gets either the source's docstring
    (``full_text=True``) or a one-line reference ``See :meth:`module.Source.name```. The class's
    own docstring is filled in the same way when it has none. Documented names are left alone.

    Args:
        source_class: the class whose docs are borrowed.
        full_text: copy the whole docstring instead of a reference.

    Returns:
        The decorator, which returns the class it was given.
    """
    if not isinstance(source_class, type):
        raise TypeError(
            f"copy_docs_from(source_class): expected a class, got {type(source_class).__name__}"
        )
    where = f"{source_class.__module__}.{source_class.__qualname__}"

    def doc_for(kind: str, name: str | None, doc: str) -> str:
        if full_text:
            return doc
        return f"See :{kind}:`{where}`" if name is None else f"See :{kind}:`{where}.{name}`"

    def decorator(destin_class: type) -> type:
        if destin_class.__doc__ is None and source_class.__doc__:
            destin_class.__doc__ = doc_for("class", None, source_class.__doc__)
        for name, attr in list(vars(destin_class).items()):
            if name.startswith("__"):
                continue
            source_attr = inspect.getattr_static(source_class, name, None)
            source_doc = getattr(source_attr, "__doc__", None)
            if isinstance(source_attr, (staticmethod, classmethod)):
                source_doc = source_attr.__func__.__doc__
            if not source_doc:
                continue
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            if isinstance(attr, property):
                if attr.__doc__ is None:
                    doc = doc_for("meth", name, source_doc)
                    setattr(destin_class, name, property(attr.fget, attr.fset, attr.fdel, doc))
            elif inspect.isfunction(attr) and attr.__doc__ is None:
                attr.__doc__ = doc_for("meth", name, source_doc)
        return destin_class

    return decorator


def weakmethod(fn: Callable[..., Any]) -> property:
    """Decorate a method so that ``obj.method`` holds ``obj`` only weakly.

    Passing such a bound method to something that ``obj`` keeps (a callback, the proposal of a
    :class:`~pyro.distributions.Rejector` built by ``obj`` itself) then creates no reference
    cycle. Calling it after ``obj`` was garbage collected raises ``AttributeError``.

    Example::

        class Sampler(Rejector):
            def __init__(self, ...):
                super().__init__(self.propose, self.log_prob_accept, log_scale)

            @weakmethod
            def propose(self, sample_shape=torch.Size()):
                ...
    """

    def bind(self: Any) -> Callable[..., Any]:
        ref = weakref.ref(self)
        name = fn.__name__

        def weak_bound(*args: Any, **kwargs: Any) -> Any:
            obj = ref()
            if obj is None:
                raise AttributeError(f"self was garbage collected when calling self.{name}")
            return fn(obj, *args, **kwargs)

        return functools.update_wrapper(weak_bound, fn)

    return property(bind, doc=fn.__doc__)


def gather(value: torch.Tensor, index: torch.Tensor, dim: int) -> torch.Tensor:
    """:func:`torch.gather` with ``value`` and ``index`` broadcast against each other in every
    dim but ``dim`` (where the result has ``index``'s size)."""
    n = max(value.dim(), index.dim())
    if dim >= 0:
        dim -= value.dim()
    value = value.reshape((1,) * (n - value.dim()) + value.shape)
    index = index.reshape((1,) * (n - index.dim()) + index.shape)
    shape = list(broadcast_shape(
        value.shape[:n + dim] + (1,) + value.shape[n + dim + 1:],
        index.shape[:n + dim] + (1,) + index.shape[n + dim + 1:]))
    value_shape, index_shape = list(shape), list(shape)
    value_shape[n + dim] = value.shape[n + dim]
    index_shape[n + dim] = index.shape[n + dim]
    return value.expand(value_shape).gather(dim, index.expand(index_shape))


def _deep_map(obj: Any, fn: Callable[[Any], Any], memo: dict) -> Any:
    key = id(obj)
    if key in memo:
        return memo[key]
    if isinstance(obj, (torch.Tensor, torch.nn.Module)):
        result = fn(obj)
    elif isinstance(obj, dict):
        result = type(obj)((k, _deep_map(v, fn, memo)) for k, v in obj.items())
    elif isinstance(obj, tuple) and hasattr(obj, "_fields"):
        result = type(obj)(*(_deep_map(v, fn, memo) for v in obj))
    elif isinstance(obj, (list, tuple, set, frozenset)):
        result = type(obj)(_deep_map(v, fn, memo) for v in obj)
    else:
        result = obj
    memo[key] = result
    return result


def deep_to(obj: Any, *args: Any, **kwargs: Any) -> Any:
    """A copy of ``obj`` (nested dicts, lists, tuples, sets of tensors and modules) with every
    tensor and module moved by ``.to(*args, **kwargs)``; other leaves are kept as they are."""
    def move(x: Any) -> Any:
        if isinstance(x, torch.nn.Module):
            x = copy.deepcopy(x)
        return x.to(*args, **kwargs)

    return _deep_map(obj, move, {})


def detach(obj: Any) -> Any:
    """A copy of ``obj`` (nested containers of tensors) with every tensor detached from the
    autograd graph; modules are deep-copied with their parameters detached."""
    def cut(x: Any) -> Any:
        if isinstance(x, torch.nn.Module):
            x = copy.deepcopy(x)
            for p in x.parameters():
                p.detach_()
            return x
        return x.detach()

    return _deep_map(obj, cut, {})


# Names Pyro users import from here although they live elsewhere.
from torch.distributions.utils import broadcast_all  # noqa: E402
from torch.jit import script_if_tracing as torch_jit_script_if_tracing  # noqa: E402

from pyro.util import ignore_jit_warnings  # noqa: E402

log_sum_exp = logsumexp

__all__ = [
    "broadcast_all",
    "broadcast_shape",
    "copy_docs_from",
    "deep_to",
    "detach",
    "gather",
    "ignore_jit_warnings",
    "log_sum_exp",
    "torch_jit_script_if_tracing",
    "eye_like",
    "is_identically_one",
    "is_identically_zero",
    "logsumexp",
    "scalar_like",
    "scale_and_mask",
    "sum_leftmost",
    "sum_rightmost",
    "weakmethod",
]


def enable_validation(is_validate: bool = True) -> None:
    """Turn validation of distribution arguments and values on or off (see :mod:`pyro.util`)."""
    from pyro.util import enable_validation as _enable

    _enable(is_validate)


def is_validation_enabled() -> bool:
    """Return whether validation is on (see :mod:`pyro.util`)."""
    from pyro.util import is_validation_enabled as _is_enabled

    return _is_enabled()


def validation_enabled(is_validate: bool = True) -> Any:
    """Context manager turning validation on (or off) inside it (see :mod:`pyro.util`)."""
    from pyro.util import validation_enabled as _validation_enabled

    return _validation_enabled(is_validate)


__all__ += ["enable_validation", "is_validation_enabled", "validation_enabled"]
