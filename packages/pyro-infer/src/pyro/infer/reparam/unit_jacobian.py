"""``UnitJacobianReparam``: draw a site in the coordinates of a volume-preserving transform."""

from __future__ import annotations

import contextlib
from typing import Any

import pyro
import pyro.distributions as dist
from pyro.poutine.plate_messenger import block_plate
from pyro.infer.arg_checks import EngineArgumentError, EngineArgumentTypeError, describe
from pyro.infer.reparam.reparam import Reparam, ReparamMessage, ReparamResult

_BATCH_ERROR = ("Cannot transform along batch dimension; try either converting a batch dimension "
                "to an event dimension, or setting experimental_allow_batch=True.")


def check_event_dim(owner: str, dim: Any) -> None:
    """Refuse a ``dim`` that is not a negative int (an ``AssertionError`` too, as in Pyro)."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise EngineArgumentTypeError(f"{owner}: dim must be a negative int, got {describe(dim)}")
    if dim >= 0:
        raise EngineArgumentError(f"{owner}: dim must be a negative int (counted from the right "
                                  f"of the site's shape), got {dim}")


class UnitJacobianReparam(Reparam):
    """Draw ``y = transform(x)`` at ``<name>_<suffix>`` and set ``x = transform.inv(y)``.

    ``transform`` must be bijective with unit Jacobian determinant (an orthogonal map such as
    the discrete cosine or Haar transform), so the density of ``y`` is that of ``x`` at
    ``transform.inv(y)``.

    Args:
        transform: the volume-preserving transform.
        suffix: the auxiliary site's name is ``<name>_<suffix>``.
        experimental_allow_batch: let the transform act along batch (plate) dims of the site,
            by treating them as event dims of the auxiliary site (which then has size-1 batch
            dims in their place).
    """

    def __init__(self, transform: Any, suffix: str = "transformed", *,
                 experimental_allow_batch: bool = False) -> None:
        self.transform = transform.with_cache() if hasattr(transform, "with_cache") else transform
        self.suffix = suffix
        self.experimental_allow_batch = experimental_allow_batch

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Replace ``msg``'s site by ``<name>_<suffix>`` and a deterministic ``x``."""
        name, fn, value = msg["name"], msg["fn"], msg["value"]
        event_dim = len(fn.event_shape)
        needed = self.transform.domain.event_dim
        moved = needed - event_dim
        if moved > 0:
            if not self.experimental_allow_batch:
                raise ValueError(
                    f"{_BATCH_ERROR} ({type(self).__name__} at sample site '{name}' transforms "
                    f"the {needed} rightmost dims, but the site's event shape is "
                    f"{tuple(fn.event_shape)} within shape {tuple(fn.shape())})")
            batch_shape = fn.batch_shape
            if len(batch_shape) > moved and any(s != 1 for s in batch_shape[:-moved]):
                raise ValueError(
                    f"UnitJacobianReparam at sample site '{name}': with "
                    f"experimental_allow_batch, only the transformed batch dims may exceed size "
                    f"1; batch shape {tuple(batch_shape)}")
            fn = fn.to_event(moved)
            aux = dist.TransformedDistribution(fn, [self.transform])
            aux = aux.expand((1,) * moved + tuple(aux.batch_shape))
        else:
            aux = dist.TransformedDistribution(fn, [self.transform])
            if len(aux.event_shape) < event_dim:
                aux = aux.to_event(event_dim - len(aux.event_shape))
        aux_name = f"{name}_{self.suffix}"
        obs = None
        if value is not None:
            obs = self.transform(value)
            if moved > 0:
                obs = obs.reshape(obs.shape[:obs.dim() - len(fn.event_shape)] + (1,) * moved
                                  + fn.event_shape)
        with contextlib.ExitStack() as stack:
            # The plates of the dims the transform mixes must not broadcast the auxiliary site.
            for dim in range(-1 - event_dim, -1 - event_dim - max(moved, 0), -1):
                stack.enter_context(block_plate(dim=dim, strict=False))
            y = pyro.sample(aux_name, aux, obs=obs)
        if moved > 0:
            y = y.reshape(y.shape[:y.dim() - len(fn.event_shape) - moved] + fn.event_shape)
        x = self.transform.inv(y)
        return {"fn": dist.Delta(x, event_dim=event_dim), "value": x, "is_observed": True}
