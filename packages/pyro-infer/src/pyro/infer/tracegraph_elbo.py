"""``TraceGraph_ELBO``: score-function gradients Rao-Blackwellised with the trace's dependencies."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Set, Tuple

import torch

from pyro.infer.trace_elbo import JitTrace_ELBO, Trace_ELBO, elbo_particle_terms
from pyro.infer.util import MultiFrameTensor, get_importance_trace, sum_terms

__all__ = ["JitTraceGraph_ELBO", "TraceGraph_ELBO"]

_BASELINE_KEYS = frozenset(
    {"use_decaying_avg_baseline", "baseline_beta", "nn_baseline", "nn_baseline_input", "baseline_value"}
)


def _reachable(trace: Any, starts: Iterable[str], cache: Dict[str, Set[str]]) -> Set[str]:
    """Return the sample sites reachable from ``starts`` along the trace's edges (inclusive)."""
    result: Set[str] = set()
    for start in starts:
        if start not in trace.nodes:
            continue
        result |= _descendants(trace, start, cache)
    return result


def _descendants(trace: Any, name: str, cache: Dict[str, Set[str]]) -> Set[str]:
    found = cache.get(name)
    if found is not None:
        return found
    # Iterative post-order walk, so long chains of sites cannot exhaust the recursion limit.
    stack = [(name, False)]
    while stack:
        node, expanded = stack.pop()
        if node in cache:
            continue
        children = trace.successors(node)
        if expanded:
            acc = {node}
            for child in children:
                acc |= cache[child]
            cache[node] = acc
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if c not in cache)
    return cache[name]


