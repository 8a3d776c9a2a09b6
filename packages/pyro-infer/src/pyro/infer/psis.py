"""Pareto-smoothed importance sampling diagnostic: how well a guide covers the posterior.

:func:`pyro.ops.stats.fit_generalized_pareto` estimates a generalized Pareto tail;
:func:`psis_k_from_log_weights` fits it to the largest importance ratios and returns the tail
index k (Yao, Vehtari, Simpson & Gelman, 2018); ``pyro.infer.importance.psis_diagnostic``
draws those ratios from a model/guide pair.
"""

from __future__ import annotations

import math
import warnings
import torch

from pyro.ops.stats import fit_generalized_pareto
_MIN_TAIL = 10  # fewer ratios above the cutoff than this: no estimate (Pyro's rule)


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
