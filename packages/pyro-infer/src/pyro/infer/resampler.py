"""Importance resampling of a fixed bank of guide draws, for tuning a model's prior by hand.

:class:`Resampler` draws a large batch from a diffuse proposal (the guide) once, optionally
pushes it through an expensive simulator once, and then answers each ``sample(model, n)`` by
reweighting that bank against the new model and picking ``n`` of its draws: changing the
prior's parameters costs one vectorized model run, never a new simulation.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import torch

import pyro
from pyro import poutine
from pyro.infer.arg_checks import check_callable, check_count, check_flag
from pyro.infer.util import plate_nesting, sum_to_particles
from pyro.poutine.site_densities import site_log_prob
from pyro.poutine.util import site_is_factor, site_is_subsample

_OWNER = "Resampler"
_PARTICLE_PLATE = "_resampler_particles"


def _run_batched(fn: Callable, num_particles: int, dim: int,
                 data: Optional[Dict[str, torch.Tensor]] = None) -> Any:
    """Trace one run of ``fn`` inside a particle plate at ``dim``, conditioned on ``data``."""
    if data:
        fn = poutine.condition(fn, data=data)
    with torch.no_grad(), poutine.block():
        with poutine.trace() as tracer, pyro.plate(_PARTICLE_PLATE, num_particles, dim=dim):
            fn()
    return tracer.trace


def _guess_plate_nesting(fn: Callable) -> int:
    """How many batch dims the plates of ``fn`` use, from one unbatched run."""
    with torch.no_grad(), poutine.block():
        trace = poutine.trace(fn).get_trace()
    return plate_nesting(trace)


def _kept_sites(trace: Any):
    """The sample sites of ``trace`` whose values are worth keeping (no plate indices, no
    factors), as ``(name, site)`` pairs."""
    for name, site in trace.nodes.items():
        if site["type"] == "sample" and not site_is_subsample(site) and not site_is_factor(site):
            yield name, site


def _with_particle_dim(name: str, site: Dict[str, Any], batch_rank: int,
                       num_particles: int) -> torch.Tensor:
    """Return ``site``'s value with the particle dim leading (size ``num_particles``; an
    expanded view where the value does not vary across particles)."""
    value = torch.as_tensor(site["value"])
    if site["infer"].get("_deterministic"):
        # A deterministic value counts all its dims as event dims; Pyro reads the particle dim
        # as its leading one.
        if value.dim() and value.shape[0] == num_particles:
            return value
        return value.expand((num_particles,) + value.shape)
    event_dim = getattr(site["fn"], "event_dim", 0)
    pos = value.dim() - event_dim - batch_rank
    if pos > 0:
        raise ValueError(
            f"{_OWNER}: site '{name}' has batch shape {tuple(value.shape[:value.dim() - event_dim])}"
            f" with more dims than max_plate_nesting + 1 = {batch_rank}: pass a larger "
            f"max_plate_nesting")
    if pos < 0:
        value = value.reshape((1,) * -pos + value.shape)
    if value.shape[0] not in (1, num_particles):
        raise ValueError(
            f"{_OWNER}: site '{name}' has size {value.shape[0]} at the particle dim, expected "
            f"{num_particles}; a plate collides with it: pass a larger max_plate_nesting")
    return value.expand((num_particles,) + value.shape[1:])


def _log_density(trace: Any, names: Any, batch_rank: int, num_particles: int) -> Any:
    """Sum, per particle, the log-densities of the sample sites of ``trace`` named in
    ``names``; shape ``(num_particles,)`` (a plain 0.0 when no site is named)."""
    total = None
    for name, site in trace.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site) or name not in names:
            continue
        log_p = sum_to_particles(site_log_prob(site, with_sum=False), num_particles,
                                 -batch_rank)
        total = log_p if total is None else total + log_p
    return 0.0 if total is None else total


class Resampler:
    """Reweight and resample one fixed bank of guide draws against changing models.

    Built for interactive prior predictive checks: the (possibly slow) simulation runs once,
    at construction, and every later :meth:`sample` only evaluates the model's log-density at
    the banked draws.

    Args:
        guide: a model without arguments that draws the latent sites; it should be broader
            than any model later passed to :meth:`sample`. It is run once, vectorized inside a
            particle plate.
        simulator: an optional model without arguments that has the guide's latent sites and
            more (e.g. the simulated data); it is run once, on the guide's draws, and its
            other sites are banked with them.
        num_guide_samples: how many draws to bank; many more than the ``num_samples`` asked
            of :meth:`sample`.
        max_plate_nesting: how many batch dims the plates of guide and simulator use; found
            by one unbatched run (of the simulator when given, else the guide) when ``None``.

    Example::

        resampler = Resampler(wide_prior, simulate, num_guide_samples=100_000)
        draws = resampler.sample(tuned_prior, 100)   # {site: tensor of 100 draws}
    """

    def __init__(self, guide: Callable, simulator: Optional[Callable] = None, *,
                 num_guide_samples: int, max_plate_nesting: Optional[int] = None) -> None:
        check_callable(_OWNER, "guide", guide)
        check_callable(_OWNER, "simulator", simulator, optional=True)
        check_count(_OWNER, "num_guide_samples", num_guide_samples, minimum=1)
        if max_plate_nesting is None:
            max_plate_nesting = _guess_plate_nesting(guide if simulator is None else simulator)
        else:
            check_count(_OWNER, "max_plate_nesting", max_plate_nesting, minimum=0)
        n = int(num_guide_samples)
        batch_rank = int(max_plate_nesting) + 1
        self._num_guide_samples = n
        self._batch_rank = batch_rank
        guide_trace = _run_batched(guide, n, -batch_rank)
        self._guide_sites = frozenset(
            name for name, site in _kept_sites(guide_trace) if not site["is_observed"])
        if not self._guide_sites:
            raise ValueError(f"{_OWNER}: the guide draws no latent sites")
        samples = {name: _with_particle_dim(name, site, batch_rank, n)
                   for name, site in _kept_sites(guide_trace)}
        with torch.no_grad():
            self._old_log_density = _log_density(guide_trace, self._guide_sites, batch_rank, n)
        if simulator is not None:
            latent = {name: samples[name] for name in self._guide_sites}
            sim_trace = _run_batched(simulator, n, -batch_rank, data=latent)
            for name, site in _kept_sites(sim_trace):
                if name not in latent:
                    samples[name] = _with_particle_dim(name, site, batch_rank, n)
        self._samples: Dict[str, torch.Tensor] = samples
        self._gumbels: Optional[torch.Tensor] = None

    @torch.no_grad()
    def sample(self, model: Callable, num_samples: int, stable: bool = True
               ) -> Dict[str, torch.Tensor]:
        """Pick ``num_samples`` of the banked draws, each with probability proportional to
        its importance weight ``p_model / p_guide``, with replacement.

        Neither guide nor simulator is run again, so when the banked draws cover the model
        poorly the result repeats a few draws many times.

        Args:
            model: a model without arguments over the guide's latent sites (it may also
                observe data, and use ``pyro.factor``), vectorizable with ``pyro.plate``.
            num_samples: how many draws to return (0 gives empty tensors).
            stable: ``True`` (default) reuses one set of random numbers across calls (the
                Gumbel-max trick with a fixed noise bank), so a small change of the model
                changes few of the returned draws, and the same model returns the very same
                draws: for plots and sliders. ``False`` draws afresh each call (plain
                multinomial resampling): for Monte Carlo estimates.

        Returns:
            ``{site: tensor}`` for every banked site (guide and simulator), the draw index
            leading: shape ``(num_samples,) + one banked draw's shape``.
        """
        owner = f"{_OWNER}.sample"
        check_callable(owner, "model", model)
        check_count(owner, "num_samples", num_samples, minimum=0)
        check_flag(owner, "stable", stable)
        log_w = self._log_weights(model)
        if num_samples == 0:
            index = torch.zeros(0, dtype=torch.long, device=log_w.device)
        elif stable:
            index = self._stable_index(log_w, int(num_samples))
        else:
            weights = (log_w - log_w.max()).exp()
            index = torch.multinomial(weights, int(num_samples), replacement=True)
        return {name: value[index] for name, value in self._samples.items()}

    def _log_weights(self, model: Callable) -> torch.Tensor:
        """``log p_model - log p_guide`` at each banked draw, shape ``(num_guide_samples,)``."""
        n, batch_rank = self._num_guide_samples, self._batch_rank
        trace = _run_batched(model, n, -batch_rank, data=self._samples)
        counted = set()
        stray = []
        for name, site in trace.nodes.items():
            if site["type"] != "sample" or site_is_subsample(site):
                continue
            if name in self._guide_sites:
                counted.add(name)
            elif name not in self._samples:
                if site["is_observed"]:
                    counted.add(name)  # data the model observes, or a factor: its likelihood
                else:
                    stray.append(name)
        if stray:
            raise ValueError(
                f"{_OWNER}.sample: the model draws latent sites {sorted(stray)} that the guide "
                f"does not (guide sites: {sorted(self._guide_sites)})")
        log_w = _log_density(trace, counted, batch_rank, n) - self._old_log_density
        if torch.isnan(log_w).any():
            raise ValueError(f"{_OWNER}.sample: the model's log-density is NaN at some guide draws")
        if not torch.isfinite(log_w.max()):
            raise ValueError(
                f"{_OWNER}.sample: no guide draw has a positive, finite weight under the model; "
                f"use a broader guide or more num_guide_samples")
        return log_w

    def _stable_index(self, log_w: torch.Tensor, num_samples: int) -> torch.Tensor:
        """Gumbel-max picks with a noise bank kept across calls: row ``i`` of the bank
        decides the ``i``-th draw, so the same rows are reused whatever the model."""
        bank = self._gumbels
        have = 0 if bank is None else bank.shape[0]
        if have < num_samples:
            more = torch.empty((num_samples - have, log_w.shape[0]), dtype=log_w.dtype,
                               device=log_w.device).exponential_().log_().neg_()
            bank = more if bank is None else torch.cat([bank, more])
            self._gumbels = bank
        return (log_w + bank[:num_samples]).argmax(-1)


__all__ = ["Resampler"]
