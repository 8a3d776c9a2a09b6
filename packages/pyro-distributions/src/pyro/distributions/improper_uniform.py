"""``ImproperUniform``: a flat (zero) log-density over a constraint's set."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.distributions import constraints

from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.util import broadcast_shape
from pyro.distributions.validation import (
    DistributionArgumentTypeError,
    cannot_expand,
    construction_error,
    expand_error,
)


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
            raise construction_error(
                f"ImproperUniform: support must be a Constraint (e.g. constraints.real), got "
                f"{type(support).__name__} {support!r}", DistributionArgumentTypeError)
        self._support = support
        shapes = []
        for name, shape in (("batch_shape", batch_shape), ("event_shape", event_shape)):
            try:
                shapes.append(torch.Size(shape))
            except TypeError:
                raise TypeError(f"ImproperUniform: {name} must be a sequence of ints (e.g. () or "
                                f"(3,)), got {type(shape).__name__} {shape!r}") from None
        super().__init__(shapes[0], shapes[1], validate_args=False)

    @constraints.dependent_property
    def support(self) -> Any:
        return self._support

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "ImproperUniform":
        if cannot_expand(self.batch_shape, torch.Size(batch_shape)):
            raise expand_error(self, batch_shape)
        return ImproperUniform(self._support, batch_shape, self.event_shape)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        raise NotImplementedError("ImproperUniform cannot be sampled: it has no normalised density")

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        event_dim = len(self.event_shape)
        shape = broadcast_shape(self.batch_shape, value.shape[: value.dim() - event_dim])
        return value.new_zeros(()).expand(shape)


__all__ = ["ImproperUniform"]
