"""``ExtendedBinomial``: a Binomial whose ``log_prob`` accepts any integer value and count."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pyro.distributions import constraints
from pyro.distributions.torch import Binomial


class ExtendedBinomial(Binomial):
    """A :class:`Binomial` defined on all integers, for data that may violate ``0 <= value <=
    total_count`` (for example counts reported with errors).

    ``log_prob`` is the Binomial's inside ``[0, total_count]`` and ``-inf`` outside, so the
    value and ``total_count`` may be any integers (negative ones included) with validation on.
    Sampling, moments and ``enumerate_support`` are the Binomial's.
    """

    arg_constraints = {"total_count": constraints.integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    support = constraints.integer

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The Binomial log-probability, ``-inf`` where ``value < 0`` or ``value > total_count``."""
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        outside = (value < 0) | (value > n)
        # the formula is evaluated at a value inside [0, max(n, 0)] so that it stays finite
        # (and gradients free of NaN) where the result is masked
        count = n.clamp(min=0)
        k = torch.minimum(value.clamp(min=0), count)
        logits = self.logits
        result = (torch.lgamma(count + 1) - torch.lgamma(k + 1) - torch.lgamma(count - k + 1)
                  + k * logits - count * F.softplus(logits))
        return result.masked_fill(outside, -float("inf"))

__all__ = ["ExtendedBinomial"]
