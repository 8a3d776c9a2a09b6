"""``SMCFilter``: sequential Monte Carlo (a particle filter) over a model written as
``init`` and ``step`` methods."""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Dict, Iterator, Optional

import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer.arg_checks import EngineArgumentError, check_count, check_real, describe
from pyro.infer.util import is_validation_enabled, site_log_prob, sum_to_particles
from pyro.poutine.util import site_is_subsample

__all__ = ["SMCFailed", "SMCFilter", "SMCState"]

_PLATE = "particles"


class SMCFailed(ValueError):
    """Raised when every particle of an :class:`SMCFilter` has zero (or NaN) weight."""


class SMCState(dict):
    """The particles' state: a dict of tensors, each with a leading dim of ``num_particles``.

    The model writes it (``state["z"] = pyro.sample(...)``); the guide may only read it.
    Resampling reorders every entry along its leading dim together.

    Args:
        num_particles: the number of particles (the leading size of every entry).

    Raises:
        TypeError: storing something that is not a tensor.
        ValueError: (under validation) storing a tensor whose leading dim is not
            ``num_particles``.
        RuntimeError: writing while the guide runs.
    """

    def __init__(self, num_particles: int) -> None:
        check_count("SMCState", "num_particles", num_particles)
        super().__init__()
        self._num_particles = num_particles
        self._log_weights = torch.full((num_particles,), -math.log(num_particles))
        self._locked = False

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self._locked = True
        try:
            yield
        finally:
            self._locked = False

    def __setitem__(self, key: str, value: Any) -> None:
        if self._locked:
            raise RuntimeError("Guide cannot write to SMCState")
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"Only Tensors can be stored in an SMCState, but got {type(value).__name__}")
        if is_validation_enabled() and (value.dim() == 0 or value.size(0) != self._num_particles):
            raise ValueError(f"Expected leading dim of size {self._num_particles} but got shape "
                             f"{value.shape}")
        super().__setitem__(key, value)

    def _resample(self, index: torch.Tensor) -> None:
        """Keep the particles ``index`` (shape ``(num_particles,)``) and make the weights even."""
        for key, value in list(self.items()):
            super().__setitem__(key, value[index])
        self._log_weights = torch.full_like(self._log_weights, -math.log(self._num_particles))


def _systematic_index(log_weights: torch.Tensor) -> torch.Tensor:
    """Systematic resampling: one uniform offset, ``n`` evenly spaced points through the
    cumulative weights; each particle is kept about ``n * w_i`` times."""
    n = log_weights.size(0)
    cdf = torch.softmax(log_weights, 0).cumsum(0)
    points = (torch.rand((), dtype=cdf.dtype, device=cdf.device) + torch.arange(
        n, dtype=cdf.dtype, device=cdf.device)) / n
    return torch.searchsorted(cdf, points).clamp(max=n - 1)


def _check_method(model: Any, method: str) -> None:
    if not callable(getattr(model, method, None)):
        raise TypeError(f"SMCFilter: the model must be an object with init(state, ...) and "
                        f"step(state, ...) methods; {describe(model)} has no {method}()")


