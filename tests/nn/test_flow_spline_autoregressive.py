"""SplineAutoregressive / spline_autoregressive and their conditional forms: Pyro's structure,
the spline of each variable against the element-wise maths, the autoregressive triangle, exact
inverses, caching, contexts, dtypes and devices."""

import pytest
import torch
from flow_checks import (
    assert_autoregressive,
    assert_inverts,
    assert_log_det_matches_autograd,
    assert_works_in_transformed_distribution,
    scramble_,
)

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn import AutoRegressiveNN, ConditionalAutoRegressiveNN
from pyro.nn.flows.spline import spline_forward
from pyro.nn.flows.spline_autoregressive import (
    ConditionalSplineAutoregressive,
    SplineAutoregressive,
    conditional_spline_autoregressive,
    spline_autoregressive,
)

ORDERS = ["linear", "quadratic"]


def _flow(input_dim, order, seed=0, count_bins=4, scale=0.5):
    torch.manual_seed(seed)
    flow = spline_autoregressive(input_dim, [4 * input_dim], count_bins=count_bins, order=order)
    return scramble_(flow.double(), scale, seed)


def test_helper_builds_pyros_structure():
    flow = spline_autoregressive(3)
    assert type(flow) is SplineAutoregressive and isinstance(flow, TransformModule)
    assert flow.domain == constraints.real_vector and flow.codomain == constraints.real_vector
    assert flow.bijective and flow.autoregressive and flow._cache_size == 1
    assert isinstance(flow.arn, AutoRegressiveNN)
    assert flow.arn.hidden_dims == [30, 30] and flow.arn.param_dims == [8, 8, 7, 8]
    assert flow.spline.nn is flow.arn
    assert (flow.spline.count_bins, flow.spline.bound, flow.spline.order) == (8, 3.0, "linear")
    # state-dict keys as Pyro's: the network appears under arn. and spline.nn.
    keys = set(flow.state_dict())
    assert "arn.layers.0.weight" in keys and "spline.nn.layers.0.weight" in keys
    assert {n for n, _ in flow.named_parameters()} == {"arn." + n for n, _ in flow.arn.named_parameters()}
    quad = spline_autoregressive(3, hidden_dims=[7], count_bins=5, bound=2.0, order="quadratic")
    assert quad.arn.hidden_dims == [7] and quad.arn.param_dims == [5, 5, 4]
    assert (quad.spline.bound, quad.spline.order) == (2.0, "quadratic")


@pytest.mark.parametrize("order", ORDERS)
def test_each_variable_goes_through_the_spline_its_network_gives(order):
    flow = _flow(3, order, seed=1)
    x = torch.randn(5, 3, dtype=torch.float64) * 2
    out = flow.arn(x)
    params = [t.transpose(-1, -2) for t in out] + ([None] if order == "quadratic" else [])
    y_hand, ld_hand = spline_forward(x, *params, bound=3.0)
    y = flow(x)
    torch.testing.assert_close(y, y_hand, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x, y), ld_hand.sum(-1), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("order", ORDERS)
def test_log_det_equals_autograd_inside_and_outside_the_bound(order):
    flow = _flow(4, order, seed=2)
    x = torch.randn(2, 3, 4, dtype=torch.float64) * 2.5
    assert (x.abs() > 3).any()
    assert flow.log_abs_det_jacobian(x, flow(x)).shape == (2, 3)
    assert_log_det_matches_autograd(flow, x, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("order", ORDERS)
def test_jacobian_is_triangular_in_the_network_order(order):
    flow = _flow(5, order, seed=3)
    perm = flow.arn.get_permutation().tolist()
    assert perm != sorted(perm) or len(perm) == 1
    assert_autoregressive(flow, torch.randn(5, dtype=torch.float64), perm)


@pytest.mark.parametrize("order", ORDERS)
def test_inverse_cached_and_exact(order):
    flow = _flow(4, order, seed=4)
    x = torch.randn(6, 4, dtype=torch.float64) * 1.5
    assert_inverts(flow, x, rtol=1e-9, atol=1e-9)
    y = torch.randn(3, 4, dtype=torch.float64)
    x_y = flow.inv(y)
    assert flow(x_y) is y
    torch.testing.assert_close(flow._call(x_y), y, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x_y, y),
                               flow.log_abs_det_jacobian(x_y.clone(), y.clone()), rtol=1e-9,
                               atol=1e-9)


