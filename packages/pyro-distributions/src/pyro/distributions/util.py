"""Shape and masking helpers used by distributions and by code that handles log-densities."""

from __future__ import annotations

import numbers
from typing import Any, Sequence

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


__all__ = [
    "broadcast_shape",
    "eye_like",
    "is_identically_one",
    "is_identically_zero",
    "scale_and_mask",
    "sum_rightmost",
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
