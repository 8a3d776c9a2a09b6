"""``ImproperUniform``: a flat (zero) log-density over a constraint's set."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.distributions import constraints

from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.util import broadcast_shape


class ImproperUniform(TorchDistribution):
    """An improper flat density over ``support``: ``log_prob`` is zero everywhere on it.

    It cannot be sampled; use it as a prior that an inference algorithm only scores (for
    example with an initialisation strategy that does not sample).

    Args:
        support: the constraint the values satisfy.
        batch_shape: the batch shape.
        event_shape: the event shape.
    """

    arg_constraints: dict = {}

    def __init__(self, support: constraints.Constraint, batch_shape: Sequence[int],
                 event_shape: Sequence[int]) -> None:
        if not isinstance(support, constraints.Constraint):
            raise ValueError(f"ImproperUniform: support must be a Constraint, got {type(support).__name__}")
        self._support = support
        super().__init__(torch.Size(batch_shape), torch.Size(event_shape), validate_args=False)

    @constraints.dependent_property
    def support(self) -> Any:
        return self._support

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "ImproperUniform":
        return ImproperUniform(self._support, batch_shape, self.event_shape)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        raise NotImplementedError("ImproperUniform cannot be sampled: it has no normalised density")

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        event_dim = len(self.event_shape)
        shape = broadcast_shape(self.batch_shape, value.shape[: value.dim() - event_dim])
        return value.new_zeros(()).expand(shape)


__all__ = ["ImproperUniform"]
