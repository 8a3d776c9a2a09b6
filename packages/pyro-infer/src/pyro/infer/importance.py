"""Importance sampling: weighted draws from a proposal (a guide, or the model's prior)."""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import torch

import pyro
from pyro import poutine
from pyro.infer.abstract_infer import TracePosterior
from pyro.infer.arg_checks import EngineArgumentError, check_callable, check_count
from pyro.infer.psis import psis_k_from_log_weights
from pyro.infer.util import arg_structure_key, plate_nesting
from pyro.poutine.trace_struct import Trace
from pyro.poutine.util import prune_subsample_sites, site_is_subsample

_PARTICLE_PLATE = "_num_importance_samples"


def _observed(name: str, site: Dict[str, Any]) -> bool:
    return bool(site["is_observed"])


def _not_subsample(name: str, site: Dict[str, Any]) -> bool:
    return not site_is_subsample(site)


def _particle_sums(trace: Trace, site_filter: Callable, particle_dim: int,
                   num_samples: int) -> torch.Tensor:
    """Sum each site's log-density over every dim except the particle dim.

    ``particle_dim`` counts batch dims from the right (1 is the rightmost). Returns a tensor of
    shape ``(num_samples,)``.
    """
    trace.compute_log_prob(site_filter)
    total: Any = 0.0
    for name, site in trace.nodes.items():
        if site["type"] != "sample" or not site_filter(name, site):
            continue
        lp = site["log_prob"]
        if not isinstance(lp, torch.Tensor) or lp.dim() < particle_dim:
            total = total + (lp.sum() if isinstance(lp, torch.Tensor) else lp)
            continue
        pos = lp.dim() - particle_dim
        if lp.dim() > pos + 1:
            lp = lp.sum(tuple(range(pos + 1, lp.dim())))
        if pos > 0:
            lp = lp.sum(tuple(range(pos)))
        if lp.shape[0] not in (1, num_samples):
            raise ValueError(
                f"site '{name}': its log_prob has size {lp.shape[0]} at the particle dim "
                f"{-particle_dim}, expected {num_samples}; a dim the model does not declare with "
                f"a plate collides with it: pass a larger max_plate_nesting"
            )
        total = total + lp
    if not isinstance(total, torch.Tensor):
        total = torch.tensor(float(total))
    return total.expand(num_samples) if total.dim() == 0 or total.shape[0] == 1 else total


def _vectorize(fn: Callable, num_samples: int, dim: int) -> Callable:
    def vectorized(*args: Any, **kwargs: Any) -> Any:
        with pyro.plate(_PARTICLE_PLATE, num_samples, dim=dim):
            return fn(*args, **kwargs)

    return vectorized


