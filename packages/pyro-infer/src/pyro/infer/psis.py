"""Pareto-smoothed importance sampling diagnostic: how well a guide covers the posterior.

:func:`fit_generalized_pareto` estimates a generalized Pareto tail (Zhang & Stephens, 2009,
with the weakly informative prior of Vehtari, Gelman & Gabry's PSIS);
:func:`psis_k_from_log_weights` fits it to the largest importance ratios and returns the tail
index k (Yao, Vehtari, Simpson & Gelman, 2018); ``pyro.infer.importance.psis_diagnostic``
draws those ratios from a model/guide pair.
"""

from __future__ import annotations

import math
import warnings
from typing import Tuple

import torch

_PRIOR_B = 3.0  # scale of the grid of candidate b values
_PRIOR_K = 10.0  # pseudo-observations pulling k towards 0.5
_MIN_TAIL = 10  # fewer ratios above the cutoff than this: no estimate (Pyro's rule)


def fit_generalized_pareto(X: torch.Tensor) -> Tuple[float, float]:
    """Fit a generalized Pareto distribution to the positive samples ``X``.

    Args:
        X: a 1-D tensor of samples (at least two, all positive).

    Returns:
        ``(k, sigma)``: the shape (tail index; positive for heavy tails) and the scale.
    """
    if not isinstance(X, torch.Tensor) or X.dim() != 1 or X.numel() < 2:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"fit_generalized_pareto: X must be a 1-D tensor of at least 2 samples, "
                         f"got {shape}")
    x = X.detach().double().sort().values
    n = x.numel()
    m = 30 + int(math.sqrt(n))
    j = torch.arange(1, m + 1, dtype=x.dtype, device=x.device)
    quartile = x[int(n / 4 + 0.5) - 1]
    b = 1.0 / x[-1] + (1.0 - torch.sqrt(m / (j - 0.5))) / (_PRIOR_B * quartile)
    k = torch.log1p(-b[:, None] * x).mean(-1)
    profile = n * (torch.log(-b / k) - k - 1.0)
    weights = torch.softmax(profile, dim=0)
    b_hat = (b * weights).sum()
    k_hat = torch.log1p(-b_hat * x).mean()
    sigma = -k_hat / b_hat
    k_hat = (n * k_hat + _PRIOR_K * 0.5) / (n + _PRIOR_K)
    return k_hat.item(), sigma.item()


def psis_k_from_log_weights(log_weights: torch.Tensor) -> float:
    """The PSIS tail index k of a 1-D tensor of log importance ratios.

    With fewer than 10 ratios in the tail (fewer than about 46 ratios in all, or ratios that
    are all equal) there is nothing to fit: as Pyro does, this warns and returns ``inf``.
    """
    if not isinstance(log_weights, torch.Tensor) or log_weights.dim() != 1:
        shape = tuple(log_weights.shape) if isinstance(log_weights, torch.Tensor) else type(log_weights).__name__
        raise ValueError(f"psis_k_from_log_weights: log_weights must be a 1-D tensor, got {shape}")
    n = log_weights.numel()
    log_w = log_weights - log_weights.max()
    ordered = log_w.sort(descending=True).values
    tail = int(math.ceil(min(0.2 * n, 3.0 * math.sqrt(n))))
    cutoff = max(math.log(1e-15), ordered[min(tail, n - 1)].item())
    above = log_w[log_w > cutoff]
    if above.numel() < _MIN_TAIL:
        warnings.warn("Not enough tail samples to compute PSIS diagnostic; increase num_particles.",
                      stacklevel=3)
        return math.inf
    return fit_generalized_pareto(above.exp() - math.exp(cutoff))[0]
