"""Gamma, Dirichlet and Beta distributions sampled by rejection, for testing
:class:`~pyro.distributions.Rejector` and its gradient estimator.

:class:`RejectionStandardGamma` is Marsaglia and Tsang's sampler written as a ``Rejector``:
``x = d (1 + c e) ** 3`` with ``e ~ Normal(0, 1)``, ``d = concentration - 1/3`` and
``c = 1 / sqrt(9 d)``, accepted with probability
``exp(e**2 / 2 + d - x + d log(x / d))`` (at most 1 for every ``d > 0``). The accepted values
are exactly ``Gamma(concentration, 1)``; the total acceptance probability is
``Gamma(concentration) e**d d**(1/6 - d) / sqrt(2 pi)``. The shape-augmented classes sample
``Gamma(concentration + boost)`` that way and multiply by ``prod_i U_i ** (1 / (concentration + i))``
(Naesseth, Ruiz, Linderman and Blei, 2017), which is again ``Gamma(concentration)`` and keeps
the acceptance rate high for small concentrations.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch
from torch.distributions import constraints
from torch.distributions import Distribution as _TorchDistribution

from pyro.distributions.rejector import Rejector
from pyro.distributions.score_parts import ScoreParts
from pyro.distributions.torch import Beta, Dirichlet, Gamma
from pyro.distributions.util import copy_docs_from, weakmethod

_EMPTY = torch.Size()
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _check_boost(name: str, boost: Any) -> int:
    if isinstance(boost, bool) or not isinstance(boost, int) or boost < 0:
        raise ValueError(f"{name}: boost must be a non-negative int, got {boost!r}")
    return boost


class RejectionStandardGamma(Rejector):
    """``Gamma(concentration, 1)`` sampled by Marsaglia and Tsang's rejection method.

    Needs ``concentration > 1/3`` (the proposal is undefined below that) and is efficient for
    ``concentration >= 1``; no boosting is done here (see :class:`ShapeAugmentedGamma`).

    Args:
        concentration: the shape parameter; its shape is the batch shape.
    """

    arg_constraints = {"concentration": constraints.greater_than(1.0 / 3.0)}
    support = constraints.positive

    def __init__(self, concentration: Any) -> None:
        concentration = torch.as_tensor(concentration, dtype=torch.get_default_dtype()) \
            if not isinstance(concentration, torch.Tensor) else concentration
        if _TorchDistribution._validate_args and not bool((concentration > 1.0 / 3.0).all()):
            raise ValueError(
                f"RejectionStandardGamma: concentration (shape {tuple(concentration.shape)}) must "
                f"be greater than 1/3, got {concentration}"
            )
        self.concentration = concentration
        self._set_constants()
        super().__init__(self.propose, self.log_prob_accept, self._log_scale,
                         batch_shape=concentration.shape, event_shape=_EMPTY)

    def _set_constants(self) -> None:
        alpha = self.concentration
        self._d = alpha - 1.0 / 3.0
        self._c = 1.0 / torch.sqrt(9.0 * self._d)
        self._log_scale = (torch.lgamma(alpha) + self._d + (1.0 / 6.0 - self._d) * torch.log(self._d)
                           - _HALF_LOG_2PI)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "RejectionStandardGamma":
        """Return this distribution with ``concentration`` broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(RejectionStandardGamma, _instance)
        new.concentration = self.concentration.expand(batch_shape)
        new._set_constants()
        Rejector.__init__(new, new.propose, new.log_prob_accept, new._log_scale,
                          batch_shape=batch_shape, event_shape=_EMPTY)
        return new

    @weakmethod
    def propose(self, sample_shape: Sequence[int] = _EMPTY) -> torch.Tensor:
        """Draw ``d (1 + c e) ** 3`` for standard normal ``e`` (reparameterised in ``concentration``)."""
        shape = torch.Size(sample_shape) + self.concentration.shape
        eps = torch.randn(shape, dtype=self.concentration.dtype, device=self.concentration.device)
        return self._d * (1 + self._c * eps) ** 3

    def _eps_and_log_v(self, x: torch.Tensor) -> tuple:
        # v = x / d = (1 + c e) ** 3; a non-positive x is not a proposal of positive v.
        v = x / self._d
        positive = v > 0
        safe_v = torch.where(positive, v, torch.ones_like(v))
        eps = (safe_v.pow(1.0 / 3.0) - 1) / self._c
        return eps, safe_v.log(), positive

    def propose_log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log-density of ``value`` under the proposal ``d (1 + c e) ** 3``."""
        eps, log_v, positive = self._eps_and_log_v(value)
        log_prob = (-0.5 * eps ** 2 - _HALF_LOG_2PI - torch.log(3 * self._c * self._d)
                    - (2.0 / 3.0) * log_v)
        return torch.where(positive, log_prob, torch.full_like(log_prob, -math.inf))

    @weakmethod
    def log_prob_accept(self, value: torch.Tensor) -> torch.Tensor:
        """Log acceptance probability ``e**2 / 2 + d - x + d log(x / d)`` (``-inf`` for ``x <= 0``)."""
        eps, log_v, positive = self._eps_and_log_v(value)
        log_accept = 0.5 * eps ** 2 + self._d - value + self._d * log_v
        return torch.where(positive, log_accept.clamp(max=0.0), torch.full_like(log_accept, -math.inf))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The exact ``Gamma(concentration, 1)`` log-density."""
        alpha = self.concentration
        return torch.xlogy(alpha - 1, value) - value - torch.lgamma(alpha)


