"""Guides written as effect handlers: they run the model and replace each latent site's prior.

A :class:`GuideMessenger` is called like a guide. It runs the model inside itself; at every
latent sample site it is handed the site's prior (already conditioned on the posterior values
of the sites before it) and returns the posterior to sample from instead. So one run of the
model gives both the guide's draws and the model's densities at them, and any ELBO that traces
a guide (``Trace_ELBO`` and friends) can fit it. The autoguides here (the ``Auto*Messenger``
family) build those posteriors from parameters named ``locs.<site>``, ``scales.<site>`` (and
``weights.<site>``) in the param store.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Union

import torch

import pyro
import pyro.distributions as dist
from pyro.distributions import biject_to, constraints
from pyro.infer.arg_checks import check_callable
from pyro.infer.autoguide.guides import _full_size, check_init_scale
from pyro.infer.autoguide.initialization import init_to_feasible, init_to_mean
from pyro.poutine.trace_messenger import TraceMessenger
from pyro.poutine.trace_struct import Trace
from pyro.poutine.util import site_is_subsample

Site = Dict[str, Any]


def _normal_on_support(loc: torch.Tensor, scale: torch.Tensor, transform: Any,
                       prior: dist.Distribution) -> dist.Distribution:
    """``Normal(loc, scale)`` over the unconstrained event, with the prior's batch shape, mapped
    onto the support by ``transform``."""
    base = dist.Normal(loc, scale).to_event(transform.domain.event_dim)
    if base.batch_shape != prior.batch_shape:
        # Amortized plates leave size-1 parameter dims; the site has the plates' sizes.
        base = base.expand(prior.batch_shape)
    return dist.TransformedDistribution(base, transform.with_cache())


class GuideMessenger(TraceMessenger):
    """Base class of guides that are effect handlers over the model.

    Calling the guide runs ``model(*args, **kwargs)`` inside it. At each unobserved, non-subsample
    sample site, :meth:`get_posterior` receives the site's name and prior and returns a
    distribution (or a value) that the site is drawn from instead; the prior is kept in the
    site's ``infer["prior"]``. Observed (and deterministic) sites are recorded in the guide's own
    trace but hidden from outer handlers, so a trace of the guide holds only its latent
    sites. Inside :meth:`get_posterior`, :meth:`upstream_value` gives the
    values of earlier sites, ``self.trace`` the sites so far and ``self.args_kwargs`` the
    model's inputs.

    Args:
        model: the model.
    """

    def __init__(self, model: Callable) -> None:
        super().__init__()
        # In a tuple, so that a model that is an nn.Module is not a submodule of the guide.
        self._model = (model,)

    @property
    def model(self) -> Callable:
        """The model this guide runs."""
        return self._model[0]

    def __call__(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Run the model with every latent site drawn from its posterior.

        Returns:
            ``{name: value}`` of every sample site the model ran: latent, observed and
            deterministic.
        """
        self.args_kwargs = (args, kwargs)
        try:
            with self:
                self.model(*args, **kwargs)
        finally:
            del self.args_kwargs
        return {name: site["value"] for name, site in self.trace.nodes.items()
                if site["type"] == "sample" and not site_is_subsample(site)}

    def __getstate__(self) -> Dict[str, Any]:
        # The last run's trace holds live tensors (param values with weak references); a
        # pickled guide starts with an empty one.
        state = self.__dict__.copy()
        state["trace"] = Trace(graph_type=self.graph_type)
        state.pop("args_kwargs", None)
        return state

    def call(self, *args: Any, **kwargs: Any) -> tuple:
        """Run the guide and return the values of :meth:`__call__` as a tuple, ordered by name."""
        result = self(*args, **kwargs)
        return tuple(v for _, v in sorted(result.items()))

    def _pyro_sample(self, msg: Site) -> None:
        if msg["is_observed"]:
            # Kept in this guide's own trace, hidden from outer handlers: an ELBO tracing the
            # guide sees only its latent sites and replays the model for the observations.
            msg["stop"] = True
            return
        if msg["done"] or site_is_subsample(msg):
            return
        prior = msg["fn"]
        msg["infer"] = dict(msg["infer"], prior=prior)
        posterior = self.get_posterior(msg["name"], prior)
        if isinstance(posterior, torch.Tensor):
            posterior = dist.Delta(posterior, event_dim=len(prior.event_shape))
        msg["fn"] = posterior

    def get_posterior(self, name: str, prior: dist.Distribution
                      ) -> Union[dist.Distribution, torch.Tensor]:
        """Return the posterior of site ``name`` (a distribution, or a value), given its prior.

        ``pyro.param`` may be used here; ``pyro.sample`` statements should be marked
        ``infer={"is_auxiliary": True}``.
        """
        raise NotImplementedError

    def upstream_value(self, name: str) -> Optional[torch.Tensor]:
        """Return the value of an earlier sample or deterministic site of the current run."""
        site = self.trace.nodes.get(name)
        return None if site is None else site["value"]

    def get_traces(self) -> Tuple[Trace, Trace]:
        """Return ``(model_trace, guide_trace)`` of the latest run.

        The model trace has every site with its prior; the guide trace has the latent sites
        with their posteriors.
        """
        model_trace = self.trace.copy()
        guide_trace = Trace()
        for name, site in self.trace.nodes.items():
            if site["type"] == "sample" and site_is_subsample(site):
                model_trace.remove_node(name)
                continue
            if site["type"] != "sample" or "prior" not in site["infer"]:
                continue
            guide_trace.add_node(name, **dict(site))
            model_site = dict(site, fn=site["infer"]["prior"])
            model_trace.nodes[name] = model_site
        return model_trace, guide_trace


