"""Guides built automatically from a model: one traced run of the model shapes their parameters."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from torch.distributions import constraints

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.distributions import biject_to
from pyro.infer.autoguide.initialization import InitMessenger, init_to_feasible, init_to_median
from pyro.infer.autoguide.layout import _discrete_site_error
from pyro.poutine.util import prune_subsample_sites


def _full_size(value: torch.Tensor, frame: Any, event_dim: int) -> torch.Tensor:
    """Grow a value drawn inside a subsampled plate to the plate's full size along its dim."""
    full = frame.full_size
    if full is None or full == frame.size:
        return value
    dim = frame.dim - event_dim
    if value.dim() < -dim:
        return value
    idx = torch.arange(full, device=value.device) % value.shape[dim]
    return value.index_select(dim, idx)


class _ParamView:
    """Attribute access to a guide's parameters of one kind: ``guide.locs.z``."""

    def __init__(self, guide: "AutoGuide", kind: str) -> None:
        self._guide = guide
        self._kind = kind

    def __getattr__(self, name: str) -> torch.Tensor:
        if name.startswith("__") or name in ("_guide", "_kind"):
            # Not a site: copy/pickle probe dunders, and look up our own fields before
            # __init__ has set them (unpickling), without recursing.
            raise AttributeError(name)
        key = self._guide._param_name(self._kind, name)
        store = pyro.get_param_store()
        if key not in store:
            raise AttributeError(f"{key} is not in the param store; run the guide first")
        return store[key]


def _refusing_discrete(init_fn: Callable) -> Callable:
    """Wrap an init strategy so that a discrete latent site raises Pyro's ValueError."""

    def init(site: Dict[str, Any]) -> torch.Tensor:
        if site["fn"].support.is_discrete:
            raise _discrete_site_error(site["name"])
        return init_fn(site)

    return init


