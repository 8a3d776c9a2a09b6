"""The MAP backend: ``backend="pyro.ops.einsum.torch_map"``.

The forward pass is a max-plus einsum of log-tensors (the log of the largest product term);
the backward pass (``result._pyro_backward()``) leaves on every input marked by
``require_backward`` the most probable values of its contracted dims: a tensor whose dim 0
runs over the dims named by ``._pyro_sample_dims``, batched over the result's dims
(``._pyro_dims``). Inputs may name their dims with ``._pyro_dims``.
"""

from __future__ import annotations

import torch

from pyro.ops.einsum._adjoint_sample import adjoint_einsum
from pyro.ops.einsum.util import Tensordot, make_transpose

__all__ = ["einsum", "tensordot", "transpose"]


def einsum(equation: str, *operands: torch.Tensor) -> torch.Tensor:
    """Max-plus einsum whose result can run a MAP backward pass."""
    return adjoint_einsum(equation, operands, maximize=True)


tensordot = Tensordot(einsum)
transpose = make_transpose(einsum)