class AutoMessenger(GuideMessenger, torch.nn.Module):
    """Base class of the automatic effect-handler guides.

    Args:
        model: the model.
        amortized_plates: names of plates over which the guide's parameters are shared: the
            parameters have size 1 along those plates' dims (useful under subsampling).
    """

    def __init__(self, model: Callable, *, amortized_plates: Tuple[str, ...] = ()) -> None:
        super().__init__(model)
        if isinstance(amortized_plates, str):
            amortized_plates = (amortized_plates,)
        self.amortized_plates = tuple(amortized_plates)
        self._current_frames: tuple = ()

    def _adjust_plates(self, value: torch.Tensor, event_dim: int) -> torch.Tensor:
        """Shape an initial value for a parameter: full plate sizes, size 1 on amortized plates."""
        for frame in self._current_frames:
            if not frame.vectorized:
                continue
            dim = frame.dim - event_dim
            if value.dim() < -dim:
                continue
            if frame.name in self.amortized_plates:
                value = value.narrow(dim, 0, 1)
            else:
                value = _full_size(value, frame, event_dim)
        return value

    def _pyro_sample(self, msg: Site) -> None:
        self._current_frames = tuple(msg["cond_indep_stack"])
        super()._pyro_sample(msg)

    def _init_site(self, name: str, prior: dist.Distribution) -> Site:
        return {"type": "sample", "name": name, "fn": prior, "value": None,
                "is_observed": False, "infer": {}, "args": (), "kwargs": {},
                "cond_indep_stack": self._current_frames}

    def _unconstrained_init(self, name: str, prior: dist.Distribution) -> torch.Tensor:
        """The unconstrained value of the site's init strategy, with the prior's full shape."""
        with torch.no_grad():
            value = self.init_loc_fn(self._init_site(name, prior))
            value = torch.as_tensor(value).expand(prior.batch_shape + prior.event_shape)
            return biject_to(prior.support).inv(value).detach()

    def _param(self, kind: str, name: str, init: Callable[[], torch.Tensor], event_dim: int,
               constraint: Any = constraints.real) -> torch.Tensor:
        def full_init() -> torch.Tensor:
            return self._adjust_plates(init(), event_dim).clone()

        return pyro.param(f"{kind}.{name}", full_init, constraint=constraint,
                          event_dim=event_dim)


