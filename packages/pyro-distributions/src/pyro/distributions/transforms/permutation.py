""":class:`Permute`: reorder the entries of one dim.

(Named ``permutation``, not ``permute``: a submodule is an attribute of the package, and
``pyro.distributions.transforms.permute`` is kept free for Pyro's ``permute`` helper.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import constraints


class Permute(Transform):
    """Reorder the entries of dim ``dim`` by ``permutation``: ``y = x[..., permutation]``."""

    bijective = True
    volume_preserving = True

    def __init__(self, permutation: torch.Tensor, *, dim: int = -1, cache_size: int = 1) -> None:
        if dim >= 0:
            raise ValueError(f"Permute: dim must be negative, got {dim}")
        super().__init__(cache_size=cache_size)
        self.permutation = torch.as_tensor(permutation, dtype=torch.long)
        self.dim = dim
        self._inv_permutation = torch.empty_like(self.permutation)
        self._inv_permutation[self.permutation] = torch.arange(len(self.permutation))

    @property
    def domain(self) -> Any:  # type: ignore[override]
        return constraints.independent(constraints.real, -self.dim)

    @property
    def codomain(self) -> Any:  # type: ignore[override]
        return constraints.independent(constraints.real, -self.dim)

    @property
    def inv_permutation(self) -> torch.Tensor:
        """The permutation that undoes this one."""
        return self._inv_permutation

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return x.index_select(self.dim, self.permutation.to(x.device))

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y.index_select(self.dim, self._inv_permutation.to(y.device))

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[: x.dim() + self.dim])

    def with_cache(self, cache_size: int = 1) -> "Permute":
        if self._cache_size == cache_size:
            return self
        return Permute(self.permutation, dim=self.dim, cache_size=cache_size)


__all__ = ["Permute"]
