"""Small batched linear-algebra helpers shared by the Gaussian algebra (``pyro.ops.gaussian``).

Every function broadcasts over leading batch dims and keeps the dtype and device of its inputs.
"""

from __future__ import annotations

import torch

__all__ = [
    "CHOLESKY_RELATIVE_JITTER",
    "cholesky_solve",
    "matmul",
    "matvecmul",
    "precision_to_scale_tril",
    "safe_cholesky",
    "triangular_solve",
]

#: How many machine epsilons (relative to the largest diagonal entry) :func:`safe_cholesky`
#: adds to the diagonal of a matrix that is not numerically positive definite.
CHOLESKY_RELATIVE_JITTER = 4.0


def safe_cholesky(x: torch.Tensor) -> torch.Tensor:
    """The lower Cholesky factor of the positive-definite (batched) matrix ``x``.

    When a factorisation fails because round-off made ``x`` slightly indefinite, the
    diagonal is raised by ``CHOLESKY_RELATIVE_JITTER`` epsilons of its largest entry.
    """
    if x.size(-1) == 1:
        return x.clamp(min=torch.finfo(x.dtype).tiny).sqrt()
    try:
        return torch.linalg.cholesky(x)
    except torch.linalg.LinAlgError:
        pass
    diag = x.diagonal(dim1=-2, dim2=-1)
    jitter = CHOLESKY_RELATIVE_JITTER * torch.finfo(x.dtype).eps * diag.abs().amax(-1)
    eye = torch.eye(x.size(-1), dtype=x.dtype, device=x.device)
    return torch.linalg.cholesky(x + jitter[..., None, None] * eye)


def matmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x @ y`` for (batched) matrices, written as a product when an inner size is one."""
    if x.size(-1) == 1:
        return x * y
    return x @ y


def matvecmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The (batched) matrix-vector product ``x @ y``, with ``y`` of shape ``... + (n,)``."""
    if y.size(-1) == 1:
        return x.squeeze(-1) * y
    return (x @ y.unsqueeze(-1)).squeeze(-1)


def triangular_solve(x: torch.Tensor, y: torch.Tensor, upper: bool = False,
                     transpose: bool = False) -> torch.Tensor:
    """Solve ``y @ out = x`` for the triangular ``y`` (``y.T @ out = x`` when ``transpose``)."""
    if y.size(-1) == 1:
        return x / y
    if transpose:
        y = y.mT
        upper = not upper
    return torch.linalg.solve_triangular(y, x, upper=upper)


def cholesky_solve(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Solve ``(y @ y.T) @ out = x`` given the lower Cholesky factor ``y``."""
    if y.size(-1) == 1:
        return x / (y * y)
    shape = torch.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    return torch.cholesky_solve(x.expand(shape + x.shape[-2:]), y.expand(shape + y.shape[-2:]))


def precision_to_scale_tril(P: torch.Tensor) -> torch.Tensor:
    """The lower-triangular ``L`` with ``L @ L.T == inverse(P)`` for a positive-definite ``P``."""
    Lf = torch.linalg.cholesky(torch.flip(P, (-2, -1)))
    L_inv = torch.flip(Lf, (-2, -1)).mT
    eye = torch.eye(P.size(-1), dtype=P.dtype, device=P.device)
    return torch.linalg.solve_triangular(L_inv, eye, upper=False)
