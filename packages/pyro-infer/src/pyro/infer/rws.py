"""``ReweightedWakeSleep``: importance-weighted training of a model and its amortised guide."""

from __future__ import annotations

import math
from typing import Any, Callable, List, Optional, Tuple

import torch

import pyro
from pyro import poutine
from pyro.infer.arg_checks import EngineArgumentError, check_count, check_real
from pyro.infer.elbo import ELBO
from pyro.infer.util import (
    get_importance_trace,
    site_log_prob,
    sum_to_particles,
    torch_backward,
    torch_item,
)
from pyro.poutine.util import site_is_subsample

__all__ = ["ReweightedWakeSleep"]

_SLEEP_PLATE = "num_sleep_particles_vectorized"


class ReweightedWakeSleep(ELBO):
    """Reweighted wake-sleep (Bornschein and Bengio, 2015; Le et al., 2019).

    From ``num_particles`` guide draws with log-weights ``w_i = log p(x, z_i) - log q(z_i)``:

    - the *wake-theta* loss ``-(logsumexp(w) - log num_particles)`` (the importance-weighted
      bound) trains the model's params;
    - the *wake-phi* loss ``-sum_i softmax(w)_i log q(z_i)`` (weights and draws fixed) trains
      the guide's params, as does the *sleep-phi* loss ``-mean log q(z | x)`` over
      ``num_sleep_particles`` joint draws ``(z, x)`` of the model, the guide being called with
      the keyword argument ``observations={observed site: its drawn value}``.

    The guide's loss is ``insomnia * wake_phi + (1 - insomnia) * sleep_phi``. Each loss only
    trains its own side: the draws are not differentiated through, so the guide may be
    discrete. :meth:`loss` and :meth:`loss_and_grads` return ``(wake_theta_loss, phi_loss)``.

    Args:
        num_particles: guide draws per step (more than one).
        insomnia: the weight of the wake-phi loss in the guide's loss, in ``[0, 1]``.
        model_has_params: whether to backpropagate the wake-theta loss.
        num_sleep_particles: model draws for the sleep phase (default ``num_particles``).
        vectorize_particles, max_plate_nesting, strict_enumeration_warning: as for
            :class:`~pyro.infer.ELBO`.

    Raises:
        TypeError: an ``insomnia`` that is not a number, a ``num_sleep_particles`` that is not
            an int.
        ValueError: ``num_particles < 2``, ``insomnia`` outside ``[0, 1]``,
            ``num_sleep_particles < 1`` (``AssertionError`` s too, the type Pyro's asserts
            raise).
    """

    def __init__(self, num_particles: int = 2, insomnia: float = 1.0, model_has_params: bool = True,
                 num_sleep_particles: Optional[int] = None, vectorize_particles: bool = True,
                 max_plate_nesting: float = math.inf, strict_enumeration_warning: bool = True) -> None:
        super().__init__(num_particles=num_particles, max_plate_nesting=max_plate_nesting,
                         vectorize_particles=vectorize_particles,
                         strict_enumeration_warning=strict_enumeration_warning)
        if num_particles < 2:
            raise EngineArgumentError(f"Reweighted Wake Sleep needs to be run with more than one "
                                      f"particle: got num_particles={num_particles}")
        check_real("ReweightedWakeSleep", "insomnia", insomnia)
        if not 0.0 <= insomnia <= 1.0:
            raise EngineArgumentError(f"insomnia should be in [0, 1]: ReweightedWakeSleep got "
                                      f"insomnia={insomnia}")
        if num_sleep_particles is not None:
            check_count("ReweightedWakeSleep", "num_sleep_particles", num_sleep_particles)
        self.insomnia = insomnia
        self.model_has_params = model_has_params
        self.num_sleep_particles = num_particles if num_sleep_particles is None else num_sleep_particles

    def _get_trace(self, model: Callable, guide: Callable, args: tuple, kwargs: dict) -> Tuple[Any, Any]:
        return get_importance_trace("flat", self.max_plate_nesting, model, guide, args, kwargs,
                                    detach=True)

    # ----- the two phases ---------------------------------------------------------------------
    def _wake(self, model: Callable, guide: Callable, args: tuple,
              kwargs: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        n = self.num_particles
        log_ps: List[torch.Tensor] = []
        log_qs: List[torch.Tensor] = []
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            if self.vectorize_particles:
                dim = -int(self.max_plate_nesting)
                log_p = sum_to_particles(0.0, n, dim)
                log_q = log_p
                for site in model_trace.nodes.values():
                    if site["type"] == "sample":
                        log_p = log_p + sum_to_particles(site["log_prob"], n, dim)
                for site in guide_trace.nodes.values():
                    if site["type"] == "sample":
                        log_q = log_q + sum_to_particles(site["log_prob"], n, dim)
                log_ps.append(log_p)
                log_qs.append(log_q)
            else:
                log_ps.append(torch.as_tensor(sum(
                    s["log_prob_sum"] for s in model_trace.nodes.values() if s["type"] == "sample")).reshape(1))
                log_qs.append(torch.as_tensor(sum(
                    s["log_prob_sum"] for s in guide_trace.nodes.values() if s["type"] == "sample")).reshape(1))
        self.__dict__.pop("_recorded_traces", None)
        log_p, log_q = torch.cat(log_ps), torch.cat(log_qs)
        wake_theta = -(torch.logsumexp(log_p - log_q.detach(), 0) - math.log(n))
        weights = torch.softmax((log_p - log_q).detach(), 0)
        wake_phi = -(weights * log_q).sum()
        return wake_theta, wake_phi

    def _sleep(self, model: Callable, guide: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
        n = self.num_sleep_particles
        if self.max_plate_nesting == math.inf:
            self._guess_max_plate_nesting(model, guide, args, kwargs)
        # Vectorized wake particles count their own plate in max_plate_nesting; the sleep
        # particles take that same dim.
        vectorized = self.vectorize_particles and self.num_particles > 1
        dim = -int(self.max_plate_nesting) - (0 if vectorized else 1)

        def in_plate(fn: Callable) -> Callable:
            def wrapped(*a: Any, **k: Any) -> Any:
                with pyro.plate(_SLEEP_PLATE, n, dim=dim):
                    return fn(*a, **k)
            return wrapped

        with poutine.block(hide_types=["param"]):
            model_trace = poutine.trace(poutine.uncondition(in_plate(model))).get_trace(*args, **kwargs)
        model_trace.detach_()
        observations = {name: site["value"] for name, site in model_trace.nodes.items()
                        if site["type"] == "sample" and site["infer"].get("was_observed")}
        guide_trace = poutine.trace(poutine.replay(in_plate(guide), trace=model_trace)).get_trace(
            *args, observations=observations, **kwargs)
        total = sum_to_particles(0.0, n, dim)
        for site in guide_trace.nodes.values():
            if site["type"] == "sample" and not site_is_subsample(site):
                total = total + sum_to_particles(site_log_prob(site, with_sum=False), n, dim)
        return -total.mean()

    def _loss(self, model: Callable, guide: Callable, args: tuple,
              kwargs: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        wake_theta, wake_phi = self._wake(model, guide, args, kwargs)
        phi = wake_phi if self.insomnia == 1.0 else self.insomnia * wake_phi
        if self.insomnia < 1.0:
            phi = phi + (1.0 - self.insomnia) * self._sleep(model, guide, args, kwargs)
        return wake_theta, phi

    # ----- the interface ----------------------------------------------------------------------
    def loss(self, model: Callable, guide: Callable, *args: Any,
             **kwargs: Any) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(wake_theta_loss, phi_loss)`` as detached tensors."""
        with torch.no_grad():
            wake_theta, phi = self._loss(model, guide, args, kwargs)
        self._warn_if_nan(wake_theta)
        return wake_theta.detach(), torch.as_tensor(phi).detach()

    def loss_and_grads(self, model: Callable, guide: Callable, *args: Any,
                       **kwargs: Any) -> Tuple[float, float]:
        """Backpropagate the wake-theta loss into the model's params (when
        ``model_has_params``) and the phi loss into the guide's; return both as floats."""
        wake_theta, phi = self._loss(model, guide, args, kwargs)
        if self.model_has_params:
            torch_backward(wake_theta, self.retain_graph)
        torch_backward(phi, self.retain_graph)
        wake_theta_f, phi_f = wake_theta.item(), torch_item(torch.as_tensor(phi).detach())
        self._warn_if_nan(wake_theta_f)
        return wake_theta_f, phi_f
