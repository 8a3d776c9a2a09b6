"""Closed-form linear algebra for the small matrices that come up everywhere (1 x 1 to 3 x 3):
inverses, determinants and symmetric eigenvalues, batched over leading dims, with no LAPACK call
and no device sync. Larger matrices fall back to :func:`torch.linalg.inv`.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from typing import Iterator, Tuple

import torch

__all__ = [
    "determinant_3d",
    "eig_3d",
    "ignore_torch_deprecation_warnings",
    "inv3d",
    "rinverse",
]


@contextmanager
def ignore_torch_deprecation_warnings() -> Iterator[None]:
    """Silence, inside the block, the deprecation and tracer warnings torch emits for calls
    the framework makes on purpose (``torch.triangular_solve``, the CUDA fuser, and
    :class:`torch.jit.TracerWarning` raised from torch's own modules outside ``torch.jit``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"torch.(?!jit)")
        warnings.filterwarnings("ignore", "torch::jit::fuser::cuda")
        warnings.filterwarnings("ignore", "torch.triangular_solve is deprecated")
        yield


def _check_square(name: str, M: torch.Tensor, size: int = 0) -> None:
    if M.dim() < 2 or M.size(-1) != M.size(-2) or (size and M.size(-1) != size):
        want = f"{size} x {size}" if size else "square"
        raise ValueError(f"{name}: expected a (batch of) {want} matrices, got shape {tuple(M.shape)}")


def determinant_3d(H: torch.Tensor) -> torch.Tensor:
    """The determinants of a batch of 3 x 3 matrices ``H`` (shape ``batch + (3, 3)``), by
    cofactor expansion; shape ``batch``."""
    _check_square("determinant_3d", H, 3)
    a, b, c = H[..., 0, 0], H[..., 0, 1], H[..., 0, 2]
    d, e, f = H[..., 1, 0], H[..., 1, 1], H[..., 1, 2]
    g, h, i = H[..., 2, 0], H[..., 2, 1], H[..., 2, 2]
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def eig_3d(H: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The eigenvalues of a batch of symmetric 3 x 3 matrices ``H``, by the trigonometric
    solution of the characteristic cubic.

    Returns:
        three tensors of shape ``batch``, the eigenvalues in ascending order. A multiple of
        the identity (where the cubic degenerates) gives its diagonal value three times.
    """
    _check_square("eig_3d", H, 3)
    off = H[..., 0, 1].pow(2) + H[..., 0, 2].pow(2) + H[..., 1, 2].pow(2)
    diag = H.diagonal(dim1=-2, dim2=-1)
    q = diag.mean(-1)
    spread = (diag - q.unsqueeze(-1)).pow(2).sum(-1) + 2 * off
    p = (spread / 6).sqrt()
    degenerate = p == 0
    safe_p = torch.where(degenerate, torch.ones_like(p), p)
    eye = torch.eye(3, dtype=H.dtype, device=H.device)
    B = (H - q[..., None, None] * eye) / safe_p[..., None, None]
    r = (determinant_3d(B) / 2).clamp(-1, 1)
    phi = torch.where(degenerate, torch.zeros_like(r), torch.acos(r) / 3)
    p = torch.where(degenerate, torch.zeros_like(p), p)
    largest = q + 2 * p * torch.cos(phi)
    smallest = q + 2 * p * torch.cos(phi + 2 * math.pi / 3)
    middle = 3 * q - largest - smallest
    return smallest, middle, largest


def inv3d(H: torch.Tensor, sym: bool = False) -> torch.Tensor:
    """The inverses of a batch of 3 x 3 matrices ``H`` by the adjugate formula.

    Args:
        H: shape ``batch + (3, 3)``, invertible.
        sym: ``H`` is symmetric, so only six cofactors are computed.

    Returns:
        the inverses, shape ``batch + (3, 3)``.
    """
    _check_square("inv3d", H, 3)
    a, b, c = H[..., 0, 0], H[..., 0, 1], H[..., 0, 2]
    d, e, f = H[..., 1, 0], H[..., 1, 1], H[..., 1, 2]
    g, h, i = H[..., 2, 0], H[..., 2, 1], H[..., 2, 2]
    A = e * i - f * h
    B = f * g - d * i
    C = d * h - e * g
    E = a * i - c * g
    F = b * g - a * h
    I = a * e - b * d  # noqa: E741
    if sym:
        D, G, Hc = B, C, F
    else:
        D = c * h - b * i
        G = b * f - c * e
        Hc = c * d - a * f
    det = a * A + b * B + c * C
    adj = torch.stack([A, D, G, B, E, Hc, C, F, I], dim=-1).reshape(H.shape)
    return adj / det[..., None, None]


def rinverse(M: torch.Tensor, sym: bool = False) -> torch.Tensor:
    """The inverses of the rightmost two dims of ``M`` (a batch of square matrices).

    1 x 1, 2 x 2 and 3 x 3 matrices use closed forms (cheap and batched without a LAPACK call);
    larger ones :func:`torch.linalg.inv`.

    Args:
        M: shape ``batch + (n, n)``, invertible.
        sym: ``M`` is symmetric (lets the 3 x 3 formula skip cofactors).

    Returns:
        the inverses, shape ``batch + (n, n)``.
    """
    _check_square("rinverse", M)
    n = M.size(-1)
    if n == 1:
        return M.reciprocal()
    if n == 2:
        a, b = M[..., 0, 0], M[..., 0, 1]
        c, d = M[..., 1, 0], M[..., 1, 1]
        det = a * d - b * c
        return torch.stack([d, -b, -c, a], dim=-1).reshape(M.shape) / det[..., None, None]
    if n == 3:
        return inv3d(M, sym=sym)
    return torch.linalg.inv(M)
