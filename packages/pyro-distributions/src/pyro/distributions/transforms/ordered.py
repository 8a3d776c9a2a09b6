""":class:`OrderedTransform`: real vectors to strictly increasing ones."""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import constraints


class OrderedTransform(Transform):
    """Map a real vector to a strictly increasing one: ``y[0] = x[0]``,
    ``y[i] = y[i-1] + exp(x[i])``."""

    domain = constraints.real_vector
    codomain = constraints.ordered_vector
    bijective = True
    sign = +1

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, OrderedTransform)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[..., :1], x[..., 1:].exp()], dim=-1).cumsum(-1)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.cat([y[..., :1], (y[..., 1:] - y[..., :-1]).log()], dim=-1)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x[..., 1:].sum(-1)


__all__ = ["OrderedTransform"]
