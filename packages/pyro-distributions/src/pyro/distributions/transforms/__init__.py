"""Transforms: torch's (re-exported) and Pyro's own, plus ``biject_to`` / ``transform_to``.

Pyro's transforms here: :class:`OrderedTransform`, :class:`CorrMatrixCholeskyTransform`,
:class:`CholeskyTransform`, :class:`SoftplusLowerCholeskyTransform`,
:class:`UnitLowerCholeskyTransform`, :class:`Permute`, :class:`PositivePowerTransform`,
:class:`ELUTransform`, :class:`LeakyReLUTransform`, :class:`LowerCholeskyAffine`,
:class:`Normalize`, and the learnable bases :class:`TransformModule` and
:class:`ComposeTransformModule`. Names registered by plugins through
``pyro_register_transforms`` (e.g. normalising flows) resolve as attributes too.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch.distributions import biject_to, transform_to
from torch.distributions.transforms import *  # noqa: F401,F403  (torch's names)
from torch.distributions.transforms import __all__ as _TORCH_NAMES
from torch.distributions.transforms import (
    ComposeTransform,
    CorrCholeskyTransform,
    ExpTransform,
    SoftplusTransform,
    Transform,
)

from pyro.distributions import constraints
from pyro.distributions.torch_transform import ComposeTransformModule, TransformModule


class OrderedTransform(Transform):
    """Map a real vector to a strictly increasing one: ``y[0] = x[0]``,
    ``y[i] = y[i-1] + exp(x[i])``."""

    domain = constraints.real_vector
    codomain = constraints.ordered_vector
    bijective = True
    sign = +1

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, OrderedTransform)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[..., :1], x[..., 1:].exp()], dim=-1).cumsum(-1)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.cat([y[..., :1], (y[..., 1:] - y[..., :-1]).log()], dim=-1)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x[..., 1:].sum(-1)


def _log_diag(m: torch.Tensor) -> torch.Tensor:
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


class PositivePowerTransform(Transform):
    """Map positive ``x`` to ``x ** exponent`` (``exponent > 0``)."""

    domain = constraints.positive
    codomain = constraints.positive
    bijective = True
    sign = +1

    def __init__(self, exponent: Any, *, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        self.exponent = exponent

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return x.pow(self.exponent)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y.pow(1 / self.exponent)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        exponent = torch.as_tensor(self.exponent, dtype=x.dtype, device=x.device)
        return exponent.abs().log() + (exponent - 1) * x.log()


class ELUTransform(Transform):
    """Map ``x`` to ``elu(x)`` (``x`` for ``x > 0``, ``exp(x) - 1`` otherwise)."""

    domain = constraints.real
    codomain = constraints.greater_than(-1.0)
    bijective = True
    sign = +1

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ELUTransform)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(x)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.where(y > 0, y, torch.log1p(y.clamp(max=0)))

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -F.relu(-x)


class LeakyReLUTransform(Transform):
    """Map ``x`` to ``leaky_relu(x)`` with negative slope 0.01."""

    domain = constraints.real
    codomain = constraints.real
    bijective = True
    sign = +1

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, LeakyReLUTransform)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(y, negative_slope=100.0)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= 0.0, torch.zeros_like(x), torch.ones_like(x) * math.log(0.01))


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


class Normalize(Transform):
    """Map a nonzero vector to the unit sphere: ``x / ||x||_p`` (not bijective)."""

    domain = constraints.real_vector
    codomain = constraints.sphere
    bijective = False

    def __init__(self, p: float = 2, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        self.p = p

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Normalize) and other.p == self.p

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return x / x.norm(p=self.p, dim=-1, keepdim=True).clamp(min=torch.finfo(x.dtype).tiny)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y


# ----- biject_to / transform_to for Pyro's constraints ------------------------------------------
@biject_to.register(constraints.ordered_vector)
@transform_to.register(constraints.ordered_vector)
def _to_ordered_vector(constraint: Any) -> Transform:
    return OrderedTransform()


@biject_to.register(constraints.positive_ordered_vector)
@transform_to.register(constraints.positive_ordered_vector)
def _to_positive_ordered_vector(constraint: Any) -> Transform:
    return ComposeTransform([OrderedTransform(), ExpTransform()])


@biject_to.register(constraints.corr_matrix)
@transform_to.register(constraints.corr_matrix)
def _to_corr_matrix(constraint: Any) -> Transform:
    return ComposeTransform([CorrCholeskyTransform(), CorrMatrixCholeskyTransform().inv])


@biject_to.register(constraints.softplus_positive)
@transform_to.register(constraints.softplus_positive)
def _to_softplus_positive(constraint: Any) -> Transform:
    return SoftplusTransform()


@biject_to.register(constraints.softplus_lower_cholesky)
@transform_to.register(constraints.softplus_lower_cholesky)
def _to_softplus_lower_cholesky(constraint: Any) -> Transform:
    return SoftplusLowerCholeskyTransform()


@biject_to.register(constraints.unit_lower_cholesky)
@transform_to.register(constraints.unit_lower_cholesky)
def _to_unit_lower_cholesky(constraint: Any) -> Transform:
    return UnitLowerCholeskyTransform()


@transform_to.register(constraints.sphere)
def _to_sphere(constraint: Any) -> Transform:
    return Normalize()


#: Pyro's own transforms, by registered name (torch's are registered too, by their names).
PYRO_TRANSFORMS = {
    "CholeskyTransform": CholeskyTransform,
    "ComposeTransformModule": ComposeTransformModule,
    "CorrMatrixCholeskyTransform": CorrMatrixCholeskyTransform,
    "ELUTransform": ELUTransform,
    "LeakyReLUTransform": LeakyReLUTransform,
    "LowerCholeskyAffine": LowerCholeskyAffine,
    "Normalize": Normalize,
    "OrderedTransform": OrderedTransform,
    "Permute": Permute,
    "PositivePowerTransform": PositivePowerTransform,
    "SoftplusLowerCholeskyTransform": SoftplusLowerCholeskyTransform,
    "TransformModule": TransformModule,
    "UnitLowerCholeskyTransform": UnitLowerCholeskyTransform,
}

__all__ = sorted(set(_TORCH_NAMES) | set(PYRO_TRANSFORMS) | {"biject_to", "transform_to"})


def __getattr__(name: str) -> Any:
    from pyro.plugins import resolve

    return resolve("transforms", name, __name__)
