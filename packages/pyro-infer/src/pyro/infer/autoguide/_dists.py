"""The few distributions and bijections the autoguides need.

They come from ``pyro.distributions`` when it provides them; otherwise ``torch.distributions``
stands in, so the guides also work while pyro-distributions is being installed or replaced.
"""

from __future__ import annotations

from typing import Any

import torch


def _pyro_dist(name: str) -> Any:
    try:
        import pyro.distributions as dist

        return getattr(dist, name)
    except (ImportError, AttributeError):
        return None


def normal(loc: torch.Tensor, scale: torch.Tensor, event_dim: int) -> Any:
    """``Normal(loc, scale)`` with its ``event_dim`` rightmost dims declared an event."""
    cls = _pyro_dist("Normal")
    if cls is not None:
        d = cls(loc, scale)
        return d.to_event(event_dim) if event_dim else d
    d = torch.distributions.Normal(loc, scale)
    return torch.distributions.Independent(d, event_dim) if event_dim else d


def delta(value: torch.Tensor, log_density: Any = 0.0, event_dim: int = 0) -> Any:
    """A point mass at ``value`` carrying ``log_density``."""
    cls = _pyro_dist("Delta")
    if cls is not None:
        return cls(value, log_density=log_density, event_dim=event_dim)
    return _Delta(value, log_density, event_dim)


def biject_to(constraint: Any) -> Any:
    """The bijection from the reals onto ``constraint`` (pyro-distributions' registry first)."""
    fn = _pyro_dist("biject_to")
    if fn is None:
        try:
            from pyro.distributions.transforms import biject_to as fn  # type: ignore
        except ImportError:
            fn = torch.distributions.biject_to
    return fn(constraint)


def transform_to(constraint: Any) -> Any:
    """A transform from the reals onto ``constraint`` (pyro-distributions' registry first)."""
    fn = _pyro_dist("transform_to")
    if fn is None:
        try:
            from pyro.distributions.transforms import transform_to as fn  # type: ignore
        except ImportError:
            fn = torch.distributions.transform_to
    return fn(constraint)


def event_dim_of(fn: Any) -> int:
    """Number of event dims of a distribution."""
    return len(getattr(fn, "event_shape", ()))


class _Delta(torch.distributions.Distribution):
    """Stand-in point mass used only when pyro-distributions has no ``Delta``."""

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(self, v: torch.Tensor, log_density: Any = 0.0, event_dim: int = 0) -> None:
        split = v.dim() - event_dim
        batch_shape = v.shape[:split]
        self.v = v
        self.event_dim = event_dim
        self.log_density = torch.as_tensor(log_density, dtype=v.dtype, device=v.device).expand(
            batch_shape)
        super().__init__(batch_shape, v.shape[split:], validate_args=False)

    def expand(self, batch_shape: Any, _instance: Any = None) -> "_Delta":
        shape = torch.Size(batch_shape) + self.event_shape
        return _Delta(self.v.expand(shape), self.log_density.expand(batch_shape), self.event_dim)

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self.v.expand(torch.Size(sample_shape) + self.v.shape)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        eq = (x == self.v)
        if self.event_dim:
            eq = eq.flatten(-self.event_dim).all(-1)
        return torch.where(eq, self.log_density, torch.full_like(self.log_density, -float("inf")))
