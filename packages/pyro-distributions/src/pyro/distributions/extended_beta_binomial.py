"""``ExtendedBetaBinomial``: a BetaBinomial whose ``log_prob`` accepts any integer value and
count."""

from __future__ import annotations

import torch

from pyro.distributions import constraints
from pyro.distributions.conjugate import BetaBinomial, _lbeta, _log_binom


class ExtendedBetaBinomial(BetaBinomial):
    """A :class:`BetaBinomial` defined on all integers, for data that may violate ``0 <= value
    <= total_count``.

    ``log_prob`` is the BetaBinomial's inside ``[0, total_count]`` and ``-inf`` outside, so the
    value and ``total_count`` may be any integers with validation on. Sampling, moments and
    ``enumerate_support`` are the BetaBinomial's.
    """

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive,
                       "total_count": constraints.integer}
    support = constraints.integer

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The BetaBinomial log-probability, ``-inf`` where ``value < 0`` or
        ``value > total_count``."""
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        outside = (value < 0) | (value > n)
        # the formula is evaluated at a value inside [0, max(n, 0)] so that it stays finite
        # (and gradients free of NaN) where the result is masked
        inside = torch.minimum(value.clamp(min=0), n.clamp(min=0))
        a, b, count = self.concentration1, self.concentration0, n.clamp(min=0)
        result = (_log_binom(count, inside) + _lbeta(inside + a, count - inside + b)
                  - _lbeta(a, b))
        return result.masked_fill(outside, -float("inf"))


__all__ = ["ExtendedBetaBinomial"]
