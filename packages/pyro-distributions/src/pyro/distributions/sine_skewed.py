"""``SineSkewed``: sine skewing of a symmetric distribution on the torus."""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.validation import check_distribution, check_tensor_args, expand_error

_TWO_PI = 2 * math.pi


def _wrap(x: torch.Tensor) -> torch.Tensor:
    # Angles mapped into [-pi, pi).
    return torch.remainder(x + math.pi, _TWO_PI) - math.pi


class SineSkewed(TorchDistribution):
    """A skewed version of a distribution on the ``d``-torus that is symmetric about its mean
    (such as ``VonMises(...).to_event(1)`` or ``SineBivariateVonMises``).

    The density is ``base(x) * (1 + sum_i skewness[i] * sin(x[i] - mean[i]))``, with ``mean``
    the base distribution's mean; it is a density because the base is symmetric about its mean
    and ``sum_i |skewness[i]| <= 1`` (a larger total warns, as in Pyro). Samples are drawn
    from the base and reflected about the mean with the right probability; they are not
    reparameterised.

    Args:
        base_dist: a distribution with event shape ``(d,)``, symmetric about its ``mean``.
        skewness: one weight per event dim, each in ``[-1, 1]``, shape ``batch_shape + (d,)``.
        validate_args: as for every distribution.

    Raises:
        ValueError: ``skewness`` does not have one weight per dim of ``base_dist``'s event, or
            the batch shapes of the two do not broadcast.
    """

    arg_constraints = {"skewness": constraints.independent(constraints.interval(-1.0, 1.0), 1)}
    support = constraints.independent(constraints.real, 1)

    def __init__(self, base_dist: TorchDistribution, skewness: torch.Tensor,
                 validate_args: Optional[bool] = None) -> None:
        check_distribution("SineSkewed", base_dist=base_dist)
        check_tensor_args("SineSkewed", skewness=skewness)
        skewness = torch.as_tensor(skewness)
        event_shape = base_dist.event_shape
        if len(event_shape) != 1 or skewness.dim() < 1 or skewness.shape[-1:] != event_shape:
            raise ValueError(
                f"SineSkewed: skewness needs one weight per dim of base_dist's event, got "
                f"skewness of shape {tuple(skewness.shape)} and base_dist.event_shape "
                f"{tuple(event_shape)}")
        if (skewness.abs().sum(-1) > 1).any():
            warnings.warn("Total skewness weight shouldn't exceed one.", UserWarning)
        try:
            batch_shape = torch.broadcast_shapes(base_dist.batch_shape, skewness.shape[:-1])
        except RuntimeError:
            raise ValueError(
                f"SineSkewed: base_dist.batch_shape {tuple(base_dist.batch_shape)} and the batch "
                f"shape of skewness {tuple(skewness.shape[:-1])} do not broadcast") from None
        self.base_dist = base_dist.expand(batch_shape)
        self.skewness = skewness.expand(batch_shape + event_shape)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "SineSkewed":
        """Return this distribution with the base and ``skewness`` broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(SineSkewed, _instance)
        try:
            new.base_dist = self.base_dist.expand(batch_shape)
            new.skewness = self.skewness.expand(batch_shape + self.event_shape)
        except (RuntimeError, ValueError):
            raise expand_error(self, batch_shape) from None
        TorchDistribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _skew(self, value: torch.Tensor) -> torch.Tensor:
        return (self.skewness * torch.sin(value - self.base_dist.mean)).sum(-1)

    def sample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw from the base; keep a draw with probability ``(1 + skew(draw)) / 2`` and reflect
        it about the mean otherwise. Returns angles in ``[-pi, pi)``."""
        with torch.no_grad():
            y = self.base_dist.sample(sample_shape)
            u = torch.rand(y.shape[:-1], dtype=y.dtype, device=y.device)
            keep = (2 * u < 1 + self._skew(y)).unsqueeze(-1)
            return _wrap(torch.where(keep, y, 2 * self.base_dist.mean - y))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``base_dist.log_prob(value) + log(1 + sum_i skewness[i] sin(value[i] - mean[i]))``."""
        if self._validate_args:
            self._validate_sample(value)
        return self.base_dist.log_prob(value) + torch.log1p(self._skew(value))


__all__ = ["SineSkewed"]
