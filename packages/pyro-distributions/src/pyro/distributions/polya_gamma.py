"""``TruncatedPolyaGamma``: the Polya-Gamma ``PG(1, 0)`` distribution cut off at 2.5."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions.torch_distribution import TorchDistribution

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class TruncatedPolyaGamma(TorchDistribution):
    """The Polya-Gamma distribution ``PG(1, 0)`` restricted to ``(0, 2.5)``.

    ``PG(1, 0)`` is the law of ``sum_k E_k / (2 pi^2 (k - 1/2)^2)`` for independent
    ``E_k ~ Exponential(1)``; its density is the alternating series
    ``sum_n (-1)^n (2n + 1) exp(-(2n + 1)^2 / (8x)) / sqrt(2 pi x^3)``. It is the auxiliary
    variable of Polson, Scott and Windle's data augmentation for logistic models. Less than
    ``6e-6`` of its mass lies beyond 2.5, so :meth:`log_prob` sums the first seven terms of the
    series without renormalising (accurate to about six decimals). :meth:`sample` is a rough
    draw (eight terms of the sum, clamped at 2.5), meant for initialisation rather than
    inference; it is not reparameterised.

    Args:
        prototype: any tensor; only its dtype and device are used (for :meth:`sample`). The
            batch shape is ``()`` whatever its shape; use :meth:`expand` for a batch.
        validate_args: as for every distribution.
    """

    truncation_point = 2.5
    num_log_prob_terms = 7
    num_gamma_variates = 8
    arg_constraints: dict = {}
    support = constraints.interval(0.0, truncation_point)
    has_rsample = False

    def __init__(self, prototype: torch.Tensor, validate_args: Optional[bool] = None) -> None:
        if not isinstance(prototype, torch.Tensor):
            raise TypeError(
                f"TruncatedPolyaGamma: prototype must be a tensor, got {type(prototype).__name__}")
        self.prototype = prototype
        super().__init__(torch.Size(), torch.Size(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "TruncatedPolyaGamma":
        """Return this distribution with batch shape ``batch_shape``."""
        new = self._get_checked_instance(TruncatedPolyaGamma, _instance)
        new.prototype = self.prototype
        TorchDistribution.__init__(new, torch.Size(batch_shape), torch.Size(), validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw ``min(2.5, sum_{k<=8} E_k / (2 pi^2 (k - 1/2)^2))``, shape
        ``sample_shape + batch_shape``, in the prototype's dtype and device."""
        shape = self._extended_shape(sample_shape) + (self.num_gamma_variates,)
        proto = self.prototype
        with torch.no_grad():
            k = torch.arange(self.num_gamma_variates, dtype=proto.dtype, device=proto.device) + 0.5
            weights = k.pow(-2) / (2 * math.pi ** 2)
            draws = torch.empty(shape, dtype=proto.dtype, device=proto.device).exponential_()
            return (draws @ weights).clamp(max=self.truncation_point)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log of the first seven terms of the ``PG(1, 0)`` density series at ``value``
        (same shape as ``value``; NaN where ``value <= 0``)."""
        value = torch.as_tensor(value, dtype=self.prototype.dtype if not isinstance(value, torch.Tensor)
                                else None, device=self.prototype.device)
        n = torch.arange(self.num_log_prob_terms, dtype=value.dtype, device=value.device)
        odd = 2 * n + 1
        signs = 1 - 2 * (n % 2)
        # Factor out the leading term exp(-1 / (8x)) so that small x does not underflow.
        x = value.unsqueeze(-1)
        series = (signs * odd * torch.exp(-(odd.pow(2) - 1) / (8 * x))).sum(-1)
        return series.log() - 1 / (8 * value) - _HALF_LOG_2PI - 1.5 * value.log()


__all__ = ["TruncatedPolyaGamma"]
