"""``StructuredReparam``: run a model in the noise coordinates of a fitted ``AutoStructured``."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional

import torch

import pyro.distributions as dist
from pyro import poutine
from pyro.infer.reparam.reparam import Reparam, ReparamMessage, ReparamResult


class StructuredReparam(Reparam):
    """Precondition a model with a fitted :class:`~pyro.infer.autoguide.AutoStructured` guide.

    The reparameterized model draws the guide's auxiliary noise sites (``<name>_aux``, and
    those of callable conditionals) and sets every latent site to the guide's transform of
    them, so MCMC (HMC, NUTS) moves in the guide's whitened coordinates. The joint density is
    the model's at the transformed values times the transform's Jacobian: the noise sites carry
    no density of their own, so the model's distribution of its latent sites is unchanged
    (an exact change of variables). Sites with ``"delta"`` conditionals are the exception: they
    are fixed at the guide's point estimate, which conditions the model on it.

    Only latent sites are reparameterized (an observed site raises ``NotImplementedError``);
    every latent site of the guide must go through this one instance and the model's structure
    must be static. Use :meth:`reparam` to wrap the model and :meth:`transform_samples` to map
    noise draws (e.g. MCMC samples) back to the model's sites.

    Pyro 1.9 gives the sites the model's density *divided* by the Jacobian and keeps the
    standard Normal density of the noise sites, which changes the model's distribution (a
    ``z ~ Normal(0, 1)`` model sampled through a guide of scale 0.1 gets variance 0.01); here
    the change of variables is exact.

    Args:
        guide: a fitted ``AutoStructured`` guide of the same model.

    Example::

        guide = AutoStructured(model)
        ...  # fit it with SVI
        reparam_model = StructuredReparam(guide).reparam(model)
        mcmc = MCMC(NUTS(reparam_model), num_samples=500)
    """

    def __init__(self, guide: Any) -> None:
        from pyro.infer.autoguide.structured import AutoStructured

        if not isinstance(guide, AutoStructured):
            raise TypeError(
                f"StructuredReparam expected an AutoStructured guide, but got {type(guide)}")
        self.guide = guide
        self.deltas: Dict[str, Any] = {}

    def _latent_names(self) -> list:
        if self.guide.prototype_trace is None:
            raise RuntimeError("StructuredReparam: the guide has not seen the model yet; fit it "
                               "(or call it once with the model's arguments) first")
        return list(self.guide._sites)

    def _reparam_config(self, msg: Dict[str, Any]) -> Optional["StructuredReparam"]:
        if msg["name"] in self.guide._sites:
            return self
        return None

    def reparam(self, fn: Optional[Callable] = None) -> Any:
        """Return ``fn`` (or, without it, a handler) with the guide's latent sites
        reparameterized."""
        from pyro.infer.reparam.handler import reparam

        self._latent_names()
        return reparam(fn, config=self._reparam_config)

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Give the site its value from the guide's noise, with the model's density there."""
        name, fn = msg["name"], msg["fn"]
        if msg["is_observed"]:
            raise NotImplementedError(
                f"At pyro.sample({name!r},...), StructuredReparam does not support observe "
                f"statements")
        # A run starts at the guide's first site (or when the last run used every site), so a
        # run abandoned half-way leaves nothing behind for the next one.
        if not self.deltas or name == self._latent_names()[0]:
            with poutine.mask(mask=False):
                self.deltas = self.guide.get_deltas()
        if name not in self.deltas:
            raise ValueError(f"StructuredReparam: sample site '{name}' is not a latent site of "
                             f"the guide, or was drawn twice in one run")
        delta = self.deltas.pop(name)
        value = delta.v
        # The guide's Delta carries -log|d value / d noise|; the model needs +log|...|.
        log_density = fn.log_prob(value) - delta.log_density
        new_fn = dist.Delta(value, log_density=log_density, event_dim=len(fn.event_shape))
        return {"fn": new_fn, "value": value, "is_observed": True}

    def transform_samples(self, aux_samples: Dict[str, torch.Tensor],
                          save_params: Optional[Iterable[str]] = None
                          ) -> Dict[str, torch.Tensor]:
        """Map draws of the noise sites to the model's latent sites.

        Args:
            aux_samples: ``{noise site name: tensor}``, e.g. MCMC samples, with any leading
                batch dims (left of the model's plates). With ``save_params``, only the noise
                sites those sites need.
            save_params: if given, only these latent sites are computed and returned.

        Returns:
            ``{latent site name: tensor}``.
        """
        self._latent_names()
        with poutine.block(), poutine.condition(data=aux_samples):
            deltas = self.guide.get_deltas(save_params)
        if save_params is not None:
            keep = set(save_params)
            deltas = {name: d for name, d in deltas.items() if name in keep}
        return {name: d.v for name, d in deltas.items()}


__all__ = ["StructuredReparam"]
