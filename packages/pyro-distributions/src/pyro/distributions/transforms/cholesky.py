"""Transforms onto lower-triangular (Cholesky) factors: :class:`CholeskyTransform`,
:class:`CorrMatrixCholeskyTransform`, :class:`SoftplusLowerCholeskyTransform`,
:class:`UnitLowerCholeskyTransform` and the deprecated :class:`CorrLCholeskyTransform`."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch.distributions.transforms import CorrCholeskyTransform, Transform

from pyro.distributions import constraints


def _log_diag(m: torch.Tensor) -> torch.Tensor:
    """The log of the diagonal of (a batch of) square matrices ``m``."""
    return m.diagonal(dim1=-2, dim2=-1).log()


class CholeskyTransform(Transform):
    """Map a positive-definite matrix to its lower Cholesky factor (and back with ``L @ L.T``)."""

    domain = constraints.positive_definite
    codomain = constraints.lower_cholesky
    bijective = True

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.cholesky(x)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y @ y.transpose(-1, -2)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # |d(L L^T)/dL| = 2^D prod_i L_ii^(D - i) (i from 0) on the lower-triangular entries.
        d = y.shape[-1]
        powers = torch.arange(d, 0, -1, dtype=y.dtype, device=y.device)
        return -(d * math.log(2.0) + (powers * _log_diag(y)).sum(-1))


class CorrMatrixCholeskyTransform(CholeskyTransform):
    """Map a correlation matrix to its lower Cholesky factor (and back with ``L @ L.T``)."""

    domain = constraints.corr_matrix
    codomain = constraints.corr_cholesky

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # Row i of the off-diagonal of x is a triangular linear map of row i of y whose
        # diagonal is y[j, j] for j < i, so |dx/dy| = prod_j y[j, j] ** (D - 1 - j).
        d = y.shape[-1]
        powers = torch.arange(d - 1, -1, -1, dtype=y.dtype, device=y.device)
        return -(powers * _log_diag(y)).sum(-1)


class SoftplusLowerCholeskyTransform(Transform):
    """Map a square matrix to a lower-Cholesky factor: its strictly lower part plus a
    softplus of its diagonal."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.softplus_lower_cholesky

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, SoftplusLowerCholeskyTransform)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        diag = F.softplus(x.diagonal(dim1=-2, dim2=-1))
        return x.tril(-1) + torch.diag_embed(diag)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        diag = y.diagonal(dim1=-2, dim2=-1)
        return y.tril(-1) + torch.diag_embed(diag + torch.log(-torch.expm1(-diag)))

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.logsigmoid(x.diagonal(dim1=-2, dim2=-1)).sum(-1)


class UnitLowerCholeskyTransform(Transform):
    """Map a square matrix to a lower-triangular one with unit diagonal (its strictly lower
    part plus the identity)."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.unit_lower_cholesky

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, UnitLowerCholeskyTransform)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
        return x.tril(-1) + eye

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y.tril(-1)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[:-2])


class CorrLCholeskyTransform(CorrCholeskyTransform):
    """Deprecated name of torch's :class:`~torch.distributions.transforms.CorrCholeskyTransform`
    (unconstrained vectors of size ``D (D - 1) / 2`` to Cholesky factors of ``D x D``
    correlation matrices); the first construction warns (``FutureWarning``)."""

    def __init__(self, cache_size: int = 0) -> None:
        from pyro.util import warn_once

        warn_once(
            "CorrLCholeskyTransform",
            "class CorrLCholeskyTransform is deprecated in favor of CorrCholeskyTransform.",
        )
        super().__init__(cache_size=cache_size)

    def with_cache(self, cache_size: int = 1) -> "CorrLCholeskyTransform":
        if self._cache_size == cache_size:
            return self
        return type(self)(cache_size=cache_size)


__all__ = [
    "CholeskyTransform",
    "CorrLCholeskyTransform",
    "CorrMatrixCholeskyTransform",
    "SoftplusLowerCholeskyTransform",
    "UnitLowerCholeskyTransform",
]
