"""``LKJCorrCholesky``: the deprecated name of :class:`~pyro.distributions.LKJCholesky`."""

from __future__ import annotations

import warnings
from typing import Any, Optional

import torch
from torch.distributions import Distribution as _TorchDistribution

from pyro.distributions.torch import LKJCholesky
from pyro.distributions.validation import construction_error


class LKJCorrCholesky(LKJCholesky):
    """Deprecated: use ``LKJCholesky(dim, concentration)``, the same distribution.

    The LKJ distribution over Cholesky factors of ``d x d`` correlation matrices. Building one
    gives a ``FutureWarning``, as in Pyro.

    Args:
        d: the size of the matrices (at least 2).
        eta: the concentration, positive.
        validate_args: as for every distribution.
    """

    def __init__(self, d: int, eta: Any, validate_args: Optional[bool] = None) -> None:
        warnings.warn(
            "class LKJCorrCholesky(d, eta, validate_args=None) is deprecated in favor of "
            "LKJCholesky(dim, concentration, validate_args=None).",
            FutureWarning,
            stacklevel=2,
        )
        validate = _TorchDistribution._validate_args if validate_args is None else validate_args
        if validate:
            # Checked before LKJCholesky's inner Beta would check it under its own name.
            conc = torch.as_tensor(eta)
            if not bool((conc > 0).all()):
                raise construction_error(
                    f"LKJCorrCholesky: Expected parameter eta (Tensor of shape "
                    f"{tuple(conc.shape)}) to satisfy the constraint GreaterThan(lower_bound=0.0), "
                    f"but found invalid values:\n{conc}")
        super().__init__(d, eta, validate_args=validate_args)


__all__ = ["LKJCorrCholesky"]
