"""Constraints: torch's (re-exported) and Pyro's own, each registered by name.

The names here resolve to :mod:`torch.distributions.constraints`' objects plus Pyro's:
``integer``, ``sphere``, ``corr_matrix``, ``ordered_vector``, ``positive_ordered_vector``,
``softplus_positive``, ``softplus_lower_cholesky``, ``unit_lower_cholesky`` and
``corr_cholesky_constraint`` (torch's ``corr_cholesky`` under Pyro's older name). Names registered
by plugins through ``pyro_register_constraints`` resolve as attributes too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions.constraints import *  # noqa: F401,F403  (torch's names)
from torch.distributions.constraints import __all__ as _TORCH_NAMES
from torch.distributions.constraints import (
    Constraint,
    _GreaterThan,
    _LowerCholesky,
    corr_cholesky as _corr_cholesky,
    positive_definite as _positive_definite,
)


class _Integer(Constraint):
    """Any integer value (stored in a floating or integer tensor)."""

    is_discrete = True

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return value % 1 == 0

    def __repr__(self) -> str:
        return "Integer()"


class _Sphere(Constraint):
    """Vectors of Euclidean norm 1 (within a tolerance relative to the dtype's precision)."""

    event_dim = 1
    reltol = 10.0

    def check(self, value: torch.Tensor) -> torch.Tensor:
        eps = torch.finfo(value.dtype).eps
        tol = self.reltol * eps * value.shape[-1] ** 0.5
        return (value.norm(dim=-1) - 1).abs() < max(tol, 10 * eps)

    def __repr__(self) -> str:
        return "Sphere()"


class _CorrMatrix(Constraint):
    """Correlation matrices: symmetric positive definite with unit diagonal."""

    event_dim = 2

    def check(self, value: torch.Tensor) -> torch.Tensor:
        tol = 1e-6 if value.dtype == torch.float32 else 1e-10
        unit_diag = (value.diagonal(dim1=-2, dim2=-1) - 1).abs().le(tol).all(-1)
        return _positive_definite.check(value) & unit_diag

    def __repr__(self) -> str:
        return "CorrMatrix()"


class _OrderedVector(Constraint):
    """Vectors whose entries are strictly increasing."""

    event_dim = 1

    def check(self, value: torch.Tensor) -> torch.Tensor:
        if value.dim() == 0:
            return torch.tensor(False, device=value.device)
        return (value[..., 1:] > value[..., :-1]).all(-1)

    def __repr__(self) -> str:
        return "OrderedVector()"


class _PositiveOrderedVector(_OrderedVector):
    """Strictly increasing vectors of positive entries."""

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return super().check(value) & (value > 0).all(-1)

    def __repr__(self) -> str:
        return "PositiveOrderedVector()"


class _SoftplusPositive(_GreaterThan):
    """Positive values, mapped from the reals by a softplus (rather than exp) transform."""

    def __init__(self) -> None:
        super().__init__(lower_bound=0.0)

    def __repr__(self) -> str:
        return "SoftplusPositive()"


class _SoftplusLowerCholesky(_LowerCholesky):
    """Lower-Cholesky factors, mapped from unconstrained matrices with a softplus diagonal."""

    def __repr__(self) -> str:
        return "SoftplusLowerCholesky()"


class _UnitLowerCholesky(Constraint):
    """Lower-triangular matrices with ones on the diagonal."""

    event_dim = 2

    def check(self, value: torch.Tensor) -> torch.Tensor:
        lower = (value.tril() == value).reshape(value.shape[:-2] + (-1,)).all(-1)
        unit = (value.diagonal(dim1=-2, dim2=-1) == 1).all(-1)
        return lower & unit

    def __repr__(self) -> str:
        return "UnitLowerCholesky()"


integer = _Integer()
sphere = _Sphere()
corr_matrix = _CorrMatrix()
ordered_vector = _OrderedVector()
positive_ordered_vector = _PositiveOrderedVector()
softplus_positive = _SoftplusPositive()
softplus_lower_cholesky = _SoftplusLowerCholesky()
unit_lower_cholesky = _UnitLowerCholesky()
#: Pyro's older name of torch's ``corr_cholesky`` (the same object).
corr_cholesky_constraint = _corr_cholesky

#: Pyro's own constraints, by registered name (torch's are registered by pyro-core).
PYRO_CONSTRAINTS = {
    "integer": integer,
    "sphere": sphere,
    "corr_matrix": corr_matrix,
    "ordered_vector": ordered_vector,
    "positive_ordered_vector": positive_ordered_vector,
    "softplus_positive": softplus_positive,
    "softplus_lower_cholesky": softplus_lower_cholesky,
    "unit_lower_cholesky": unit_lower_cholesky,
    "corr_cholesky_constraint": corr_cholesky_constraint,
}

__all__ = sorted(set(_TORCH_NAMES) | set(PYRO_CONSTRAINTS))


def __getattr__(name: str) -> Any:
    from pyro.plugins import resolve

    return resolve("constraints", name, __name__)
