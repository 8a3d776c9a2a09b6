"""``biject_to`` / ``transform_to`` for Pyro's own constraints.

Importing this module registers them (in torch's registries, so ``torch.distributions.biject_to``
sees them too); :mod:`pyro.distributions.transforms` imports it.
"""

from __future__ import annotations

from typing import Any

from torch.distributions import biject_to, transform_to
from torch.distributions.transforms import (
    ComposeTransform,
    CorrCholeskyTransform,
    ExpTransform,
    SoftplusTransform,
    Transform,
)

from pyro.distributions import constraints
from pyro.distributions.transforms.cholesky import (
    CorrMatrixCholeskyTransform,
    SoftplusLowerCholeskyTransform,
    UnitLowerCholeskyTransform,
)
from pyro.distributions.transforms.normalize import Normalize
from pyro.distributions.transforms.ordered import OrderedTransform


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

