"""Spline / spline, ConditionalSpline / conditional_spline: the spline maths against a scalar
transcription of the papers' formulas, monotonicity and continuity, identity tails, caching,
inverses, contexts, dtypes and devices."""

import math

import pytest
import torch
from flow_checks import (
    assert_inverts,
    assert_log_det_matches_autograd,
    assert_works_in_transformed_distribution,
    scramble_,
)

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn import DenseNN
from pyro.nn.flows.spline import (
    ConditionalSpline,
    ConditionedSpline,
    Spline,
    conditional_spline,
    spline,
    spline_forward,
    spline_inverse,
)

ORDERS = ["linear", "quadratic"]


def _flow(input_dim, order, count_bins=5, bound=3.0, seed=0, scale=1.5):
    torch.manual_seed(seed)
    return scramble_(Spline(input_dim, count_bins, bound, order).double(), scale, seed)


def _reference(x, uw, uh, ud, ul, bound):
    """``(y, dy/dx)`` of one scalar, from the papers' per-bin formulas, in plain Python."""
    def softmax(v):
        e = [math.exp(a) for a in v]
        return [a / sum(e) for a in e]

    def knots(v):
        k = len(v)
        sizes = [1e-3 + (1 - 1e-3 * k) * s for s in softmax(v)]
        out = [-bound]
        for s in sizes[:-1]:
            out.append(out[-1] + 2 * bound * s)
        return out + [bound]

    if not -bound <= x <= bound:
        return x, 1.0
    xs, ys = knots(uw), knots(uh)
    d = [1 - 1e-3] + [1e-3 + math.log1p(math.exp(a)) for a in ud] + [1 - 1e-3]
    k = max(i for i in range(len(uw)) if xs[i] <= x) if x < bound else len(uw) - 1
    w, h = xs[k + 1] - xs[k], ys[k + 1] - ys[k]
    phi, s, d0, d1 = (x - xs[k]) / w, h / w, d[k], d[k + 1]
    if ul is None:  # Durkan et al. (2019), eq. 4 and its derivative
        den = s + (d1 + d0 - 2 * s) * phi * (1 - phi)
        y = ys[k] + h * (s * phi ** 2 + d0 * phi * (1 - phi)) / den
        dy = s ** 2 * (d1 * phi ** 2 + 2 * s * phi * (1 - phi) + d0 * (1 - phi) ** 2) / den ** 2
        return y, dy
    # Dolatabadi et al. (2020): weights w_a = 1, w_b, w_c and the middle value y_c at lambda
    lam = 0.025 + 0.95 / (1 + math.exp(-ul[k]))
    wa, wb = 1.0, math.sqrt(d0 / d1)
    wc = (lam * wa * d0 + (1 - lam) * wb * d1) / s
    ya, yb = ys[k], ys[k + 1]
    yc = ((1 - lam) * wa * ya + lam * wb * yb) / ((1 - lam) * wa + lam * wb)
    if phi <= lam:
        den = wa * (lam - phi) + wc * phi
        return (wa * ya * (lam - phi) + wc * yc * phi) / den, wa * wc * lam * (yc - ya) / den ** 2 / w
    den = wc * (1 - phi) + wb * (phi - lam)
    y = (wc * yc * (1 - phi) + wb * yb * (phi - lam)) / den
    return y, wb * wc * (1 - lam) * (yb - yc) / den ** 2 / w


def _reference_all(flow, x):
    lam = flow.unnormalized_lambdas if flow.order == "linear" else None
    ys, dys = torch.empty_like(x), torch.empty_like(x)
    for idx in range(x.numel()):
        b, i = divmod(idx, x.shape[-1])
        args = [p[i].tolist() for p in (flow.unnormalized_widths, flow.unnormalized_heights,
                                        flow.unnormalized_derivatives)]
        args.append(None if lam is None else lam[i].tolist())
        ys[b, i], dys[b, i] = _reference(x[b, i].item(), *args, flow.bound)
    return ys, dys


