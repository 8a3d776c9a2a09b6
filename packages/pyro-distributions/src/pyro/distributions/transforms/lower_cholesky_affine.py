""":class:`LowerCholeskyAffine`: the affine map ``loc + scale_tril @ x``."""

from __future__ import annotations

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import constraints
from pyro.distributions.transforms.cholesky import _log_diag


class LowerCholeskyAffine(Transform):
    """Map a vector ``x`` to ``loc + scale_tril @ x``."""

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    volume_preserving = False

    def __init__(self, loc: torch.Tensor, scale_tril: torch.Tensor, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        if scale_tril.dim() < 2 or scale_tril.shape[-1] != scale_tril.shape[-2]:
            raise ValueError(
                f"LowerCholeskyAffine: scale_tril must be square, got shape {tuple(scale_tril.shape)}"
            )
        if loc.shape[-1:] != scale_tril.shape[-1:]:
            raise ValueError(
                f"LowerCholeskyAffine: loc of shape {tuple(loc.shape)} and scale_tril of shape "
                f"{tuple(scale_tril.shape)} disagree on the event size"
            )
        self.loc = loc
        self.scale_tril = scale_tril

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return self.loc + (self.scale_tril @ x.unsqueeze(-1)).squeeze(-1)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        z = torch.linalg.solve_triangular(self.scale_tril, (y - self.loc).unsqueeze(-1), upper=False)
        return z.squeeze(-1)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _log_diag(self.scale_tril).sum(-1).expand(x.shape[:-1])

    def with_cache(self, cache_size: int = 1) -> "LowerCholeskyAffine":
        if self._cache_size == cache_size:
            return self
        return LowerCholeskyAffine(self.loc, self.scale_tril, cache_size=cache_size)


__all__ = ["LowerCholeskyAffine"]
