"""``AutoStructured``: a guide of per-site conditionals joined by learned dependencies.

Every latent site ``x`` is flattened (plates included) into one unconstrained vector. The guide
draws a zero-mean noise for it from its *conditional* (none for ``"delta"``, a scaled standard
Normal for ``"normal"``, a scaled lower-triangular transform of one for ``"mvn"``, or a user
callable), adds the *dependencies* on the noises of earlier sites (a learned linear map each for
``"linear"``), then the location ``locs.x``, and maps the sum onto the site's support.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.distributions import biject_to, constraints
from pyro.infer.autoguide import _params
from pyro.infer.autoguide._params import ParamBank, ParamSlot
from pyro.infer.autoguide.guides import AutoGuide, check_init_scale
from pyro.infer.autoguide.initialization import init_to_feasible

Site = Dict[str, Any]
Conditional = Union[str, Callable[[], torch.Tensor]]
Dependency = Union[str, Callable[[torch.Tensor], torch.Tensor]]

_CONDITIONALS = ("delta", "normal", "mvn")


def _auxiliary(msg: Site) -> Dict[str, Any]:
    return {"is_auxiliary": True}


class _SiteInfo:
    """What the guide knows of one latent site: its flat size and its unconstrained shape."""

    __slots__ = ("name", "site", "numel", "shape", "event_dim", "batch_dim", "transform")

    def __init__(self, name: str, site: Site) -> None:
        self.name = name
        self.site = site
        self.transform = biject_to(site["fn"].support)
        unconstrained = self.transform.inv(site["value"].detach())
        self.shape = unconstrained.shape
        self.numel = unconstrained.numel()
        self.event_dim = len(site["fn"].event_shape)
        self.batch_dim = site["value"].dim() - self.event_dim

    def unflatten(self, flat: torch.Tensor) -> torch.Tensor:
        """Reshape ``(..., numel)`` into the site's unconstrained shape, the leading dims
        right-aligned with the site's plates (those that fall on plate dims must be 1)."""
        batch = flat.shape[:-1]
        outer = batch[:max(0, len(batch) - self.batch_dim)]
        if any(size != 1 for size in batch[len(outer):]):
            raise ValueError(
                f"AutoStructured: site '{self.name}' got noise of batch shape {tuple(batch)}, "
                f"which overlaps the site's plate dims {tuple(self.shape[:self.batch_dim])}; "
                f"put the extra batch dims left of the model's plates")
        return flat.reshape(outer + self.shape)