class SMCFilter:
    """A particle filter for a model given as an object with ``init(state, ...)`` and
    ``step(state, ...)`` methods, and a proposal (``guide``) with the same methods.

    :meth:`init` runs ``guide.init`` then ``model.init`` replayed on the guide's draws, all
    particles at once in a plate left of the model's ``max_plate_nesting`` plates; each
    :meth:`step` does the same with ``step``. Each particle's log-weight grows by its
    ``log p - log q`` (observations included) and the weights are renormalised; when the
    effective sample size ``1 / sum w^2`` falls below ``ess_threshold * num_particles`` the
    particles are resampled (systematic resampling). A guide without the method called (or
    ``guide=None``) proposes from the model itself (the bootstrap filter). The model keeps its
    latent state in :attr:`state`, an :class:`SMCState`.

    Args:
        model: an object with ``init`` and ``step`` methods.
        guide: an object with ``init`` and ``step`` methods, or ``None``.
        num_particles: the number of particles.
        max_plate_nesting: the number of plate dims the model uses.
        ess_threshold: the fraction of ``num_particles`` below which to resample, in (0, 1].

    Raises:
        TypeError: a model without an ``init`` method (or, at :meth:`step`, without a ``step``
            method), a count that is not an int,
            an ``ess_threshold`` that is not a number.
        ValueError: ``num_particles < 1``, ``max_plate_nesting < 0`` or ``ess_threshold``
            outside (0, 1] (``AssertionError`` s too, the type Pyro's asserts raise).
        RuntimeError: :meth:`step` before :meth:`init`.
        SMCFailed: from :meth:`init` or :meth:`step` when every particle has zero weight.
    """

    def __init__(self, model: Any, guide: Any, num_particles: int, max_plate_nesting: int, *,
                 ess_threshold: float = 0.5) -> None:
        check_count("SMCFilter", "num_particles", num_particles)
        check_count("SMCFilter", "max_plate_nesting", max_plate_nesting, minimum=0)
        check_real("SMCFilter", "ess_threshold", ess_threshold)
        if not 0 < ess_threshold <= 1:
            raise EngineArgumentError(f"SMCFilter: ess_threshold must lie in (0, 1], got {ess_threshold}")
        _check_method(model, "init")
        self._started = False
        self.model = model
        self.guide = guide
        self.num_particles = num_particles
        self.max_plate_nesting = max_plate_nesting
        self.ess_threshold = ess_threshold
        self.state = SMCState(num_particles)

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Start a fresh set of particles: run ``guide.init`` and ``model.init``."""
        self.state = SMCState(self.num_particles)
        self._started = False
        self._advance("init", args, kwargs)
        self._started = True

    def step(self, *args: Any, **kwargs: Any) -> None:
        """Move every particle one step (``guide.step``, then ``model.step``), reweight them and
        resample if their effective sample size is low."""
        if not self._started:
            raise RuntimeError("SMCFilter.step() was called before SMCFilter.init(): call "
                               "init(*args) first to draw the particles")
        _check_method(self.model, "step")
        self._advance("step", args, kwargs)

    def get_empirical(self) -> Dict[str, Any]:
        """Return ``{state key: Empirical}``, the weighted particles of each state entry."""
        return {key: dist.Empirical(value, self.state._log_weights)
                for key, value in self.state.items()}

    # ----- one move -------------------------------------------------------------------------
    def _advance(self, method: str, args: tuple, kwargs: dict) -> None:
        model_fn: Callable = getattr(self.model, method)
        guide_fn: Optional[Callable] = getattr(self.guide, method, None)
        dim = -self.max_plate_nesting - 1
        n = self.num_particles
        state = self.state

        def in_plate(fn: Callable) -> Callable:
            def wrapped(*a: Any, **k: Any) -> Any:
                with pyro.plate(_PLATE, n, dim=dim):
                    return fn(state, *a, **k)
            return wrapped

        with poutine.block():
            if guide_fn is not None:
                with state._lock():
                    guide_trace = poutine.trace(in_plate(guide_fn)).get_trace(*args, **kwargs)
                model_trace = poutine.trace(poutine.replay(in_plate(model_fn), trace=guide_trace)
                                            ).get_trace(*args, **kwargs)
            else:
                guide_trace = None
                model_trace = poutine.trace(in_plate(model_fn)).get_trace(*args, **kwargs)
        log_w = state._log_weights.clone()
        for site in model_trace.nodes.values():
            if site["type"] == "sample" and not site_is_subsample(site):
                if guide_trace is None and not site["is_observed"]:
                    continue  # drawn from the model itself: p / q = 1
                log_w = log_w + sum_to_particles(site_log_prob(site, with_sum=False), n, dim).detach()
        if guide_trace is not None:
            for site in guide_trace.nodes.values():
                if site["type"] == "sample" and not site_is_subsample(site):
                    log_w = log_w - sum_to_particles(site_log_prob(site, with_sum=False), n, dim).detach()
        total = torch.logsumexp(log_w, 0)
        if not torch.isfinite(total):
            raise SMCFailed(f"SMCFilter.{method}: every particle has zero weight (log-weights "
                            f"sum to {total.item()}); try more particles or a better guide")
        state._log_weights = log_w - total
        self._maybe_resample()

    def _maybe_resample(self) -> None:
        log_w = self.state._log_weights
        ess = 1.0 / torch.exp(2 * log_w).sum()
        if ess < self.ess_threshold * self.num_particles:
            self.state._resample(_systematic_index(log_w))

