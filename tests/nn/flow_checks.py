"""Checks every flow test runs: log-det against the autograd Jacobian, inverses cached and
uncached, the autoregressive triangle, and use under ``TransformedDistribution``.

Import as ``from flow_checks import ...`` (tests/nn is on ``sys.path`` under pytest).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
from torch.autograd.functional import jacobian

import pyro.distributions as dist


def scramble_(module: torch.nn.Module, scale: float = 1.0, seed: int = 0) -> torch.nn.Module:
    """Overwrite every parameter of ``module`` with N(0, scale) noise (so that a flow is tested
    far from its near-identity initial state); returns the module."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * scale)
    return module


def autograd_log_det(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                     event_dim: int = 1) -> torch.Tensor:
    """log|det J| of ``fn`` at each event of ``x`` (batch shape ``x.shape[:-event_dim]``),
    from the Jacobian autograd computes event by event."""
    event_shape = x.shape[x.dim() - event_dim:]
    n = int(torch.Size(event_shape).numel())
    flat = x.reshape(-1, *event_shape)
    out = []
    for xi in flat:
        jac = jacobian(lambda v: fn(v.reshape(event_shape)).reshape(-1), xi.reshape(-1))
        out.append(torch.linalg.slogdet(jac.reshape(n, n))[1])
    return torch.stack(out).reshape(x.shape[: x.dim() - event_dim])


def assert_log_det_matches_autograd(transform: torch.distributions.Transform, x: torch.Tensor,
                                    event_dim: Optional[int] = None, rtol: float = 1e-6,
                                    atol: float = 1e-6) -> None:
    """``transform.log_abs_det_jacobian(x, y)`` equals the autograd log-determinant, batched."""
    event_dim = transform.domain.event_dim if event_dim is None else event_dim
    y = transform(x)
    got = transform.log_abs_det_jacobian(x, y)
    if event_dim > transform.domain.event_dim:  # element-wise transform checked per event
        got = got.reshape(*got.shape[: got.dim() - (event_dim - transform.domain.event_dim)], -1)
        got = got.sum(-1)
    want = autograd_log_det(lambda v: transform(v), x, event_dim)
    torch.testing.assert_close(got, want, rtol=rtol, atol=atol)


def assert_inverts(transform: torch.distributions.Transform, x: torch.Tensor,
                   rtol: float = 1e-6, atol: float = 1e-6, uncached: bool = True) -> None:
    """``inv(t(x))`` is ``x``: from the cache (the very object) when the transform caches, and
    computed (on a copy of ``y`` the cache cannot know) when ``uncached``."""
    y = transform(x)
    if getattr(transform, "_cache_size", 0) == 1:
        assert transform.inv(y) is x
    if uncached:
        torch.testing.assert_close(transform.inv(y.clone()), x, rtol=rtol, atol=atol)


def assert_autoregressive(transform: torch.distributions.Transform, x: torch.Tensor,
                          permutation: Optional[Sequence[int]] = None) -> None:
    """Output ``permutation[i]`` depends only on inputs ``permutation[:i + 1]``: the Jacobian,
    rows and columns taken in the permutation's order, is lower-triangular."""
    jac = jacobian(lambda v: transform(v), x)
    if permutation is not None:
        perm = torch.as_tensor(permutation)
        jac = jac[perm][:, perm]
    upper = torch.triu(jac, diagonal=1)
    assert upper.abs().max() == 0, "an output depends on a later input"
    assert torch.diagonal(jac).abs().min() > 0


def assert_works_in_transformed_distribution(transform: torch.distributions.Transform,
                                             input_dim: int, dtype: torch.dtype,
                                             batch: int = 4, atol: float = 1e-5) -> None:
    """``sample``, ``rsample`` (with a gradient to the flow's parameters) and ``log_prob``
    (the change-of-variables formula) work in ``dtype``."""
    base = dist.Normal(torch.zeros(input_dim, dtype=dtype), torch.ones(input_dim, dtype=dtype))
    flow_dist = dist.TransformedDistribution(base.to_event(1), [transform])
    s = flow_dist.sample((batch,))
    assert s.shape == (batch, input_dim) and s.dtype == dtype and not s.requires_grad
    z = base.sample((batch,))
    y = transform(z)
    log_det = transform.log_abs_det_jacobian(z, y)
    if log_det.dim() > 1:  # an element-wise transform: its log-det summed over the event
        log_det = log_det.sum(-1)
    want = base.log_prob(z).sum(-1) - log_det
    got = flow_dist.log_prob(y)
    assert got.shape == (batch,) and got.dtype == dtype
    torch.testing.assert_close(got, want, atol=atol, rtol=atol)
    r = flow_dist.rsample((batch,))
    params = [p for p in getattr(transform, "parameters", lambda: [])() if p.requires_grad]
    if params:
        grads = torch.autograd.grad(r.sum(), params, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads)


__all__ = [
    "assert_autoregressive",
    "assert_inverts",
    "assert_log_det_matches_autograd",
    "assert_works_in_transformed_distribution",
    "autograd_log_det",
    "scramble_",
]
