"""``AffineBeta``: a beta distribution moved and stretched onto ``(loc, loc + scale)``."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions._params import broadcast_params, check_params
from pyro.distributions.torch import Beta, TransformedDistribution
from pyro.distributions.transforms import AffineTransform
from pyro.distributions.validation import expand_error


class AffineBeta(TransformedDistribution):
    """``loc + scale * B`` with ``B ~ Beta(concentration1, concentration0)``.

    The support is the interval ``(loc, loc + scale)``. Beta draws are kept inside
    ``[eps, 1 - eps]`` (``eps`` the dtype's machine epsilon) so that a sample never lands on the
    interval's ends, where the log-density may be infinite. Samples are reparameterised.

    Args:
        concentration1: the beta's first shape parameter (alpha), positive.
        concentration0: its second shape parameter (beta), positive.
        loc: the interval's lower end.
        scale: the interval's length, positive.
        validate_args: as for every distribution.
    """

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive,
                       "loc": constraints.real, "scale": constraints.positive}

    def __init__(self, concentration1: Any, concentration0: Any, loc: Any, scale: Any,
                 validate_args: Optional[bool] = None) -> None:
        c1, c0, loc, scale = broadcast_params(
            "AffineBeta", concentration1=concentration1, concentration0=concentration0,
            loc=loc, scale=scale)
        base = Beta(c1, c0, validate_args=False)
        super().__init__(base, AffineTransform(loc=loc, scale=scale), validate_args=False)
        check_params(self, validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "AffineBeta":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(AffineBeta, _instance)
        try:
            loc, scale = self.loc.expand(batch_shape), self.scale.expand(batch_shape)
        except RuntimeError:
            raise expand_error(self, batch_shape) from None
        base = self.base_dist.expand(batch_shape)
        TransformedDistribution.__init__(new, base, AffineTransform(loc=loc, scale=scale),
                                         validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _clamped(self, x: torch.Tensor) -> torch.Tensor:
        eps = torch.finfo(x.dtype).eps
        return self.loc + self.scale * x.clamp(min=eps, max=1 - eps)

    def sample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw without gradients (see the class for the clamping)."""
        with torch.no_grad():
            return self._clamped(self.base_dist.sample(sample_shape))

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw, differentiable in every parameter (see the class for the clamping)."""
        return self._clamped(self.base_dist.rsample(sample_shape))

    @property
    def concentration1(self) -> torch.Tensor:
        """The beta's first shape parameter."""
        return self.base_dist.concentration1

    @property
    def concentration0(self) -> torch.Tensor:
        """The beta's second shape parameter."""
        return self.base_dist.concentration0

    @property
    def sample_size(self) -> torch.Tensor:
        """``concentration1 + concentration0``."""
        return self.concentration1 + self.concentration0

    @property
    def loc(self) -> torch.Tensor:
        """The lower end of the support."""
        return self.transforms[0].loc

    @property
    def scale(self) -> torch.Tensor:
        """The length of the support."""
        return self.transforms[0].scale

    @property
    def low(self) -> torch.Tensor:
        """``loc``."""
        return self.loc

    @property
    def high(self) -> torch.Tensor:
        """``loc + scale``."""
        return self.loc + self.scale

    @constraints.dependent_property
    def support(self) -> Any:
        """The interval ``(loc, loc + scale)``."""
        return constraints.interval(self.low, self.high)

    @property
    def mean(self) -> torch.Tensor:
        """``loc + scale * concentration1 / sample_size``."""
        return self.loc + self.scale * self.base_dist.mean

    @property
    def variance(self) -> torch.Tensor:
        """``scale ** 2`` times the beta's variance."""
        return self.scale.pow(2) * self.base_dist.variance


__all__ = ["AffineBeta"]