class _Probe:
    """One unbatched run of guide and model: plate nesting and the shape of one draw per site."""

    def __init__(self, model: Callable, guide: Optional[Callable], args: tuple,
                 kwargs: dict) -> None:
        with torch.no_grad(), poutine.block():
            if guide is not None:
                guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
                model_trace = poutine.trace(
                    poutine.replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
                traces: Tuple[Trace, ...] = (guide_trace, model_trace)
            else:
                model_trace = poutine.trace(model).get_trace(*args, **kwargs)
                traces = (model_trace,)
        self.max_plate_nesting = plate_nesting(*traces)
        self.site_shapes: Dict[str, torch.Size] = {}
        for name, site in model_trace.nodes.items():
            if site["type"] in ("sample", "return") and isinstance(site.get("value"), torch.Tensor):
                if site["type"] == "sample" and site_is_subsample(site):
                    continue
                self.site_shapes[name] = site["value"].shape


def vectorized_importance_weights(model: Callable, guide: Optional[Callable], *args: Any,
                                  num_samples: int = 1, max_plate_nesting: Optional[int] = None,
                                  normalized: bool = False, **kwargs: Any
                                  ) -> Tuple[torch.Tensor, Trace, Optional[Trace]]:
    """Importance weights of ``num_samples`` proposals drawn in one batched run.

    Model and guide run once each inside a plate of size ``num_samples`` placed left of every
    plate they declare, so each site carries all draws at once.

    Args:
        model: the model.
        guide: the proposal; ``None`` proposes from the model's prior.
        *args, **kwargs: passed to model and guide.
        num_samples: number of proposals.
        max_plate_nesting: how many batch dims the model's and guide's plates use; found by
            one unbatched run when not given.
        normalized: return normalised log weights (they then log-sum-exp to zero).

    Returns:
        ``(log_weights, model_trace, guide_trace)``; ``log_weights`` has shape
        ``(num_samples,)``; ``guide_trace`` is ``None`` without a guide.
    """
    check_count("vectorized_importance_weights", "num_samples", num_samples)
    if max_plate_nesting is None:
        max_plate_nesting = _Probe(model, guide, args, kwargs).max_plate_nesting
    else:
        check_count("vectorized_importance_weights", "max_plate_nesting", max_plate_nesting, 0)
    log_weights, model_trace, guide_trace = _batched_run(
        model, guide, args, kwargs, num_samples, max_plate_nesting
    )
    if normalized:
        log_weights = log_weights - torch.logsumexp(log_weights, 0)
    return log_weights, model_trace, guide_trace


def _batched_run(model: Callable, guide: Optional[Callable], args: tuple, kwargs: dict,
                 num_samples: int, max_plate_nesting: int
                 ) -> Tuple[torch.Tensor, Trace, Optional[Trace]]:
    dim = -max_plate_nesting - 1
    vmodel = _vectorize(model, num_samples, dim)
    if guide is None:
        model_trace = poutine.trace(vmodel).get_trace(*args, **kwargs)
        log_weights = _particle_sums(model_trace, _observed, max_plate_nesting + 1, num_samples)
        return log_weights, model_trace, None
    guide_trace = poutine.trace(_vectorize(guide, num_samples, dim)).get_trace(*args, **kwargs)
    model_trace = poutine.trace(poutine.replay(vmodel, trace=guide_trace)).get_trace(
        *args, **kwargs)
    log_weights = _particle_sums(model_trace, _not_subsample, max_plate_nesting + 1, num_samples) \
        - _particle_sums(guide_trace, _not_subsample, max_plate_nesting + 1, num_samples)
    return log_weights, model_trace, guide_trace


class Importance(TracePosterior):
    """Posterior inference by importance sampling.

    Proposals come from ``guide``, or from the model's prior when there is no guide (then each
    weight is the likelihood of the observations). Each proposal's model trace is kept with its
    log weight ``log p(x, z) - log q(z)``.

    Args:
        model: the model, a callable.
        guide: the proposal, a callable with the model's arguments (default: the prior).
        num_samples: number of proposals (default 10).
        vectorized: draw all proposals in one batched run of model and guide inside a plate of
            size ``num_samples`` (the model must then be vectorizable: every batch dim it uses
            declared by a plate) instead of one run per proposal.
        max_plate_nesting: for the vectorized path, how many batch dims the plates of model and
            guide use; found by one unbatched run (cached per argument shapes) when not given.

    ``run`` draws without recording gradients. After ``run(*args)``: ``log_weights``,
    ``exec_traces``, :meth:`get_normalized_weights`, :meth:`get_ESS`,
    :meth:`get_log_normalizer`, and :class:`~pyro.infer.EmpiricalMarginal` for site marginals.

    Example::

        posterior = Importance(model, num_samples=1000, vectorized=True).run(data)
        z = EmpiricalMarginal(posterior, "z")
        z.mean, z.variance
    """

    def __init__(self, model: Callable, guide: Optional[Callable] = None,
                 num_samples: Optional[int] = None, *, vectorized: bool = False,
                 max_plate_nesting: Optional[int] = None) -> None:
        super().__init__()
        owner = type(self).__name__
        check_callable(owner, "model", model)
        check_callable(owner, "guide", guide, optional=True)
        if num_samples is None:
            num_samples = 10
            warnings.warn(f"num_samples not provided, defaulting to {num_samples}", stacklevel=2)
        check_count(owner, "num_samples", num_samples)
        if max_plate_nesting is not None:
            check_count(owner, "max_plate_nesting", max_plate_nesting, minimum=0)
        self.model = model
        self.guide = guide
        self.num_samples = int(num_samples)
        self.vectorized = vectorized
        self.max_plate_nesting = max_plate_nesting
        self._probes: Dict[Any, _Probe] = {}

    def _traces(self, *args: Any, **kwargs: Any) -> Iterator[tuple]:
        for _ in range(self.num_samples):
            if self.guide is None:
                model_trace = poutine.trace(self.model).get_trace(*args, **kwargs)
                log_weight = model_trace.log_prob_sum(_observed)
            else:
                guide_trace = poutine.trace(self.guide).get_trace(*args, **kwargs)
                model_trace = poutine.trace(
                    poutine.replay(self.model, trace=guide_trace)).get_trace(*args, **kwargs)
                log_weight = model_trace.log_prob_sum(_not_subsample) - guide_trace.log_prob_sum(
                    _not_subsample)
            yield model_trace, log_weight

    def _probe(self, args: tuple, kwargs: dict) -> _Probe:
        key = arg_structure_key(args, kwargs)
        probe = self._probes.get(key)
        if probe is None:
            probe = self._probes[key] = _Probe(self.model, self.guide, args, kwargs)
        return probe

    def run(self, *args: Any, **kwargs: Any) -> "Importance":
        """Draw ``num_samples`` weighted traces for model arguments ``args``; returns ``self``."""
        if not self.vectorized:
            return super().run(*args, **kwargs)  # type: ignore[return-value]
        probe = self._probe(args, kwargs)
        mpn = probe.max_plate_nesting if self.max_plate_nesting is None else self.max_plate_nesting
        with torch.no_grad(), poutine.block():
            log_weights, model_trace, _ = _batched_run(
                self.model, self.guide, args, kwargs, self.num_samples, mpn)
        self._set_batch(prune_subsample_sites(model_trace), log_weights, probe.site_shapes)
        return self

    # ----- weights -------------------------------------------------------------------------
    # Before ``run`` there are no weights: as in Pyro, each query warns and returns ``None``
    # (``0`` for the effective sample size) instead of failing.
    def get_log_normalizer(self) -> Optional[torch.Tensor]:
        """Estimate of the log marginal likelihood: log of the mean importance weight."""
        lw = self._log_weight_tensor()
        if lw.numel() == 0:
            warnings.warn("The log_weights list is empty, can not compute normalizing constant "
                          "estimate.", stacklevel=2)
            return None
        return torch.logsumexp(lw, 0) - math.log(lw.numel())

    def get_normalized_weights(self, log_scale: bool = False) -> Optional[torch.Tensor]:
        """Return the weights normalised to sum to one (their logs with ``log_scale=True``)."""
        if self._log_weight_tensor().numel() == 0:
            warnings.warn("The log_weights list is empty. There is nothing to normalize.",
                          stacklevel=2)
            return None
        return super().get_normalized_weights(log_scale)

    def get_ESS(self) -> Any:
        """Effective sample size of the weights, ``1 / sum(w_i**2)`` for normalised ``w``."""
        if self._log_weight_tensor().numel() == 0:
            warnings.warn("The log_weights list is empty, effective sample size is zero.",
                          stacklevel=2)
            return 0
        log_w = super().get_normalized_weights(log_scale=True)
        return torch.exp(-torch.logsumexp(2 * log_w, 0))


def psis_diagnostic(model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
    """Return the PSIS tail index k of the importance ratios of ``guide`` against ``model``.

    ``k < 0.5``: the guide is a good approximation of the posterior; ``0.5 <= k <= 0.7``: usable
    but suboptimal; ``k > 0.7``: poor. Model and guide must be vectorizable with static
    structure; ``args``/``kwargs`` go to both.

    Keyword Args:
        num_particles: number of model/guide runs (default 1000).
        max_simultaneous_particles: runs drawn in one vectorized batch (default
            ``num_particles``); it must divide ``num_particles``.
        max_plate_nesting: bound on the plates of model and guide (default 7).

    Returns:
        k as a float; ``inf``, with a ``UserWarning`` (as in Pyro), when fewer than 10 of the
        ratios lie in the tail (too few particles).

    Raises:
        TypeError: a count that is not an int.
        ValueError: a count below 1, or ``num_particles`` not divisible by
            ``max_simultaneous_particles``.
    """
    num_particles = kwargs.pop("num_particles", 1000)
    max_simultaneous = kwargs.pop("max_simultaneous_particles", num_particles)
    max_plate_nesting = kwargs.pop("max_plate_nesting", 7)
    check_count("psis_diagnostic", "num_particles", num_particles)
    check_count("psis_diagnostic", "max_simultaneous_particles", max_simultaneous)
    check_count("psis_diagnostic", "max_plate_nesting", max_plate_nesting, minimum=0)
    if num_particles % max_simultaneous != 0:
        raise EngineArgumentError(
            f"num_particles must be divisible by max_simultaneous_particles: psis_diagnostic got "
            f"num_particles={num_particles}, max_simultaneous_particles={max_simultaneous}")
    chunks = []
    with torch.no_grad():
        for _ in range(num_particles // max_simultaneous):
            log_w, _, _ = vectorized_importance_weights(
                model, guide, *args, num_samples=max_simultaneous,
                max_plate_nesting=max_plate_nesting, normalized=False, **kwargs)
            chunks.append(log_w.reshape(-1))
    log_w = torch.cat(chunks).double()
    return psis_k_from_log_weights(log_w)


