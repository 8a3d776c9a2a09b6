""":class:`HaarTransform`: the orthonormal Haar wavelet transform along one dimension."""

from __future__ import annotations

from typing import Any

import torch

from pyro.distributions.transforms.along_dim import AlongDimTransform, check_event
from pyro.ops.tensor_utils import haar_transform, inverse_haar_transform



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
        return haar_transform(z).movedim(-1, self.dim)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        check_event("HaarTransform", self.dim, y)
        z = inverse_haar_transform(y.movedim(self.dim, -1))
        if self.flip:
            z = z.flip(-1)
        return z.movedim(-1, self.dim)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Zero, one value per event."""
        return x.new_zeros(x.shape[: x.dim() + self.dim])


__all__ = ["HaarTransform"]
