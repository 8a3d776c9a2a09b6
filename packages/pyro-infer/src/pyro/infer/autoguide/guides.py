"""Guides built automatically from a model: one traced run of the model shapes their parameters."""

from __future__ import annotations

import contextlib
import inspect
import numbers
import pickle
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.distributions import biject_to, constraints
from pyro.infer.arg_checks import EngineArgumentTypeError, check_callable, describe
from pyro.infer.autoguide import _params
from pyro.infer.autoguide._params import ParamBank, ParamSlot, SiteParams
from pyro.infer.autoguide.initialization import (
    InitMessenger,
    strategy_name,
    init_to_feasible,
    init_to_median,
)
from pyro.infer.autoguide.layout import _discrete_site_error
from pyro.ops.stats import check_probability
from pyro.poutine.util import prune_subsample_sites
from pyro.util import is_validation_enabled


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


def check_init_scale(owner: str, init_scale: Any, allow_int: bool = False) -> float:
    """Return ``init_scale`` as a float, refusing values Pyro refuses, with Pyro's phrase
    ``Expected init_scale > 0.`` and the guide's name: a non-positive number (a
    ``ValueError``), or a value that is not a float (int where ``allow_int``) such as a tensor
    (a ``TypeError`` that is also a ``ValueError``, the type Pyro raises)."""
    kinds = (int, float) if allow_int else (float,)
    if isinstance(init_scale, bool) or not isinstance(init_scale, kinds):
        shape = (f" of shape {tuple(init_scale.shape)}" if isinstance(init_scale, torch.Tensor)
                 else "")
        kind = "number" if allow_int else "float"
        raise EngineArgumentTypeError(
            f"{owner}: Expected init_scale > 0. but got {describe(init_scale)}{shape}; "
            f"init_scale must be a positive {kind}, the initial scale of every latent element")
    if not init_scale > 0:
        raise ValueError(f"{owner}: Expected init_scale > 0. but got {init_scale}")
    return float(init_scale)


def check_quantile_levels(owner: str, quantiles: Any) -> Any:
    """Return ``quantiles`` (a level or a list of levels), refusing anything but numbers
    strictly between 0 and 1 (a tensor is checked under validation)."""
    if not isinstance(quantiles, torch.Tensor) and hasattr(quantiles, "tolist"):
        quantiles = quantiles.tolist()  # a numpy array or scalar
    if isinstance(quantiles, torch.Tensor):
        if not quantiles.dtype.is_floating_point:
            raise EngineArgumentTypeError(
                f"{owner}: quantiles must be levels in (0, 1), got a tensor of dtype "
                f"{quantiles.dtype}")
        if is_validation_enabled() and quantiles.numel() and not bool(
                ((quantiles > 0) & (quantiles < 1)).all()):
            raise ValueError(f"{owner}: quantiles must be levels in (0, 1), got "
                             f"{quantiles.tolist()}")
        return quantiles
    if isinstance(quantiles, (str, bytes)) or not isinstance(quantiles, (Sequence, numbers.Real)):
        raise EngineArgumentTypeError(
            f"{owner}: quantiles must be a list of levels in (0, 1), got {describe(quantiles)}")
    levels = quantiles if isinstance(quantiles, Sequence) else [quantiles]
    for i, q in enumerate(levels):
        check_probability(owner, f"quantiles[{i}]" if levels is quantiles else "quantiles", q,
                          open_left=True, open_right=True)
    return quantiles


def _refusing_discrete(init_fn: Callable) -> Callable:
    """Wrap an init strategy so that a discrete latent site raises Pyro's ValueError."""

    def init(site: Dict[str, Any]) -> torch.Tensor:
        if site["fn"].support.is_discrete:
            raise _discrete_site_error(site["name"])
        return init_fn(site)

    init.__wrapped__ = init_fn  # type: ignore[attr-defined]  (named in error messages)
    return init


