"""Reparameterizers for :class:`~pyro.distributions.Stable` sites, whose density has no closed
form: as a deterministic function of uniform and exponential draws, or as a normal
conditioned on such draws (so that the site's own density is a normal one)."""

from __future__ import annotations

import math
from typing import Any, Tuple

import torch

import pyro
import pyro.distributions as dist
from pyro.distributions.stable import (
    eps_over_tan,
    expm1_ratio,
    s_to_s0_shift,
    standard_stable,
)
from pyro.infer.reparam.reparam import (
    Reparam,
    ReparamMessage,
    ReparamResult,
    _check_type,
    _no_observe,
    deterministic_site,
)

_HALF_PI = math.pi / 2


def _stable_site(reparam: Reparam, msg: ReparamMessage) -> Tuple[Any, int, torch.Tensor]:
    """The site's ``Stable`` (``Independent`` layers peeled), its event dims, and its ``loc`` in
    ``"S0"`` coordinates (``"S"`` sites are shifted to them)."""
    fn, event_dim = reparam._unwrap(msg["fn"])
    _check_type(reparam, msg["name"], fn, dist.Stable)
    if isinstance(fn, dist.StableWithLogProb):
        raise TypeError(
            f"{type(reparam).__name__} at sample site '{msg['name']}': StableWithLogProb is "
            "scored by its log_prob and is not reparameterized; use Stable instead")
    loc = fn.loc
    if fn.coords == "S":
        loc = loc + fn.scale * s_to_s0_shift(fn.stability, fn.skew)
    return fn, event_dim, loc