def test_attributes_parameters_and_defaults():
    flow = spline(3)
    assert type(flow) is Spline and isinstance(flow, TransformModule)
    assert isinstance(flow, ConditionedSpline)
    assert (flow.input_dim, flow.count_bins, flow.bound, flow.order) == (3, 8, 3.0, "linear")
    assert flow.domain == constraints.real and flow.codomain == constraints.real
    assert flow.bijective and flow._cache_size == 1 and flow.event_dim == 0
    assert {n: tuple(p.shape) for n, p in flow.named_parameters()} == {
        "unnormalized_widths": (3, 8), "unnormalized_heights": (3, 8),
        "unnormalized_derivatives": (3, 7), "unnormalized_lambdas": (3, 8),
    }
    quad = Spline(2, count_bins=4, bound=2.0, order="quadratic")
    assert [n for n, _ in quad.named_parameters()] == [
        "unnormalized_widths", "unnormalized_heights", "unnormalized_derivatives"]
    assert (quad.count_bins, quad.bound) == (4, 2.0)
    # lambdas start uniform in [0, 1), the others standard normal
    torch.manual_seed(0)
    flow = Spline(3, count_bins=4)
    assert ((flow.unnormalized_lambdas >= 0) & (flow.unnormalized_lambdas < 1)).all()


def test_bad_order_and_shapes_raise():
    with pytest.raises(ValueError, match="Keyword argument 'order' must be one of"):
        Spline(2, order="cubic")
    with pytest.raises(ValueError, match="Keyword argument 'order' must be one of"):
        conditional_spline(2, 3, order="cubic")
    with pytest.raises(ValueError, match="input_dim = 3"):
        Spline(3)(torch.randn(4))
    with pytest.raises(ValueError, match="end in K, K, K - 1"):
        spline_forward(torch.randn(2), torch.randn(2, 4), torch.randn(2, 4), torch.randn(2, 4))


@pytest.mark.parametrize("order", ORDERS)
def test_matches_the_papers_formulas(order):
    flow = _flow(3, order, count_bins=5, seed=1)
    x = torch.cat([torch.linspace(-3.5, 3.5, 29, dtype=torch.float64).unsqueeze(-1).expand(29, 3),
                   torch.randn(6, 3, dtype=torch.float64) * 2])
    y = flow(x)
    want_y, want_dy = _reference_all(flow, x)
    torch.testing.assert_close(y, want_y, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x, y), want_dy.log(), rtol=1e-9,
                               atol=1e-9)


