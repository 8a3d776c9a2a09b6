"""The flow helper :func:`permute`: a :class:`~pyro.distributions.transforms.Permute` of the
entries of one dim, by a given or a random permutation (between other flows, so that an
autoregressive or coupling flow sees its inputs in a new order).
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch

from pyro.distributions.transforms import Permute
from pyro.nn.dense_nn import check_int


def _permuted_size(input_dim: Union[int, Sequence[int]], dim: int) -> int:
    """The size of the dim ``dim`` that the permutation reorders (checked)."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim >= 0:
        raise ValueError(f"permute: 'dim' keyword argument must be negative, got {dim!r}")
    if isinstance(input_dim, Sequence) and not isinstance(input_dim, str):
        shape = tuple(input_dim)
        if len(shape) != -dim:
            raise ValueError(
                f"permute: event shape {shape} must have same length as event_dim {-dim}")
        size = shape[dim]
        check_int("permute", f"input_dim[{dim}]", size)
    else:  # an int: the size of the permuted dim (Pyro takes only the event shape for dim < -1)
        size = input_dim  # type: ignore[assignment]
        check_int("permute", "input_dim", size)
    return size


def permute(input_dim: Union[int, Sequence[int]],
            permutation: Optional[Union[torch.Tensor, Sequence[int]]] = None,
            dim: int = -1) -> Permute:
    """Build a :class:`~pyro.distributions.transforms.Permute`.

    Args:
        input_dim: the size of the permuted dim, or the event shape (``-dim`` sizes) whose dim
            ``dim`` is permuted.
        permutation: the new order, a ``LongTensor`` or sequence of the indices of that dim;
            ``None`` (default) draws one at random (``torch.randperm``).
        dim: the (negative) dim to permute.

    Raises:
        ValueError: a non-negative ``dim``, an event shape of the wrong length, a size below 1,
            or a ``permutation`` that is not a reordering of ``0..size-1``.
        TypeError: a size that is not an int, or a permutation of non-integer indices.
    """
    size = _permuted_size(input_dim, dim)
    if permutation is None:
        return Permute(torch.randperm(size), dim=dim)
    if not isinstance(permutation, torch.Tensor):
        try:
            permutation = torch.as_tensor(permutation)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"permute: permutation must be a tensor or a sequence of indices, got "
                            f"{type(permutation).__name__} {permutation!r}") from None
    if permutation.dim() == 1 and permutation.shape[0] != size:
        raise ValueError(f"permute: permutation has {permutation.shape[0]} entries, expected "
                         f"{size} (input_dim)")
    return Permute(permutation, dim=dim)


__all__ = ["permute"]
