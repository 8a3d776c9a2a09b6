"""Cases of normalising flows (issue 12): one forward pass, log-det and backward of a flow on a
batch of 1,024 64-dim inputs.

The pyro-API bodies build the flow through ``pyro.distributions.transforms`` and time
``flow(x)``, ``flow.log_abs_det_jacobian(x, y)`` and the gradient of ``sum(y) + sum(log-det)``
to every parameter. The input is a fresh copy each time, as a new batch would be, so the
transform's one-pair cache never short-cuts the pass. The torch twins write the same maths by
hand: a masked (MADE) network with an affine step, and a linear-rational spline.
"""

from __future__ import annotations

from cases import bench

BATCH, DIM = 1024, 64


def _timed(flow, params):
    import torch

    x0 = torch.randn(BATCH, DIM, generator=torch.Generator().manual_seed(0))

    def step():
        x = x0.clone()
        y = flow(x)
        loss = y.sum() + flow.log_abs_det_jacobian(x, y).sum()
        return torch.autograd.grad(loss, params)

    return step


@bench("nn.flow_affine_autoregressive_64", target=("pyro", 0.8))
def flow_affine_autoregressive_64():
    """affine_autoregressive(64): forward, log-det and backward on 1,024 inputs."""
    import torch
    from pyro.distributions.transforms import affine_autoregressive

    torch.manual_seed(0)
    flow = affine_autoregressive(DIM)
    return _timed(flow, list(flow.parameters()))


@flow_affine_autoregressive_64.torch
def _():
    import torch
    from torch.nn import functional as F

    torch.manual_seed(0)
    hidden = 3 * DIM + 1
    order = torch.randperm(DIM)
    position = torch.empty(DIM, dtype=torch.long)
    position[order] = torch.arange(1, DIM + 1)
    degrees = torch.linspace(1, DIM - 1, hidden).round().long()
    mask1 = (degrees.unsqueeze(-1) >= position).float()
    mask2 = (position.repeat(2).unsqueeze(-1) > degrees).float()
    w1 = (torch.randn(hidden, DIM) / DIM ** 0.5).requires_grad_()
    b1 = torch.zeros(hidden, requires_grad=True)
    w2 = (torch.randn(2 * DIM, hidden) / hidden ** 0.5).requires_grad_()
    b2 = torch.zeros(2 * DIM, requires_grad=True)
    params = [w1, b1, w2, b2]
    x0 = torch.randn(BATCH, DIM, generator=torch.Generator().manual_seed(0))

    def step():
        h = F.relu(F.linear(x0, mask1 * w1, b1))
        loc, s = F.linear(h, mask2 * w2, b2).reshape(BATCH, 2, DIM).unbind(-2)
        log_scale = s + (s.clamp(-5.0, 3.0) - s).detach()
        y = torch.exp(log_scale) * x0 + loc
        loss = y.sum() + log_scale.sum()
        return torch.autograd.grad(loss, params)

    return step


@bench("nn.flow_spline_64", target=("pyro", 0.8))
def flow_spline_64():
    """Spline(64) (linear order, 8 bins): forward, log-det and backward on 1,024 inputs."""
    import torch

    import pyro.distributions.transforms as T

    torch.manual_seed(0)
    flow = T.Spline(DIM)
    return _timed(flow, list(flow.parameters()))


@flow_spline_64.torch
def _():
    import torch
    from torch.nn import functional as F

    torch.manual_seed(0)
    k, bound = 8, 3.0
    uw, uh, ud = (torch.randn(DIM, n, requires_grad=True) for n in (k, k, k - 1))
    ul = torch.rand(DIM, k, requires_grad=True)
    params = [uw, uh, ud, ul]
    x0 = torch.randn(BATCH, DIM, generator=torch.Generator().manual_seed(0))
    rows = torch.arange(DIM)

    def knots(u):
        sizes = 1e-3 + (1 - 1e-3 * k) * torch.softmax(u, -1)
        return F.pad(torch.cumsum(sizes, -1), (1, 0)) * 2 * bound - bound

    def step():
        xk, yk = knots(uw), knots(uh)
        d = F.pad(1e-3 + F.softplus(ud), (1, 1), value=1 - 1e-3)
        lam = 0.025 + 0.95 * torch.sigmoid(ul)
        inside = x0.abs() <= bound
        x = x0.clamp(-bound, bound)
        idx = torch.searchsorted(xk[:, 1:-1].contiguous(), x.T.contiguous(), right=True).T

        def at(v):
            return v[rows, idx]

        x_lo, w = at(xk[:, :-1]), at(xk[:, 1:] - xk[:, :-1])
        y_lo, h = at(yk[:, :-1]), at(yk[:, 1:] - yk[:, :-1])
        d0, d1, lb = at(d[:, :-1]), at(d[:, 1:]), at(lam)
        phi = (x - x_lo) / w
        wb = torch.sqrt(d0 / d1)
        wc = (lb * d0 + (1 - lb) * wb * d1) * w / h
        yc = y_lo + lb * wb * h / ((1 - lb) + lb * wb)
        left = phi <= lb
        u0, u1 = torch.where(left, 1.0, wc), torch.where(left, wc, wb)
        y0, y1 = torch.where(left, y_lo, yc), torch.where(left, yc, y_lo + h)
        t0 = torch.where(left, lb - phi, 1 - phi)
        t1 = torch.where(left, phi, phi - lb)
        den = u0 * t0 + u1 * t1
        y = torch.where(inside, (u0 * y0 * t0 + u1 * y1 * t1) / den, x0)
        span = torch.where(left, lb, 1 - lb)
        log_det = torch.log(u0 * u1 * (y1 - y0) * span / w) - 2 * torch.log(den)
        loss = y.sum() + torch.where(inside, log_det, 0.0).sum()
        return torch.autograd.grad(loss, params)

    return step
