"""``NeuTraReparam``: run a model in the base coordinates of a fitted ``AutoContinuous`` guide."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import torch

import pyro
import pyro.distributions as dist
from pyro.infer.reparam.reparam import Reparam, ReparamMessage, ReparamResult


class _PulledBack(dist.TorchDistribution):
    """The shared latent's distribution: draws from the guide's base distribution; its
    log-density is ``log |det d transform(z) / dz|``, the Jacobian of the guide's transform."""

    arg_constraints: Dict[str, Any] = {}

    def __init__(self, base: Any, transform: Any) -> None:
        self.base = base
        self.transform = transform
        super().__init__(base.batch_shape, base.event_shape, validate_args=False)

    @property
    def support(self) -> Any:
        return self.base.support

    @property
    def has_rsample(self) -> bool:
        return self.base.has_rsample

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self.base.sample(sample_shape)

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self.base.rsample(sample_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self.transform.log_abs_det_jacobian(value, self.transform(value))


class NeuTraReparam(Reparam):
    """Neural transport: draw the guide's latent sites as the image of one shared base draw.

    With a fitted :class:`~pyro.infer.autoguide.AutoContinuous` guide ``q = T(base)``, the
    model's latent sites are written as ``x = T(z)`` for a single site
    ``<first site>_shared_latent`` holding ``z``. The joint density of the reparameterized model
    at ``z`` is the model's density at ``T(z)`` times ``|det dT/dz|``, which is close to the
    base density when ``q`` fits the posterior well: MCMC in ``z`` then sees a nearly standard
    geometry. Use :meth:`reparam` to wrap the model and :meth:`transform_sample` to map draws of
    ``z`` back to the model's sites.

    Args:
        guide: a fitted ``AutoContinuous`` guide of the same model.
    """

    def __init__(self, guide: Any) -> None:
        from pyro.infer.autoguide import AutoContinuous

        if not isinstance(guide, AutoContinuous):
            raise TypeError(
                f"NeuTraReparam expected an AutoContinuous guide, but got {type(guide)}")
        self.guide = guide
        self._pending: Dict[str, Any] = {}

    def _reparam_config(self, msg: Dict[str, Any]) -> Optional["NeuTraReparam"]:
        layout = self.guide._ready()
        if not msg["is_observed"] and any(slot.name == msg["name"] for slot in layout.slots):
            return self
        return None

    def reparam(self, fn: Optional[Callable] = None) -> Any:
        """Return ``fn`` (or, without it, a handler) with the guide's latent sites reparameterized."""
        from pyro.infer.reparam.handler import reparam

        return reparam(fn, config=self._reparam_config)

    def _constrained(self, z: torch.Tensor, args: tuple, kwargs: dict,
                     plate_aligned: bool) -> Dict[str, Any]:
        from pyro.infer.autoguide.layout import LatentLayout

        layout = self.guide._ready()
        latent = self.guide.get_transform(*args, **kwargs)(z)
        out = {}
        for slot, unconstrained in layout.unpack(latent, plate_aligned=plate_aligned):
            value, log_density = LatentLayout.constrain(slot, unconstrained)
            out[slot.name] = (value, -log_density)
        return out

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Give the site its value from the shared latent, with the model's density there."""
        name, fn = msg["name"], msg["fn"]
        if msg["is_observed"]:
            raise NotImplementedError(
                f"NeuTraReparam does not support observe statements (at sample site '{name}')")
        args, kwargs = self.args_kwargs or ((), {})
        # A run starts at the guide's first site (or when the last run used every site): a run
        # abandoned half-way leaves nothing behind for the next one.
        if not self._pending or name == self.guide._ready().slots[0].name:
            transform = self.guide.get_transform(*args, **kwargs)
            shared = _PulledBack(self.guide.get_base_dist(), transform)
            z = pyro.sample(f"{name}_shared_latent", shared)
            self._pending = self._constrained(z, args, kwargs, plate_aligned=True)
        if name not in self._pending:
            raise ValueError(f"NeuTraReparam: sample site '{name}' is not a latent site of the "
                             f"guide, or was drawn twice in one run")
        value, log_jacobian = self._pending.pop(name)
        log_density = fn.log_prob(value) + log_jacobian
        delta = dist.Delta(value, log_density=log_density, event_dim=len(fn.event_shape))
        return {"fn": delta, "value": value, "is_observed": True}

    def transform_sample(self, latent: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Map draws ``latent`` of the shared latent (shape ``(..., latent_dim)``, e.g. MCMC
        samples) to the model's latent sites; return ``{site name: value}``, each value of shape
        ``latent.shape[:-1] + site shape``."""
        return {name: value for name, (value, _) in self._constrained(latent, (), {}, plate_aligned=False).items()}
