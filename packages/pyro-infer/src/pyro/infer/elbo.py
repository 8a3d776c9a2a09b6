"""The base class of the evidence-lower-bound losses."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch

from pyro.infer.nonfinite import first_nonfinite_site
from pyro.logger import log
from pyro.infer.arg_checks import check_count, check_flag, check_real
from pyro.infer.util import plate_nesting

__all__ = ["ELBO", "ELBOModule", "set_seed_front_door"]

_PARTICLE_PLATE = "num_particles_vectorized"


class _ELBOMeta(type):
    # ``ELBO(...)`` itself is the seed's front door (``ELBO(trace_graph=..., enum_discrete=...)``):
    # :mod:`pyro.infer.legacy`, which imports the estimators, installs the function that picks
    # one. This module knows none of its subclasses. Subclasses are constructed as usual.
    _seed_front_door: Optional[Callable[..., Any]] = None

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        front_door = _ELBOMeta._seed_front_door
        if cls is ELBO and front_door is not None:
            return front_door(*args, **kwargs)
        return super().__call__(*args, **kwargs)


def set_seed_front_door(fn: Callable[..., Any]) -> None:
    """Make ``ELBO(...)`` itself call ``fn(*args, **kwargs)`` and return its result (the seed's
    flag dispatch, installed by :mod:`pyro.infer.legacy`)."""
    _ELBOMeta._seed_front_door = fn


class ELBO(metaclass=_ELBOMeta):
    """Base of the ELBO losses: particles, plate nesting and the model/guide traces.

    Calling ``ELBO(...)`` directly (the seed's interface) returns the estimator its flags ask
    for: :class:`~pyro.infer.TraceEnum_ELBO` with ``enum_discrete=True``,
    :class:`~pyro.infer.TraceGraph_ELBO` with ``trace_graph=True``, else
    :class:`~pyro.infer.Trace_ELBO`. Subclasses implement :meth:`_get_trace`, :meth:`loss`,
    :meth:`loss_and_grads` and :meth:`differentiable_loss`.

    Args:
        num_particles: number of samples the estimate averages over.
        max_plate_nesting: an upper bound on the number of nested vectorized plates in the model
            and guide; guessed by running them once when left ``inf`` and it is needed.
        max_iarange_nesting: deprecated name of ``max_plate_nesting``.
        vectorize_particles: draw all particles at once inside a plate of size
            ``num_particles`` left of the model's plates (dim ``-max_plate_nesting - 1``),
            instead of running the model ``num_particles`` times. Once the nesting is known,
            ``max_plate_nesting`` counts that particle plate too.
        strict_enumeration_warning: warn when an enumerating ELBO finds nothing to enumerate.
        ignore_jit_warnings: silence JIT tracer warnings (JIT losses only).
        jit_options: options for :func:`torch.jit.trace` (JIT losses only).
        retain_graph: passed to ``backward`` in :meth:`loss_and_grads`.
        tail_adaptive_beta: exponent of the tail-adaptive f-divergence (that loss only).
        trace_graph, enum_discrete: seed flags, accepted only by ``ELBO(...)`` itself.
    """

    def __init__(self, num_particles: int = 1, max_plate_nesting: float = math.inf,
                 max_iarange_nesting: Optional[float] = None, vectorize_particles: bool = False,
                 strict_enumeration_warning: bool = True, ignore_jit_warnings: bool = False,
                 jit_options: Optional[dict] = None, retain_graph: Optional[bool] = None,
                 tail_adaptive_beta: float = -1.0) -> None:
        if max_iarange_nesting is not None:
            warnings.warn("max_iarange_nesting is deprecated; use max_plate_nesting instead",
                          DeprecationWarning, stacklevel=2)
            max_plate_nesting = max_iarange_nesting
        check_count(type(self).__name__, "num_particles", num_particles)
        check_real(type(self).__name__, "tail_adaptive_beta", tail_adaptive_beta)
        for flag, value in (("vectorize_particles", vectorize_particles),
                            ("strict_enumeration_warning", strict_enumeration_warning),
                            ("ignore_jit_warnings", ignore_jit_warnings)):
            check_flag(type(self).__name__, flag, value)
        if max_plate_nesting != math.inf and (
                not isinstance(max_plate_nesting, numbers.Real) or isinstance(max_plate_nesting, bool)
                or max_plate_nesting < 0 or int(max_plate_nesting) != max_plate_nesting):
            raise ValueError(f"max_plate_nesting must be a non-negative int or inf, got {max_plate_nesting!r}")
        self.num_particles = num_particles
        self.max_plate_nesting = max_plate_nesting
        self.vectorize_particles = vectorize_particles
        self.retain_graph = retain_graph
        if self.vectorize_particles and self.num_particles > 1 and self.max_plate_nesting != math.inf:
            self.max_plate_nesting += 1
        self.strict_enumeration_warning = strict_enumeration_warning
        self.ignore_jit_warnings = ignore_jit_warnings
        self.jit_options = jit_options
        self.tail_adaptive_beta = tail_adaptive_beta

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_particles={self.num_particles}, "
                f"max_plate_nesting={self.max_plate_nesting}, "
                f"vectorize_particles={self.vectorize_particles})")

    # ----- plate nesting --------------------------------------------------------------------
    def _guess_max_plate_nesting(self, model: Callable, guide: Callable, args: tuple,
                                 kwargs: dict) -> None:
        """Set ``max_plate_nesting`` from one run of the guide and the model replayed on it."""
        from pyro import poutine

        with poutine.block():
            guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
            model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
        self.max_plate_nesting = plate_nesting(guide_trace, model_trace)
        if self.vectorize_particles and self.num_particles > 1:
            self.max_plate_nesting += 1
        log.info("Guessed max_plate_nesting = %d", self.max_plate_nesting)

    def _vectorized_num_particles(self, fn: Callable) -> Callable:
        """Wrap ``fn`` in the particle plate (size ``num_particles``, dim ``-max_plate_nesting``)."""
        import pyro

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if self.num_particles == 1:
                return fn(*args, **kwargs)
            dim = -int(self.max_plate_nesting)
            try:
                with pyro.plate(_PARTICLE_PLATE, self.num_particles, dim=dim):
                    return fn(*args, **kwargs)
            except ValueError as e:
                if f"'{_PARTICLE_PLATE}'" not in str(e) or "collide" not in str(e):
                    raise
                raise ValueError(
                    f"{e}\nvectorize_particles=True puts the particles at dim={dim}, left of "
                    f"max_plate_nesting={-dim - 1} plate dims, but the model or guide has a plate "
                    f"there: raise max_plate_nesting to the model's plate nesting") from None

        return wrapped

    # ----- traces ---------------------------------------------------------------------------
    def _get_trace(self, model: Callable, guide: Callable, args: tuple, kwargs: dict) -> Tuple[Any, Any]:
        """Return ``(model_trace, guide_trace)`` of one run, with log-densities computed."""
        raise NotImplementedError

    def _get_vectorized_trace(self, model: Callable, guide: Callable, args: tuple,
                              kwargs: dict) -> Tuple[Any, Any]:
        """Return the traces of one run of all particles at once, under the particle plate."""
        if self.max_plate_nesting == math.inf:
            self._guess_max_plate_nesting(model, guide, args, kwargs)
        try:
            return self._get_trace(self._vectorized_num_particles(model),
                                   self._vectorized_num_particles(guide), args, kwargs)
        except ValueError as error:
            crowded = self._plates_left_of_particles(model, guide, args, kwargs)
            if not crowded:
                raise
            dim = -int(self.max_plate_nesting)
            raise ValueError(
                f"{error}\nvectorize_particles=True puts the particles at dim={dim}, left of "
                f"max_plate_nesting={-dim - 1} plate dims, but the model or guide needs more: "
                f"{', '.join(crowded)} went left of the particles; raise max_plate_nesting to "
                f"the model's plate nesting") from None

    def _plates_left_of_particles(self, model: Callable, guide: Callable, args: tuple,
                                  kwargs: dict) -> List[str]:
        """After a failed vectorized run: the plates (``"plate 'd' at dim=-2"``) that the guide
        or the model replayed on it put left of the particle plate; empty when the run cannot
        be repeated or no plate is there."""
        from pyro import poutine

        dim = -int(self.max_plate_nesting)
        try:
            with poutine.block():
                guide_trace = poutine.trace(self._vectorized_num_particles(guide)).get_trace(*args, **kwargs)
                model_trace = poutine.trace(poutine.replay(
                    self._vectorized_num_particles(model), trace=guide_trace)).get_trace(*args, **kwargs)
        except Exception:
            return []
        found: Dict[str, int] = {}
        for tr in (guide_trace, model_trace):
            for site in tr.nodes.values():
                for frame in site.get("cond_indep_stack", ()):
                    if (frame.vectorized and frame.dim is not None and frame.dim < dim
                            and frame.name != _PARTICLE_PLATE):
                        found[frame.name] = frame.dim
        return [f"plate '{name}' at dim={d}" for name, d in found.items()]

    def _get_traces(self, model: Callable, guide: Callable, args: tuple,
                    kwargs: dict) -> Iterator[Tuple[Any, Any]]:
        """Yield ``(model_trace, guide_trace)`` per particle (once when vectorized).

        The first particle's traces (all particles' when vectorized) are kept, in
        ``_recorded_traces``, until :meth:`_warn_if_nan` checks the call's loss, so that a NaN
        loss can name the site it came from; one particle's traces at most, so memory does not
        grow with ``num_particles``.
        """
        recorded: List[Any] = []
        self._recorded_traces = recorded
        if self.vectorize_particles:
            pair = self._get_vectorized_trace(model, guide, args, kwargs)
            recorded.append(pair)
            yield pair
        else:
            for _ in range(self.num_particles):
                pair = self._get_trace(model, guide, args, kwargs)
                if not recorded:
                    recorded.append(pair)
                yield pair

    def _warn_if_nan(self, loss: Any, what: str = "loss") -> Any:
        """Warn as Pyro does (``UserWarning: Encountered NaN: loss``) when ``loss`` is NaN, naming
        the first site of this call's traces that is not finite; release the traces."""
        recorded = self.__dict__.pop("_recorded_traces", None)
        if isinstance(loss, torch.Tensor):
            nan = bool(torch.isnan(loss.detach()).any())
        else:
            nan = loss != loss
        if nan:
            where = first_nonfinite_site(recorded or ())
            note = f"; first non-finite site: {where}" if where else ""
            warnings.warn(f"Encountered NaN: {what}{note}", UserWarning, stacklevel=2)
        return loss

    # ----- the interface --------------------------------------------------------------------
    def loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Return an estimate of the negative ELBO as a float (no gradients)."""
        raise NotImplementedError

    def loss_and_grads(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Estimate the negative ELBO, accumulate its gradients into the params; return a float."""
        raise NotImplementedError

    def differentiable_loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> Any:
        """Return the negative ELBO estimate as a tensor whose gradients are the estimator's."""
        raise NotImplementedError

    def __call__(self, model: Callable, guide: Callable) -> "ELBOModule":
        """Bind ``model`` and ``guide``: return a module whose ``forward(*args, **kwargs)`` is
        :meth:`differentiable_loss`, for training loops written in plain torch."""
        return ELBOModule(model, guide, self)


class ELBOModule(torch.nn.Module):
    """A model, a guide and an ELBO as one :class:`torch.nn.Module`.

    ``module(*args, **kwargs)`` returns the differentiable loss; when model and guide are torch
    modules their parameters are this module's parameters.
    """

    def __init__(self, model: Callable, guide: Callable, elbo: ELBO) -> None:
        super().__init__()
        self.model = model
        self.guide = guide
        self.elbo = elbo

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.elbo.differentiable_loss(self.model, self.guide, *args, **kwargs)
