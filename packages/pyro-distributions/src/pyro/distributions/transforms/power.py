""":class:`PositivePowerTransform`: ``x ** exponent`` on the positive reals."""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import constraints
from pyro.distributions.validation import check_tensor_args


class PositivePowerTransform(Transform):
    """Map positive ``x`` to ``x ** exponent`` (``exponent > 0``)."""

    domain = constraints.positive
    codomain = constraints.positive
    bijective = True
    sign = +1

    def __init__(self, exponent: Any, *, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        check_tensor_args("PositivePowerTransform", exponent=exponent)
        self.exponent = exponent

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return x.pow(self.exponent)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y.pow(1 / self.exponent)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        exponent = torch.as_tensor(self.exponent, dtype=x.dtype, device=x.device)
        return exponent.abs().log() + (exponent - 1) * x.log()


__all__ = ["PositivePowerTransform"]
