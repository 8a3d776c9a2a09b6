"""The density of a standard stable law (Nolan's S0 coordinates) by numerical integration.

Nolan's integral writes the density at ``x`` as ``c(x) * int g(t) exp(-g(t)) dt`` over an angle
``t``, with ``g`` monotone in ``t``. The integrand is a bump around the angle ``t*`` where
``g(t*) = 1``, and the bump is very narrow near ``stability == 1``, for small skews and in the
tails, and the integrand may have thin layers at the ends of the range (near
``stability == 2``). So ``t*`` is found by bisection and each side of it is integrated by
composite Gauss-Legendre in a variable that is logarithmic in the distance to both ends of
that side. Everything runs in float64; the nodes are computed without gradients, so gradients
flow through the integrand only (it vanishes at the ends, so moving the ends adds nothing).

Near ``stability == 1`` (within ``1e-7``) Nolan's formula for ``stability == 1`` is used, and
there, for ``|skew| < 1e-8``, the Cauchy density.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable, Tuple

import torch
import torch.nn.functional as F

# Each side of the peak is integrated over s in [_S_LO, _S_HI], the distance from the peak being
# the side's length times sigmoid(s), so that nodes cluster at the peak and at the end; the range
# is cut into panels of _PANEL with a _NUM_NODES-point Gauss-Legendre rule on each.
_NUM_NODES = 12
_PANEL = 2.0
_S_LO = -36.0
_S_HI = 24.0
_BISECTIONS = 60
_NEAR_ONE = 1e-7
_NEAR_ZETA = 1e-9  # closer than this (relative to max(1, |zeta|)) the value at zeta is used
_TINY_SKEW = 1e-8
_HALF_PI = math.pi / 2


@lru_cache(maxsize=None)
def _legendre(n: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Legendre nodes and weights on ``[-1, 1]`` (Golub-Welsch), float64 on the CPU."""
    k = torch.arange(1, n, dtype=torch.float64)
    off = k / torch.sqrt(4 * k * k - 1)
    jacobi = torch.diag(off, 1) + torch.diag(off, -1)
    nodes, vectors = torch.linalg.eigh(jacobi)
    return nodes, 2 * vectors[0] ** 2


@lru_cache(maxsize=None)
def _panel_rule() -> Tuple[torch.Tensor, torch.Tensor]:
    """The composite rule's nodes ``s`` and log-weights (with the sigmoid's Jacobian)."""
    x, w = _legendre(_NUM_NODES)
    half = 0.5 * _PANEL
    edges = torch.arange(_S_LO, _S_HI, _PANEL, dtype=torch.float64)
    s = (edges.unsqueeze(-1) + half * (x + 1)).reshape(-1)
    log_w = (w.log() + math.log(half)).repeat(len(edges))
    return s, log_w + F.logsigmoid(s) + F.logsigmoid(-s)