def _aux_draws(reparam: Reparam, name: str, like: torch.Tensor, event_dim: int
               ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Draw ``<name>_uniform ~ Uniform(-pi/2, pi/2)`` and ``<name>_exponential ~
    Exponential(1)`` with ``like``'s shape, dtype and device."""
    half = torch.full_like(like, _HALF_PI)
    u = pyro.sample(f"{name}_uniform", reparam._wrap(dist.Uniform(-half, half), event_dim))
    e = pyro.sample(f"{name}_exponential",
                    reparam._wrap(dist.Exponential(torch.ones_like(like)), event_dim))
    return u, e


def _positive_mixing(reparam: Reparam, name: str, stability: torch.Tensor, event_dim: int
                     ) -> torch.Tensor:
    """A draw ``m`` of the totally skewed ``Stable(stability / 2, 1)`` law scaled so that
    ``sqrt(2 m) * Normal(0, 1)`` is a standard symmetric ``Stable(stability, 0)``."""
    u, e = _aux_draws(reparam, name, stability, event_dim)
    half = stability / 2
    z = standard_stable(half, torch.ones_like(half), u, e)
    tiny = torch.finfo(stability.dtype).tiny
    cos = torch.cos(stability * (math.pi / 4)).clamp(min=tiny)
    sin = torch.sin(stability * (math.pi / 4))
    # cos^(2/a) * (z + tan(pi a / 4)), written to stay finite at a == 2
    return cos.pow(1 / half) * z + cos.pow(1 / half - 1) * sin


class LatentStableReparam(Reparam):
    """Draw a latent ``x ~ Stable(stability, skew, scale, loc)`` as a deterministic function
    of ``<name>_uniform ~ Uniform(-pi/2, pi/2)`` and ``<name>_exponential ~ Exponential(1)``
    (the Chambers-Mallows-Stuck transform), so that only those two have densities.

    The site becomes an observed ``Delta`` at that value, contributing nothing to the
    log-density. Observed sites are refused (``NotImplementedError``); use
    :class:`StableReparam` or :class:`SymmetricStableReparam` there.
    """

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Add the two auxiliary sites and make the site their function."""
        fn, event_dim, loc = _stable_site(self, msg)
        _no_observe(self, msg)
        u, e = _aux_draws(self, msg["name"], fn.stability, event_dim)
        value = loc + fn.scale * standard_stable(fn.stability, fn.skew, u, e)
        return deterministic_site(value, event_dim)


class SymmetricStableReparam(Reparam):
    """Write a symmetric ``x ~ Stable(stability, 0, scale, loc)`` as a normal scale mixture:
    ``m`` from a totally skewed ``Stable(stability / 2, 1)`` law (drawn through the auxiliary
    sites ``<name>_uniform`` and ``<name>_exponential``), then
    ``x ~ Normal(loc, scale * sqrt(2 m))``.

    The site keeps its value and observed status with the conditional normal as its
    distribution, so observed sites are handled. A nonzero skew is a ``ValueError``.
    """

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Add the mixing sites and give the site its conditional normal."""
        fn, event_dim, loc = _stable_site(self, msg)
        if not bool((fn.skew == 0).all()):
            raise ValueError(f"SymmetricStableReparam found nonzero skew at sample site "
                             f"'{msg['name']}'")
        m = _positive_mixing(self, msg["name"], fn.stability, event_dim)
        normal = dist.Normal(loc, fn.scale * (2 * m).sqrt())
        return {"fn": self._wrap(normal, event_dim), "value": msg["value"],
                "is_observed": msg["is_observed"]}


def _skewed_loc_shift(stability: torch.Tensor, skew: torch.Tensor, scale: torch.Tensor
                      ) -> torch.Tensor:
    """The ``"S0"`` location of the sum of a symmetric ``Stable`` of scale
    ``scale * (1 - |skew|)^(1/a)`` and a totally skewed one of scale ``scale * |skew|^(1/a)``,
    both located at 0, minus that of ``Stable(a, skew, scale)``, negated: the term
    ``-tan(pi a / 2) * scale * (skew - sign(skew) |skew|^(1/a))``, in a form that is finite
    (and correct) at ``a == 1``."""
    tiny = torch.finfo(skew.dtype).tiny
    log_abs = skew.abs().clamp(min=tiny).log()
    eps = stability - 1
    c = -eps * log_abs / stability
    return scale * skew * eps_over_tan(eps) * (log_abs / stability) * expm1_ratio(c)


class StableReparam(Reparam):
    """Write any ``x ~ Stable(stability, skew, scale, loc)`` as the sum of a symmetric and a
    totally skewed stable variable, the symmetric one as a normal scale mixture:

    - ``<name>_z_uniform``, ``<name>_z_exponential``: the mixing variable ``m`` of the
      symmetric part (as in :class:`SymmetricStableReparam`);
    - ``<name>_t_uniform``, ``<name>_t_exponential``: a standard ``Stable(stability, 1)``
      draw ``t`` (as in :class:`LatentStableReparam`);
    - ``x ~ Normal(loc + shift + sign(skew) * scale * |skew|^(1/a) * t,
      scale * (1 - |skew|)^(1/a) * sqrt(2 m))``.

    The site keeps its value and observed status with that normal as its distribution, so
    observed sites are handled.
    """

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Add the four auxiliary sites and give the site its conditional normal."""
        fn, event_dim, loc = _stable_site(self, msg)
        name = msg["name"]
        alpha, beta, scale = fn.stability, fn.skew, fn.scale
        m = _positive_mixing(self, f"{name}_z", alpha, event_dim)
        u, e = _aux_draws(self, f"{name}_t", alpha, event_dim)
        t = standard_stable(alpha, torch.ones_like(alpha), u, e)
        inv = 1 / alpha
        sym_scale = scale * (1 - beta.abs()).pow(inv)
        skew_scale = scale * beta.abs().pow(inv)
        new_loc = loc + _skewed_loc_shift(alpha, beta, scale) + beta.sign() * skew_scale * t
        normal = dist.Normal(new_loc, sym_scale * (2 * m).sqrt())
        return {"fn": self._wrap(normal, event_dim), "value": msg["value"],
                "is_observed": msg["is_observed"]}


__all__ = ["LatentStableReparam", "StableReparam", "SymmetricStableReparam"]
