"""``FoldedDistribution``: the distribution of ``|x|``."""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions import constraints
from torch.distributions.transforms import AbsTransform

from pyro.distributions.torch import TransformedDistribution
from pyro.distributions.validation import check_distribution


class FoldedDistribution(TransformedDistribution):
    """The distribution of ``abs(x)`` where ``x ~ base_dist`` (a univariate distribution).

    ``log_prob(y) = log(p(y) + p(-y))`` for ``y >= 0``.
    """

    support = constraints.nonnegative

    def __init__(self, base_dist: Any, validate_args: Any = None) -> None:
        check_distribution("FoldedDistribution", base_dist=base_dist)
        if base_dist.event_shape:
            raise ValueError(
                f"FoldedDistribution: base_dist must be univariate, got event_shape "
                f"{tuple(base_dist.event_shape)}"
            )
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        plus = self.base_dist.log_prob(value)
        minus = self.base_dist.log_prob(-value)
        return torch.logaddexp(plus, minus)


__all__ = ["FoldedDistribution"]