class AutoGuide(SiteParams, torch.nn.Module):
    """Base class of automatic guides.

    The first call runs the model once (with every latent site set by the guide's init strategy)
    to learn its latent sites, their shapes, supports and plates, and creates every parameter;
    later calls only read that prototype. Calling the guide once on example arguments before
    training (eager initialization) therefore leaves ``guide.parameters()`` complete, ready for a
    torch optimizer, ``torch.compile`` or a data-parallel wrapper. Each parameter is an
    ``nn.Parameter`` of the guide in unconstrained space and is the very tensor the param store
    holds under a name prefixed by the class name (``AutoNormal.locs.x``).

    Pickling a guide keeps its model when the model pickles, and leaves it out otherwise (Pyro
    always leaves it out): an unpickled guide that has seen the model runs either way, one that
    has not needs its model.

    Args:
        model: the model.
        create_plates: optional function of the model's arguments returning a ``pyro.plate``
            or a list of them, to use in the guide instead of plates made from the model's
            (for subsampling: pass the plate with ``subsample=`` indices).
    """

    #: Whether the guide handles discrete latent sites (others get Pyro's ValueError).
    _accepts_discrete = False

    def __init__(self, model: Callable, *, create_plates: Optional[Callable] = None) -> None:
        owner = type(self).__name__
        check_callable(owner, "model", model)
        check_callable(owner, "create_plates", create_plates, optional=True)
        if "init_loc_fn" in self.__dict__:  # set by the subclass before this runs
            check_callable(owner, "init_loc_fn", self.__dict__["init_loc_fn"])
        super().__init__()
        self._init_site_params()
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
        """The model this guide was built for (None once unpickled, if it did not pickle)."""
        return self._model[0]

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(super().__getstate__())
        try:
            pickle.dumps(self._model[0])
        except Exception:
            # Whatever stops the model pickling (a lambda, a closure, a reference back to this
            # guide), the model is left out, as Pyro leaves out every model.
            state["_model"] = (None,)
        return state

    def _param_name(self, kind: Optional[str], site: str) -> str:
        return f"{self._pyro_name}.{kind}.{site}" if kind else f"{self._pyro_name}.{site}"

    def _declare(self, attr: str, init: torch.Tensor, constraint: Any = constraints.real,
                 event_dim: Optional[int] = None, *, kind: Optional[str] = None,
                 suffix: bool = True) -> Optional[ParamSlot]:
        """Create the parameter ``attr`` (of the bank ``kind`` when given) from ``init``.

        A guide-level ``attr`` the guide already holds as a buffer (a fixed value, as in the
        Gaussian that ``laplace_approximation`` returns) stays that buffer: nothing is created
        and None is returned.
        """
        if kind is None and attr in self.__dict__["_buffers"]:
            return None
        owner = self if kind is None else getattr(self, kind)
        return _params.declare(owner, attr, self._param_name(kind, attr), init, constraint,
                               event_dim, suffix)

    def _site_value(self, attr: str) -> torch.Tensor:
        """Return the constrained value of the guide's own parameter ``attr`` (a param site),
        or the fixed buffer of that name when the guide holds one."""
        fixed = self.__dict__["_buffers"].get(attr)
        if fixed is not None:
            return fixed
        return _params.value(self.__dict__["_site_slots"][attr])

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        if self.model is None:
            raise RuntimeError(
                f"{self._pyro_name} was unpickled before it had seen the model, and its model "
                f"did not pickle with it (a lambda or closure is left out); build a new guide "
                f"for the model instead")
        init_fn = getattr(self, "init_loc_fn", init_to_feasible)
        if not self._accepts_discrete:
            init_fn = _refusing_discrete(init_fn)
        with torch.no_grad(), poutine.block():
            trace = poutine.trace(InitMessenger(init_fn)(self.model)).get_trace(*args, **kwargs)
        self.prototype_trace = prune_subsample_sites(trace)
        if is_validation_enabled():
            self._check_initial_values(init_fn)
        self._prototype_frames = {}
        for _, site in self.prototype_trace.iter_stochastic_nodes():
            for frame in site["cond_indep_stack"]:
                if not frame.vectorized:
                    raise NotImplementedError(
                        f"{self._pyro_name}: site '{site['name']}' is inside the sequential plate "
                        f"'{frame.name}'; autoguides support only vectorized plates"
                    )
                self._prototype_frames[frame.name] = frame

    def _check_initial_values(self, init_fn: Callable) -> None:
        """Refuse an initial value (from ``init_loc_fn``) outside its site's support."""
        for name, site in self.prototype_trace.iter_stochastic_nodes():
            support = site["fn"].support
            if constraints.is_dependent(support):
                continue
            if not bool(support.check(site["value"]).all()):
                label = strategy_name(getattr(self, "init_loc_fn", init_fn))
                raise ValueError(
                    f"{self._pyro_name}: init_loc_fn ({label}) gave site '{name}' an initial "
                    f"value outside its support {support}: {str(site['value'])[:80]}")

    def _create_plates(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        plates: Dict[str, Any] = {}
        if self.create_plates is not None:
            made = self.create_plates(*args, **kwargs)
            if not isinstance(made, (list, tuple)):
                made = [made]
            plates = {p.name: p for p in made}
        for name, frame in self._prototype_frames.items():
            if name not in plates:
                # the model's subsample size too, so the guide draws the indices the model replays
                full = frame.full_size or frame.size
                plates[name] = pyro.plate(name, full, dim=frame.dim,
                                          subsample_size=frame.size if full != frame.size else None)
        self.plates = plates
        return plates

    def _stochastic_sites(self) -> List[tuple]:
        return list(self.prototype_trace.iter_stochastic_nodes())

    def _ensure_prototype(self, *args: Any, **kwargs: Any) -> None:
        if self.prototype_trace is None:
            self._check_model_takes(args, kwargs)
            self._setup_prototype(*args, **kwargs)

    def _check_model_takes(self, args: tuple, kwargs: dict) -> None:
        """Before the first run of the model without arguments (``guide.median()`` called before
        the guide ran): refuse it when the model's own signature needs some. A decorated model
        is read by its wrapper's signature, which is what the call goes through."""
        model = self.model
        if model is None or args or kwargs:
            return
        try:
            signature = inspect.signature(model, follow_wrapped=False)
        except (TypeError, ValueError):
            return
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(
                f"{self._pyro_name} has not seen the model yet, so it runs the model with the "
                f"arguments it was given, which the model{signature} cannot take ({e}); call "
                f"the guide (or median(), quantiles()) with the model's arguments") from None

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

    Each latent site ``x`` gets a parameter ``AutoDelta.x`` constrained to the site's support:
    the guide's ``nn.Parameter`` ``x_unconstrained``, read and set as ``guide.x``.

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

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self._value_slots: Dict[str, ParamSlot] = {}
        for name, site in self._stochastic_sites():
            event_dim = len(site["fn"].event_shape)
            init = site["value"].detach()
            for frame in site["cond_indep_stack"]:
                init = _full_size(init, frame, event_dim)
            self._value_slots[name] = self._declare(name, init.clone(), site["fn"].support,
                                                    event_dim)

    def forward(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Sample every latent site at its point estimate; return ``{name: value}``."""
        self._ensure_prototype(*args, **kwargs)
        plates = self._create_plates(*args, **kwargs)
        slots = self._value_slots
        result = {}
        for name, site in self._stochastic_sites():
            with self._site_plates(site, plates):
                value = _params.value(slots[name])
                result[name] = pyro.sample(
                    name, dist.Delta(value, event_dim=len(site["fn"].event_shape)))
        return result

    def median(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return the point estimate of each latent site."""
        self._ensure_prototype(*args, **kwargs)
        with torch.no_grad():
            return {name: _params.value(self._value_slots[name]).detach()
                    for name, _ in self._stochastic_sites()}


class AutoNormal(AutoGuide):
    """A mean-field guide: an independent Normal per latent element in unconstrained space.

    Site ``x`` gets parameters ``AutoNormal.locs.x`` (unconstrained) and ``AutoNormal.scales.x``
    (positive, through softplus); its value is the Normal draw mapped onto the site's support by ``biject_to``, so
    the guide's density includes the transform's Jacobian. They are the ``nn.Parameter`` s
    ``locs.x_unconstrained`` and ``scales.x_unconstrained`` of the guide, read and set as
    ``guide.locs.x`` and ``guide.scales.x``.

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

    #: The constraint of the scales (optimised through softplus, as in Pyro).
    scale_constraint = constraints.softplus_positive

    def __init__(self, model: Callable, *, init_loc_fn: Callable = init_to_feasible,
                 init_scale: float = 0.1, create_plates: Optional[Callable] = None) -> None:
        check_init_scale(type(self).__name__, init_scale, allow_int=True)
        self.init_loc_fn = init_loc_fn
        super().__init__(model, create_plates=create_plates)
        self.init_loc_fn = init_loc_fn
        self._init_scale = float(init_scale)
        self._event_dims: Dict[str, int] = {}
        self._loc_scale_slots: Dict[str, tuple] = {}
        self.locs = ParamBank(f"{self._pyro_name}.locs")
        self.scales = ParamBank(f"{self._pyro_name}.scales")

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        for name, site in self._stochastic_sites():
            value = site["value"].detach()
            unconstrained = biject_to(site["fn"].support).inv(value)
            event_dim = len(site["fn"].event_shape) + unconstrained.dim() - value.dim()
            self._event_dims[name] = event_dim
            for frame in site["cond_indep_stack"]:
                unconstrained = _full_size(unconstrained, frame, event_dim)
            self._loc_scale_slots[name] = (
                self._declare(name, unconstrained.clone(), constraints.real, event_dim,
                              kind="locs"),
                self._declare(name, torch.full_like(unconstrained, self._init_scale),
                              self.scale_constraint, event_dim, kind="scales"))

    def _loc_scale(self, name: str) -> tuple:
        loc_slot, scale_slot = self._loc_scale_slots[name]
        return _params.value(loc_slot), _params.value(scale_slot)

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
        q_levels = check_quantile_levels(f"{self._pyro_name}.quantiles", quantiles)
        self._ensure_prototype(*args, **kwargs)
        result = {}
        with torch.no_grad():
            for name, site in self._stochastic_sites():
                loc, scale = self._loc_scale(name)
                q = torch.as_tensor(q_levels, dtype=loc.dtype, device=loc.device)
                q = q.reshape((-1,) + (1,) * loc.dim())
                unconstrained = torch.distributions.Normal(loc, scale).icdf(q)
                result[name] = biject_to(site["fn"].support)(unconstrained).detach()
        return result
