"""``RenyiELBO``: the variational Rényi bound, a family between the ELBO and the log-evidence."""

from __future__ import annotations

import math
from typing import Any, Callable, List, Tuple

import torch

from pyro.infer.arg_checks import EngineArgumentError, check_real
from pyro.infer.elbo import ELBO
from pyro.infer.trace_elbo import elbo_particle_terms
from pyro.infer.util import (
    get_importance_trace,
    sum_terms,
    sum_to_particles,
    torch_backward,
    torch_item,
)

__all__ = ["RenyiELBO"]


class RenyiELBO(ELBO):
    """The variational Rényi bound (Li and Turner, 2016) of order ``alpha``.

    With ``w_i = log p(x, z_i) - log q(z_i)`` for ``num_particles`` draws ``z_i`` of the guide,
    the bound is ``(logsumexp((1 - alpha) * w) - log num_particles) / (1 - alpha)``, and the
    loss is its negative. ``alpha = 0`` gives the importance-weighted bound (IWAE);
    ``alpha -> 1`` tends to the ELBO of :class:`~pyro.infer.Trace_ELBO` (which ``alpha = 1``
    itself must use); ``alpha < 0`` bounds the log-evidence from above in the limit of many
    particles. Gradients are reparameterised where the guide allows, with a score-function
    term (the detached bound times the guide's score) elsewhere.

    Args:
        alpha: the order of the Rényi divergence; must not be 1.
        num_particles: the number of guide draws the bound combines (at least 2 to differ from
            the ELBO).
        max_plate_nesting, max_iarange_nesting, vectorize_particles, strict_enumeration_warning:
            as for :class:`~pyro.infer.ELBO`.

    Raises:
        TypeError: an ``alpha`` that is not a number.
        ValueError: ``alpha == 1`` (Pyro's message), or an ``alpha`` that is not finite.
    """

    def __init__(self, alpha: float = 0, num_particles: int = 2, max_plate_nesting: float = math.inf,
                 max_iarange_nesting: Any = None, vectorize_particles: bool = False,
                 strict_enumeration_warning: bool = True) -> None:
        check_real("RenyiELBO", "alpha", alpha)
        if not math.isfinite(alpha):
            raise EngineArgumentError(f"RenyiELBO: alpha must be a finite number, got {alpha}")
        if alpha == 1:
            raise ValueError("The order alpha should not be equal to 1. Please use Trace_ELBO class"
                             "for the case alpha = 1.")
        self.alpha = alpha
        super().__init__(num_particles=num_particles, max_plate_nesting=max_plate_nesting,
                         max_iarange_nesting=max_iarange_nesting,
                         vectorize_particles=vectorize_particles,
                         strict_enumeration_warning=strict_enumeration_warning)

    def _get_trace(self, model: Callable, guide: Callable, args: tuple, kwargs: dict) -> Tuple[Any, Any]:
        return get_importance_trace("flat", self.max_plate_nesting, model, guide, args, kwargs)

    def _particle_weights(self, model: Callable, guide: Callable, args: tuple,
                          kwargs: dict) -> Tuple[torch.Tensor, Any]:
        """Return ``(w, score)``: the log-weights ``log p - log q`` of the particles (shape
        ``(num_particles,)``, differentiable through params and reparameterised draws) and the
        summed score function of the guide sites without ``rsample`` (a tensor or ``0.0``)."""
        weights: List[Any] = []
        scores: List[Any] = []
        n = self.num_particles
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            if self.vectorize_particles and n > 1:
                dim = -int(self.max_plate_nesting)
                w = sum_to_particles(0.0, n, dim)
                for site in model_trace.nodes.values():
                    if site["type"] == "sample":
                        w = w + sum_to_particles(site["log_prob"], n, dim)
                for site in guide_trace.nodes.values():
                    if site["type"] == "sample":
                        w = w - sum_to_particles(site["log_prob"], n, dim)
                        score = site["score_parts"].score_function
                        if isinstance(score, torch.Tensor):
                            scores.append(score.sum())
                return w, sum_terms(scores)
            elbo, _, score_sites = elbo_particle_terms(model_trace, guide_trace)
            weights.append(torch.as_tensor(elbo))
            scores.extend(site["score_parts"].score_function.sum() for site in score_sites)
        return torch.stack(weights), sum_terms(scores)

    def _bound_and_surrogate(self, model: Callable, guide: Callable, args: tuple,
                             kwargs: dict) -> Tuple[torch.Tensor, Any]:
        """Return ``(bound, surrogate)``; the surrogate's gradient estimates the bound's."""
        w, score = self._particle_weights(model, guide, args, kwargs)
        a = 1.0 - self.alpha
        scaled = a * w.detach()
        bound = (torch.logsumexp(scaled, 0) - math.log(self.num_particles)) / a
        normalized = torch.softmax(scaled, 0)
        # d bound / d w_i is the normalised weight; the draws' own dependence on the params
        # enters through the score function, times the (detached) bound.
        surrogate = (normalized * w).sum()
        if isinstance(score, torch.Tensor):
            surrogate = surrogate + bound * score
        return bound, surrogate

    def loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Return the negative Rényi bound, estimated without gradients, as a float."""
        with torch.no_grad():
            w, _ = self._particle_weights(model, guide, args, kwargs)
            a = 1.0 - self.alpha
            bound = (torch.logsumexp(a * w, 0) - math.log(self.num_particles)) / a
        loss = -torch_item(bound)
        self._warn_if_nan(loss)
        return loss

    def loss_and_grads(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Estimate the negative bound, backpropagate its surrogate into the params; return a
        float."""
        bound, surrogate = self._bound_and_surrogate(model, guide, args, kwargs)
        torch_backward(-surrogate, self.retain_graph)
        loss = -torch_item(bound)
        self._warn_if_nan(loss)
        return loss

    def differentiable_loss(self, model: Callable, guide: Callable, *args: Any,
                            **kwargs: Any) -> torch.Tensor:
        """Return the negative bound as a tensor carrying the surrogate's gradients."""
        bound, surrogate = self._bound_and_surrogate(model, guide, args, kwargs)
        loss = -bound
        if isinstance(surrogate, torch.Tensor) and surrogate.requires_grad:
            loss = loss - (surrogate - surrogate.detach())
        self._warn_if_nan(loss)
        return loss
