"""Special functions that distributions and user code share: safe logs, log-Beta and
log-binomial coefficients (exact or by a shifted Stirling series), log modified Bessel functions,
Gauss-Hermite quadrature and the sparse multinomial log-likelihood.

Every function broadcasts over its tensor arguments and keeps their dtype and device.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Tuple

import torch

__all__ = [
    "get_quad_rule",
    "log_I1",
    "log_beta",
    "log_binomial",
    "safe_log",
    "sparse_multinomial_likelihood",
]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

# Shifting ``lgamma(z) = lgamma(z + n) - sum_{i < n} log(z + i)`` n times before applying
# Stirling's series bounds the absolute error of the log-Beta approximation by this over n.
_STIRLING_ERROR_BOUND = 0.082

# Below this tolerance the approximation would need so many shifts that the exact lgamma form
# is both cheaper and exact.
_MIN_STIRLING_TOL = 0.02


class _SafeLog(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.log()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad / x.clamp(min=torch.finfo(x.dtype).eps)


def safe_log(x: torch.Tensor) -> torch.Tensor:
    """``torch.log(x)`` whose gradient stays finite at zero.

    The forward value is the ordinary log (``-inf`` at 0); the backward pass divides by
    ``x`` clamped from below at the dtype's machine epsilon, so ``d/dx`` is at most
    ``1 / finfo(x.dtype).eps``.
    """
    return _SafeLog.apply(x)


def _as_tensor_pair(x: Any, y: Any) -> Tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x, dtype=y.dtype if isinstance(y, torch.Tensor) else None,
                            device=y.device if isinstance(y, torch.Tensor) else None)
    if not isinstance(y, torch.Tensor):
        y = torch.as_tensor(y, dtype=x.dtype, device=x.device)
    return x, y


def _stirling_lgamma(z: torch.Tensor) -> torch.Tensor:
    # The leading terms of Stirling's series for lgamma(z).
    return (z - 0.5) * z.log() - z + _HALF_LOG_2PI


def log_beta(x: Any, y: Any, tol: float = 0.0) -> torch.Tensor:
    """The log of the Beta function ``B(x, y) = Gamma(x) Gamma(y) / Gamma(x + y)``.

    Args:
        x, y: positive tensors (numbers are accepted too); they broadcast.
        tol: the largest absolute error allowed. Below 0.02 (the default 0 included) the
            exact ``lgamma`` form is used. Otherwise each log-Gamma is replaced by Stirling's
            series after shifting its argument up by ``n = ceil(0.082 / tol)`` through
            ``lgamma(z) = lgamma(z + n) - sum_{i<n} log(z + i)``, which keeps the error below
            ``0.082 / n <= tol`` and is cheaper than three ``lgamma`` calls.

    Returns:
        ``log B(x, y)``, broadcast.
    """
    x, y = _as_tensor_pair(x, y)
    if tol < _MIN_STIRLING_TOL:
        return torch.lgamma(x) + torch.lgamma(y) - torch.lgamma(x + y)
    shifts = math.ceil(_STIRLING_ERROR_BOUND / tol)
    xy = x + y
    result = (_stirling_lgamma(x + shifts) + _stirling_lgamma(y + shifts)
              - _stirling_lgamma(xy + shifts))
    for i in range(shifts):
        result = result - torch.log((x + i) * (y + i) / (xy + i))
    return result


def log_binomial(n: Any, k: Any, tol: float = 0.0) -> torch.Tensor:
    """The log of the binomial coefficient ``n choose k`` for real ``n >= k >= 0``.

    Computed as ``-log(n + 1) - log_beta(k + 1, n - k + 1, tol)``, so ``tol`` (see
    :func:`log_beta`) selects the exact form (below 0.02) or the cheaper approximation.
    """
    n, k = _as_tensor_pair(n, k)
    return -torch.log1p(n) - log_beta(k + 1, n - k + 1, tol=tol)


def log_I1(orders: int, value: torch.Tensor, terms: int = 250) -> torch.Tensor:
    """The log of the modified Bessel functions of the first kind ``I_v(value)`` for every
    integer order ``v = 0, 1, ..., orders``.

    Uses the power series ``I_v(z) = sum_k (z/2)^(2k + v) / (k! (v + k)!)`` cut after ``terms``
    terms, summed in log space.

    Args:
        orders: the largest order (a non-negative int).
        value: the arguments ``z >= 0``, any shape.
        terms: how many terms of the series to sum.

    Returns:
        a tensor of shape ``(orders + 1,) + value.shape``; row ``v`` is ``log I_v(value)``.
    """
    if not isinstance(orders, int) or orders < 0:
        raise ValueError(f"log_I1: orders must be a non-negative int, got {orders!r}")
    orders_t = torch.arange(orders + 1, dtype=value.dtype, device=value.device)
    k = torch.arange(terms, dtype=value.dtype, device=value.device)
    half = (value / 2).unsqueeze(-1)  # value.shape + (1,)
    # log of (z/2)^(2k) / k!, shape value.shape + (terms,)
    series = torch.xlogy(2 * k, half) - torch.lgamma(k + 1)
    # subtract log (v + k)!, shape (orders + 1,) + value.shape + (terms,)
    shape = (orders + 1,) + (1,) * value.dim() + (terms,)
    log_fact = torch.lgamma(orders_t.unsqueeze(-1) + k + 1).reshape(shape)
    summed = torch.logsumexp(series - log_fact, dim=-1)
    lead = torch.xlogy(orders_t.reshape((orders + 1,) + (1,) * value.dim()), value / 2)
    return lead + summed


@functools.lru_cache(maxsize=32)
def _hermite_rule(num_quad: int) -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
    # Golub-Welsch for the probabilists' Hermite weight exp(-x^2 / 2) / sqrt(2 pi): the nodes
    # are the eigenvalues of the Jacobi matrix with off-diagonal sqrt(1), ..., sqrt(n - 1) and
    # the weights the squared first components of its eigenvectors.
    off = torch.arange(1, num_quad, dtype=torch.float64).sqrt()
    jacobi = torch.diag(off, 1) + torch.diag(off, -1)
    nodes, vectors = torch.linalg.eigh(jacobi)
    weights = vectors[0].pow(2)
    weights = weights / weights.sum()
    return tuple(nodes.tolist()), tuple(weights.log().tolist())


def get_quad_rule(num_quad: int, prototype_tensor: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """A Gauss-Hermite rule for expectations under the standard normal.

    ``E[f(Z)]`` for ``Z ~ Normal(0, 1)`` is approximated by
    ``sum(exp(log_weights) * f(quad_points))``, exactly for polynomials of degree below
    ``2 * num_quad``; scale the points by ``sigma`` for ``Normal(0, sigma)``.

    Args:
        num_quad: the number of points (a positive int).
        prototype_tensor: gives the dtype and device of the results.

    Returns:
        ``(quad_points, log_weights)``, each of shape ``(num_quad,)``, points ascending.
    """
    if not isinstance(num_quad, int) or num_quad < 1:
        raise ValueError(f"get_quad_rule: num_quad must be a positive int, got {num_quad!r}")
    nodes, log_weights = _hermite_rule(num_quad)
    kwargs = {"dtype": prototype_tensor.dtype, "device": prototype_tensor.device}
    return torch.tensor(nodes, **kwargs), torch.tensor(log_weights, **kwargs)


def sparse_multinomial_likelihood(total_count: torch.Tensor, nonzero_logits: torch.Tensor,
                                  nonzero_value: torch.Tensor) -> torch.Tensor:
    """The multinomial log-likelihood from the nonzero counts only.

    With ``logits`` normalised (``logits - logits.logsumexp(-1)``) and ``nnz`` the nonzero
    entries of ``value``, ``sparse_multinomial_likelihood(value.sum(-1), logits[nnz],
    value[nnz])`` equals ``Multinomial(logits=logits).log_prob(value).sum()``: the zero counts
    contribute nothing, so only they are skipped.

    Args:
        total_count: the total count of every multinomial draw (summed over them).
        nonzero_logits: the normalised logits at the nonzero counts, a flat tensor.
        nonzero_value: the nonzero counts, the same shape as ``nonzero_logits``.

    Returns:
        the summed log-likelihood, a scalar.
    """
    if nonzero_logits.shape != nonzero_value.shape:
        raise ValueError(
            f"sparse_multinomial_likelihood: nonzero_logits (shape {tuple(nonzero_logits.shape)}) "
            f"and nonzero_value (shape {tuple(nonzero_value.shape)}) must have the same shape")
    total_count = torch.as_tensor(total_count, dtype=nonzero_logits.dtype, device=nonzero_logits.device)
    return (torch.lgamma(total_count + 1).sum() - torch.lgamma(nonzero_value + 1).sum()
            + (nonzero_value * nonzero_logits).sum())
