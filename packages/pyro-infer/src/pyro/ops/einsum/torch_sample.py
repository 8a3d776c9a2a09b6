"""The sampling backend: ``backend="pyro.ops.einsum.torch_sample"``.

The forward pass is the log-space einsum of :mod:`pyro.ops.einsum.torch_log`; the backward pass
(``result._pyro_backward()``) draws the contracted dims jointly from the distribution the
operands define (forward-filter, backward-sample) and leaves on every input marked by
``require_backward`` the drawn values of its dims, laid out as ``torch_map``'s results.
"""

from __future__ import annotations

import torch

from pyro.ops.einsum._adjoint_sample import adjoint_einsum
from pyro.ops.einsum.util import Tensordot, make_transpose

__all__ = ["einsum", "tensordot", "transpose"]


def einsum(equation: str, *operands: torch.Tensor) -> torch.Tensor:
    """Log-space einsum whose result can run a sampling backward pass."""
    return adjoint_einsum(equation, operands, maximize=False)


tensordot = Tensordot(einsum)
transpose = make_transpose(einsum)