@copy_docs_from(Gamma)
class RejectionGamma(Gamma):
    """``Gamma(concentration, rate)`` sampled as ``RejectionStandardGamma(concentration) / rate``.

    Reparameterised; ``score_parts`` carries the rejection sampler's score-function term.
    """

    has_rsample = True

    def __init__(self, concentration: Any, rate: Any, validate_args: Optional[bool] = None) -> None:
        super().__init__(concentration, rate, validate_args=validate_args)
        self._standard_gamma = RejectionStandardGamma(self.concentration)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "RejectionGamma":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        new = self._get_checked_instance(RejectionGamma, _instance)
        new = Gamma.expand(self, batch_shape, _instance=new)
        new._standard_gamma = self._standard_gamma.expand(batch_shape)
        return new

    def rsample(self, sample_shape: Sequence[int] = _EMPTY) -> torch.Tensor:
        """Draw by rejection (reparameterised in ``concentration`` and ``rate``)."""
        return self._standard_gamma.rsample(sample_shape) / self.rate

    def score_parts(self, value: torch.Tensor, *args: Any, **kwargs: Any) -> ScoreParts:
        """The Gamma log-density, with the standard sampler's score term at ``value * rate``."""
        log_prob = self.log_prob(value)
        score_function = self._standard_gamma.score_parts(value * self.rate).score_function
        return ScoreParts(log_prob=log_prob, score_function=score_function, entropy_term=log_prob)


@copy_docs_from(Gamma)
class ShapeAugmentedGamma(Gamma):
    """``Gamma(concentration, rate)`` by rejection from ``Gamma(concentration + boost, rate)``.

    The boosted draw is multiplied by ``prod_{i < boost} U_i ** (1 / (concentration + i))`` for
    independent uniforms ``U_i`` (Naesseth et al., 2017, https://arxiv.org/abs/1610.05683).
    ``score_parts`` works on the most recent sample of :meth:`rsample` only (it needs the boosted
    value behind it).

    Args:
        concentration: the shape parameter.
        rate: the rate parameter.
        boost: the number of shape-augmentation steps (default 1).
        validate_args: as for every distribution.
    """

    has_rsample = True

    def __init__(self, concentration: Any, rate: Any, boost: int = 1,
                 validate_args: Optional[bool] = None) -> None:
        boost = _check_boost("ShapeAugmentedGamma", boost)
        super().__init__(concentration, rate, validate_args=validate_args)
        self._boost = boost
        self._rejection_gamma = RejectionGamma(self.concentration + boost, self.rate)
        self._unboost_x_cache: Optional[tuple] = None

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "ShapeAugmentedGamma":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        new = self._get_checked_instance(ShapeAugmentedGamma, _instance)
        new = Gamma.expand(self, batch_shape, _instance=new)
        new._boost = self._boost
        new._rejection_gamma = self._rejection_gamma.expand(batch_shape)
        new._unboost_x_cache = None
        return new

    def rsample(self, sample_shape: Sequence[int] = _EMPTY) -> torch.Tensor:
        """Draw a boosted value by rejection, then shrink it with the uniforms."""
        boosted_x = self._rejection_gamma.rsample(sample_shape)
        x = boosted_x
        tiny = torch.finfo(boosted_x.dtype).tiny
        for i in range(self._boost):
            u = torch.rand_like(boosted_x).clamp_min(tiny)
            x = x * u.pow(1 / (self.concentration + i))
        self._unboost_x_cache = (x, boosted_x)
        return x

    def score_parts(self, value: torch.Tensor, *args: Any, **kwargs: Any) -> ScoreParts:
        """The Gamma log-density, with the boosted sampler's score term at the boosted draw."""
        cache = self._unboost_x_cache
        if cache is None or cache[0] is not value:
            raise ValueError(
                "ShapeAugmentedGamma.score_parts: value (shape "
                f"{tuple(value.shape)}) must be the most recent sample returned by rsample() of "
                "this distribution"
            )
        log_prob = self.log_prob(value)
        score_function = self._rejection_gamma.score_parts(cache[1]).score_function
        return ScoreParts(log_prob=log_prob, score_function=score_function, entropy_term=log_prob)


