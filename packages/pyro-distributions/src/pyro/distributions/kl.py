"""KL divergences for Pyro's wrapper distributions, on top of torch's registered pairs.

:func:`kl_divergence` is torch's: every analytic pair torch registers (Normal/Normal,
Gamma/Gamma, ...) applies to the wrapped classes, which subclass torch's. Registered here:
Independent/Independent with different numbers of reinterpreted dims (on torch's
``Independent``, as Pyro does, so plain torch distributions get it too), a diagonal normal
(``Normal(...).to_event(1)``) against a ``MultivariateNormal`` in closed form, Masked/Masked
(and a masked distribution against any other), Expanded/Expanded and Delta against any
distribution.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions import kl_divergence, register_kl

from pyro.distributions.delta import Delta
from pyro.distributions.torch import Independent
from pyro.distributions.torch_distribution import ExpandedDistribution, MaskedDistribution
from pyro.distributions.util import scale_and_mask, sum_rightmost



@register_kl(torch.distributions.Independent, torch.distributions.Independent)
def _kl_independent_independent(p: Any, q: Any) -> torch.Tensor:
    shared = min(p.reinterpreted_batch_ndims, q.reinterpreted_batch_ndims)
    p_extra = p.reinterpreted_batch_ndims - shared
    q_extra = q.reinterpreted_batch_ndims - shared
    # (Independent, not to_event: plain torch bases have no to_event)
    p_base = Independent(p.base_dist, p_extra) if p_extra else p.base_dist
    q_base = Independent(q.base_dist, q_extra) if q_extra else q.base_dist
    return sum_rightmost(kl_divergence(p_base, q_base), shared)


@register_kl(torch.distributions.Independent, torch.distributions.MultivariateNormal)
def _kl_independent_mvn(p: Any, q: Any) -> torch.Tensor:
    # Only a diagonal normal, Normal(loc, scale).to_event(1), has the closed form below.
    base = p.base_dist
    if not isinstance(base, torch.distributions.Normal) or p.reinterpreted_batch_ndims != 1:
        raise NotImplementedError(
            f"No KL(p || q) is implemented for p type {type(p).__name__} of "
            f"{type(base).__name__} with {p.reinterpreted_batch_ndims} reinterpreted dims and q "
            f"type {type(q).__name__}")
    if p.event_shape != q.event_shape:
        raise ValueError(
            f"kl_divergence: the diagonal normal has event_shape {tuple(p.event_shape)} but the "
            f"MultivariateNormal {tuple(q.event_shape)}")
    # 2 KL = tr(S_q^-1 S_p) + |L_q^-1 (mu_q - mu_p)|^2 - n + log det S_q - log det S_p
    n = p.event_shape[0]
    L = q._unbroadcasted_scale_tril
    batch = torch.broadcast_shapes(p.batch_shape, q.batch_shape)
    L = L.expand(batch + L.shape[-2:])
    scaled = torch.linalg.solve_triangular(L, torch.diag_embed(base.scale).expand(batch + (n, n)),
                                           upper=False)
    diff = (q.loc - base.loc).expand(batch + (n,)).unsqueeze(-1)
    maha = torch.linalg.solve_triangular(L, diff, upper=False).squeeze(-1)
    trace = scaled.pow(2).sum((-2, -1))
    log_det_q = 2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    log_det_p = 2 * base.scale.log().sum(-1)
    return 0.5 * (trace + maha.pow(2).sum(-1) - n + log_det_q - log_det_p)


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
