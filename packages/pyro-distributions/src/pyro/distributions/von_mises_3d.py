"""``VonMises3D``: the von Mises-Fisher distribution on the unit sphere in three dims."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions._params import expanded_copy
from pyro.distributions.torch_distribution import TorchDistribution

_LOG_2PI = math.log(2 * math.pi)
_NORM_TOL = 1e-6


class VonMises3D(TorchDistribution):
    """The von Mises-Fisher distribution on the 2-sphere: density
    ``k exp(concentration . x) / (4 pi sinh k)`` with respect to the surface measure, where
    ``k = |concentration|``.

    Concentrated around ``concentration / k``, the more so the larger ``k``. As in Pyro there
    is no sampler (``sample`` raises ``NotImplementedError``).

    Args:
        concentration: a vector of shape ``batch_shape + (3,)``.
        validate_args: as for every distribution.

    Raises:
        ValueError: ``concentration``'s rightmost dim is not 3.
    """

    arg_constraints = {"concentration": constraints.real}
    support = constraints.sphere

    def __init__(self, concentration: torch.Tensor, validate_args: Optional[bool] = None) -> None:
        if concentration.dim() < 1 or concentration.shape[-1] != 3:
            raise ValueError(
                f"Expected concentration to have rightmost dim 3, actual shape = "
                f"{concentration.shape}")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "VonMises3D":
        """Return this distribution with ``concentration`` broadcast to ``batch_shape``."""
        return expanded_copy(self, VonMises3D, batch_shape, _instance, ("concentration",), (1,))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``concentration . value + log k - log sinh k - log 4 pi``, with the normaliser
        computed as ``log(k) - k - log1p(-exp(-2 k)) - log 2 pi`` so that it stays finite for
        large ``k`` (NaN at ``k = 0``, as in Pyro).

        Raises:
            ValueError: some value is not a unit vector (to within ``1e-6``), whatever the
                validation setting, as in Pyro.
        """
        if value.numel() and ((value.norm(dim=-1) - 1).abs() > _NORM_TOL).any():
            raise ValueError("direction vectors are not normalized")
        if self._validate_args:
            self._validate_sample(value)
        k = self.concentration.norm(dim=-1)
        log_norm = k.log() - k - torch.log1p(-torch.exp(-2 * k)) - _LOG_2PI
        return (self.concentration * value).sum(-1) + log_norm


__all__ = ["VonMises3D"]
