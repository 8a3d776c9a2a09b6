"""Checks of ``pyro.plate``'s arguments, with errors that name the plate.

A plate built with an ``int`` size and no explicit subsample calls none of these.
"""

from __future__ import annotations

import numbers
from typing import Any, Optional

import torch

__all__ = ["check_plate_args", "check_plate_sizes", "check_plate_subsample"]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_int_tensor(value: Any) -> bool:
    return (isinstance(value, torch.Tensor) and value.dim() == 0
            and not value.dtype.is_floating_point and not value.dtype.is_complex
            and value.dtype != torch.bool)


def check_plate_args(name: Any, dim: Any) -> None:
    """Raise ``TypeError`` for a plate name that is not a ``str`` or a ``dim`` that is not an int."""
    if not isinstance(name, str):
        raise TypeError(f"pyro.plate: the name must be a str, got {type(name).__name__} {name!r}")
    if dim is not None and not _is_int(dim):
        raise TypeError(f"plate '{name}': dim must be a negative int, got {type(dim).__name__} {dim!r}")


def check_plate_sizes(name: str, size: Any, subsample_size: Any) -> None:
    """Raise ``TypeError`` for a ``size`` or ``subsample_size`` that is not an integer (an
    integer 0-dim tensor is accepted as a size, as in Pyro)."""
    if size is not None and not (_is_int(size) or _is_int_tensor(size)):
        raise TypeError(f"plate '{name}': size must be an int, got {type(size).__name__} {size!r}")
    if subsample_size is not None and not _is_int(subsample_size):
        raise TypeError(
            f"plate '{name}': subsample_size must be an int, got "
            f"{type(subsample_size).__name__} {subsample_size!r}"
        )


def check_plate_subsample(name: str, size: Optional[Any], subsample: Any) -> None:
    """Raise for explicit ``subsample`` indices that are not a 1-d sequence of integers in
    ``0..size-1``.

    The range is checked for lists and CPU tensors only: reading a CUDA tensor's bounds would
    wait for the device on every step.
    """
    if isinstance(subsample, torch.Tensor):
        if subsample.dtype.is_floating_point or subsample.dtype.is_complex or subsample.dtype == torch.bool:
            raise TypeError(f"plate '{name}': subsample must hold integer indices, got dtype {subsample.dtype}")
        if subsample.dim() != 1:
            raise ValueError(
                f"plate '{name}': subsample must be a 1-d tensor of indices, got shape {tuple(subsample.shape)}"
            )
        if subsample.device.type != "cpu" or subsample.numel() == 0 or size is None:
            return
        low, high = int(subsample.min()), int(subsample.max())
    else:
        try:
            values = list(subsample)
        except TypeError:
            raise TypeError(
                f"plate '{name}': subsample must be a tensor or a list of indices, got "
                f"{type(subsample).__name__}"
            ) from None
        if not all(_is_int(v) or _is_int_tensor(v) for v in values):
            raise TypeError(f"plate '{name}': subsample must hold integer indices, got {values!r}")
        if not values or size is None or not all(_is_int(v) for v in values):
            return
        low, high = min(values), max(values)
    if size is not None and _is_int(size) and (low < 0 or high >= size):
        raise ValueError(
            f"plate '{name}': subsample indices must be in 0..{size - 1} (size={size}), got "
            f"indices from {low} to {high}"
        )