class AutoNormalMessenger(AutoMessenger):
    """A mean-field guide: each latent site is a Normal in unconstrained space.

    The posterior of site ``x`` is ``Normal(locs.x, scales.x)`` pushed onto the site's support
    by ``biject_to``. Subclasses may override :meth:`get_posterior` for some sites and call
    ``super().get_posterior(name, prior)`` for the rest.

    Args:
        model: the model.
        init_loc_fn: init strategy for the locations, in constrained space (default
            ``init_to_mean(fallback=init_to_feasible)``).
        init_scale: initial scale of every Normal, positive (default 0.1).
        amortized_plates: see :class:`AutoMessenger`.
    """

    def __init__(self, model: Callable, *,
                 init_loc_fn: Callable = init_to_mean(fallback=init_to_feasible),
                 init_scale: float = 0.1, amortized_plates: Tuple[str, ...] = ()) -> None:
        self._init_scale = check_init_scale(type(self).__name__, init_scale, allow_int=True)
        check_callable(type(self).__name__, "init_loc_fn", init_loc_fn)
        super().__init__(model, amortized_plates=amortized_plates)
        self.init_loc_fn = init_loc_fn
        self._computing_median = False

    def _loc_init(self, name: str, prior: dist.Distribution) -> torch.Tensor:
        return self._unconstrained_init(name, prior)

    def _get_params(self, name: str, prior: dist.Distribution) -> Tuple[torch.Tensor, ...]:
        event_dim = biject_to(prior.support).domain.event_dim
        loc = self._param("locs", name, lambda: self._loc_init(name, prior), event_dim)
        scale = self._param("scales", name, lambda: torch.full_like(loc, self._init_scale),
                            event_dim, constraints.positive)
        return loc, scale

    def get_posterior(self, name: str, prior: dist.Distribution
                      ) -> Union[dist.Distribution, torch.Tensor]:
        """Return ``Normal(locs.<name>, scales.<name>)`` mapped onto the prior's support."""
        if self._computing_median:
            return self._get_posterior_median(name, prior)
        transform = biject_to(prior.support)
        loc, scale = self._get_params(name, prior)
        return _normal_on_support(loc, scale, transform, prior)

    def _get_posterior_median(self, name: str, prior: dist.Distribution) -> torch.Tensor:
        loc, _ = self._get_params(name, prior)
        return biject_to(prior.support)(loc)

    def median(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Run the model with each latent site at its posterior median; return ``{name: value}``.

        Later sites' medians are conditioned on earlier sites' medians. Observed and
        deterministic sites are included.
        """
        self._computing_median = True
        try:
            return self(*args, **kwargs)
        finally:
            self._computing_median = False


class AutoHierarchicalNormalMessenger(AutoNormalMessenger):
    """A Normal guide whose location follows the prior mean given the upstream draws.

    At a hierarchical site the unconstrained location is
    ``locs.x + weights.x * biject_to(support).inv(prior.mean)``, so the posterior tracks what
    the model's earlier sites imply; ``weights.x`` is positive, elementwise, initialised at
    ``init_weight``. Other sites are as in :class:`AutoNormalMessenger`. Needs priors with a
    ``mean``.

    Args:
        model: the model.
        init_loc_fn, init_scale, amortized_plates: see :class:`AutoNormalMessenger`.
        init_weight: initial value of every weight (default 1.0).
        hierarchical_sites: names of the sites treated this way; ``None`` (default): all.
    """

    #: The weights have the shape of the site's unconstrained value.
    weight_type = "element-wise"

    def __init__(self, model: Callable, *,
                 init_loc_fn: Callable = init_to_mean(fallback=init_to_feasible),
                 init_scale: float = 0.1, amortized_plates: Tuple[str, ...] = (),
                 init_weight: float = 1.0, hierarchical_sites: Optional[list] = None) -> None:
        super().__init__(model, init_loc_fn=init_loc_fn, init_scale=init_scale,
                         amortized_plates=amortized_plates)
        self._init_weight = float(init_weight)
        self._hierarchical_sites = hierarchical_sites

    def _is_hierarchical(self, name: str) -> bool:
        return self._hierarchical_sites is None or name in self._hierarchical_sites

    def _prior_loc(self, prior: dist.Distribution) -> torch.Tensor:
        return biject_to(prior.support).inv(prior.mean)

    def _loc_init(self, name: str, prior: dist.Distribution) -> torch.Tensor:
        init = self._unconstrained_init(name, prior)
        if self._is_hierarchical(name):
            init = init - self._init_weight * self._prior_loc(prior).detach()
        return init

    def _get_params(self, name: str, prior: dist.Distribution) -> Tuple[torch.Tensor, ...]:
        loc, scale = super()._get_params(name, prior)
        if not self._is_hierarchical(name):
            return loc, scale
        event_dim = biject_to(prior.support).domain.event_dim
        weight = self._param("weights", name, lambda: torch.full_like(loc, self._init_weight),
                             event_dim, constraints.positive)
        return loc, scale, weight

    def _total_loc(self, name: str, prior: dist.Distribution) -> Tuple[torch.Tensor, ...]:
        params = self._get_params(name, prior)
        if len(params) == 2:
            return params
        loc, scale, weight = params
        return loc + weight * self._prior_loc(prior), scale

    def get_posterior(self, name: str, prior: dist.Distribution
                      ) -> Union[dist.Distribution, torch.Tensor]:
        """Return the Normal around ``locs + weights * inv(prior.mean)`` on the prior's support."""
        if self._computing_median:
            return self._get_posterior_median(name, prior)
        transform = biject_to(prior.support)
        loc, scale = self._total_loc(name, prior)
        return _normal_on_support(loc, scale, transform, prior)

    def _get_posterior_median(self, name: str, prior: dist.Distribution) -> torch.Tensor:
        loc, _ = self._total_loc(name, prior)
        return biject_to(prior.support)(loc)


class AutoRegressiveMessenger(AutoMessenger):
    """A guide that affinely transforms each prior (given the upstream draws) in unconstrained space.

    The posterior of site ``x`` is the prior, mapped to unconstrained space, scaled by
    ``scales.x`` and shifted by ``locs.x``, and mapped back onto the support. The locations
    start at ``(1 - init_scale)`` times the unconstrained initial value, so the posterior starts
    near the init strategy's value. Continuous latent sites only.

    Args:
        model: the model.
        init_loc_fn: init strategy (default ``init_to_mean(fallback=init_to_feasible)``).
        init_scale: initial scale, positive (default 0.1).
        amortized_plates: see :class:`AutoMessenger`.
    """

    def __init__(self, model: Callable, *,
                 init_loc_fn: Callable = init_to_mean(fallback=init_to_feasible),
                 init_scale: float = 0.1, amortized_plates: Tuple[str, ...] = ()) -> None:
        self._init_scale = check_init_scale(type(self).__name__, init_scale, allow_int=True)
        check_callable(type(self).__name__, "init_loc_fn", init_loc_fn)
        super().__init__(model, amortized_plates=amortized_plates)
        self.init_loc_fn = init_loc_fn

    def _get_params(self, name: str, prior: dist.Distribution) -> Tuple[torch.Tensor, ...]:
        event_dim = biject_to(prior.support).domain.event_dim
        loc = self._param(
            "locs", name,
            lambda: (1 - self._init_scale) * self._unconstrained_init(name, prior), event_dim)
        scale = self._param("scales", name, lambda: torch.full_like(loc, self._init_scale),
                            event_dim, constraints.positive)
        return loc, scale

    def get_posterior(self, name: str, prior: dist.Distribution
                      ) -> Union[dist.Distribution, torch.Tensor]:
        """Return the prior pushed through ``inv``, ``locs + scales * u`` and back."""
        transform = biject_to(prior.support)
        loc, scale = self._get_params(name, prior)
        affine = dist.transforms.AffineTransform(loc, scale,
                                                 event_dim=transform.domain.event_dim)
        return dist.TransformedDistribution(
            prior, [transform.inv.with_cache(), affine, transform.with_cache()])


__all__ = [
    "AutoHierarchicalNormalMessenger",
    "AutoMessenger",
    "AutoNormalMessenger",
    "AutoRegressiveMessenger",
    "GuideMessenger",
]
