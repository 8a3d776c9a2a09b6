"""The base of the fixed transforms that act along one (negative) dim of their input
(``DiscreteCosineTransform``, ``HaarTransform``): the dim check, the event check and the
domain/codomain of ``-dim`` real event dims."""

from __future__ import annotations

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import constraints


def check_event(owner: str, dim: int, x: torch.Tensor) -> None:
    """Raise ``ValueError`` when ``x`` has fewer than ``-dim`` dims."""
    if x.dim() < -dim:
        raise ValueError(
            f"{owner}(dim={dim}) needs at least {-dim} dims, got a tensor of shape "
            f"{tuple(x.shape)}"
        )


class AlongDimTransform(Transform):
    """A transform acting along the negative dim ``dim``: its events are the ``-dim``
    rightmost dims."""

    def __init__(self, dim: int = -1, cache_size: int = 0) -> None:
        if not isinstance(dim, int) or dim >= 0:
            # Pyro's type for this check
            raise AssertionError(f"{type(self).__name__}: dim must be a negative int, got {dim!r}")
        super().__init__(cache_size=cache_size)
        self.dim = dim

    @constraints.dependent_property(is_discrete=False)
    def domain(self) -> constraints.Constraint:
        return constraints.independent(constraints.real, -self.dim)

    @constraints.dependent_property(is_discrete=False)
    def codomain(self) -> constraints.Constraint:
        return constraints.independent(constraints.real, -self.dim)


__all__ = ["AlongDimTransform", "check_event"]