def _nodes(like: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    s, log_w = _panel_rule()
    return torch.sigmoid(s).to(like.device), log_w.to(like.device)


def _bisect(log_g: Callable[[torch.Tensor], torch.Tensor], lo: torch.Tensor, hi: torch.Tensor,
            increasing: torch.Tensor) -> torch.Tensor:
    """The angle in ``[lo, hi]`` where the monotone ``log_g`` crosses zero (an end if none)."""
    a, b = lo.clone(), hi.clone()
    for _ in range(_BISECTIONS):
        mid = 0.5 * (a + b)
        below = log_g(mid.unsqueeze(-1)).squeeze(-1) < 0
        go_right = below == increasing
        a = torch.where(go_right, mid, a)
        b = torch.where(go_right, b, mid)
    return 0.5 * (a + b)


def _log_bump_integral(log_g: Callable[[torch.Tensor], torch.Tensor], lo: torch.Tensor,
                       hi: torch.Tensor, increasing: torch.Tensor) -> torch.Tensor:
    """``log int_lo^hi g exp(-g) dt`` for a monotone ``g``; ``log_g`` maps angles of shape
    ``batch + (k,)`` to ``log g`` of the same shape."""
    with torch.no_grad():
        peak = _bisect(log_g, lo, hi, increasing)
        frac, log_jac = _nodes(lo)  # fractions of a side's length, and their log-weights
        thetas, log_ws = [], []
        for sign, length in ((-1.0, peak - lo), (1.0, hi - peak)):
            length = length.unsqueeze(-1)
            thetas.append(peak.unsqueeze(-1) + sign * length * frac)
            log_ws.append(torch.where(length > 0, log_jac + length.clamp(min=1e-300).log(),
                                      -math.inf))
        theta = torch.cat(thetas, -1)
        log_w = torch.cat(log_ws, -1)
    u = log_g(theta).clamp(max=700.0)  # exp(-g) underflows long before; keeps gradients finite
    return torch.logsumexp(u - u.exp() + log_w, -1)


def _log_density_general(x: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor
                         ) -> torch.Tensor:
    """Nolan's integral for ``stability != 1`` (not too near 1)."""
    tan = torch.tan(alpha * _HALF_PI)
    zeta = -beta * tan
    flip = x < zeta
    x = torch.where(flip, -x, x)
    beta = torch.where(flip, -beta, beta)
    bt = beta * tan
    zeta = -bt
    theta0 = torch.atan(bt) / alpha
    am1 = alpha - 1
    p = alpha / am1
    dist = (x - zeta).clamp(min=1e-280)
    const = p * dist.log() - 0.5 * torch.log1p(bt * bt) / am1
    lo = -theta0
    hi = torch.full_like(lo, _HALF_PI)
    a_, t0_, am1_, p_, c_ = (v.unsqueeze(-1) for v in (alpha, theta0, am1, p, const))

    def log_g(t: torch.Tensor) -> torch.Tensor:
        log_cos = torch.cos(t).clamp(min=1e-300).log()
        log_sin = torch.sin(a_ * (t0_ + t)).clamp(min=1e-300).log()
        log_last = torch.cos(a_ * t0_ + am1_ * t).clamp(min=1e-300).log()
        return c_ + p_ * (log_cos - log_sin) + log_last - log_cos

    increasing = alpha < 1
    log_int = _log_bump_integral(log_g, lo, hi, increasing)
    result = alpha.log() - math.log(math.pi) - am1.abs().log() - dist.log() + log_int
    at_zeta = (x - zeta).abs() < _NEAR_ZETA * zeta.abs().clamp(min=1)
    if at_zeta.any():
        peak = (torch.lgamma(1 + 1 / alpha) + torch.cos(theta0).log() - math.log(math.pi)
                - 0.5 * torch.log1p(zeta * zeta) / alpha)
        result = torch.where(at_zeta, peak, result)
    return result


def _log_density_one(x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Nolan's integral for ``stability == 1`` and a skew that is not tiny."""
    flip = beta < 0
    x = torch.where(flip, -x, x)
    beta = beta.abs()
    shift = -_HALF_PI * x / beta + math.log(2 / math.pi)
    lo = torch.full_like(x, -_HALF_PI)
    hi = torch.full_like(x, _HALF_PI)

    b_, shift_ = beta.unsqueeze(-1), shift.unsqueeze(-1)

    def log_g(t: torch.Tensor) -> torch.Tensor:
        lead = (_HALF_PI + b_ * t).clamp(min=1e-300)
        cos = torch.cos(t).clamp(min=1e-300)
        return shift_ + lead.log() - cos.log() + lead * torch.sin(t) / cos / b_

    log_int = _log_bump_integral(log_g, lo, hi, torch.ones_like(x, dtype=torch.bool))
    return log_int - torch.log(2 * beta)


def stable_standard_log_prob(x: torch.Tensor, stability: torch.Tensor, skew: torch.Tensor
                             ) -> torch.Tensor:
    """The log-density at ``x`` of the standard stable law ``S0(stability, skew, 1, 0)``.

    The arguments broadcast together; the result has their common shape and ``x``'s dtype
    (the integral itself is computed in float64).
    """
    dtype = x.dtype
    x, alpha, beta = torch.broadcast_tensors(x.double(), stability.double(), skew.double())
    shape = x.shape
    x, alpha, beta = x.reshape(-1), alpha.reshape(-1), beta.reshape(-1)
    near_one = (alpha - 1).abs() < _NEAR_ONE
    tiny_skew = beta.abs() < _TINY_SKEW
    result = torch.zeros_like(x)
    branches = (
        (~near_one, lambda i: _log_density_general(x[i], alpha[i], beta[i])),
        (near_one & ~tiny_skew, lambda i: _log_density_one(x[i], beta[i])),
        (near_one & tiny_skew, lambda i: -math.log(math.pi) - torch.log1p(x[i] * x[i])),
    )
    for mask, branch in branches:
        idx = mask.nonzero().squeeze(-1)
        if idx.numel():
            result = result.index_put((idx,), branch(idx))
    result = result.reshape(shape)
    return result.to(dtype)


__all__ = ["stable_standard_log_prob"]