class AutoStructured(AutoGuide):
    """A guide with a chosen conditional per latent site and learned dependencies between sites.

    Each latent site ``x`` (all of its elements, across plates, as one flat vector of its
    unconstrained value) gets a location ``AutoStructured.locs.x`` and, by its conditional:

    - ``"delta"``: nothing else; ``x`` is a point estimate (no auxiliary site);
    - ``"normal"``: ``AutoStructured.scales.x`` (positive), noise ``scales.x * eps`` with
      ``eps`` drawn at the auxiliary site ``x_aux`` from a standard Normal;
    - ``"mvn"``: also ``AutoStructured.scale_trils.x`` (lower Cholesky), noise
      ``scales.x * (scale_trils.x @ eps)``;
    - a callable: called with no arguments, it returns the zero-mean noise (a tensor of the
      site's flat size); it may call ``pyro.param`` and ``pyro.sample`` (its sample sites are
      marked auxiliary).

    A dependency of ``x`` on an earlier site ``u`` adds ``f(noise of u)`` to the noise of ``x``,
    where a site's noise includes what its own dependencies added; ``"linear"`` learns
    ``f`` as the weight ``AutoStructured.deps.x.u$$$weight`` (initially zero). The site's value
    is ``biject_to(support)(locs.x + noise)``.

    Args:
        model: the model.
        conditionals: one conditional for every latent site, or a dict giving one per site.
        dependencies: ``"linear"`` (a linear dependency along every edge of the model's
            posterior dependency graph, from :func:`~pyro.infer.inspect.get_dependencies`), or
            a dict ``{downstream: {upstream: "linear" or callable}}``; an upstream site must
            come before its downstream site in the model.
        init_loc_fn: init strategy for the locations (default :func:`init_to_feasible`).
        init_scale: initial value of every scale, a positive float (default 0.1).
        create_plates: see :class:`~pyro.infer.autoguide.AutoGuide`.

    Example::

        guide = AutoStructured(model, conditionals={"a": "normal", "b": "mvn"},
                               dependencies={"b": {"a": "linear"}})
    """

    scale_constraint = constraints.softplus_positive
    scale_tril_constraint = constraints.softplus_lower_cholesky

    def __init__(self, model: Callable, *,
                 conditionals: Union[str, Dict[str, Conditional]] = "mvn",
                 dependencies: Union[str, Dict[str, Dict[str, Dependency]]] = "linear",
                 init_loc_fn: Callable = init_to_feasible, init_scale: float = 0.1,
                 create_plates: Optional[Callable] = None) -> None:
        if isinstance(conditionals, str) or callable(conditionals):
            _check_conditional("conditionals", conditionals)
        elif isinstance(conditionals, dict):
            for name, cond in conditionals.items():
                _check_conditional(f"conditionals['{name}']", cond)
        else:
            raise TypeError(f"AutoStructured: conditionals must be a str, a callable or a dict, "
                            f"got {type(conditionals).__name__}")
        if isinstance(dependencies, str):
            if dependencies != "linear":
                raise ValueError(f"Expected either the string 'linear' or a callable, but got "
                                 f"{dependencies}")
        elif isinstance(dependencies, dict):
            for down, ups in dependencies.items():
                if not isinstance(ups, dict):
                    raise TypeError(f"AutoStructured: dependencies['{down}'] must be a dict "
                                    f"{{upstream: dependency}}, got {type(ups).__name__}")
                for up, dep in ups.items():
                    if not (dep == "linear" or callable(dep)):
                        raise ValueError(f"Expected either the string 'linear' or a callable, "
                                         f"but got {dep}")
        else:
            raise TypeError(f"AutoStructured: dependencies must be 'linear' or a dict, got "
                            f"{type(dependencies).__name__}")
        self.init_loc_fn = init_loc_fn
        super().__init__(model, create_plates=create_plates)
        self.init_loc_fn = init_loc_fn
        self._init_scale = check_init_scale(type(self).__name__, init_scale)
        self._conditionals_spec = conditionals
        self._dependencies_spec = dependencies
        self.conditionals: Dict[str, Conditional] = {}
        self.dependencies: Dict[str, Dict[str, Dependency]] = {}
        self._sites: Dict[str, _SiteInfo] = {}
        for kind in ("locs", "scales", "scale_trils", "deps"):
            setattr(self, kind, ParamBank(f"{self._pyro_name}.{kind}"))

    # --- the prototype ----------------------------------------------------------------------------
    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self._sites = {name: _SiteInfo(name, site) for name, site in self._stochastic_sites()}
        self._init_locs = {
            name: info.transform.inv(info.site["value"].detach()).reshape(-1)
            for name, info in self._sites.items()}
        spec = self._conditionals_spec
        if isinstance(spec, dict):
            for name in self._sites:
                if name not in spec:
                    raise KeyError(f"AutoStructured: conditionals has no entry for latent site "
                                   f"'{name}' (it names {sorted(spec)})")
            self.conditionals = {name: spec[name] for name in self._sites}
        else:
            self.conditionals = {name: spec for name in self._sites}
        self.dependencies = self._resolve_dependencies(args, kwargs)
        self._declare_params()

    def _resolve_dependencies(self, args: tuple, kwargs: dict) -> Dict[str, Dict[str, Dependency]]:
        order = {name: i for i, name in enumerate(self._sites)}
        spec = self._dependencies_spec
        if spec == "linear":
            from pyro.infer.inspect import get_dependencies

            with torch.no_grad(), poutine.block():
                posterior = get_dependencies(self.model, args, kwargs)["posterior_dependencies"]
            deps: Dict[str, Dict[str, Dependency]] = {}
            for up, downs in posterior.items():
                for down in downs:
                    if down != up and down in order and up in order:
                        pair = (up, down) if order[up] < order[down] else (down, up)
                        deps.setdefault(pair[1], {})[pair[0]] = "linear"
            return {down: dict(sorted(ups.items(), key=lambda kv: order[kv[0]]))
                    for down, ups in sorted(deps.items(), key=lambda kv: order[kv[0]])}
        for down, ups in spec.items():
            for up in ups:
                for name in (down, up):
                    if name not in order:
                        raise ValueError(f"AutoStructured: dependencies name '{name}', which is "
                                         f"not a latent site of the model ({list(order)})")
                if order[up] >= order[down]:
                    raise ValueError(
                        f"AutoStructured: site '{down}' cannot depend on '{up}': an upstream "
                        f"site must come before its downstream site in the model")
        return {down: dict(ups) for down, ups in spec.items()}

    # --- parameters -------------------------------------------------------------------------------
    def _declare_params(self) -> None:
        """Create every parameter, as ``nn.Parameter`` s of the guide shared with the store."""
        self._param_slots: Dict[Tuple[str, str], ParamSlot] = {}
        for name, cond in self.conditionals.items():
            init = self._init_locs[name]
            self._param_slots["locs", name] = self._declare(name, init.clone(), kind="locs")
            if cond in ("normal", "mvn"):
                self._param_slots["scales", name] = self._declare(
                    name, torch.full_like(init, self._init_scale), self.scale_constraint,
                    kind="scales")
            if cond == "mvn":
                eye = torch.eye(init.numel(), dtype=init.dtype, device=init.device)
                self._param_slots["scale_trils", name] = self._declare(
                    name, eye, self.scale_tril_constraint, kind="scale_trils")
        for down, ups in self.dependencies.items():
            for up, dep in ups.items():
                if dep == "linear":
                    init = self._init_locs[down].new_zeros(
                        (self._sites[down].numel, self._sites[up].numel))
                    # Pyro's names: nn.Linear weights of the nested module deps.<down>.<up>.
                    self._param_slots["deps", f"{down}.{up}"] = _params.declare(
                        self.deps, f"{down}.{up}.weight",
                        f"{self._pyro_name}.deps.{down}.{up}$$$weight", init, suffix=False)

    def _param(self, kind: str, name: str) -> torch.Tensor:
        return _params.value(self._param_slots[kind, name])

    # --- drawing ----------------------------------------------------------------------------------
    def _needed(self, save_params: Optional[Iterable[str]]) -> List[str]:
        if save_params is None:
            return list(self._sites)
        wanted = set(save_params)
        unknown = wanted - set(self._sites)
        if unknown:
            raise ValueError(f"AutoStructured: save_params names unknown sites {sorted(unknown)}")
        for name in reversed(list(self._sites)):
            if name in wanted:
                wanted.update(self.dependencies.get(name, {}))
        return [name for name in self._sites if name in wanted]

    def _noise(self, name: str) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Draw the site's own zero-mean noise; return it and ``-log|scale|`` per element."""
        cond = self.conditionals[name]
        info = self._sites[name]
        if cond == "delta":
            return self._init_locs[name].new_zeros(info.numel), None
        if callable(cond):
            noise = cond()
            if noise.shape[-1:] != (info.numel,):
                raise ValueError(f"AutoStructured: the conditional of site '{name}' returned "
                                 f"shape {tuple(noise.shape)}; expected (..., {info.numel})")
            return noise, None
        scale = self._param("scales", name)
        eps = pyro.sample(f"{name}_aux",
                          dist.Normal(torch.zeros_like(scale), torch.ones_like(scale)).to_event(1))
        if cond == "normal":
            return scale * eps, -scale.log()
        tril = self._param("scale_trils", name)
        noise = scale * (tril @ eps.unsqueeze(-1)).squeeze(-1)
        return noise, -(scale * tril.diagonal(dim1=-2, dim2=-1)).log()

    @poutine.infer_config(config_fn=_auxiliary)
    def get_deltas(self, save_params: Optional[Iterable[str]] = None) -> Dict[str, dist.Delta]:
        """Draw the auxiliary noises and return each latent site's value as a ``Delta``.

        Each ``Delta``'s log-density is ``-log |d value / d noise|`` (zero for ``"delta"``
        sites), so that sampling the site from it gives the guide's density.

        Args:
            save_params: if given, only these sites (and the sites they depend on) are drawn
                and returned.

        Returns:
            ``{name: Delta}`` in site order.
        """
        names = self._needed(save_params)
        noises: Dict[str, torch.Tensor] = {}
        log_scales: Dict[str, Optional[torch.Tensor]] = {}
        for name in names:
            noise, log_scale = self._noise(name)
            for up, dep in self.dependencies.get(name, {}).items():
                if dep == "linear":
                    weight = self._param("deps", f"{name}.{up}")
                    noise = noise + torch.nn.functional.linear(noises[up], weight)
                else:
                    noise = noise + dep(noises[up])
            noises[name] = noise
            log_scales[name] = log_scale
        batch = torch.broadcast_shapes(*(n.shape[:-1] for n in noises.values()))
        deltas = {}
        for name in names:
            info = self._sites[name]
            flat = self._param("locs", name) + noises[name]
            flat = flat.expand(batch + flat.shape[-1:])
            unconstrained = info.unflatten(flat)
            value = info.transform(unconstrained)
            if self.conditionals[name] == "delta":
                log_density = value.new_zeros(value.shape[:value.dim() - info.event_dim])
            else:
                log_density = _log_density(info, value, unconstrained, log_scales[name])
            deltas[name] = dist.Delta(value, log_density=log_density, event_dim=info.event_dim)
        return deltas

    def forward(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Draw every latent site from the guide; return ``{name: value}``."""
        self._ensure_prototype(*args, **kwargs)
        deltas = self.get_deltas()
        plates = self._create_plates(*args, **kwargs)
        result = {}
        for name, info in self._sites.items():
            with self._site_plates(info.site, plates):
                result[name] = pyro.sample(name, deltas[name])
        return result

    def median(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return each latent site's location ``locs.x`` mapped onto its support.

        Returns:
            ``{name: value}`` with each site's shape.
        """
        self._ensure_prototype(*args, **kwargs)
        with torch.no_grad():
            return {name: info.transform(self._param("locs", name).reshape(info.shape)).detach()
                    for name, info in self._sites.items()}


def _check_conditional(where: str, cond: Any) -> None:
    if callable(cond):
        return
    if not isinstance(cond, str) or cond not in _CONDITIONALS:
        raise ValueError(f"Unsupported conditional type: {cond} (in {where})")


def _log_density(info: _SiteInfo, value: torch.Tensor, unconstrained: torch.Tensor,
                 log_scale: Optional[torch.Tensor]) -> torch.Tensor:
    """``-log |d value / d noise|`` summed over the site's event dims."""
    jacobian = info.transform.inv.log_abs_det_jacobian(value, unconstrained)
    batch_dims = value.dim() - info.event_dim
    extra = jacobian.dim() - batch_dims
    if extra > 0:
        jacobian = jacobian.sum(tuple(range(-extra, 0)))
    if log_scale is None:
        return jacobian
    per_element = log_scale.reshape(info.shape)
    extra = per_element.dim() - info.batch_dim
    if extra > 0:
        per_element = per_element.sum(tuple(range(-extra, 0)))
    return jacobian + per_element


__all__ = ["AutoStructured"]
