"""``TraceMeanField_ELBO``: the ELBO with analytic KL divergences where they are known."""

from __future__ import annotations

import warnings
from typing import Any, Callable, Tuple

import torch

from pyro.distributions import kl_divergence
from pyro.infer.trace_elbo import JitTrace_ELBO, Trace_ELBO
from pyro.infer.util import get_importance_trace, is_identically_zero, is_validation_enabled, sum_terms
from pyro.ops.score_parts import scale_and_mask

__all__ = ["JitTraceMeanField_ELBO", "TraceMeanField_ELBO"]


def _check_reparameterized(guide_trace: Any) -> None:
    """Raise Pyro's ``NotImplementedError`` at the first guide site (factors included) whose
    gradient would need the score function."""
    for name, site in guide_trace.nodes.items():
        if site["type"] == "sample" and not is_identically_zero(site["score_parts"].score_function):
            raise NotImplementedError(
                f"All distributions in the guide must be fully reparameterized. "
                f"(TraceMeanField_ELBO: guide site '{name}' has {type(site['fn']).__name__}, "
                f"which has no rsample)"
            )


def _check_mean_field(model_trace: Any, guide_trace: Any) -> None:
    model_order = [n for n, s in model_trace.nodes.items()
                   if s["type"] == "sample" and not s["is_observed"] and n in guide_trace.nodes]
    guide_order = [n for n, s in guide_trace.nodes.items()
                   if s["type"] == "sample" and not s["is_observed"] and n in model_trace.nodes]
    if model_order != guide_order:
        warnings.warn(
            "TraceMeanField_ELBO assumes a mean-field guide: the model and the guide sample their "
            f"shared latent sites in different orders (model: {model_order}, guide: "
            f"{guide_order}); the estimate may be biased if the guide's sites depend on each other"
        )


class TraceMeanField_ELBO(Trace_ELBO):
    """The ELBO of a mean-field guide, with ``KL(q || p)`` computed in closed form where known.

    For each latent site sampled by both the guide and the model, the pair
    ``E_q[log p(z) - log q(z)]`` is replaced by ``-KL(q(z) || p(z))`` (scaled and masked like the
    site) when a closed form is registered for the two distributions; otherwise the Monte Carlo
    terms of :class:`~pyro.infer.Trace_ELBO` are used. This lowers the variance of the estimate
    and of its gradients. It is exact only when the guide's sites do not depend on each other
    (mean field) and the model's prior at a site does not depend on other latents through the
    guide's draws in a way the closed form ignores: use it for mean-field guides. Every guide
    site must be reparameterised.

    See :class:`~pyro.infer.ELBO` for the arguments.
    """

    def _get_trace(self, model: Callable, guide: Callable, args: tuple, kwargs: dict) -> Tuple[Any, Any]:
        model_trace, guide_trace = get_importance_trace("flat", self.max_plate_nesting, model, guide,
                                                        args, kwargs)
        if is_validation_enabled():
            _check_mean_field(model_trace, guide_trace)
        return model_trace, guide_trace

    def _particle_loss(self, model_trace: Any, guide_trace: Any,
                       surrogate: bool = True) -> Tuple[Any, Any]:
        _check_reparameterized(guide_trace)
        elbo_terms = []
        surrogate_terms = []
        guide_nodes = guide_trace.nodes
        for name, model_site in model_trace.nodes.items():
            if model_site["type"] != "sample":
                continue
            guide_site = guide_nodes.get(name)
            if model_site["is_observed"] or guide_site is None or guide_site["type"] != "sample":
                elbo_terms.append(model_site["log_prob_sum"])
                continue
            parts = guide_site["score_parts"]
            try:
                kl = kl_divergence(guide_site["fn"], model_site["fn"])
            except NotImplementedError:
                elbo_terms.append(model_site["log_prob_sum"] - guide_site["log_prob_sum"])
                entropy = parts.entropy_term
                if entropy is not parts.log_prob:
                    surrogate_terms.append((name, model_site["log_prob_sum"] - _sum(entropy)))
                continue
            kl = scale_and_mask(kl, guide_site["scale"], guide_site["mask"])
            elbo_terms.append(-_sum(kl))
        # Guide sites the model does not have (auxiliary variables) enter as -log q.
        for name, guide_site in guide_nodes.items():
            if guide_site["type"] == "sample" and name not in model_trace.nodes:
                elbo_terms.append(-guide_site["log_prob_sum"])
        elbo = sum_terms(elbo_terms)
        if not surrogate_terms:
            return elbo, elbo
        # Sites estimated by Monte Carlo whose entropy term is not their log-density.
        surrogate_elbo = elbo
        for name, term in surrogate_terms:
            site = model_trace.nodes[name]
            surrogate_elbo = surrogate_elbo - (site["log_prob_sum"] - guide_nodes[name]["log_prob_sum"]) + term
        return elbo, surrogate_elbo


class JitTraceMeanField_ELBO(JitTrace_ELBO, TraceMeanField_ELBO):
    """:class:`TraceMeanField_ELBO` with the loss computation compiled by the PyTorch JIT
    tracer, under the restrictions of :class:`~pyro.infer.JitTrace_ELBO`."""


def _sum(x: Any) -> Any:
    return x.sum() if isinstance(x, torch.Tensor) else x
