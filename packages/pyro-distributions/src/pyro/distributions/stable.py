"""``Stable``: Levy alpha-stable laws, drawn by the Chambers-Mallows-Stuck method."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions._params import broadcast_params, expanded_copy
from pyro.distributions.stable_log_prob import stable_standard_log_prob
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.validation import _check, construction_error

_HALF_PI = math.pi / 2
_COORDS = ("S0", "S")


def expm1_ratio(y: torch.Tensor) -> torch.Tensor:
    """``expm1(y) / y``, equal to 1 at 0 and smooth there (also under autograd)."""
    small = y.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(y), y)
    return torch.where(small, 1 + y * (0.5 + y / 6), torch.expm1(safe) / safe)


def eps_over_tan(eps: torch.Tensor) -> torch.Tensor:
    """``eps / tan(pi * eps / 2)``, equal to ``2 / pi`` at 0 and smooth there."""
    return (2 / math.pi) * torch.cos(eps * _HALF_PI) / torch.sinc(eps / 2)


def standard_stable(stability: torch.Tensor, skew: torch.Tensor, aux_uniform: torch.Tensor,
                    aux_exponential: torch.Tensor) -> torch.Tensor:
    """Map ``aux_uniform ~ Uniform(-pi/2, pi/2)`` and ``aux_exponential ~ Exponential(1)`` to a
    draw of the standard stable law ``S0(stability, skew)`` (Nolan's continuous coordinates).

    This is the Chambers-Mallows-Stuck transform, rewritten so that the two terms that diverge
    as ``stability -> 1`` are combined analytically: the same formula holds for every stability
    in ``(0, 2]`` (``stability == 1`` included, where it is the closed form), with no branch, and
    it is differentiable in every argument.
    """
    tiny = torch.finfo(aux_uniform.dtype).tiny
    half = torch.nextafter(torch.tensor(_HALF_PI, dtype=aux_uniform.dtype),
                           torch.tensor(0.0, dtype=aux_uniform.dtype)).to(aux_uniform.device)
    v = aux_uniform.clamp(-half, half)
    w = aux_exponential.clamp(min=tiny)
    alpha, beta = stability, skew
    eps = alpha - 1
    ratio = eps_over_tan(eps)  # eps / tan(pi eps / 2)
    ev = eps * v
    sinc_half = torch.sinc(ev / (2 * math.pi))  # sin(ev / 2) / (ev / 2)
    sinc_full = torch.sinc(ev / math.pi)  # sin(ev) / ev
    cos_v = torch.cos(v).clamp(min=tiny)
    tan_v = torch.sin(v) / cos_v
    # cos(alpha v) / cos(v) - 1 == eps * q
    q = -0.5 * ev * v * sinc_half * sinc_half - v * tan_v * sinc_full
    log_cos_v = cos_v.log()
    log_w = w.log() - torch.log((torch.cos(ev) + beta * ratio * v * sinc_full).clamp(min=tiny))
    inv = 1 / alpha
    a = eps * log_cos_v * inv
    b = eps * log_w * inv
    skewed = (q * torch.exp(a + b) + log_cos_v * inv * expm1_ratio(a) * torch.exp(b)
              + log_w * inv * expm1_ratio(b))
    return torch.sin(alpha * v) * torch.exp(b - log_cos_v * inv) - beta * ratio * skewed


def s_to_s0_shift(stability: torch.Tensor, skew: torch.Tensor) -> torch.Tensor:
    """``skew * tan(pi * stability / 2)`` (zero at ``stability == 1``): a standard draw in the
    ``"S"`` coordinates is the ``"S0"`` draw plus this."""
    shift = skew * torch.tan(stability * _HALF_PI)
    return torch.where(stability == 1, torch.zeros_like(shift), shift)


class Stable(TorchDistribution):
    """The Levy alpha-stable distribution ``Stable(stability, skew, scale, loc)``.

    Its characteristic function is ``exp(i t loc - |scale t|^a (1 - i skew sign(t) w(t)))``
    with ``a = stability``; ``coords`` picks the location convention (Nolan's):

    - ``"S0"`` (default): continuous in every parameter; ``loc`` is near the mode. A draw is
      ``loc + scale * Z`` with ``Z`` a standard ``S0`` draw.
    - ``"S"``: the classical (discontinuous at ``stability == 1``) convention, in which ``loc``
      is the mean when ``stability > 1``. A draw is ``loc + scale * (Z + skew * tan(pi a / 2))``
      (no shift at ``stability == 1``).

    ``stability == 2`` is ``Normal(loc, sqrt(2) * scale)``; ``stability == 1, skew == 0`` is
    ``Cauchy(loc, scale)``; ``stability == 0.5, skew == 1`` is a Levy law.

    Samples are reparameterised (Chambers-Mallows-Stuck, exact and smooth at
    ``stability == 1``), drawing a ``Uniform(-pi/2, pi/2)`` and then an ``Exponential(1)``
    variate of the sample's shape. ``log_prob`` integrates Nolan's formula numerically (float64
    inside; accurate to about ``1e-6``, slow next to closed forms); inference usually works
    better through the reparameterizers of :mod:`pyro.infer.reparam`
    (:class:`~pyro.infer.reparam.LatentStableReparam`,
    :class:`~pyro.infer.reparam.StableReparam`,
    :class:`~pyro.infer.reparam.SymmetricStableReparam`).

    Args:
        stability: ``a`` in ``(0, 2]``.
        skew: in ``[-1, 1]``.
        scale: positive, default 1.
        loc: real, default 0.
        coords: ``"S0"`` or ``"S"``.
        validate_args: as for every distribution.
    """

    arg_constraints = {
        "stability": constraints.interval(0, 2),
        "skew": constraints.interval(-1, 1),
        "scale": constraints.positive,
        "loc": constraints.real,
    }
    support = constraints.real
    has_rsample = True

    def __init__(self, stability: Any, skew: Any, scale: Any = 1.0, loc: Any = 0.0,
                 coords: str = "S0", validate_args: Optional[bool] = None) -> None:
        if coords not in _COORDS:
            raise AssertionError(f"{type(self).__name__}: coords must be 'S0' or 'S', "
                                 f"got {coords!r}")
        self.stability, self.skew, self.scale, self.loc = broadcast_params(
            type(self).__name__, stability=stability, skew=skew, scale=scale, loc=loc)
        self.coords = coords
        super().__init__(self.loc.shape, torch.Size(), validate_args=validate_args)
        if self._validate_args and not _check(constraints.positive, self.stability):
            # The constraint's interval is closed as in Pyro; a stability of 0 has no density.
            raise construction_error(
                f"{type(self).__name__}: stability must be in (0, 2], got "
                f"{self.stability.min().item()} (stability: shape {tuple(self.stability.shape)})")

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "Stable":
        """This distribution with its parameters broadcast to ``batch_shape`` (same coords)."""
        new = expanded_copy(self, type(self), batch_shape, _instance,
                            ("stability", "skew", "scale", "loc"))
        new.coords = self.coords
        return new

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-density, by numerical integration (see the class docs)."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        if self.coords == "S":
            z = z - s_to_s0_shift(self.stability, self.skew)
        return stable_standard_log_prob(z, self.stability, self.skew) - self.scale.log()

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw by Chambers-Mallows-Stuck, differentiable in every parameter."""
        shape = self._extended_shape(sample_shape)
        like = self.stability
        u = torch.rand(shape, dtype=like.dtype, device=like.device) * math.pi - _HALF_PI
        e = torch.empty(shape, dtype=like.dtype, device=like.device).exponential_()
        z = standard_stable(self.stability, self.skew, u, e)
        if self.coords == "S":
            z = z + s_to_s0_shift(self.stability, self.skew)
        return self.loc + self.scale * z

    @property
    def mean(self) -> torch.Tensor:
        """``loc`` (minus ``skew * scale * tan(pi a / 2)`` in ``"S0"`` coords) where
        ``stability > 1``; NaN where the mean does not exist."""
        mean = self.loc
        if self.coords == "S0":
            mean = mean - self.skew * self.scale * torch.tan(self.stability * _HALF_PI)
        return torch.where(self.stability <= 1, torch.full_like(mean, math.nan), mean)

    @property
    def variance(self) -> torch.Tensor:
        """``2 * scale ** 2`` where ``stability == 2``, infinite otherwise."""
        var = 2 * self.scale ** 2
        return torch.where(self.stability == 2, var, torch.full_like(var, math.inf))


class StableWithLogProb(Stable):
    """:class:`Stable` for models scored through its ``log_prob``: the same distribution, but
    the reparameterizing strategies (``MinimalReparam``, ``AutoReparam``) leave it alone, and
    the stable reparameterizers refuse it."""


__all__ = ["Stable", "StableWithLogProb", "eps_over_tan", "expm1_ratio", "s_to_s0_shift",
           "standard_stable"]
