""":class:`HaarTransform`: the orthonormal Haar wavelet transform along one dimension."""

from __future__ import annotations

import math
from typing import Any, List

import torch

from pyro.distributions.transforms.along_dim import AlongDimTransform, check_event

_SQRT_HALF = math.sqrt(0.5)


def _level_sizes(n: int) -> List[int]:
    """The lengths the transform halves through: ``n, n // 2, ...`` while above one."""
    sizes = []
    while n > 1:
        sizes.append(n)
        n //= 2
    return sizes


def haar_last(x: torch.Tensor) -> torch.Tensor:
    """The orthonormal Haar transform of ``x`` along its last dim.

    Each level pairs neighbours ``(a, b)`` into ``(a + b)/sqrt 2`` (carried to the next level)
    and ``(a - b)/sqrt 2`` (kept); an odd last element is kept as it is. The output is the final
    average, then each level's kept values from the coarsest to the finest, the level's odd
    element after its differences.
    """
    kept = []
    coarse = x
    for n in _level_sizes(x.shape[-1]):
        m = 2 * (n // 2)
        even, odd = coarse[..., 0:m:2], coarse[..., 1:m:2]
        kept.append((even - odd) * _SQRT_HALF)
        kept.append(coarse[..., m:])
        coarse = (even + odd) * _SQRT_HALF
    pieces = [coarse]
    for i in range(len(kept) - 2, -1, -2):
        pieces += [kept[i], kept[i + 1]]
    return torch.cat(pieces, dim=-1)


def inverse_haar_last(y: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`haar_last` along the last dim."""
    x = y[..., :1]
    offset = 1
    for n in reversed(_level_sizes(y.shape[-1])):
        half = n // 2
        diff = y[..., offset:offset + half]
        rest = y[..., offset + half:offset + n - half]
        offset += n - half
        pairs = torch.stack([(x + diff) * _SQRT_HALF, (x - diff) * _SQRT_HALF], dim=-1)
        x = torch.cat([pairs.flatten(-2), rest], dim=-1)
    return x


class HaarTransform(AlongDimTransform):
    """The orthonormal Haar wavelet transform along dimension ``dim`` (any length: an odd
    element at a level passes through unchanged). Orthogonal, so ``log|det| = 0`` and the
    inverse is exact.

    Args:
        dim: the (negative) dimension transformed; the event has ``-dim`` dims.
        flip: reverse the input along ``dim`` first (so the last elements get the coarsest
            resolution's attention instead of the first).
        cache_size: torch's transform cache size (0 or 1).
    """

    bijective = True

    def __init__(self, dim: int = -1, flip: bool = False, cache_size: int = 0) -> None:
        super().__init__(dim, cache_size=cache_size)
        self.flip = flip

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other.dim == self.dim and other.flip == self.flip

    def __hash__(self) -> int:
        return hash((type(self), self.dim, self.flip))

    def with_cache(self, cache_size: int = 1) -> "HaarTransform":
        if self._cache_size == cache_size:
            return self
        return type(self)(self.dim, self.flip, cache_size=cache_size)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        check_event("HaarTransform", self.dim, x)
        z = x.movedim(self.dim, -1)
        if self.flip:
            z = z.flip(-1)
        return haar_last(z).movedim(-1, self.dim)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        check_event("HaarTransform", self.dim, y)
        z = inverse_haar_last(y.movedim(self.dim, -1))
        if self.flip:
            z = z.flip(-1)
        return z.movedim(-1, self.dim)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Zero, one value per event."""
        return x.new_zeros(x.shape[: x.dim() + self.dim])


__all__ = ["HaarTransform", "haar_last", "inverse_haar_last"]
