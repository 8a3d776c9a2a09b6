""":class:`Normalize`: project nonzero vectors onto the unit sphere."""

from __future__ import annotations

import numbers
from typing import Any

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import constraints


class Normalize(Transform):
    """Map a nonzero vector to the unit sphere: ``x / ||x||_p`` (not bijective)."""

    domain = constraints.real_vector
    codomain = constraints.sphere
    bijective = False

    def __init__(self, p: float = 2, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"Normalize: p must be a positive number, got {type(p).__name__} {p!r}")
        if not p > 0:
            raise ValueError(f"Normalize: p must be positive, got {p}")
        self.p = p

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Normalize) and other.p == self.p

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return x / x.norm(p=self.p, dim=-1, keepdim=True).clamp(min=torch.finfo(x.dtype).tiny)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y


__all__ = ["Normalize"]
