"""``Trace_ELBO``: the ELBO estimated from whole traces of the guide and the model."""

from __future__ import annotations

import weakref
from typing import Any, Callable, List, Tuple

import torch

from pyro.infer.elbo import ELBO
from pyro.infer.util import (
    JitCompiledLoss,
    MultiFrameTensor,
    get_importance_trace,
    is_identically_zero,
    sum_terms,
    torch_backward,
    torch_item,
)

__all__ = ["JitTrace_ELBO", "Trace_ELBO"]


def _log_ratio(model_trace: Any, guide_trace: Any) -> MultiFrameTensor:
    """The detached per-site ``log p - log q`` of a particle, grouped by plates."""
    log_r = MultiFrameTensor()
    for site in model_trace.nodes.values():
        if site["type"] == "sample":
            log_r.add(site["cond_indep_stack"], site["log_prob"].detach())
    for site in guide_trace.nodes.values():
        if site["type"] == "sample":
            log_r.add(site["cond_indep_stack"], -site["log_prob"].detach())
    return log_r


def elbo_particle_terms(model_trace: Any, guide_trace: Any) -> Tuple[Any, Any, List[dict]]:
    """Return ``(elbo, surrogate, score_sites)`` of one particle, without score-function terms.

    ``elbo`` is ``sum log p - sum log q`` (differentiable), ``surrogate`` the same with each guide
    site's entropy term in place of its log-density, ``score_sites`` the guide sites whose score
    function is not identically zero: the caller adds their ``cost * score_function`` terms.
    """
    model_terms = [s["log_prob_sum"] for s in model_trace.nodes.values() if s["type"] == "sample"]
    guide_terms = []
    entropy_terms = []
    same = True
    score_sites = []
    for site in guide_trace.nodes.values():
        if site["type"] != "sample":
            continue
        parts = site["score_parts"]
        lp_sum = site["log_prob_sum"]
        guide_terms.append(lp_sum)
        entropy = parts.entropy_term
        if entropy is parts.log_prob:
            entropy_terms.append(lp_sum)
        else:
            same = False
            if not is_identically_zero(entropy):
                entropy_terms.append(entropy.sum())
        if not is_identically_zero(parts.score_function):
            score_sites.append(site)
    model_sum = sum_terms(model_terms)
    elbo = model_sum - sum_terms(guide_terms)
    surrogate = elbo if same else model_sum - sum_terms(entropy_terms)
    return elbo, surrogate, score_sites


