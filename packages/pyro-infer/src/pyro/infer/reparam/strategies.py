"""Reparameterization strategies: configs that choose a reparameterizer for each site."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, Optional, Union

import torch

import pyro.distributions as dist
from pyro.distributions import constraints
from pyro.infer.reparam.loc_scale import LocScaleReparam
from pyro.infer.reparam.projected_normal import ProjectedNormalReparam
from pyro.infer.reparam.reparam import Reparam
from pyro.infer.reparam.softmax import GumbelSoftmaxReparam
from pyro.infer.reparam.stable import LatentStableReparam, StableReparam, SymmetricStableReparam
from pyro.infer.reparam.transform import TransformReparam


def _unwrap(fn: Any) -> Any:
    while isinstance(fn, (torch.distributions.Independent, dist.MaskedDistribution)):
        fn = fn.base_dist
    return fn


def _is_real(fn: Any) -> bool:
    support = fn.support
    while isinstance(support, constraints.independent):
        support = support.base_constraint
    return support is constraints.real


def _stable_choice(fn: Any, is_observed: bool) -> Optional[Reparam]:
    """The reparameterizer of a ``Stable`` site (its density is an integral), as Pyro picks it:
    latent -> LatentStable, observed -> SymmetricStable when every skew is zero, else Stable.
    ``StableWithLogProb`` sites keep their numerical density."""
    if not isinstance(fn, dist.Stable) or isinstance(fn, dist.StableWithLogProb):
        return None
    if not is_observed:
        return LatentStableReparam()
    return SymmetricStableReparam() if bool((fn.skew == 0).all()) else StableReparam()


class Strategy(ABC):
    """A callable ``poutine.reparam`` config that picks a reparameterizer per site.

    The choice for each site is made once, by :meth:`configure`, and kept in ``self.config``
    (site name -> Reparam or None). Calling the strategy on a message returns the choice;
    calling it on a model returns the model wrapped in ``poutine.reparam`` with this config.
    """

    def __init__(self) -> None:
        self.config: Dict[str, Optional[Reparam]] = {}

    @abstractmethod
    def configure(self, msg: dict) -> Optional[Reparam]:
        """Return the reparameterizer for the site ``msg`` (``None`` to leave it alone)."""
        raise NotImplementedError

    def __call__(self, msg_or_fn: Union[dict, Callable]) -> Any:
        """Reparameterizer of a site message, or a model wrapped with this strategy."""
        if isinstance(msg_or_fn, dict):
            name = msg_or_fn["name"]
            if name not in self.config:
                self.config[name] = self.configure(msg_or_fn)
            return self.config[name]
        from pyro.infer.reparam.handler import reparam

        return reparam(msg_or_fn, config=self)


class MinimalReparam(Strategy):
    """Reparameterize only the sites inference cannot handle as they are: ``Stable`` sites
    (latent or observed, see :func:`_stable_choice`) and latent ``ProjectedNormal`` sites
    (through :class:`ProjectedNormalReparam`)."""

    def configure(self, msg: dict) -> Optional[Reparam]:
        """The reparameterizer for a Stable or latent projected-normal site, else ``None``."""
        fn = _unwrap(msg["fn"])
        stable = _stable_choice(fn, msg["is_observed"])
        if stable is not None:
            return stable
        if isinstance(fn, dist.ProjectedNormal) and not msg["is_observed"]:
            return ProjectedNormalReparam()
        return None


class AutoReparam(Strategy):
    """Reparameterize every latent site that has a generic reparameterizer.

    ``RelaxedOneHotCategorical`` gets :class:`GumbelSoftmaxReparam`, ``ProjectedNormal``
    :class:`ProjectedNormalReparam`, ``TransformedDistribution`` (and ``LogNormal``)
    :class:`TransformReparam`, and real-valued location-scale families (with ``loc`` and
    ``scale`` parameters)
    :class:`LocScaleReparam` with the given centering, their other parameters as shape
    parameters. Observed ``Stable`` sites get the stable reparameterizers Pyro picks; other
    observed sites, and sites named ``*_decentered`` (taken for those a LocScaleReparam drew),
    are left alone.

    Args:
        centered: the centering of every :class:`LocScaleReparam`; ``None`` learns each.
    """

    def __init__(self, *, centered: Optional[float] = None) -> None:
        super().__init__()
        self.centered = centered

    def configure(self, msg: dict) -> Optional[Reparam]:
        """Pick the reparameterizer for one site (see the class docs)."""
        if msg["is_observed"]:
            return _stable_choice(_unwrap(msg["fn"]), True)
        fn = _unwrap(msg["fn"])
        if isinstance(fn, torch.distributions.RelaxedOneHotCategorical):
            return GumbelSoftmaxReparam()
        if isinstance(fn, dist.ProjectedNormal):
            return ProjectedNormalReparam()
        if isinstance(fn, (dist.TransformedDistribution, torch.distributions.LogNormal)):
            return TransformReparam()
        params = getattr(fn, "arg_constraints", {})
        # A site named ``*_decentered`` is taken for one that LocScaleReparam made.
        if ("loc" in params and "scale" in params and _is_real(fn)
                and not msg["name"].endswith("_decentered")):
            shape_params = sorted(set(params) - {"loc", "scale"})
            return LocScaleReparam(centered=self.centered, shape_params=shape_params)
        return None