class AutoGuide(torch.nn.Module):
    """Base class of automatic guides.

    The first call runs the model once (with every latent site set by the guide's init strategy)
    to learn its latent sites, their shapes, supports and plates; later calls only read that
    prototype. Parameters live in the global param store under names prefixed by the class name.

    Args:
        model: the model.
        create_plates: optional function of the model's arguments returning a ``pyro.plate``
            or a list of them, to use in the guide instead of plates made from the model's
            (for subsampling: pass the plate with ``subsample=`` indices).
    """

    #: Whether the guide handles discrete latent sites (others get Pyro's ValueError).
    _accepts_discrete = False

    def __init__(self, model: Callable, *, create_plates: Optional[Callable] = None) -> None:
        super().__init__()
        # In a tuple, so that a model that is an nn.Module (a PyroModule) does not become a
        # submodule: its parameters are not the guide's (as in Pyro).
        self._model = (model,)
        self.create_plates = create_plates
        self.prototype_trace: Any = None
        self._prototype_frames: Dict[str, Any] = {}
        self._pyro_name = type(self).__name__
        self.plates: Dict[str, Any] = {}

    @property
    def model(self) -> Callable:
        """The model this guide was built for."""
        return self._model[0]

    def _param_name(self, kind: Optional[str], site: str) -> str:
        return f"{self._pyro_name}.{kind}.{site}" if kind else f"{self._pyro_name}.{site}"

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        init_fn = getattr(self, "init_loc_fn", init_to_feasible)
        if not self._accepts_discrete:
            init_fn = _refusing_discrete(init_fn)
        with torch.no_grad(), poutine.block():
            trace = poutine.trace(InitMessenger(init_fn)(self.model)).get_trace(*args, **kwargs)
        self.prototype_trace = prune_subsample_sites(trace)
        self._prototype_frames = {}
        for _, site in self.prototype_trace.iter_stochastic_nodes():
            for frame in site["cond_indep_stack"]:
                if not frame.vectorized:
                    raise NotImplementedError(
                        f"{self._pyro_name}: site '{site['name']}' is inside the sequential plate "
                        f"'{frame.name}'; autoguides support only vectorized plates"
                    )
                self._prototype_frames[frame.name] = frame

    def _create_plates(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        plates: Dict[str, Any] = {}
        if self.create_plates is not None:
            made = self.create_plates(*args, **kwargs)
            if not isinstance(made, (list, tuple)):
                made = [made]
            plates = {p.name: p for p in made}
        for name, frame in self._prototype_frames.items():
            if name not in plates:
                plates[name] = pyro.plate(name, frame.full_size or frame.size, dim=frame.dim)
        self.plates = plates
        return plates

    def _stochastic_sites(self) -> List[tuple]:
        return list(self.prototype_trace.iter_stochastic_nodes())

    def _ensure_prototype(self, *args: Any, **kwargs: Any) -> None:
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)

    @contextlib.contextmanager
    def _site_plates(self, site: Dict[str, Any], plates: Dict[str, Any]) -> Any:
        with contextlib.ExitStack() as stack:
            for frame in site["cond_indep_stack"]:
                stack.enter_context(plates[frame.name])
            yield

    def call(self, *args: Any, **kwargs: Any) -> tuple:
        """Run the guide and return its latent values as a tuple (in site order)."""
        result = self(*args, **kwargs)
        return tuple(v for _, v in sorted(result.items()))

    def median(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return the posterior median of each latent site, as ``{name: value}``."""
        raise NotImplementedError


class AutoDelta(AutoGuide):
    """A point-mass guide: MAP estimation when fitted with an ELBO.

    Each latent site ``x`` gets a parameter ``AutoDelta.x`` constrained to the site's support.

    Args:
        model: the model.
        init_loc_fn: init strategy (default :func:`init_to_median`).
        create_plates: see :class:`AutoGuide`.
    """

    def __init__(self, model: Callable, init_loc_fn: Callable = init_to_median, *,
                 create_plates: Optional[Callable] = None) -> None:
        self.init_loc_fn = init_loc_fn
        super().__init__(model, create_plates=create_plates)
        self.init_loc_fn = init_loc_fn

    def _value_param(self, name: str, site: Dict[str, Any]) -> torch.Tensor:
        event_dim = len(site["fn"].event_shape)
        init = site["value"].detach()
        for frame in site["cond_indep_stack"]:
            init = _full_size(init, frame, event_dim)
        return pyro.param(self._param_name(None, name), init.clone(),
                          constraint=site["fn"].support, event_dim=event_dim)

    def forward(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Sample every latent site at its point estimate; return ``{name: value}``."""
        self._ensure_prototype(*args, **kwargs)
        plates = self._create_plates(*args, **kwargs)
        result = {}
        for name, site in self._stochastic_sites():
            with self._site_plates(site, plates):
                value = self._value_param(name, site)
                result[name] = pyro.sample(
                    name, dist.Delta(value, event_dim=len(site["fn"].event_shape)))
        return result

    def median(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return the point estimate of each latent site."""
        self._ensure_prototype(*args, **kwargs)
        with torch.no_grad():
            return {name: self._value_param(name, site).detach()
                    for name, site in self._stochastic_sites()}


class AutoNormal(AutoGuide):
    """A mean-field guide: an independent Normal per latent element in unconstrained space.

    Site ``x`` gets parameters ``AutoNormal.locs.x`` (unconstrained) and ``AutoNormal.scales.x``
    (positive); its value is the Normal draw mapped onto the site's support by ``biject_to``, so
    the guide's density includes the transform's Jacobian.

    Args:
        model: the model.
        init_loc_fn: init strategy for the locations (default :func:`init_to_feasible`), given
            in constrained space.
        init_scale: initial scale of every Normal (default 0.1).
        create_plates: see :class:`AutoGuide`.

    Example::

        guide = AutoNormal(model, init_loc_fn=init_to_median)
        svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO())
        ...
        guide.median(), guide.quantiles([0.05, 0.5, 0.95])
    """

    def __init__(self, model: Callable, *, init_loc_fn: Callable = init_to_feasible,
                 init_scale: float = 0.1, create_plates: Optional[Callable] = None) -> None:
        if not isinstance(init_scale, (int, float)) or not init_scale > 0:
            raise ValueError(f"AutoNormal: init_scale must be a positive number, got {init_scale!r}")
        self.init_loc_fn = init_loc_fn
        super().__init__(model, create_plates=create_plates)
        self.init_loc_fn = init_loc_fn
        self._init_scale = float(init_scale)
        self._event_dims: Dict[str, int] = {}
        self.locs = _ParamView(self, "locs")
        self.scales = _ParamView(self, "scales")

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self._init_locs: Dict[str, torch.Tensor] = {}
        for name, site in self._stochastic_sites():
            value = site["value"].detach()
            unconstrained = biject_to(site["fn"].support).inv(value)
            event_dim = len(site["fn"].event_shape) + unconstrained.dim() - value.dim()
            self._event_dims[name] = event_dim
            for frame in site["cond_indep_stack"]:
                unconstrained = _full_size(unconstrained, frame, event_dim)
            self._init_locs[name] = unconstrained

    def _loc_scale(self, name: str) -> tuple:
        event_dim = self._event_dims[name]
        init = self._init_locs[name]
        loc = pyro.param(self._param_name("locs", name), lambda: init.clone(), event_dim=event_dim)
        scale = pyro.param(self._param_name("scales", name),
                           lambda: torch.full_like(init, self._init_scale),
                           constraint=constraints.positive, event_dim=event_dim)
        return loc, scale

    def forward(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Draw every latent site from the guide; return ``{name: value}``."""
        self._ensure_prototype(*args, **kwargs)
        plates = self._create_plates(*args, **kwargs)
        result = {}
        for name, site in self._stochastic_sites():
            transform = biject_to(site["fn"].support)
            event_dim = self._event_dims[name]
            with self._site_plates(site, plates):
                loc, scale = self._loc_scale(name)
                z = pyro.sample(name + "_unconstrained",
                                dist.Normal(loc, scale).to_event(event_dim),
                                infer={"is_auxiliary": True})
                value = transform(z)
                log_density = transform.inv.log_abs_det_jacobian(value, z)
                extra = log_density.dim() - (value.dim() - len(site["fn"].event_shape))
                if extra > 0:
                    log_density = log_density.sum(tuple(range(-extra, 0)))
                result[name] = pyro.sample(
                    name, dist.Delta(value, log_density=log_density,
                                     event_dim=len(site["fn"].event_shape)))
        return result

    def median(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return the posterior median of each latent site: the transformed Normal location."""
        self._ensure_prototype(*args, **kwargs)
        with torch.no_grad():
            result = {}
            for name, site in self._stochastic_sites():
                loc, _ = self._loc_scale(name)
                result[name] = biject_to(site["fn"].support)(loc).detach()
            return result

    def quantiles(self, quantiles: Sequence[float], *args: Any,
                  **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return the given quantiles of each latent site's marginal.

        Args:
            quantiles: a list of levels in (0, 1).

        Returns:
            ``{name: tensor}`` with a leading dim of size ``len(quantiles)``.
        """
        self._ensure_prototype(*args, **kwargs)
        result = {}
        with torch.no_grad():
            for name, site in self._stochastic_sites():
                loc, scale = self._loc_scale(name)
                q = torch.as_tensor(quantiles, dtype=loc.dtype, device=loc.device)
                q = q.reshape((-1,) + (1,) * loc.dim())
                unconstrained = torch.distributions.Normal(loc, scale).icdf(q)
                result[name] = biject_to(site["fn"].support)(unconstrained).detach()
        return result