@pytest.mark.parametrize("order", ORDERS)
def test_log_det_equals_autograd_inside_and_outside_the_bound(order):
    flow = _flow(4, order, seed=2)
    x = torch.randn(2, 3, 4, dtype=torch.float64) * 2.5  # some beyond +-3
    assert (x.abs() > 3).any() and (x.abs() < 3).any()
    ladj = flow.log_abs_det_jacobian(x, flow(x))
    assert ladj.shape == x.shape
    assert_log_det_matches_autograd(flow, x, event_dim=1, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("order", ORDERS)
def test_identity_outside_the_bound(order):
    flow = _flow(2, order, bound=2.0, seed=3)
    x = torch.tensor([[-7.0, 2.5], [2.0000001, -2.0000001]], dtype=torch.float64)
    y = flow(x)
    assert torch.equal(y, x)
    assert torch.equal(flow.log_abs_det_jacobian(x, y), torch.zeros_like(x))
    # the bound maps onto itself
    edges = torch.tensor([[-2.0, 2.0]], dtype=torch.float64)
    torch.testing.assert_close(flow(edges), edges, rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", ORDERS)
def test_monotonic_and_continuous_at_the_knots(order):
    flow = _flow(3, order, count_bins=6, seed=4, scale=2.5)
    grid = torch.linspace(-3.2, 3.2, 4001, dtype=torch.float64).unsqueeze(-1).expand(-1, 3)
    y = flow(grid)
    assert (y.diff(dim=0) > 0).all()
    # at each knot the values and the derivatives from either side agree
    sizes = 1e-3 + (1 - 6e-3) * torch.softmax(flow.unnormalized_widths.detach(), -1)
    knots = torch.cumsum(sizes, -1)[:, :-1] * 6 - 3  # (3, 5) interior knots
    eps = 1e-10
    lo, hi = (knots - eps).T.contiguous(), (knots + eps).T.contiguous()
    y_lo, y_hi = flow(lo), flow(hi)
    assert ((y_hi - y_lo).abs() < 50 * eps).all()
    d_lo = flow.log_abs_det_jacobian(lo, y_lo).exp()
    d_hi = flow.log_abs_det_jacobian(hi, y_hi).exp()
    torch.testing.assert_close(d_lo, d_hi, rtol=1e-4, atol=1e-6)
    # and equal the learnt derivatives
    want = 1e-3 + torch.nn.functional.softplus(flow.unnormalized_derivatives.detach()).T
    torch.testing.assert_close(d_lo, want, rtol=1e-4, atol=1e-6)


def test_linear_and_quadratic_orders_differ_with_the_same_knots():
    flow = _flow(2, "linear", seed=5)
    quad = Spline(2, count_bins=5, order="quadratic").double()
    with torch.no_grad():
        for name in ("unnormalized_widths", "unnormalized_heights", "unnormalized_derivatives"):
            getattr(quad, name).copy_(getattr(flow, name))
    x = torch.randn(50, 2, dtype=torch.float64)
    assert (flow(x) - quad(x)).abs().max() > 1e-3
    # both pass through the same knots
    sizes = 1e-3 + (1 - 5e-3) * torch.softmax(flow.unnormalized_widths.detach(), -1)
    knots = (torch.cumsum(sizes, -1)[:, :-1] * 6 - 3).T.contiguous()
    torch.testing.assert_close(flow(knots), quad(knots), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("order", ORDERS)
def test_inverse_cached_and_uncached(order):
    flow = _flow(3, order, seed=6)
    x = torch.randn(10, 3, dtype=torch.float64) * 2
    assert_inverts(flow, x, rtol=1e-9, atol=1e-9)
    y = torch.randn(4, 3, dtype=torch.float64) * 2.5
    x_y = flow.inv(y)
    assert flow(x_y) is y
    torch.testing.assert_close(flow._call(x_y), y, rtol=1e-9, atol=1e-9)
    # the log-det of the inverted pair (reused from the inverse pass) is the forward one
    torch.testing.assert_close(flow.log_abs_det_jacobian(x_y, y),
                               flow.log_abs_det_jacobian(x_y.clone(), y.clone()),
                               rtol=1e-9, atol=1e-9)


def test_pure_functions_broadcast_and_invert():
    torch.manual_seed(7)
    w, h, d, lam = torch.randn(3, 6), torch.randn(3, 6), torch.randn(3, 5), torch.randn(3, 6)
    x = torch.randn(2, 5, 3, dtype=torch.float32) * 2
    for ul in (lam, None):
        y, ld = spline_forward(x, w, h, d, ul, bound=3.0)
        assert y.shape == ld.shape == x.shape
        back, ld_back = spline_inverse(y, w, h, d, ul, bound=3.0)
        # float32: y is known to ~1e-7, so x to ~1e-7 / (dy/dx) where the spline is flat
        assert ((back - x).abs() <= 1e-5 + 1e-6 / ld.exp()).all()
        assert ((ld_back - ld).abs() <= 1e-4 + 1e-6 / ld.exp()).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("order", ORDERS)
def test_dtypes_in_a_transformed_distribution(order, dtype):
    torch.manual_seed(8)
    flow = Spline(3, order=order).to(dtype)
    assert_works_in_transformed_distribution(flow, 3, dtype)
    y = flow(torch.randn(5, 3, dtype=dtype))
    assert y.dtype == dtype


# ----- ConditionalSpline -----------------------------------------------------------------------
def test_conditional_helper_builds_pyros_network():
    cond = conditional_spline(3, 2)
    assert type(cond) is ConditionalSpline and isinstance(cond, ConditionalTransformModule)
    assert (cond.input_dim, cond.count_bins, cond.bound, cond.order) == (3, 8, 3.0, "linear")
    assert isinstance(cond.nn, DenseNN) and cond.nn.hidden_dims == [30, 30]
    assert cond.nn.param_dims == [24, 24, 21, 24]
    quad = conditional_spline(3, 2, hidden_dims=[5], count_bins=4, bound=2.0, order="quadratic")
    assert quad.nn.param_dims == [12, 12, 9] and quad.nn.hidden_dims == [5]
    conditioned = cond.condition(torch.randn(2))
    assert type(conditioned) is ConditionedSpline and conditioned._cache_size == 1
    assert conditioned.bound == 3.0 and conditioned.order == "linear"


@pytest.mark.parametrize("order", ORDERS)
def test_conditional_spline_depends_on_the_context(order):
    torch.manual_seed(9)
    cond = scramble_(conditional_spline(3, 2, hidden_dims=[8], count_bins=4, order=order).double(),
                     1.0, 9)
    x = torch.randn(6, 3, dtype=torch.float64) * 1.5
    c1, c2 = torch.randn(2, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    t1, t2 = cond.condition(c1), cond.condition(c2)
    assert (t1(x) - t2(x)).abs().max() > 1e-3
    assert_log_det_matches_autograd(t1, x, event_dim=1, rtol=1e-9, atol=1e-9)
    assert_inverts(t1, x, rtol=1e-9, atol=1e-9)
    # a batch of contexts: row i uses context i
    contexts = torch.stack([c1, c2, c1, c2, c1, c2])
    batched = cond.condition(contexts)(x)
    torch.testing.assert_close(batched[0::2], t1(x[0::2]), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(batched[1::2], t2(x[1::2]), rtol=1e-12, atol=1e-12)
    # the context gets a gradient through the network
    ctx = c1.clone().requires_grad_()
    grad = torch.autograd.grad(cond.condition(ctx)(x).sum(), ctx)[0]
    assert grad.abs().sum() > 0


def test_conditional_spline_rejects_a_network_with_the_wrong_outputs():
    cond = ConditionalSpline(DenseNN(2, [4], param_dims=[6, 6, 3]), 2, 3)  # linear needs four
    with pytest.raises(ValueError, match="must return 4 tensors"):
        cond.condition(torch.randn(2))(torch.randn(2))


@pytest.mark.cuda
@pytest.mark.parametrize("order", ORDERS)
def test_on_cuda_matches_cpu(order):
    flow = _flow(3, order, seed=10)
    x = torch.randn(7, 3, dtype=torch.float64) * 2
    gpu = _flow(3, order, seed=10).cuda()
    y = gpu(x.cuda())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), flow(x), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(gpu.log_abs_det_jacobian(x.cuda(), y).cpu(),
                               flow.log_abs_det_jacobian(x, flow(x)), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(gpu.inv(y.clone()).cpu(), x, rtol=1e-9, atol=1e-9)
    cond = conditional_spline(3, 2, order=order).cuda()
    out = cond.condition(torch.randn(2, device="cuda"))(x.float().cuda())
    assert out.device.type == "cuda"


@pytest.mark.parametrize("order", ORDERS)
def test_parameter_gradients_match_finite_differences(order):
    torch.manual_seed(11)
    params = [torch.randn(2, n, dtype=torch.float64, requires_grad=True) for n in (4, 4, 3, 4)]
    if order == "quadratic":
        params[3] = None
    x = torch.randn(5, 2, dtype=torch.float64) * 2
    y = torch.randn(5, 2, dtype=torch.float64) * 2
    inputs = [p for p in params if p is not None]

    def both(*ps):
        full = list(ps) + [None] * (4 - len(ps))
        return spline_forward(x, *full) + spline_inverse(y, *full)

    assert torch.autograd.gradcheck(both, inputs, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("order", ORDERS)
def test_a_single_bin(order):
    flow = _flow(2, order, count_bins=1, seed=12)
    x = torch.randn(6, 2, dtype=torch.float64) * 2
    assert_log_det_matches_autograd(flow, x, event_dim=1, rtol=1e-9, atol=1e-9)
    assert_inverts(flow, x, rtol=1e-9, atol=1e-9)
