"""``AutoGaussian``: a joint Gaussian guide whose precision matrix follows the model's factors.

Every sample site of the model (latent or observed) with latent inputs is a *factor*: its
inputs are the latent sites it depends on in the prior (itself included, for a latent site),
from :func:`~pyro.infer.inspect.get_dependencies`. Each factor learns a low-rank Gaussian
``exp(-|white_vec - prec_sqrt.T @ x|^2 / 2)`` over its inputs, one per element of its plates
(inputs in plates the factor is not in are taken whole). The guide's Gaussian over the whitened
latent vector is the product of the factors, so its precision matrix is zero wherever two
latent elements share no factor: the sparsity of the model's moralised factor graph. The
whitened draw is then shifted and scaled per site (``locs.x + scales.x * aux``) and mapped onto
the site's support.

Only the dense backend is here: the precision is assembled as one matrix.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.distributions import constraints
from pyro.infer.autoguide import _params
from pyro.infer.autoguide._params import ParamBank, ParamSlot
from pyro.infer.autoguide.guides import AutoGuide, check_init_scale
from pyro.infer.autoguide.initialization import init_to_feasible
from pyro.infer.autoguide.layout import LatentLayout, LatentSlot

Site = Dict[str, Any]
_BACKENDS = ("dense", "funsor")


class _BackendError(ValueError, KeyError):
    """An unknown ``backend`` (a ``KeyError`` too, as Pyro raises)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _plates_shape(site: Site) -> Tuple[int, ...]:
    """The batch shape a site's plates give it (``1`` on dims no plate uses)."""
    frames = [f for f in site["cond_indep_stack"] if f.vectorized]
    if not frames:
        return ()
    shape = [1] * max(-f.dim for f in frames)
    for f in frames:
        shape[f.dim] = f.size
    return tuple(shape)


def _plate_dims(site: Site) -> Dict[int, str]:
    return {f.dim: f.name for f in site["cond_indep_stack"] if f.vectorized}


def _check_batch_shape(name: str, site: Site) -> Tuple[int, ...]:
    """The site's batch shape must be exactly what its plates give it."""
    fn = site["fn"]
    batch = tuple(site["value"].shape[:site["value"].dim() - len(fn.event_shape)])
    expected = _plates_shape(site)
    while len(batch) > len(expected) and batch[0] == 1:
        batch = batch[1:]
    if len(batch) < len(expected):
        batch = (1,) * (len(expected) - len(batch)) + batch
    if batch != expected:
        raise ValueError(f"Shape mismatch at site '{name}'. Are you missing a pyro.plate() or "
                         f".to_event()?")
    return expected


class AutoGaussian(AutoGuide):
    """A Gaussian guide whose conditional independence follows the model's factor graph.

    In unconstrained space the latent vector is ``loc + scale * aux`` per site, with ``aux``
    jointly Gaussian (the auxiliary site ``_AutoGaussianDense_latent``). ``aux``'s precision is
    a sum of one low-rank term per model factor (a latent or observed sample site with latent
    inputs): parameters ``white_vecs.f`` (shape: the factor's plates + ``(rank,)``) and
    ``prec_sqrts.f`` (plates + ``(input size, rank)``) add ``prec_sqrt @ prec_sqrt.T`` to the
    precision of the factor's inputs and ``prec_sqrt @ white_vec`` to the information vector.
    Two latent elements that share no factor are conditionally independent under the guide, as
    they are in the model's posterior. Parameters: ``<Guide>.locs.x``, ``<Guide>.scales.x``
    (positive; initialised at ``init_scale``) per latent site, ``<Guide>.white_vecs.f`` and
    ``<Guide>.prec_sqrts.f`` per factor, where ``<Guide>`` is the backend's class name
    (``AutoGaussianDense``).

    ``AutoGaussian(model, backend="dense")`` builds an :class:`AutoGaussianDense`; the
    ``"funsor"`` backend of Pyro is not provided (it would need the ``funsor`` package).

    Args:
        model: the model; every latent site's batch shape must be what its plates give it.
        init_loc_fn: init strategy for the locations (default :func:`init_to_feasible`).
        init_scale: initial value of every scale, a positive float (default 0.1).
        backend: ``"dense"`` (the default, also for ``None``) or ``"funsor"``.
    """

    scale_constraint = constraints.softplus_positive
    #: The backend that ``AutoGaussian(model)`` builds.
    default_backend: str = "dense"

    def __new__(cls, *args: Any, **kwargs: Any) -> "AutoGaussian":
        if cls is AutoGaussian:
            backend = kwargs.get("backend") or cls.default_backend
            if backend == "dense":
                cls = AutoGaussianDense
            elif backend == "funsor":
                _missing_funsor()
            else:
                raise _BackendError(f"AutoGaussian: unknown backend {backend!r}; expected one "
                                    f"of {list(_BACKENDS)}")
        return super().__new__(cls)

    def __init__(self, model: Callable, *, init_loc_fn: Callable = init_to_feasible,
                 init_scale: float = 0.1, backend: Optional[str] = None) -> None:
        if backend not in (None, "dense"):
            raise _BackendError(f"{type(self).__name__}: backend must be 'dense', got "
                                f"{backend!r}")
        self.init_loc_fn = init_loc_fn
        super().__init__(model)
        self.init_loc_fn = init_loc_fn
        self._init_scale = check_init_scale(type(self).__name__, init_scale)
        self.dependencies: Dict[str, Dict[str, set]] = {}
        for kind in ("locs", "scales", "white_vecs", "prec_sqrts"):
            setattr(self, kind, ParamBank(f"{self._pyro_name}.{kind}"))