class TraceGraph_ELBO(Trace_ELBO):
    """The ELBO with Rao-Blackwellised score-function gradients and optional baselines.

    Model and guide are traced with dense dependency edges: a site depends on every earlier
    site except those in other iterations of a sequential plate it shares. A guide site without
    ``rsample`` then gets as its cost only the terms that can depend on its value: the model's
    and the guide's log-densities of the sites downstream of it (itself included), summed over
    the plates it does not share with them. For models whose sites are all reparameterised this
    is :class:`~pyro.infer.Trace_ELBO`.

    Baselines, set per guide site through ``infer={"baseline": {...}}``, reduce the variance
    further (one kind per site):

    - ``"use_decaying_avg_baseline": True`` with ``"baseline_beta"`` (default 0.90): an
      exponential moving average of the site's past costs, kept by this ELBO instance;
    - ``"nn_baseline": module`` with ``"nn_baseline_input": x``: ``module(x)`` is subtracted
      and trained to predict the cost (a squared-error term joins the surrogate loss); register
      the module with :func:`pyro.module` in the guide so its params are optimised;
    - ``"baseline_value": tensor``: a user-computed baseline, trained the same way when it
      depends on params.

    See :class:`~pyro.infer.ELBO` for the arguments.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._decaying_avgs: Dict[str, torch.Tensor] = {}

    def _get_trace(self, model: Callable, guide: Callable, args: tuple, kwargs: dict) -> Tuple[Any, Any]:
        return get_importance_trace("dense", self.max_plate_nesting, model, guide, args, kwargs)

    def _downstream_costs(self, model_trace: Any, guide_trace: Any, sites: List[dict]) -> List[Any]:
        """Return the detached downstream cost of each non-reparameterised guide site."""
        guide_cache: Dict[str, Set[str]] = {}
        model_cache: Dict[str, Set[str]] = {}
        model_nodes = model_trace.nodes
        guide_nodes = guide_trace.nodes
        costs = []
        for site in sites:
            name = site["name"]
            guide_down = _descendants(guide_trace, name, guide_cache)
            model_down = _reachable(model_trace, guide_down, model_cache)
            cost = MultiFrameTensor()
            for other in model_down:
                m = model_nodes[other]
                if m.get("type") == "sample":
                    cost.add(m["cond_indep_stack"], m["log_prob"].detach())
            for other in guide_down:
                g = guide_nodes[other]
                if g.get("type") == "sample":
                    cost.add(g["cond_indep_stack"], -g["log_prob"].detach())
            costs.append(cost.sum_to(site["cond_indep_stack"]))
        return costs

    def _baseline(self, site: dict, cost: Any) -> Tuple[Any, Any]:
        """Return ``(baseline, baseline_loss)`` of a site given its detached cost."""
        options = site["infer"].get("baseline")
        if not options:
            return 0.0, 0.0
        unknown = set(options) - _BASELINE_KEYS
        if unknown:
            raise ValueError(f"site '{site['name']}': unknown baseline options {sorted(unknown)}; "
                             f"known: {sorted(_BASELINE_KEYS)}")
        use_avg = bool(options.get("use_decaying_avg_baseline", False))
        nn_baseline = options.get("nn_baseline")
        value = options.get("baseline_value")
        if use_avg + (nn_baseline is not None) + (value is not None) > 1:
            raise ValueError(f"site '{site['name']}': use only one of use_decaying_avg_baseline, "
                             f"nn_baseline and baseline_value")
        if use_avg:
            beta = options.get("baseline_beta", 0.90)
            old = self._decaying_avgs.get(site["name"])
            if old is None or old.shape != torch.as_tensor(cost).shape:
                old = torch.zeros_like(torch.as_tensor(cost))
            # The baseline is the average *before* this particle: it does not depend on it, so
            # the estimator stays unbiased.
            self._decaying_avgs[site["name"]] = beta * old + (1.0 - beta) * cost
            return old, 0.0
        if nn_baseline is not None:
            if "nn_baseline_input" not in options:
                raise ValueError(f"site '{site['name']}': nn_baseline needs nn_baseline_input")
            value = nn_baseline(options["nn_baseline_input"])
        if value is None:
            return 0.0, 0.0
        if isinstance(cost, torch.Tensor) and value.shape != cost.shape and value.numel() != 1:
            try:
                torch.broadcast_shapes(value.shape, cost.shape)
            except RuntimeError:
                raise ValueError(
                    f"site '{site['name']}': baseline shape {tuple(value.shape)} does not match "
                    f"the downstream cost shape {tuple(cost.shape)}"
                ) from None
        loss = (cost - value).pow(2).sum()
        return value.detach(), loss

    def _particle_loss(self, model_trace: Any, guide_trace: Any,
                       surrogate: bool = True) -> Tuple[Any, Any]:
        elbo, surrogate_elbo, score_sites = elbo_particle_terms(model_trace, guide_trace)
        if not surrogate:
            return elbo, surrogate_elbo
        surrogate = surrogate_elbo
        if not score_sites:
            return elbo, surrogate
        terms = [surrogate]
        baseline_losses = []
        costs = self._downstream_costs(model_trace, guide_trace, score_sites)
        for site, cost in zip(score_sites, costs):
            baseline, baseline_loss = self._baseline(site, cost)
            if not (isinstance(baseline_loss, float) and baseline_loss == 0.0):
                baseline_losses.append(baseline_loss)
            terms.append(((cost - baseline) * site["score_parts"].score_function).sum())
        surrogate = sum_terms(terms)
        if baseline_losses:
            # The surrogate is maximised; the baselines' squared errors are minimised.
            surrogate = surrogate - sum_terms(baseline_losses)
        return elbo, surrogate


class JitTraceGraph_ELBO(JitTrace_ELBO, TraceGraph_ELBO):
    """:class:`TraceGraph_ELBO` with the loss computation compiled by the PyTorch JIT tracer.

    The same restrictions as :class:`~pyro.infer.JitTrace_ELBO` apply (static model and guide,
    tensor positional arguments, keyword arguments as constants). Baselines given as
    ``nn_baseline`` or ``baseline_value`` work as in the eager loss; a decaying-average
    baseline is Python state, fixed at its value when the graph was traced.
    """