def test_log_det_of_a_pair_not_in_the_cache_is_recomputed():
    flow = _flow(3, "linear", seed=5)
    x1, x2 = torch.randn(2, 4, 3, dtype=torch.float64)
    y1 = flow(x1)
    want = flow.log_abs_det_jacobian(x1, y1)
    flow(x2)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x1, y1), want, rtol=1e-12, atol=1e-12)


def test_wrong_input_size_and_network_outputs_raise():
    flow = spline_autoregressive(3)
    with pytest.raises(ValueError, match="input_dim = 3"):
        flow(torch.randn(2, 4))
    arn = AutoRegressiveNN(3, [9], param_dims=[4, 4, 3])  # three outputs: quadratic only
    with pytest.raises(ValueError, match="must return 4 tensors"):
        SplineAutoregressive(3, arn, count_bins=4)(torch.randn(3))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("order", ORDERS)
def test_dtypes_in_a_transformed_distribution(order, dtype):
    torch.manual_seed(6)
    flow = spline_autoregressive(3, [12], count_bins=4, order=order).to(dtype)
    assert_works_in_transformed_distribution(flow, 3, dtype)


# ----- the conditional flow --------------------------------------------------------------------
def test_conditional_helper_builds_pyros_structure():
    cond = conditional_spline_autoregressive(3, 2)
    assert type(cond) is ConditionalSplineAutoregressive
    assert isinstance(cond, ConditionalTransformModule)
    assert isinstance(cond.nn, ConditionalAutoRegressiveNN)
    assert cond.nn.hidden_dims == [30, 30] and cond.nn.param_dims == [8, 8, 7, 8]
    assert cond.nn.context_dim == 2 and cond.input_dim == 3
    assert cond.kwargs == {"count_bins": 8, "bound": 3.0, "order": "linear"}
    flow = cond.condition(torch.randn(2))
    assert type(flow) is SplineAutoregressive and flow._cache_size == 1
    quad = conditional_spline_autoregressive(3, 2, [6], count_bins=4, order="quadratic")
    assert quad.nn.param_dims == [4, 4, 3]


@pytest.mark.parametrize("order", ORDERS)
def test_conditional_flow_depends_on_the_context(order):
    torch.manual_seed(7)
    cond = conditional_spline_autoregressive(4, 2, [16], count_bins=4, order=order)
    scramble_(cond.double(), 0.5, 7)
    c1, c2 = torch.randn(2, 2, dtype=torch.float64)
    f1, f2 = cond.condition(c1), cond.condition(c2)
    x = torch.randn(5, 4, dtype=torch.float64)
    assert (f1(x) - f2(x)).abs().max() > 1e-3
    assert_log_det_matches_autograd(f1, x, rtol=1e-9, atol=1e-9)
    assert_inverts(f1, x, rtol=1e-9, atol=1e-9)
    assert_autoregressive(f1, x[0], cond.nn.get_permutation().tolist())
    # the first variable in the order still depends on the context
    first = cond.nn.get_permutation()[0]
    assert (f1(x)[:, first] - f2(x)[:, first]).abs().max() > 1e-6


@pytest.mark.cuda
@pytest.mark.parametrize("order", ORDERS)
def test_on_cuda_matches_cpu(order):
    flow = _flow(3, order, seed=8)
    gpu = _flow(3, order, seed=8).cuda()
    x = torch.randn(6, 3, dtype=torch.float64) * 2
    y = gpu(x.cuda())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), flow(x), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(gpu.inv(y.clone()).cpu(), x, rtol=1e-9, atol=1e-9)
    cond = conditional_spline_autoregressive(3, 2, order=order).cuda()
    out = cond.condition(torch.randn(2, device="cuda"))(torch.randn(4, 3, device="cuda"))
    assert out.device.type == "cuda"
