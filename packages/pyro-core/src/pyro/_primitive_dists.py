"""Two minimal distributions the core primitives need: a point mass and a unit factor.

They are private to the core so that ``pyro.deterministic`` and ``pyro.factor`` work with only
pyro-core installed. Both contribute nothing (a point mass) or a given log-factor (a unit) to a
trace's log-density.
"""

from __future__ import annotations

from typing import Any, Optional

import torch


class _Deterministic(torch.distributions.Distribution):
    """A point mass at ``value`` whose log-density is taken as zero (for ``pyro.deterministic``)."""

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(self, value: torch.Tensor, event_dim: Optional[int] = None) -> None:
        event_dim = value.dim() if event_dim is None else event_dim
        if not 0 <= event_dim <= value.dim():
            raise ValueError(
                f"deterministic: event_dim={event_dim} must be in 0..{value.dim()} for a value "
                f"of shape {tuple(value.shape)}"
            )
        self.value = value
        self.event_dim = event_dim
        split = value.dim() - event_dim
        super().__init__(value.shape[:split], value.shape[split:], validate_args=False)

    def expand(self, batch_shape: torch.Size, _instance: Any = None) -> "_Deterministic":
        shape = torch.Size(batch_shape) + self.event_shape
        return _Deterministic(self.value.expand(shape), self.event_dim)

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self.value.expand(torch.Size(sample_shape) + self.value.shape)

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.rsample(*args, **kwargs)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        shape = value.shape[: value.dim() - self.event_dim]
        return value.new_zeros(torch.broadcast_shapes(shape, self.batch_shape))


class _Unit(torch.distributions.Distribution):
    """The distribution of the empty value, weighted by ``log_factor`` (for ``pyro.factor``)."""

    arg_constraints: dict = {}

    def __init__(self, log_factor: torch.Tensor, has_rsample: Optional[bool] = None) -> None:
        log_factor = torch.as_tensor(log_factor)
        self.log_factor = log_factor
        self._has_rsample = has_rsample
        super().__init__(log_factor.shape, torch.Size((0,)), validate_args=False)

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        # Unspecified counts as False, as in Pyro; ELBOs refuse it in a guide under validation.
        return bool(self._has_rsample)

    def expand(self, batch_shape: torch.Size, _instance: Any = None) -> "_Unit":
        return _Unit(self.log_factor.expand(batch_shape), self._has_rsample)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self.log_factor.new_empty(torch.Size(sample_shape) + self.batch_shape + (0,))

    rsample = sample

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.sample(*args, **kwargs)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        shape = torch.broadcast_shapes(self.batch_shape, value.shape[:-1])
        return self.log_factor.expand(shape)
