"""KL divergences for Pyro's wrapper distributions, on top of torch's registered pairs.

:func:`kl_divergence` is torch's: every analytic pair torch registers (Normal/Normal,
Gamma/Gamma, ...) applies to the wrapped classes, which subclass torch's. Registered here:
Independent/Independent with different numbers of reinterpreted dims, Masked/Masked (and a
masked distribution against any other), Expanded/Expanded and Delta against any distribution.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions import kl_divergence, register_kl

from pyro.distributions.delta import Delta
from pyro.distributions.torch import Independent
from pyro.distributions.torch_distribution import ExpandedDistribution, MaskedDistribution
from pyro.distributions.util import scale_and_mask, sum_rightmost


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Any, q: Any) -> torch.Tensor:
    shared = min(p.reinterpreted_batch_ndims, q.reinterpreted_batch_ndims)
    p_extra = p.reinterpreted_batch_ndims - shared
    q_extra = q.reinterpreted_batch_ndims - shared
    p_base = p.base_dist.to_event(p_extra) if p_extra else p.base_dist
    q_base = q.base_dist.to_event(q_extra) if q_extra else q.base_dist
    return sum_rightmost(kl_divergence(p_base, q_base), shared)


@register_kl(MaskedDistribution, MaskedDistribution)
def _kl_masked_masked(p: Any, q: Any) -> Any:
    # Fully masked out: nothing to compare, and (as in Pyro) the plain number 0.0, with no
    # KL of the bases computed at all.
    if p._mask is False or q._mask is False:
        return 0.0
    if p._mask is True:
        mask = q._mask
    elif q._mask is True:
        mask = p._mask
    else:
        mask = p._mask & q._mask
    kl = kl_divergence(p.base_dist, q.base_dist)
    return scale_and_mask(kl, mask=mask)


@register_kl(MaskedDistribution, torch.distributions.Distribution)
def _kl_masked_any(p: Any, q: Any) -> torch.Tensor:
    return scale_and_mask(kl_divergence(p.base_dist, q), mask=p._mask)


@register_kl(ExpandedDistribution, ExpandedDistribution)
def _kl_expanded_expanded(p: Any, q: Any) -> torch.Tensor:
    kl = kl_divergence(p.base_dist, q.base_dist)
    return kl.expand(torch.broadcast_shapes(p.batch_shape, q.batch_shape))


@register_kl(Delta, torch.distributions.Distribution)
def _kl_delta_any(p: Any, q: Any) -> torch.Tensor:
    return -q.log_prob(p.v)


__all__ = ["kl_divergence", "register_kl"]
