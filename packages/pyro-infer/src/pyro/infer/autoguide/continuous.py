"""Guides that draw all of a model's latent sites as one flat unconstrained vector.

:class:`AutoContinuous` owns the vector's layout (:class:`~.layout.LatentLayout`), draws it at
the auxiliary site ``_<GuideName>_latent``, and hands each latent site its slice through a
``Delta`` that carries the log-Jacobian of ``biject_to(support)``. Subclasses only say which
distribution the vector has: a diagonal Normal, a full-rank or a low-rank multivariate Normal
here, normalising flows in pyro-nn.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple

import torch
from pyro.distributions import constraints

import pyro
import pyro.distributions as dist
from pyro.infer.arg_checks import EngineArgumentTypeError, describe
from pyro.infer.autoguide.guides import AutoGuide, check_init_scale, check_quantile_levels
from pyro.infer.autoguide.initialization import init_to_median
from pyro.infer.autoguide.layout import LatentLayout

Site = Dict[str, Any]


class AutoContinuous(AutoGuide):
    """Base class of guides whose latent sites are one vector in unconstrained space.

    The first call runs the model once (sites initialised by ``init_loc_fn``) and lays its latent
    sites out in a flat vector of ``latent_dim`` elements. Every call draws that vector from
    :meth:`get_posterior` at the auxiliary site ``_<GuideName>_latent`` (outside all plates),
    cuts it into the sites' unconstrained values, maps each onto its support with
    ``biject_to`` and samples the site as a ``Delta`` inside its plates, with the transform's
    log-Jacobian as the ``Delta``'s log-density.

    Subclasses implement :meth:`get_posterior` (or :meth:`get_base_dist` and
    :meth:`get_transform`), and :meth:`_loc_scale` for :meth:`median` and :meth:`quantiles`.

    Args:
        model: the model.
        init_loc_fn: init strategy for the latent sites (default :func:`init_to_median`).
    """

    def __init__(self, model: Callable, init_loc_fn: Callable = init_to_median) -> None:
        self.init_loc_fn = init_loc_fn
        super().__init__(model)
        self.init_loc_fn = init_loc_fn
        self._layout: Optional[LatentLayout] = None

    # --- the prototype and the layout ----------------------------------------------------------
    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        layout = LatentLayout(self._stochastic_sites())
        if len(layout) == 0:
            raise RuntimeError(
                f"{self._pyro_name} found no latent variables; Use an empty guide instead")
        self._layout = layout
        self.latent_dim = layout.size

    def _init_loc(self) -> torch.Tensor:
        """The flat unconstrained vector of the prototype's initial values."""
        values = {slot.name: slot.site["value"].detach() for slot in self._layout.slots}
        return self._layout.pack(values)

    def _ready(self) -> LatentLayout:
        if self._layout is None:
            raise AttributeError(
                f"{self._pyro_name} has not seen the model yet; call the guide (or "
                f"guide.median()) with the model's arguments first")
        return self._layout

    def _create_plates(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        plates = {}
        for name, frame in sorted(self._prototype_frames.items()):
            full = frame.full_size or frame.size
            subsample_size = frame.size if full != frame.size else None
            plates[name] = pyro.plate(name, full, subsample_size=subsample_size, dim=frame.dim)
        self.plates = plates
        return plates

    # --- what a subclass provides ----------------------------------------------------------------
    def get_base_dist(self) -> dist.Distribution:
        """Return the base distribution of the latent vector, before :meth:`get_transform`."""
        raise NotImplementedError

    def get_transform(self, *args: Any, **kwargs: Any) -> Any:
        """Return the transform from :meth:`get_base_dist` to the posterior of the latent vector."""
        raise NotImplementedError

    def get_posterior(self, *args: Any, **kwargs: Any) -> dist.Distribution:
        """Return the distribution of the flat latent vector (``event_shape == (latent_dim,)``)."""
        return dist.TransformedDistribution(self.get_base_dist(),
                                            self.get_transform(*args, **kwargs))

    def _loc_scale(self, *args: Any, **kwargs: Any) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return the latent vector's location and the standard deviation of each element."""
        raise NotImplementedError(f"{self._pyro_name} has no location/scale summary")

    # --- drawing ----------------------------------------------------------------------------------
    def sample_latent(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Draw the flat latent vector from the posterior at the site ``_<GuideName>_latent``."""
        posterior = self.get_posterior(*args, **kwargs)
        return pyro.sample(f"_{self._pyro_name}_latent", posterior,
                           infer={"is_auxiliary": True})

    def _unpack_latent(self, latent: torch.Tensor) -> Iterator[Tuple[Site, torch.Tensor]]:
        """Yield ``(site, unconstrained value)`` for each latent site, cut from ``latent``.

        ``latent`` has shape ``(..., latent_dim)``; leading dims stay leading.
        """
        for slot, unconstrained in self._ready().unpack(latent):
            yield slot.site, unconstrained

    def forward(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Draw the latent vector and sample every latent site from it; return ``{name: value}``."""
        self._ensure_prototype(*args, **kwargs)
        latent = self.sample_latent(*args, **kwargs)
        plates = self._create_plates(*args, **kwargs)
        result = {}
        for slot, unconstrained in self._layout.unpack(latent, plate_aligned=True):
            value, log_density = LatentLayout.constrain(slot, unconstrained)
            with contextlib.ExitStack() as stack:
                for frame in slot.site["cond_indep_stack"]:
                    stack.enter_context(plates[frame.name])
                result[slot.name] = pyro.sample(
                    slot.name, dist.Delta(value, log_density=log_density, event_dim=slot.event_dim))
        return result

    # --- summaries ------------------------------------------------------------------------------
    def median(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return each latent site's posterior median: the image of the latent location.

        Returns:
            ``{name: value}`` in constrained space.
        """
        self._ensure_prototype(*args, **kwargs)
        with torch.no_grad():
            loc, _ = self._loc_scale(*args, **kwargs)
            return {slot.name: slot.transform(value).detach()
                    for slot, value in self._layout.unpack(loc)}

    def quantiles(self, quantiles: Sequence[float], *args: Any,
                  **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return quantiles of each latent site under the Normal with :meth:`_loc_scale`'s moments.

        Each element of the latent vector is given its Normal marginal's quantile, then mapped
        onto the site's support (exact for elementwise transforms such as ``exp``).

        Args:
            quantiles: levels in (0, 1).

        Returns:
            ``{name: tensor}`` with a leading dim of size ``len(quantiles)``.
        """
        quantiles = check_quantile_levels(f"{self._pyro_name}.quantiles", quantiles)
        self._ensure_prototype(*args, **kwargs)
        with torch.no_grad():
            loc, scale = self._loc_scale(*args, **kwargs)
            q = torch.as_tensor(quantiles, dtype=loc.dtype, device=loc.device).reshape(-1)
            latent = torch.distributions.Normal(loc, scale).icdf(q.unsqueeze(-1))
            return {slot.name: slot.transform(value).detach()
                    for slot, value in self._layout.unpack(latent)}


class _AutoLocScale(AutoContinuous):
    """What the Normal-family guides share: ``init_scale``, the ``loc`` and ``scale`` params."""

    scale_constraint = constraints.softplus_positive

    def __init__(self, model: Callable, init_loc_fn: Callable = init_to_median,
                 init_scale: float = 0.1) -> None:
        self._init_scale = check_init_scale(type(self).__name__, init_scale)
        super().__init__(model, init_loc_fn=init_loc_fn)

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self._loc_init = self._init_loc()
        self._declare_params()

    def _scale_init(self) -> float:
        return self._init_scale

    def _declare_params(self) -> None:
        """Create the guide's parameters (once the latent layout is known)."""
        self._declare("loc", self._loc_init.clone(), suffix=False)
        self._declare("scale", torch.full_like(self._loc_init, self._scale_init()),
                      self.scale_constraint)

    @property
    def loc(self) -> torch.Tensor:
        """The location of the latent vector (unconstrained space)."""
        self._ready()
        return self._site_value("loc")

    @property
    def scale(self) -> torch.Tensor:
        """The scale of each element of the latent vector."""
        self._ready()
        return self._site_value("scale")

    def get_base_dist(self) -> dist.Distribution:
        """Return a standard Normal over the latent vector."""
        loc = self._loc_init
        return dist.Normal(torch.zeros_like(loc), torch.ones_like(loc)).to_event(1)


class AutoDiagonalNormal(_AutoLocScale):
    """A Normal guide with a diagonal covariance over the unconstrained latent vector.

    Parameters: ``AutoDiagonalNormal.loc`` (``(latent_dim,)``, initialised at the unconstrained
    initial values) and ``AutoDiagonalNormal.scale`` (``(latent_dim,)``, positive through
    softplus, initialised at ``init_scale``); also readable as ``guide.loc`` and
    ``guide.scale`` after the first call, and the guide's ``nn.Parameter`` s ``loc`` and
    ``scale_unconstrained``.

    Args:
        model: the model.
        init_loc_fn: init strategy (default :func:`init_to_median`).
        init_scale: initial scale of every element, a positive float (default 0.1).

    Example::

        guide = AutoDiagonalNormal(model)
        svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO())
    """

    def __init__(self, model: Callable, init_loc_fn: Callable = init_to_median,
                 init_scale: float = 0.1) -> None:
        super().__init__(model, init_loc_fn=init_loc_fn, init_scale=init_scale)

    def get_transform(self, *args: Any, **kwargs: Any) -> Any:
        """Return the elementwise affine map ``loc + scale * z``."""
        return dist.transforms.AffineTransform(self.loc, self.scale)

    def get_posterior(self, *args: Any, **kwargs: Any) -> dist.Distribution:
        """Return ``Normal(loc, scale).to_event(1)``."""
        return dist.Normal(self.loc, self.scale).to_event(1)

    def _loc_scale(self, *args: Any, **kwargs: Any) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.loc, self.scale


class AutoMultivariateNormal(_AutoLocScale):
    """A full-rank multivariate Normal guide over the unconstrained latent vector.

    The covariance is ``diag(scale) @ scale_tril @ scale_tril.T @ diag(scale)`` with
    parameters ``AutoMultivariateNormal.loc``, ``.scale`` (positive, initialised at
    ``init_scale``) and ``.scale_tril`` (lower triangular with a unit diagonal, initialised at
    the identity).

    Args:
        model: the model.
        init_loc_fn: init strategy (default :func:`init_to_median`).
        init_scale: initial scale of every element, a positive float (default 0.1).
    """

    scale_tril_constraint = constraints.unit_lower_cholesky

    def _declare_params(self) -> None:
        super()._declare_params()
        loc = self._loc_init
        self._declare("scale_tril",
                      torch.eye(loc.shape[-1], dtype=loc.dtype, device=loc.device),
                      self.scale_tril_constraint)

    @property
    def scale_tril(self) -> torch.Tensor:
        """The unit lower-triangular factor of the latent vector's correlation structure."""
        self._ready()
        return self._site_value("scale_tril")

    def _full_scale_tril(self) -> torch.Tensor:
        return self.scale.unsqueeze(-1) * self.scale_tril

    def get_transform(self, *args: Any, **kwargs: Any) -> Any:
        """Return the map ``loc + (diag(scale) @ scale_tril) @ z``."""
        return dist.transforms.LowerCholeskyAffine(self.loc, self._full_scale_tril())

    def get_posterior(self, *args: Any, **kwargs: Any) -> dist.Distribution:
        """Return ``MultivariateNormal(loc, scale_tril=diag(scale) @ scale_tril)``."""
        # Params read in Pyro's order (scale, scale_tril, loc): the guide trace's order.
        scale_tril = self._full_scale_tril()
        return dist.MultivariateNormal(self.loc, scale_tril=scale_tril)

    def _loc_scale(self, *args: Any, **kwargs: Any) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.loc, self.scale * self.scale_tril.pow(2).sum(-1).sqrt()


class AutoLowRankMultivariateNormal(_AutoLocScale):
    """A multivariate Normal guide whose covariance is low rank plus diagonal.

    The covariance is ``diag(scale) @ (cov_factor @ cov_factor.T + I) @ diag(scale)`` with
    parameters ``AutoLowRankMultivariateNormal.loc``, ``.scale`` (positive, initialised at
    ``init_scale / sqrt(2)``) and ``.cov_factor`` (``(latent_dim, rank)``, initialised at
    Normal draws of variance ``1 / rank``), so each element starts with a standard deviation
    of about ``init_scale``.

    Args:
        model: the model.
        init_loc_fn: init strategy (default :func:`init_to_median`).
        init_scale: approximate initial standard deviation, a positive float (default 0.1).
        rank: the rank of ``cov_factor``, a positive int; default ``round(sqrt(latent_dim))``.
    """

    def __init__(self, model: Callable, init_loc_fn: Callable = init_to_median,
                 init_scale: float = 0.1, rank: Optional[int] = None) -> None:
        if rank is not None:
            if isinstance(rank, bool) or not isinstance(rank, int):
                raise EngineArgumentTypeError(
                    f"{type(self).__name__}: Expected rank > 0 but got {describe(rank)}; rank "
                    f"must be a positive int or None")
            if rank <= 0:
                raise ValueError(f"{type(self).__name__}: Expected rank > 0 but got {rank}")
        self.rank = rank
        super().__init__(model, init_loc_fn=init_loc_fn, init_scale=init_scale)

    def _scale_init(self) -> float:
        return self._init_scale * 0.5 ** 0.5

    def _declare_params(self) -> None:
        if self.rank is None:
            self.rank = max(1, int(round(self.latent_dim ** 0.5)))
        super()._declare_params()
        loc = self._loc_init
        self._declare("cov_factor",
                      loc.new_empty(loc.shape[-1], self.rank).normal_(0.0, self.rank ** -0.5),
                      suffix=False)

    @property
    def scale(self) -> torch.Tensor:
        """The per-element scale of the latent vector (the square root of the diagonal part)."""
        self._ready()
        return self._site_value("scale")

    @property
    def cov_factor(self) -> torch.Tensor:
        """The ``(latent_dim, rank)`` factor of the covariance's low-rank part."""
        self._ready()
        return self._site_value("cov_factor")

    def get_transform(self, *args: Any, **kwargs: Any) -> Any:
        """Not defined for this guide (as in Pyro); use :meth:`get_posterior`."""
        raise NotImplementedError

    def get_base_dist(self) -> dist.Distribution:
        """Not defined for this guide (as in Pyro); use :meth:`get_posterior`."""
        raise NotImplementedError

    def get_posterior(self, *args: Any, **kwargs: Any) -> dist.Distribution:
        """Return ``LowRankMultivariateNormal(loc, scale[:, None] * cov_factor, scale**2)``."""
        # Params read in Pyro's order (scale, cov_factor, loc): the guide trace's order.
        scale = self.scale
        cov_factor = scale.unsqueeze(-1) * self.cov_factor
        return dist.LowRankMultivariateNormal(self.loc, cov_factor, scale * scale)

    def _loc_scale(self, *args: Any, **kwargs: Any) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.loc, self.scale * (1 + self.cov_factor.pow(2).sum(-1)).sqrt()


__all__ = [
    "AutoContinuous",
    "AutoDiagonalNormal",
    "AutoLowRankMultivariateNormal",
    "AutoMultivariateNormal",
]
