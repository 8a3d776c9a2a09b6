"""Bijective activation functions as transforms: :class:`ELUTransform` and
:class:`LeakyReLUTransform`, and their helpers :func:`elu` and :func:`leaky_relu`."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch.distributions.transforms import Transform

from pyro.distributions import constraints


class ELUTransform(Transform):
    """Map ``x`` to ``elu(x)`` (``x`` for ``x > 0``, ``exp(x) - 1`` otherwise)."""

    domain = constraints.real
    codomain = constraints.greater_than(-1.0)
    bijective = True
    sign = +1

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ELUTransform)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(x)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.where(y > 0, y, torch.log1p(y.clamp(max=0)))

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -F.relu(-x)


class LeakyReLUTransform(Transform):
    """Map ``x`` to ``leaky_relu(x)`` with negative slope 0.01."""

    domain = constraints.real
    codomain = constraints.real
    bijective = True
    sign = +1

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, LeakyReLUTransform)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(y, negative_slope=100.0)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= 0.0, torch.zeros_like(x), torch.ones_like(x) * math.log(0.01))


def elu() -> ELUTransform:
    """Build an :class:`ELUTransform` (Pyro's helper; no arguments)."""
    return ELUTransform()


def leaky_relu() -> LeakyReLUTransform:
    """Build a :class:`LeakyReLUTransform` (Pyro's helper; no arguments)."""
    return LeakyReLUTransform()


__all__ = ["ELUTransform", "LeakyReLUTransform", "elu", "leaky_relu"]
