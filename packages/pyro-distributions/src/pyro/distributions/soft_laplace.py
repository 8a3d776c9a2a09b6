"""``SoftLaplace``: a smooth density with the Laplace distribution's exponential tails."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions._params import broadcast_params, expanded_copy, open_uniform
from pyro.distributions.torch_distribution import TorchDistribution

_LOG_2_OVER_PI = math.log(2 / math.pi)


class SoftLaplace(TorchDistribution):
    """The hyperbolic secant distribution: density ``1 / (pi * scale * cosh(z))``.

    With ``z = (x - loc) / scale`` the log-density is smooth (log-concave, unlike the
    Laplace's kink) and has the same exponential tails. Samples are reparameterised (inverse
    cdf).

    Args:
        loc: the location (mean and median).
        scale: the scale, positive; the variance is ``(pi * scale / 2) ** 2``.
        validate_args: as for every distribution.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, *, validate_args: Optional[bool] = None) -> None:
        self.loc, self.scale = broadcast_params("SoftLaplace", loc=loc, scale=scale)
        super().__init__(self.loc.shape, torch.Size(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "SoftLaplace":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        return expanded_copy(self, SoftLaplace, batch_shape, _instance, ("loc", "scale"))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``log(2 / pi) - log(scale) - log(exp(z) + exp(-z))``."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return _LOG_2_OVER_PI - self.scale.log() - torch.logaddexp(z, -z)

    def cdf(self, value: torch.Tensor) -> torch.Tensor:
        """``(2 / pi) * atan(exp(z))``."""
        if self._validate_args:
            self._validate_sample(value)
        return torch.atan(torch.exp((value - self.loc) / self.scale)) * (2 / math.pi)

    def icdf(self, value: torch.Tensor) -> torch.Tensor:
        """``loc + scale * log(tan(pi * value / 2))``."""
        return self.loc + self.scale * torch.tan(value * (math.pi / 2)).log()

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw ``icdf(U)``, differentiable in ``loc`` and ``scale``."""
        return self.icdf(open_uniform(self._extended_shape(sample_shape), self.loc))

    @property
    def mean(self) -> torch.Tensor:
        """``loc``."""
        return self.loc

    @property
    def variance(self) -> torch.Tensor:
        """``(pi * scale / 2) ** 2``."""
        return (self.scale * (math.pi / 2)).pow(2)


__all__ = ["SoftLaplace"]
