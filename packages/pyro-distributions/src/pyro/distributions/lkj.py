"""``LKJ``: the Lewandowski-Kurowicka-Joe distribution over correlation matrices."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch.distributions import Distribution as _TorchDistribution

from pyro.distributions import constraints
from pyro.distributions.torch import LKJCholesky, TransformedDistribution, check_lkj_arguments
from pyro.distributions.transforms.cholesky import CorrMatrixCholeskyTransform


class LKJ(TransformedDistribution):
    """The LKJ distribution over ``dim x dim`` correlation matrices ``C``.

    The density is proportional to ``det(C) ** (concentration - 1)``: uniform over correlation
    matrices when ``concentration`` is 1, favouring matrices near the identity when it is
    larger and strongly correlated ones when it is smaller. It is built as
    ``L @ L.T`` with ``L ~ LKJCholesky(dim, concentration)``.

    Args:
        dim: the size of the matrices (an int, at least 2).
        concentration: the shape parameter (often called eta), positive; its shape is the
            batch shape.
        validate_args: as for every distribution.
    """

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_matrix

    def __init__(self, dim: int, concentration: Any = 1.0, validate_args: Optional[bool] = None) -> None:
        validate = _TorchDistribution._validate_args if validate_args is None else validate_args
        # Checked here, under LKJ's name, before LKJCholesky's inner Beta would check it.
        check_lkj_arguments("LKJ", dim, concentration, validate)
        base = LKJCholesky(dim, concentration, validate_args=False)
        self.dim = dim
        self.concentration = base.concentration
        super().__init__(base, CorrMatrixCholeskyTransform().inv, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "LKJ":
        """Return this distribution with ``concentration`` broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        new = self._get_checked_instance(LKJ, _instance)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        return TransformedDistribution.expand(self, batch_shape, _instance=new)

    @property
    def mean(self) -> torch.Tensor:
        """The identity matrix (off-diagonal correlations have mean zero by symmetry)."""
        eye = torch.eye(self.dim, dtype=self.concentration.dtype, device=self.concentration.device)
        return eye.expand(self.batch_shape + self.event_shape)


__all__ = ["LKJ"]