class Trace_ELBO(ELBO):
    """The standard ELBO estimator: reparameterised gradients where the guide allows them,
    score-function (REINFORCE) gradients elsewhere.

    Each particle runs the guide, then the model replayed against the guide's draws. The
    estimate is ``log p(x, z) - log q(z)`` averaged over particles. For a guide site without
    ``rsample`` the surrogate loss adds ``cost * log q(z_site)`` with the detached cost
    ``log p - log q`` of the particle, restricted by plates: inside a vectorized plate, each
    element's score only multiplies the costs batched with it plus everything outside the plate.
    :class:`~pyro.infer.TraceGraph_ELBO` uses the dependency structure to drop more terms.

    See :class:`~pyro.infer.ELBO` for the arguments.
    """

    def _get_trace(self, model: Callable, guide: Callable, args: tuple, kwargs: dict) -> Tuple[Any, Any]:
        return get_importance_trace("flat", self.max_plate_nesting, model, guide, args, kwargs)

    def _particle_loss(self, model_trace: Any, guide_trace: Any,
                       surrogate: bool = True) -> Tuple[Any, Any]:
        """Return ``(elbo, surrogate_elbo)`` of one particle, both tensors (or numbers).

        With ``surrogate=False`` only the ELBO is needed and the second item is meaningless.
        """
        elbo, surrogate_elbo, score_sites = elbo_particle_terms(model_trace, guide_trace)
        if not surrogate:
            return elbo, surrogate_elbo
        surrogate = surrogate_elbo
        if score_sites:
            log_r = _log_ratio(model_trace, guide_trace)
            terms = [surrogate]
            for site in score_sites:
                cost = log_r.sum_to(site["cond_indep_stack"])
                terms.append((cost * site["score_parts"].score_function).sum())
            surrogate = sum_terms(terms)
        return elbo, surrogate

    def _loss_and_surrogate(self, model: Callable, guide: Callable, args: tuple, kwargs: dict,
                            backward: bool, surrogate: bool = True) -> Tuple[Any, Any]:
        loss: Any = 0.0
        surrogate_loss: Any = 0.0
        n = self.num_particles
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            elbo, surrogate_elbo = self._particle_loss(model_trace, guide_trace, surrogate)
            if self.vectorize_particles or n == 1:
                loss = -_detach(elbo)
                surrogate_loss = -surrogate_elbo
            else:
                loss = loss - _detach(elbo)
                surrogate_loss = surrogate_loss - surrogate_elbo
                if backward:
                    torch_backward(-surrogate_elbo / n, self.retain_graph)
                    surrogate_loss = 0.0
        if n > 1:
            loss = loss / n
            surrogate_loss = surrogate_loss / n
        if backward and (self.vectorize_particles or n == 1):
            torch_backward(surrogate_loss, self.retain_graph)
        return loss, surrogate_loss

    def loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Return the estimated negative ELBO as a float (computed without gradients)."""
        with torch.no_grad():
            loss, _ = self._loss_and_surrogate(model, guide, args, kwargs, backward=False,
                                               surrogate=False)
        loss = torch_item(loss)
        self._warn_if_nan(loss)
        return loss

    def loss_and_grads(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Estimate the negative ELBO, backpropagate its surrogate into the params; return a float."""
        loss, _ = self._loss_and_surrogate(model, guide, args, kwargs, backward=True)
        loss = torch_item(loss)
        self._warn_if_nan(loss)
        return loss

    def differentiable_loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Return the negative ELBO as a tensor carrying the surrogate's gradients."""
        loss, surrogate_loss = self._loss_and_surrogate(model, guide, args, kwargs, backward=False)
        loss = torch.as_tensor(loss)
        if isinstance(surrogate_loss, torch.Tensor):
            loss = loss + (surrogate_loss - surrogate_loss.detach())
        self._warn_if_nan(loss)
        return loss


def _detach(x: Any) -> Any:
    return x.detach() if isinstance(x, torch.Tensor) else x


class JitTrace_ELBO(JitCompiledLoss, Trace_ELBO):
    """:class:`Trace_ELBO` with the loss computation compiled by the PyTorch JIT tracer.

    The first step traces one run of the guide and the model (per set of keyword arguments and
    argument shapes); later steps replay the compiled graph, drawing fresh random numbers. The
    model and guide must be static: the same sites in the same order with the same shapes, no
    control flow on sampled values; positional arguments must be tensors, keyword arguments are
    constants baked into the compiled graph. ``ignore_jit_warnings=True`` silences the tracer's
    warnings, ``jit_options`` go to :func:`torch.jit.trace`.
    """

    def _jit_loss_fn(self, model: Callable, guide: Callable) -> Callable:
        elbo = weakref.ref(self)

        def loss_and_surrogate(*args: Any, **kwargs: Any) -> Tuple[Any, Any]:
            loss, surrogate_loss = Trace_ELBO._loss_and_surrogate(
                elbo(), model, guide, args, kwargs, backward=False)
            return torch.as_tensor(loss), torch.as_tensor(surrogate_loss)

        return loss_and_surrogate

    def loss_and_grads(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        loss, surrogate_loss = self._compiled(model, guide)(*args, **kwargs)
        torch_backward(surrogate_loss, self.retain_graph)
        loss = loss.item()
        self._warn_if_nan(loss)
        return loss

    def loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        with torch.no_grad():
            loss, _ = self._compiled(model, guide)(*args, **kwargs)
        loss = loss.item()
        self._warn_if_nan(loss)
        return loss

    def differentiable_loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> torch.Tensor:
        loss, surrogate_loss = self._compiled(model, guide)(*args, **kwargs)
        return loss + (surrogate_loss - surrogate_loss.detach())
