"""``TraceTailAdaptive_ELBO``: gradients of the tail-adaptive f-divergence."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from pyro.infer.trace_elbo import Trace_ELBO
from pyro.infer.util import check_fully_reparametrized, sum_to_particles, torch_backward

__all__ = ["TraceTailAdaptive_ELBO"]


class TraceTailAdaptive_ELBO(Trace_ELBO):
    """Variational inference with the tail-adaptive f-divergence (Wang, Liu and Liu, 2018).

    With log-weights ``w_i = log p(x, z_i) - log q(z_i)`` of ``num_particles`` reparameterised
    draws, each particle's gradient ``grad w_i`` is weighted by ``gamma_i``, proportional to
    ``F(w_i) ** tail_adaptive_beta`` where ``F(w_i)`` is the fraction of particles whose weight
    is at least ``w_i`` (an estimate of the weights' tail probability); with the default
    ``beta = -1`` the heavy right tail of the weights gets the most weight without the
    variance of the raw importance weights, and ``beta = 0`` is the ELBO's gradient. The
    objective has no value of its own: as in Pyro, :meth:`differentiable_loss` and
    :meth:`loss_and_grads` return ``inf`` (carrying the gradient) and :meth:`loss` raises.

    Needs ``vectorize_particles=True`` and a fully reparameterised guide. See
    :class:`~pyro.infer.ELBO` for the arguments (``tail_adaptive_beta`` among them).

    Raises:
        NotImplementedError: without ``vectorize_particles``; for a guide site without
            ``rsample``; from :meth:`loss`.
    """

    def loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Not available: the tail-adaptive objective has no value (Pyro raises too)."""
        raise NotImplementedError("Loss method for TraceTailAdaptive_ELBO not implemented")

    def _surrogate(self, model: Callable, guide: Callable, args: tuple, kwargs: dict) -> Any:
        if not self.vectorize_particles:
            raise NotImplementedError(
                "TraceTailAdaptive_ELBO only implemented for vectorize_particles==True")
        n = self.num_particles
        ((model_trace, guide_trace),) = list(self._get_traces(model, guide, args, kwargs))
        dim = -int(self.max_plate_nesting) if n > 1 else -int(self.max_plate_nesting) - 1
        log_w = sum_to_particles(0.0, n, dim)
        for site in guide_trace.nodes.values():
            if site["type"] == "sample":
                check_fully_reparametrized(site)
                log_w = log_w - sum_to_particles(site["log_prob"], n, dim)
        for site in model_trace.nodes.values():
            if site["type"] == "sample":
                log_w = log_w + sum_to_particles(site["log_prob"], n, dim)
        w = log_w.detach()
        tail = (w.unsqueeze(0) >= w.unsqueeze(1)).to(w.dtype).mean(1)  # tail[i]: P(w >= w_i)
        gamma = tail.pow(self.tail_adaptive_beta)
        gamma = gamma / gamma.sum()
        return -(gamma * log_w).sum()

    def differentiable_loss(self, model: Callable, guide: Callable, *args: Any,
                            **kwargs: Any) -> torch.Tensor:
        """Return ``inf`` carrying the tail-adaptive gradient (minimise it)."""
        surrogate = self._surrogate(model, guide, args, kwargs)
        self.__dict__.pop("_recorded_traces", None)
        return math.inf + (surrogate - surrogate.detach())

    def loss_and_grads(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Backpropagate the tail-adaptive surrogate into the params; return ``inf``."""
        surrogate = self._surrogate(model, guide, args, kwargs)
        self.__dict__.pop("_recorded_traces", None)
        torch_backward(surrogate, self.retain_graph)
        return math.inf
