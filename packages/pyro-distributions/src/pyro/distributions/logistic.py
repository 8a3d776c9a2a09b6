"""``Logistic`` and its skewed generalisation ``SkewLogistic``."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F

from pyro.distributions import constraints
from pyro.distributions._params import broadcast_params, expanded_copy, open_uniform
from pyro.distributions.torch_distribution import TorchDistribution


class Logistic(TorchDistribution):
    """The logistic distribution: ``loc + scale * logit(U)`` for ``U ~ Uniform(0, 1)``.

    Its density is ``sigmoid(z) * sigmoid(-z) / scale`` with ``z = (x - loc) / scale``: bell
    shaped like a normal, with exponential tails. Samples are reparameterised (inverse cdf).

    Args:
        loc: the location (mean and median).
        scale: the scale, positive; the variance is ``(pi * scale) ** 2 / 3``.
        validate_args: as for every distribution.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, *, validate_args: Optional[bool] = None) -> None:
        self.loc, self.scale = broadcast_params("Logistic", loc=loc, scale=scale)
        super().__init__(self.loc.shape, torch.Size(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "Logistic":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        return expanded_copy(self, Logistic, batch_shape, _instance, ("loc", "scale"))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``-|z| - 2 log(1 + exp(-|z|)) - log(scale)``, ``z = (value - loc) / scale``."""
        if self._validate_args:
            self._validate_sample(value)
        z = ((value - self.loc) / self.scale).abs()
        return -z - 2 * F.softplus(-z) - self.scale.log()

    def cdf(self, value: torch.Tensor) -> torch.Tensor:
        """``sigmoid((value - loc) / scale)``."""
        if self._validate_args:
            self._validate_sample(value)
        return torch.sigmoid((value - self.loc) / self.scale)

    def icdf(self, value: torch.Tensor) -> torch.Tensor:
        """``loc + scale * logit(value)``."""
        return self.loc + self.scale * torch.logit(value)

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw ``icdf(U)``, differentiable in ``loc`` and ``scale``."""
        return self.icdf(open_uniform(self._extended_shape(sample_shape), self.loc))

    @property
    def mean(self) -> torch.Tensor:
        """``loc``."""
        return self.loc

    @property
    def variance(self) -> torch.Tensor:
        """``(pi * scale) ** 2 / 3``."""
        return self.scale.pow(2) * (math.pi ** 2 / 3)

    def entropy(self) -> torch.Tensor:
        """``log(scale) + 2``."""
        return self.scale.log() + 2


class SkewLogistic(TorchDistribution):
    """A skewed logistic distribution whose cdf is ``sigmoid(z) ** asymmetry``.

    With ``z = (x - loc) / scale`` the density is
    ``asymmetry * sigmoid(z) ** asymmetry * sigmoid(-z) / scale``: the logistic distribution
    when ``asymmetry`` is 1, with a heavier right tail when it is larger and a heavier left tail
    when it is smaller (the type I generalised logistic distribution). Samples are
    reparameterised (inverse cdf). Like Pyro's, it has no ``mean`` or ``variance``.

    Args:
        loc: the location.
        scale: the scale, positive.
        asymmetry: the skew, positive (default 1).
        validate_args: as for every distribution.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "asymmetry": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, asymmetry: Any = 1.0, *,
                 validate_args: Optional[bool] = None) -> None:
        self.loc, self.scale, self.asymmetry = broadcast_params(
            "SkewLogistic", loc=loc, scale=scale, asymmetry=asymmetry)
        super().__init__(self.loc.shape, torch.Size(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "SkewLogistic":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        return expanded_copy(self, SkewLogistic, batch_shape, _instance,
                             ("loc", "scale", "asymmetry"))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``log(asymmetry / scale) + asymmetry * log sigmoid(z) + log sigmoid(-z)``."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        a = self.asymmetry
        return (a / self.scale).log() + a * F.logsigmoid(z) + F.logsigmoid(-z)

    def cdf(self, value: torch.Tensor) -> torch.Tensor:
        """``sigmoid((value - loc) / scale) ** asymmetry``."""
        if self._validate_args:
            self._validate_sample(value)
        return torch.exp(self.asymmetry * F.logsigmoid((value - self.loc) / self.scale))

    def icdf(self, value: torch.Tensor) -> torch.Tensor:
        """``loc + scale * logit(value ** (1 / asymmetry))``."""
        return self.loc + self.scale * torch.logit(value.pow(self.asymmetry.reciprocal()))

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw ``icdf(U)``, differentiable in every parameter."""
        return self.icdf(open_uniform(self._extended_shape(sample_shape), self.loc))


__all__ = ["Logistic", "SkewLogistic"]
