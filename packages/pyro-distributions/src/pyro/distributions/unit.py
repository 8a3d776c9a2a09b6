"""``Unit``: the distribution of the empty value, with a log-density factor."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch.distributions import constraints

from pyro.distributions.distribution import override_aware_has_rsample
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.util import broadcast_shape
from pyro.distributions.validation import check_tensor_args


class Unit(TorchDistribution):
    """A distribution over the empty tensor whose log-density is ``log_factor``.

    It is how ``pyro.factor`` adds an arbitrary term to a model's log-density. Samples have
    shape ``sample_shape + batch_shape + (0,)``.

    Args:
        log_factor: the log-density; its shape is the batch shape.
        has_rsample: whether the factor's gradient is reparameterised (default True).
    """

    arg_constraints = {"log_factor": constraints.real}
    support = constraints.real

    def __init__(self, log_factor: Any, *, has_rsample: Optional[bool] = None,
                 validate_args: Any = None) -> None:
        check_tensor_args("Unit", log_factor=log_factor)
        log_factor = torch.as_tensor(log_factor)
        self.log_factor = log_factor
        self._has_rsample = has_rsample
        super().__init__(log_factor.shape, torch.Size((0,)), validate_args=validate_args)

    has_rsample = override_aware_has_rsample(
        lambda self: True if self._has_rsample is None else bool(self._has_rsample))

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "Unit":
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(Unit, _instance)
        new.log_factor = self.log_factor.expand(batch_shape)
        new._has_rsample = self._has_rsample
        TorchDistribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        return new

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self.log_factor.new_empty(torch.Size(sample_shape) + self.batch_shape + (0,))

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self.sample(sample_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        try:
            shape = broadcast_shape(self.batch_shape, value.shape[:-1])
        except ValueError:
            raise ValueError(
                f"Unit.log_prob: value of shape {tuple(value.shape)} does not broadcast with "
                f"batch_shape {tuple(self.batch_shape)} and event_shape "
                f"{tuple(self.event_shape)}") from None
        return self.log_factor.expand(shape)


__all__ = ["Unit"]