@copy_docs_from(Dirichlet)
class ShapeAugmentedDirichlet(Dirichlet):
    """``Dirichlet(concentration)`` as normalised :class:`ShapeAugmentedGamma` draws.

    Its reparameterised gradients are stochastic (they go through the rejection sampler), so
    they have a larger variance than those of torch's ``Dirichlet``.

    Args:
        concentration: the concentration vector(s).
        boost: the number of shape-augmentation steps (default 1).
        validate_args: as for every distribution.
    """

    def __init__(self, concentration: Any, boost: int = 1, validate_args: Optional[bool] = None) -> None:
        boost = _check_boost("ShapeAugmentedDirichlet", boost)
        super().__init__(concentration, validate_args=validate_args)
        self._gamma = ShapeAugmentedGamma(self.concentration, torch.ones_like(self.concentration), boost)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "ShapeAugmentedDirichlet":
        """Return this distribution with ``concentration`` broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(ShapeAugmentedDirichlet, _instance)
        new = Dirichlet.expand(self, batch_shape, _instance=new)
        new._gamma = self._gamma.expand(batch_shape + self.event_shape)
        return new

    def rsample(self, sample_shape: Sequence[int] = _EMPTY) -> torch.Tensor:
        """Normalise independent shape-augmented Gamma draws."""
        gammas = self._gamma.rsample(sample_shape)
        return gammas / gammas.sum(-1, keepdim=True)


@copy_docs_from(Beta)
class ShapeAugmentedBeta(Beta):
    """``Beta(concentration1, concentration0)`` from two :class:`ShapeAugmentedGamma` draws.

    Its reparameterised gradients are stochastic, with a larger variance than torch's.

    Args:
        concentration1: the first concentration (of the value).
        concentration0: the second concentration (of one minus the value).
        boost: the number of shape-augmentation steps (default 1).
        validate_args: as for every distribution.
    """

    def __init__(self, concentration1: Any, concentration0: Any, boost: int = 1,
                 validate_args: Optional[bool] = None) -> None:
        boost = _check_boost("ShapeAugmentedBeta", boost)
        super().__init__(concentration1, concentration0, validate_args=validate_args)
        concentration = torch.stack([self.concentration1, self.concentration0], -1)
        self._gamma = ShapeAugmentedGamma(concentration, torch.ones_like(concentration), boost)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "ShapeAugmentedBeta":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(ShapeAugmentedBeta, _instance)
        new = Beta.expand(self, batch_shape, _instance=new)
        new._gamma = self._gamma.expand(batch_shape + (2,))
        return new

    def rsample(self, sample_shape: Sequence[int] = _EMPTY) -> torch.Tensor:
        """The first of two normalised shape-augmented Gamma draws."""
        gammas = self._gamma.rsample(sample_shape)
        return gammas[..., 0] / gammas.sum(-1)


__all__ = [
    "RejectionGamma",
    "RejectionStandardGamma",
    "ShapeAugmentedBeta",
    "ShapeAugmentedDirichlet",
    "ShapeAugmentedGamma",
]