class AutoGaussianDense(AutoGaussian):
    """The dense backend of :class:`AutoGaussian`: the precision matrix is assembled whole
    (``latent_dim x latent_dim``) and factorised by Cholesky at every call.

    ``AutoGaussian(model, backend="dense")`` and ``AutoGaussianDense(model)`` are the same.
    """

    # --- the prototype ----------------------------------------------------------------------------
    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        from pyro.infer.inspect import get_dependencies

        latent = self._stochastic_sites()
        for name, site in latent:
            _check_batch_shape(name, site)
        self._layout = LatentLayout(latent)
        self.latent_dim = self._layout.size
        self._slots: Dict[str, LatentSlot] = {slot.name: slot for slot in self._layout.slots}
        with torch.no_grad(), poutine.block():
            deps = get_dependencies(self.model, args, kwargs)
        self.dependencies = deps["prior_dependencies"]
        nodes = self.prototype_trace.nodes
        self._factors: Dict[str, Tuple[List[str], torch.Tensor, int]] = {}
        for name, deps in self.dependencies.items():
            inputs = [u for u in deps if u in self._slots]
            if not inputs:
                continue
            index = torch.cat([self._positions(u, nodes[name]) for u in inputs], dim=-1)
            rank = self._event_numel(nodes[name])
            if nodes[name]["is_observed"]:
                rank = min(rank, index.shape[-1])
            self._factors[name] = (inputs, index, rank)
        # The flat (row * D + column) positions each factor's precision block adds into.
        D = self.latent_dim
        self._block_index = {
            name: (index.unsqueeze(-1) * D + index.unsqueeze(-2)).reshape(-1)
            for name, (_, index, _) in self._factors.items()}
        self._declare_params()

    @staticmethod
    def _event_numel(site: Site) -> int:
        return math.prod(site["fn"].event_shape)

    def _positions(self, u: str, factor_site: Site) -> torch.Tensor:
        """The flat positions of input ``u``'s elements, per element of the factor's plates:
        shape ``factor plates + (n,)``, where ``u``'s plates that the factor is not in are
        flattened into ``n`` with ``u``'s event."""
        slot = self._slots[u]
        u_site = slot.site
        u_dims, f_dims = _plate_dims(u_site), _plate_dims(factor_site)
        f_shape = _plates_shape(factor_site)
        L = max(len(_plates_shape(u_site)), len(f_shape))
        batch = tuple(slot.shape[:slot.batch_dim])
        # Right-align with the plates (extra leading dims are 1, see _check_batch_shape).
        batch = batch[len(batch) - L:] if len(batch) > L else (1,) * (L - len(batch)) + batch
        pos = torch.arange(slot.start, slot.stop).reshape(batch + (-1,))
        broken = [i for i in range(L) if (i - L) in u_dims and (i - L) not in f_dims]
        kept = [i for i in range(L) if i not in broken]
        pos = pos.permute(*kept, *broken, L)
        target = [1 if i in broken else batch[i] for i in range(L)]
        pos = pos.reshape(target + [-1])
        full = (1,) * (L - len(f_shape)) + f_shape
        pos = pos.expand(full + pos.shape[-1:])
        return pos.reshape(f_shape + pos.shape[-1:])

    # --- parameters -------------------------------------------------------------------------------
    def _declare_params(self) -> None:
        """Create every parameter, as ``nn.Parameter`` s of the guide shared with the store."""
        self._param_slots: Dict[Tuple[str, str], ParamSlot] = {}
        for name, slot in self._slots.items():
            init = slot.transform.inv(slot.site["value"].detach())
            self._param_slots["locs", name] = self._declare(name, init.clone(), kind="locs")
            self._param_slots["scales", name] = self._declare(
                name, torch.full_like(init, self._init_scale), self.scale_constraint,
                kind="scales")
        like = self._layout.slots[0].site["value"].detach()
        for name, (inputs, index, rank) in self._factors.items():
            self._param_slots["white_vecs", name] = self._declare(
                name, like.new_zeros(index.shape[:-1] + (rank,)), kind="white_vecs")
            # Small noise, so that no gradient starts singular; a latent factor starts as the
            # identity on its own site's elements.
            prec_sqrt = 0.01 * torch.randn(index.shape + (rank,), dtype=like.dtype,
                                           device=like.device)
            if inputs[0] == name:
                own = self._event_numel(self._slots[name].site)
                prec_sqrt[..., :own, :own] = torch.eye(own, dtype=like.dtype, device=like.device)
            self._param_slots["prec_sqrts", name] = self._declare(name, prec_sqrt,
                                                                  kind="prec_sqrts")

    def _param(self, kind: str, name: str) -> torch.Tensor:
        return _params.value(self._param_slots[kind, name])

    # --- the joint Gaussian -----------------------------------------------------------------------
    def _info_and_precision(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Sum every factor into the information vector and precision matrix of ``aux``."""
        D = self.latent_dim
        like = self._layout.slots[0].site["value"]
        info = like.new_zeros(D)
        precision = like.new_zeros(D * D)
        for name, (_, index, _) in self._factors.items():
            white, sqrt = self._param("white_vecs", name), self._param("prec_sqrts", name)
            device = white.device
            info = info.index_add(0, index.reshape(-1).to(device),
                                  (sqrt @ white.unsqueeze(-1)).reshape(-1))
            precision = precision.index_add(0, self._block_index[name].to(device),
                                            (sqrt @ sqrt.transpose(-1, -2)).reshape(-1))
        return info, precision.reshape(D, D)

    def _aux_posterior(self) -> dist.MultivariateNormal:
        info, precision = self._info_and_precision()
        cholesky = torch.linalg.cholesky(precision)
        loc = torch.cholesky_solve(info.unsqueeze(-1), cholesky).squeeze(-1)
        return dist.MultivariateNormal(loc, precision_matrix=precision)

    def _constrain(self, slot: LatentSlot, aux: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        scale = self._param("scales", slot.name)
        unconstrained = self._param("locs", slot.name) + scale * aux
        value, log_density = LatentLayout.constrain(slot, unconstrained)
        log_scale = scale.log()
        extra = log_scale.dim() - slot.batch_dim
        if extra > 0:
            log_scale = log_scale.sum(tuple(range(-extra, 0)))
        return value, log_density - log_scale

    # --- drawing ----------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Draw the whitened latent vector, then every latent site from it."""
        self._ensure_prototype(*args, **kwargs)
        aux = pyro.sample(f"_{self._pyro_name}_latent", self._aux_posterior(),
                          infer={"is_auxiliary": True})
        plates = self._create_plates(*args, **kwargs)
        result = {}
        for slot, aux_value in self._layout.unpack(aux, plate_aligned=True):
            value, log_density = self._constrain(slot, aux_value)
            with self._site_plates(slot.site, plates):
                result[slot.name] = pyro.sample(
                    slot.name, dist.Delta(value, log_density=log_density,
                                          event_dim=slot.event_dim))
        return result

    def median(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return each latent site at the guide's mean in unconstrained space, constrained.

        Returns:
            ``{name: value}`` with each site's shape.
        """
        self._ensure_prototype(*args, **kwargs)
        with torch.no_grad():
            mean = self._aux_posterior().loc
            return {slot.name: self._constrain(slot, aux)[0].detach()
                    for slot, aux in self._layout.unpack(mean)}


def _missing_funsor() -> None:
    try:
        import funsor  # noqa: F401
    except ImportError:
        raise ModuleNotFoundError(
            'AutoGaussian(..., backend="funsor") requires funsor. Try installing via: pip '
            'install funsor (this framework provides only backend="dense")', name="funsor"
        ) from None
    raise NotImplementedError(
        'AutoGaussian(..., backend="funsor") is not provided here; use backend="dense"')


__all__ = ["AutoGaussian", "AutoGaussianDense"]
