"""Arrowhead matrices (``pyro.ops.arrowhead``): dense in their first ``h`` rows and columns,
diagonal elsewhere, as :class:`~pyro.infer.mcmc.ArrowheadMassMatrix` adapts them.

A :class:`SymmArrowhead` stores a symmetric one by its dense top rows (``h x n``) and the
diagonal of the rest (``n - h``); a :class:`TriuArrowhead` stores an upper-triangular one the
same way. Its square root, inverse and products cost ``O(h^2 n)``, not ``O(n^3)``.
"""

from __future__ import annotations

from collections import namedtuple

import torch

#: A symmetric arrowhead matrix: ``top`` (``h x n``) and ``bottom_diag`` (``n - h``).
SymmArrowhead = namedtuple("SymmArrowhead", ["top", "bottom_diag"])
#: An upper-triangular arrowhead matrix, stored as :class:`SymmArrowhead` is.
TriuArrowhead = namedtuple("TriuArrowhead", ["top", "bottom_diag"])


def _check(fn: str, x: object, kind: type) -> None:
    """Refuse ``x`` unless it is a ``kind`` whose ``top`` is ``h x n`` and ``bottom_diag`` has
    ``n - h`` entries (checked where an arrowhead is factorised, not where it multiplies)."""
    if not isinstance(x, (SymmArrowhead, TriuArrowhead)):
        raise TypeError(f"arrowhead.{fn}: expected a {kind.__name__}(top, bottom_diag), got "
                        f"{type(x).__name__}")
    top, diag = x.top, x.bottom_diag
    if not (isinstance(top, torch.Tensor) and isinstance(diag, torch.Tensor)):
        raise TypeError(f"arrowhead.{fn}: top and bottom_diag must be tensors")
    if top.dim() != 2 or diag.dim() != 1 or top.size(0) + diag.size(0) != top.size(1):
        raise ValueError(
            f"arrowhead.{fn}: top of shape {tuple(top.shape)} (h x n) and bottom_diag of shape "
            f"{tuple(diag.shape)} (n - h) do not make an arrowhead matrix")


def sqrt(x: SymmArrowhead) -> TriuArrowhead:
    """The upper-triangular arrowhead ``U`` with ``U @ U.T == x`` (``x`` positive definite).

    With ``x = [[A, B], [B.T, diag(c)]]``: ``U = [[T, B / sqrt(c)], [0, diag(sqrt(c))]]``, where
    ``T`` is the upper-triangular factor of ``A - (B / sqrt(c)) (B / sqrt(c)).T``.
    """
    _check("sqrt", x, SymmArrowhead)
    h = x.top.size(0)
    d = x.bottom_diag.sqrt()
    b = x.top[:, h:] / d
    schur = x.top[:, :h] - b @ b.T
    # upper T with T T^T = S: flip, lower Cholesky, flip back
    t = torch.linalg.cholesky(schur.flip(-2, -1)).flip(-2, -1)
    return TriuArrowhead(torch.cat([t, b], dim=-1), d)


def triu_inverse(x: TriuArrowhead) -> TriuArrowhead:
    """The inverse of the upper-triangular arrowhead ``x`` (upper-triangular arrowhead too)."""
    _check("triu_inverse", x, TriuArrowhead)
    h = x.top.size(0)
    eye = torch.eye(h, dtype=x.top.dtype, device=x.top.device)
    t_inv = torch.linalg.solve_triangular(x.top[:, :h], eye, upper=True)
    d_inv = x.bottom_diag.reciprocal()
    b = -(t_inv @ x.top[:, h:]) * d_inv
    return TriuArrowhead(torch.cat([t_inv, b], dim=-1), d_inv)


def triu_matvecmul(x: TriuArrowhead, y: torch.Tensor, transpose: bool = False) -> torch.Tensor:
    """``x @ y`` (or ``x.T @ y`` when ``transpose``) for the upper-triangular arrowhead ``x``
    and a vector ``y`` of size ``n``."""
    h = x.top.size(0)
    if transpose:
        head = x.top[:, :h].T @ y[:h]
        tail = x.top[:, h:].T @ y[:h] + x.bottom_diag * y[h:]
        return torch.cat([head, tail])
    return torch.cat([x.top @ y, x.bottom_diag * y[h:]])


def triu_gram(x: TriuArrowhead) -> torch.Tensor:
    """The dense Gram matrix ``x.T @ x`` of the upper-triangular arrowhead ``x``."""
    h = x.top.size(0)
    gram = x.top.T @ x.top
    n = gram.size(-1)
    idx = torch.arange(h, n, device=gram.device)
    gram[idx, idx] += x.bottom_diag ** 2
    return gram


__all__ = ["SymmArrowhead", "TriuArrowhead", "sqrt", "triu_gram", "triu_inverse", "triu_matvecmul"]
