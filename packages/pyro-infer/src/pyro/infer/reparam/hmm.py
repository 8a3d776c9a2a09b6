"""``LinearHMMReparam``: a :class:`~pyro.distributions.LinearHMM` site made conditionally
Gaussian by reparameterizing its noise distributions."""

from __future__ import annotations

from typing import Any, Optional

import torch

import pyro.distributions as dist
from pyro.infer.reparam.reparam import Reparam, ReparamMessage, ReparamResult, _check_type


def _is_gaussian_noise(d: Any) -> bool:
    """Whether ``d`` is a ``MultivariateNormal`` or an ``Independent(Normal, 1)``."""
    if isinstance(d, torch.distributions.MultivariateNormal):
        return True
    return (isinstance(d, torch.distributions.Independent)
            and isinstance(d.base_dist, torch.distributions.Normal)
            and d.reinterpreted_batch_ndims == 1)


def _vector_event(d: Any) -> Any:
    """``d`` with only its rightmost dim as event dim (a reparameterizer given a per-step noise
    as one event over time returns it so)."""
    base = d
    while isinstance(base, torch.distributions.Independent):
        base = base.base_dist
    extra = 1 - len(base.event_shape)
    return base.to_event(extra) if extra > 0 else base


class LinearHMMReparam(Reparam):
    """Reparameterize a ``LinearHMM`` site through reparameterizers of its three noise
    distributions, so that, given the auxiliary sites they add, the site is a
    :class:`~pyro.distributions.GaussianHMM` (whose ``log_prob`` is exact).

    ``init`` is applied to the initial distribution at site ``<name>_init``, ``trans`` to the
    transition noise of all steps (one event over time) at ``<name>_trans``, and ``obs`` to
    the observation noise at ``<name>_obs``; e.g. :class:`StudentTReparam` for Student-t noise
    or :class:`SymmetricStableReparam` / :class:`StableReparam` for stable noise. ``None``
    leaves a part as it is, which must then already be Gaussian. An observation distribution
    with transforms gives a ``TransformedDistribution`` of the ``GaussianHMM``. The site keeps
    its value and observed status.

    Args:
        init: the reparameterizer of ``initial_dist``, or None.
        trans: the reparameterizer of ``transition_dist``, or None.
        obs: the reparameterizer of ``observation_dist``, or None.
    """

    def __init__(self, init: Optional[Reparam] = None, trans: Optional[Reparam] = None,
                 obs: Optional[Reparam] = None) -> None:
        for arg, value in (("init", init), ("trans", trans), ("obs", obs)):
            if value is not None and not isinstance(value, Reparam):
                raise TypeError(f"LinearHMMReparam: {arg} must be a Reparam or None, got "
                                f"{type(value).__name__}")
        self.init = init
        self.trans = trans
        self.obs = obs

    def _part(self, name: str, part: str, reparam: Optional[Reparam], fn: Any,
              over_time: bool) -> Any:
        """Apply ``reparam`` to one noise distribution; check the result is Gaussian."""
        if reparam is not None:
            site = fn.to_event(1) if over_time else fn
            result = reparam.apply({"name": f"{name}_{part}", "fn": site, "value": None,
                                    "is_observed": False})
            if result.get("value") is not None:
                raise ValueError(
                    f"LinearHMMReparam at sample site '{name}': the {part} reparameterizer "
                    f"{type(reparam).__name__} gives the noise a value; use one that leaves "
                    "a conditional normal (e.g. SymmetricStableReparam, StableReparam, "
                    "StudentTReparam)")
            fn = _vector_event(result["fn"]) if over_time else result["fn"]
        if not _is_gaussian_noise(fn):
            inner = fn
            while isinstance(inner, torch.distributions.Independent):
                inner = inner.base_dist
            raise ValueError(
                f"LinearHMMReparam at sample site '{name}': the {part} distribution is "
                f"{type(inner).__name__}, not Gaussian; pass {part}= a reparameterizer that "
                "makes it conditionally normal")
        return fn

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Reparameterize the noise distributions and give the site its ``GaussianHMM``."""
        name = msg["name"]
        fn, event_dim = self._unwrap(msg["fn"])
        _check_type(self, name, fn, dist.LinearHMM)
        batch = fn.batch_shape
        steps = batch + (fn.event_shape[-2],)
        init = self._part(name, "init", self.init, fn.initial_dist.expand(batch), False)
        trans = self._part(name, "trans", self.trans, fn.transition_dist.expand(steps), True)
        obs = self._part(name, "obs", self.obs, fn.observation_dist.expand(steps), True)
        hmm = dist.GaussianHMM(init, fn.transition_matrix, trans, fn.observation_matrix, obs,
                               duration=fn.duration)
        new_fn: Any = hmm
        if fn.transforms:
            new_fn = dist.TransformedDistribution(hmm, fn.transforms)
        return {"fn": self._wrap(new_fn, event_dim), "value": msg["value"],
                "is_observed": msg["is_observed"]}


__all__ = ["LinearHMMReparam"]
