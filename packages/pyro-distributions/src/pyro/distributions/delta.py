"""``Delta``: a point mass, optionally carrying a log-density."""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import torch
from torch.distributions import constraints

from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.util import sum_rightmost


class Delta(TorchDistribution):
    """A point mass at ``v``.

    Args:
        v: the location of the mass; its ``event_dim`` rightmost dims are the event.
        log_density: a log-density added to ``log_prob`` at ``v`` (e.g. the log-Jacobian of a
            transform that produced ``v``); a number or a tensor of the batch shape.
        event_dim: how many rightmost dims of ``v`` form one event.

    ``log_prob(x)`` is ``log_density`` where ``x == v`` (over the whole event) and ``-inf``
    elsewhere. Samples are ``v`` itself, so gradients flow to ``v`` (``has_rsample`` is True).
    """

    has_rsample = True
    arg_constraints = {"v": constraints.dependent(is_discrete=False, event_dim=0),
                       "log_density": constraints.real}

    def __init__(self, v: torch.Tensor, log_density: Any = 0.0, event_dim: int = 0,
                 validate_args: Any = None) -> None:
        if not isinstance(v, torch.Tensor):
            v = torch.as_tensor(v, dtype=torch.get_default_dtype())
        if not 0 <= event_dim <= v.dim():
            raise ValueError(
                f"Delta: event_dim={event_dim} must be in 0..{v.dim()} for v of shape "
                f"{tuple(v.shape)}"
            )
        split = v.dim() - event_dim
        batch_shape, event_shape = v.shape[:split], v.shape[split:]
        if isinstance(log_density, numbers.Number):
            log_density = torch.full(batch_shape, float(log_density), dtype=v.dtype, device=v.device)
        elif log_density.shape != batch_shape:
            try:
                log_density = log_density.expand(batch_shape)
            except RuntimeError:
                raise ValueError(
                    f"Delta: log_density of shape {tuple(log_density.shape)} does not match the "
                    f"batch shape {tuple(batch_shape)} of v (shape {tuple(v.shape)}, "
                    f"event_dim={event_dim})"
                ) from None
        self.v = v
        self.log_density = log_density
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @constraints.dependent_property
    def support(self) -> Any:
        return constraints.independent(constraints.real, self.event_dim)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "Delta":
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(Delta, _instance)
        new.v = self.v.expand(batch_shape + self.event_shape)
        new.log_density = self.log_density.expand(batch_shape)
        TorchDistribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self.v.expand(torch.Size(sample_shape) + self.v.shape)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(x)
        hit = sum_rightmost((x == self.v).to(self.log_density.dtype).log(), self.event_dim)
        return hit + self.log_density

    @property
    def mean(self) -> torch.Tensor:
        return self.v

    @property
    def variance(self) -> torch.Tensor:
        return torch.zeros_like(self.v)

    def entropy(self) -> torch.Tensor:
        return torch.zeros_like(self.log_density)


__all__ = ["Delta"]
