"""Householder flows: a product of learnable reflections, an orthogonal (volume-preserving) map
of real vectors, ``y = H_K ... H_2 H_1 x`` with ``H_k = I - 2 u_k u_k^T / ||u_k||^2``.

Every reflection is its own inverse, so the flow is inverted exactly by applying the reflections
in the opposite order, and ``log |det dy/dx| = 0``.
"""

from __future__ import annotations

import math
import warnings
from typing import Optional

import torch

from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule


class Householder(TransformModule):
    r"""A volume-preserving flow made of ``count_transforms`` Householder reflections.

    .. math:: y = H_K \cdots H_1 x, \qquad H_k = I - 2\frac{u_k u_k^\top}{\lVert u_k\rVert^2},

    with the unnormalised directions ``u_k`` learned (the rows of ``u_unnormed``, of shape
    ``(count_transforms, input_dim)``, each entry drawn uniformly from
    ``[-1/sqrt(input_dim), 1/sqrt(input_dim)]``). The map is orthogonal: its inverse applies the
    reflections in reverse, and its log-determinant is zero. More reflections than ``input_dim``
    add nothing (any orthogonal matrix is a product of at most ``input_dim`` reflections) and
    draw a warning. Caching is torch's ``cache_size=1``.

    Args:
        input_dim: size of the vectors the flow maps.
        count_transforms: number of reflections (at least 1).
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    volume_preserving = True

    def __init__(self, input_dim: int, count_transforms: int = 1) -> None:
        super().__init__(cache_size=1)
        if count_transforms < 1:
            raise ValueError(
                f"Householder: count_transforms must be at least 1, got {count_transforms}"
            )
        if count_transforms > input_dim:
            warnings.warn(
                f"Householder: {count_transforms} reflections on vectors of size {input_dim} "
                "over-parametrise the flow (input_dim reflections already give every "
                "orthogonal map)",
                UserWarning,
                stacklevel=2,
            )
        self.input_dim = input_dim
        self.u_unnormed = torch.nn.Parameter(torch.empty(count_transforms, input_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.input_dim)
        with torch.no_grad():
            self.u_unnormed.uniform_(-bound, bound)

    def u(self) -> torch.Tensor:
        """The unit reflection directions, one per row."""
        return self.u_unnormed / self.u_unnormed.norm(dim=-1, keepdim=True)

    @staticmethod
    def _reflect(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return x - 2.0 * (x * u).sum(-1, keepdim=True) * u

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for u in self.u().unbind(0):
            y = self._reflect(y, u)
        return y

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        x = y
        for u in reversed(self.u().unbind(0)):
            x = self._reflect(x, u)
        return x

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Zero, one value per vector."""
        return x.new_zeros(x.shape[:-1])


def householder(input_dim: int, count_transforms: Optional[int] = None) -> Householder:
    """Build a :class:`Householder` flow.

    Args:
        input_dim: size of the vectors the flow maps.
        count_transforms: number of reflections (default ``input_dim // 2 + 1``).
    """
    if count_transforms is None:
        count_transforms = input_dim // 2 + 1
    return Householder(input_dim, count_transforms=count_transforms)


__all__ = ["Householder", "householder"]
