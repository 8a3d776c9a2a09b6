"""The DiCE operator over a guide trace, and small trace helpers of ``pyro.infer.util``.

DiCE (Foerster et al., 2018) turns a cost into a surrogate whose value is the cost and whose
gradient is the score-function estimator: each cost is multiplied by ``exp(sum of log q -
log q.detach())`` over the non-reparameterised guide sites it may depend on (those whose plates
it shares: Rao-Blackwellisation by plates). Sites enumerated in parallel weigh the cost by their
probability instead (their factor is the full ``log q``), so summing over the enumeration dims
gives the exact expectation; Monte Carlo enumeration (``num_samples``) adds ``-log n``.
"""

from __future__ import annotations

import math
import numbers
from collections import defaultdict
from typing import Any, Dict, FrozenSet, Iterable, List, Tuple, Union

import torch

from pyro.poutine.site_densities import site_log_prob, site_score_parts
from pyro.poutine.util import site_is_subsample

__all__ = [
    "Dice",
    "compute_site_dice_factor",
    "get_dependent_plate_dims",
    "plate_log_prob_sum",
    "torch_exp",
    "torch_sum",
]


def torch_exp(x: Union[torch.Tensor, numbers.Number]) -> Union[torch.Tensor, float]:
    """``x.exp()`` for a tensor, ``math.exp(x)`` for a number."""
    if isinstance(x, numbers.Number):
        return math.exp(x)
    return x.exp()


def torch_sum(tensor: Any, dims: Iterable[int]) -> Any:
    """Sum ``tensor`` over those of the (negative) ``dims`` it has (dropping them);
    numbers are returned unchanged."""
    if not isinstance(tensor, torch.Tensor):
        return tensor
    present = [d for d in dims if -d <= tensor.dim()]
    return tensor.sum(present) if present else tensor


def get_dependent_plate_dims(sites: Iterable[Dict[str, Any]]) -> List[int]:
    """The dims (sorted) of the vectorized plates some but not all of ``sites`` are in."""
    sites = list(sites)
    stacks = [{f for f in site["cond_indep_stack"] if f.vectorized} for site in sites]
    common = set.intersection(*stacks) if stacks else set()
    every = set.union(*stacks) if stacks else set()
    return sorted({f.dim for f in every - common})


def compute_site_dice_factor(site: Dict[str, Any]) -> Tuple[Any, Any]:
    """``(log_factor, log_denom)`` of a guide sample site for :class:`Dice`.

    The factor is ``log q - log q.detach()`` for a sampled site without a reparameterised
    draw, the full ``log q`` for a site enumerated in parallel, ``0`` for a reparameterised
    site; Monte Carlo enumeration (``infer["num_samples"]``) adds ``-log num_samples``. The
    score function is masked, not scaled. ``log_denom`` is kept for Pyro's signature (0).
    """
    score = site_score_parts(site).score_function
    infer = site["infer"]
    enumerated = infer.get("_enumerate_dim") is not None
    num_samples = infer.get("num_samples")
    factor: Any = 0
    if isinstance(score, torch.Tensor):
        factor = score if enumerated and not num_samples else score - score.detach()
    elif score:
        factor = score if enumerated and not num_samples else 0
    if enumerated and num_samples:
        factor = factor - math.log(num_samples)
    return factor, 0


class Dice:
    """The DiCE factors of a guide trace, grouped by the plates (ordinals) of their sites.

    Args:
        guide_trace: a trace of the guide (its sites' log-densities are computed as needed).
        ordering: site name -> frozenset of the ``CondIndepStackFrame`` s it is in (its
            ordinal); sites missing from it are skipped.

    Attributes:
        log_probs: ordinal -> list of the dice log-factors of its sites.
        log_denom: ordinal -> summed log-denominators (0 here, kept for Pyro's shape).
    """

    def __init__(self, guide_trace: Any, ordering: Dict[str, FrozenSet[Any]]) -> None:
        self.log_probs: Dict[FrozenSet[Any], List[Any]] = defaultdict(list)
        self.log_denom: Dict[FrozenSet[Any], float] = defaultdict(float)
        for name, site in guide_trace.nodes.items():
            if site["type"] != "sample" or site["is_observed"] or site_is_subsample(site):
                continue
            if name not in ordering:
                continue
            factor, denom = compute_site_dice_factor(site)
            if isinstance(factor, torch.Tensor) or factor != 0:
                self.log_probs[ordering[name]].append(factor)
            if denom:
                self.log_denom[ordering[name]] += denom

    def _log_factors(self, ordinal: FrozenSet[Any]) -> List[Any]:
        """The log-factors of every site whose ordinal is within ``ordinal``."""
        return [f for o, fs in self.log_probs.items() if o <= ordinal for f in fs]

    def compute_expectation(self, costs: Dict[FrozenSet[Any], Iterable[Any]]) -> Any:
        """The DiCE surrogate of ``sum(costs)``: each cost (a batch-shaped tensor of an ordinal)
        times the exponentiated log-factors of the sites within its ordinal, summed over
        every dim (enumeration dims included). Its value is the expected cost; its gradient,
        the score-function estimator."""
        total: Any = 0.0
        for ordinal, terms in costs.items():
            factors = self._log_factors(frozenset(ordinal))
            log_weight: Any = 0.0
            for f in factors:
                log_weight = log_weight + f
            for cost in terms:
                weighted = cost * torch_exp(log_weight) if factors else cost
                total = total + (weighted.sum() if isinstance(weighted, torch.Tensor) else weighted)
        return total


def plate_log_prob_sum(trace: Any, plate_symbol: str) -> torch.Tensor:
    """Sum the log-densities of ``trace``'s sample sites over every dim but the one of the plate
    named ``plate_symbol``: a tensor of the plate's size.

    Every sample site must be inside that plate (as in Pyro).
    """
    total = None
    for name, site in trace.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        frames = [f for f in site["cond_indep_stack"] if f.name == plate_symbol and f.dim is not None]
        if not frames:
            raise ValueError(f"plate_log_prob_sum: site '{name}' is not in the plate "
                             f"'{plate_symbol}'")
        dim = frames[0].dim
        log_p = site_log_prob(site, with_sum=False)
        log_p = torch.as_tensor(log_p)
        if log_p.dim() < -dim:
            log_p = log_p.reshape((1,) * (-dim - log_p.dim()) + log_p.shape)
        others = [d for d in range(-log_p.dim(), 0) if d != dim]
        per_element = log_p.sum(others) if others else log_p
        per_element = per_element.expand(frames[0].size)
        total = per_element if total is None else total + per_element
    if total is None:
        raise ValueError(f"plate_log_prob_sum: the trace has no sample site in the plate "
                         f"'{plate_symbol}'")
    return total
