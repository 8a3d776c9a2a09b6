"""``AsymmetricLaplace`` and its Gaussian-smoothed version ``SoftAsymmetricLaplace``."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions._params import broadcast_params, expanded_copy
from pyro.distributions.torch_distribution import TorchDistribution


def _exponential(shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
    return torch.empty(shape, dtype=like.dtype, device=like.device).exponential_()


class AsymmetricLaplace(TorchDistribution):
    """A Laplace distribution with different scales left and right of ``loc``.

    The left scale is ``scale * asymmetry`` and the right one ``scale / asymmetry``; the
    density is ``exp(-|x - loc| / side_scale) / (left_scale + right_scale)`` (scipy's
    ``laplace_asymmetric`` with ``kappa = asymmetry``). Samples are reparameterised: the
    difference of two scaled standard exponentials.

    Args:
        loc: the mode.
        scale: the overall scale, positive.
        asymmetry: the ratio ``sqrt(left_scale / right_scale)``, positive (1 is the Laplace).
        validate_args: as for every distribution.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "asymmetry": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, asymmetry: Any, *,
                 validate_args: Optional[bool] = None) -> None:
        self.loc, self.scale, self.asymmetry = broadcast_params(
            type(self).__name__, loc=loc, scale=scale, asymmetry=asymmetry)
        super().__init__(self.loc.shape, torch.Size(), validate_args=validate_args)

    _PARAMS = ("loc", "scale", "asymmetry")

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "AsymmetricLaplace":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        return expanded_copy(self, type(self), batch_shape, _instance, self._PARAMS)

    @property
    def left_scale(self) -> torch.Tensor:
        """``scale * asymmetry``, the scale of the left (``x < loc``) side."""
        return self.scale * self.asymmetry

    @property
    def right_scale(self) -> torch.Tensor:
        """``scale / asymmetry``, the scale of the right (``x > loc``) side."""
        return self.scale / self.asymmetry

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``-|value - loc| / side_scale - log(left_scale + right_scale)``."""
        if self._validate_args:
            self._validate_sample(value)
        z = value - self.loc
        left, right = self.left_scale, self.right_scale
        return torch.where(z < 0, z / left, -z / right) - (left + right).log()

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw ``loc + right_scale * E1 - left_scale * E2`` with ``E1, E2 ~ Exponential(1)``."""
        shape = self._extended_shape(sample_shape)
        e1 = _exponential(shape, self.loc)
        e2 = _exponential(shape, self.loc)
        return self.loc + self.right_scale * e1 - self.left_scale * e2

    @property
    def mean(self) -> torch.Tensor:
        """``loc + right_scale - left_scale``."""
        return self.loc + self.right_scale - self.left_scale

    @property
    def variance(self) -> torch.Tensor:
        """``left_scale ** 2 + right_scale ** 2``."""
        return self.left_scale.pow(2) + self.right_scale.pow(2)


class SoftAsymmetricLaplace(TorchDistribution):
    """An :class:`AsymmetricLaplace` plus independent ``Normal(0, scale * softness)`` noise.

    The sum has a smooth density, everywhere differentiable, with the asymmetric Laplace's
    exponential tails: with ``z = x - loc``, ``s = scale * softness`` and side scales ``L``
    and ``R``, ``p(x) * (L + R)`` is
    ``exp(s**2 / (2 R**2) - z / R) * Phi(z / s - s / R) + exp(s**2 / (2 L**2) + z / L) * Phi(-z / s - s / L)``.
    Samples are reparameterised.

    Args:
        loc: the location.
        scale: the overall scale, positive.
        asymmetry: as for :class:`AsymmetricLaplace`, positive (default 1).
        softness: the noise scale relative to ``scale``, positive (default 1).
        validate_args: as for every distribution.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "asymmetry": constraints.positive, "softness": constraints.positive}
    support = constraints.real
    has_rsample = True
    _PARAMS = ("loc", "scale", "asymmetry", "softness")
    # Shared with AsymmetricLaplace (not a subclass of it, as in Pyro).
    expand = AsymmetricLaplace.expand
    left_scale = AsymmetricLaplace.left_scale
    right_scale = AsymmetricLaplace.right_scale
    mean = AsymmetricLaplace.mean

    def __init__(self, loc: Any, scale: Any, asymmetry: Any = 1.0, softness: Any = 1.0, *,
                 validate_args: Optional[bool] = None) -> None:
        self.loc, self.scale, self.asymmetry, self.softness = broadcast_params(
            "SoftAsymmetricLaplace", loc=loc, scale=scale, asymmetry=asymmetry, softness=softness)
        super().__init__(self.loc.shape, torch.Size(), validate_args=validate_args)

    @property
    def soft_scale(self) -> torch.Tensor:
        """``scale * softness``, the standard deviation of the Gaussian noise."""
        return self.scale * self.softness

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log of the closed-form density in the class docstring."""
        if self._validate_args:
            self._validate_sample(value)
        z = value - self.loc
        left, right, soft = self.left_scale, self.right_scale, self.soft_scale
        log_ndtr = torch.special.log_ndtr
        right_part = (soft / right).pow(2) / 2 - z / right + log_ndtr(z / soft - soft / right)
        left_part = (soft / left).pow(2) / 2 + z / left + log_ndtr(-z / soft - soft / left)
        return torch.logaddexp(right_part, left_part) - (left + right).log()

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw an asymmetric Laplace value and add ``Normal(0, soft_scale)`` noise."""
        x = AsymmetricLaplace.rsample(self, sample_shape)
        return x + self.soft_scale * torch.randn_like(x)

    @property
    def variance(self) -> torch.Tensor:
        """``left_scale ** 2 + right_scale ** 2 + soft_scale ** 2``."""
        return self.left_scale.pow(2) + self.right_scale.pow(2) + self.soft_scale.pow(2)


__all__ = ["AsymmetricLaplace", "SoftAsymmetricLaplace"]
