"""``TraceTMC_ELBO``: Tensor Monte Carlo, an importance-weighted bound over sampled and
enumerated sites, contracted by the enumeration code of :mod:`pyro.infer.enum`."""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Dict, List, Set, Tuple

import torch

from pyro.infer.elbo import ELBO
from pyro.infer.enum.contract import contract, pack
from pyro.infer.enum.factors import contraction_log_prob, site_info
from pyro.infer.enum.traces import enumerated_trace_pairs
from pyro.infer.util import (
    is_validation_enabled,
    torch_backward,
    torch_item,
)
from pyro.poutine.util import site_is_subsample

__all__ = ["TraceTMC_ELBO", "compute_tmc_log_evidence"]


def _guide_factor(site: Dict[str, Any]) -> Any:
    """The unscaled log-factor a guide site brings: ``-log q`` over its draws (``- log n`` more
    for ``n`` draws), nothing for an exactly enumerated site (its ``q`` weighs the values and
    divides the importance ratio, and cancels). A site without ``rsample`` keeps ``log q`` in
    the gradient (a DiCE factor), so the gradient accounts for where its draws fall."""
    infer = site["infer"]
    enumerated = "_enumerate_dim" in infer
    if (enumerated and not infer.get("num_samples")) or infer.get("enumerate") == "sequential":
        return None
    log_q = contraction_log_prob(site, False)
    if not site["is_observed"] and not getattr(site["fn"], "has_rsample", False):
        # -log q plus the DiCE factor log q - log q.detach(): the two gradients cancel.
        factor = -log_q.detach()
    else:
        factor = -log_q
    if enumerated:
        factor = factor - math.log(infer["num_samples"])
    return factor


def compute_tmc_log_evidence(model_trace: Any, guide_trace: Any) -> torch.Tensor:
    """Return the Tensor Monte Carlo estimate of ``log p(x)`` from one pair of traces.

    Every enumerated dim (of the model or of the guide, exhaustive or ``num_samples`` draws)
    is summed out of ``prod p / prod q`` with its weight: ``1/n`` per draw, the guide's ``q``
    per value of an exhaustively enumerated guide site; plates are multiplied out. Both traces
    need their log-densities (:func:`~pyro.infer.enum.factors.compute_log_probs`) first.
    """
    cache: Dict[Any, Any] = {}
    terms: List[Tuple[Any, Any, Any, str]] = []
    sum_labels: Set[Any] = set()
    label_ordinals: Dict[Any, Any] = {}
    rank: Dict[Any, int] = {}
    for name, site in guide_trace.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        info = site_info(site, cache)
        if "_enumerate_dim" in site["infer"]:
            sum_labels.add(name)
            label_ordinals[name] = info.ordinal
            rank[name] = len(rank)
        factor = _guide_factor(site)
        if factor is not None:
            terms.append((info.ordinal, pack(factor, info.dim_labels, info.plate_sizes, name),
                          site["scale"], name))
    guide_nodes = guide_trace.nodes
    for name, site in model_trace.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        info = site_info(site, cache)
        infer = site["infer"]
        own = "_enumerate_dim" in infer and name not in guide_nodes
        log_p = contraction_log_prob(site, own)
        if own:
            sum_labels.add(name)
            label_ordinals[name] = info.ordinal
            rank[name] = len(rank)
            if infer.get("num_samples"):
                # Draws from the site's own prior: each weighs 1/n, log p stays in the gradient.
                log_p = log_p - log_p.detach() - math.log(infer["num_samples"])
        terms.append((info.ordinal, pack(log_p, info.dim_labels, info.plate_sizes, name),
                      site["scale"], name))
    total: Any = 0.0
    for factors in contract(terms, sum_labels, label_ordinals, rank).values():
        for f in factors:
            total = total + f.tensor.sum()
    return torch.as_tensor(total)


class TraceTMC_ELBO(ELBO):
    """Tensor Monte Carlo (Aitchison, 2018): a bound on ``log p(x)`` that combines many draws
    per site, contracted by tensor variable elimination.

    Mark a site ``infer={"enumerate": "parallel", "num_samples": n}`` (or use
    :func:`~pyro.infer.config_enumerate` with ``num_samples``) to draw ``n`` values of it along
    an enumeration dim; without ``num_samples`` a discrete site is enumerated exhaustively.
    In the guide the draws are importance samples (weight ``p / q / n``); in the model (a site
    the guide does not have) they are draws from the site's prior (weight ``1 / n``). The loss
    is minus the log of the importance-weighted sum over every combination of draws, each plate
    multiplied out; with every latent site enumerated exhaustively it is ``-log p(x)`` exactly.
    Variables outside a plate must not depend on variables inside it (as for
    :class:`~pyro.infer.TraceEnum_ELBO`).

    See :class:`~pyro.infer.ELBO` for the arguments.
    """

    def _get_trace(self, model: Callable, guide: Callable, args: tuple,
                   kwargs: dict) -> List[Tuple[Any, Any]]:
        """Return the ``(model_trace, guide_trace)`` pairs of one particle (one per joint value
        of sequentially enumerated guide sites), with log-densities."""
        if self.max_plate_nesting == math.inf:
            self._guess_max_plate_nesting(model, guide, args, kwargs)
        pairs = enumerated_trace_pairs(model, guide, args, kwargs, self.max_plate_nesting)
        validate = is_validation_enabled()
        if validate and self.strict_enumeration_warning and not self.__dict__.get("_warned"):
            if not any(_enumerates(tr) for pair in pairs for tr in pair):
                self._warned = True
                warnings.warn(
                    "Found no sample sites configured for enumeration. If you want to enumerate "
                    "sites, you need to @config_enumerate or set "
                    'infer={"enumerate": "sequential"} or infer={"enumerate": "parallel"}? If '
                    "you do not want to enumerate, consider using Trace_ELBO instead.",
                    stacklevel=4)
        return pairs

    def differentiable_loss(self, model: Callable, guide: Callable, *args: Any,
                            **kwargs: Any) -> torch.Tensor:
        """Return minus the TMC log-evidence estimate (averaged over particles) as a tensor."""
        loss: Any = 0.0
        for pairs in self._get_traces(model, guide, args, kwargs):
            logs = [compute_tmc_log_evidence(m, g) for m, g in pairs]
            log_z = logs[0] if len(logs) == 1 else torch.logsumexp(torch.stack(logs), 0)
            loss = loss - log_z
        loss = torch.as_tensor(loss)
        if self.num_particles != 1:
            # Vectorized particles sit in a plate, which the contraction sums over.
            loss = loss / self.num_particles
        return self._warn_if_nan(loss)

    def loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Return minus the TMC log-evidence estimate as a float."""
        with torch.no_grad():
            return torch_item(self.differentiable_loss(model, guide, *args, **kwargs))

    def loss_and_grads(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Compute the TMC loss, backpropagate it into the params, and return it as a float."""
        loss = self.differentiable_loss(model, guide, *args, **kwargs)
        torch_backward(loss, self.retain_graph)
        return torch_item(loss)


def _enumerates(tr: Any) -> bool:
    for site in tr.nodes.values():
        if site["type"] == "sample" and (
            "_enumerate_dim" in site["infer"] or site["infer"].get("enumerate") == "sequential"
        ):
            return True
    return False
