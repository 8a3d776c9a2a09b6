"""SplineCoupling / spline_coupling: Pyro's structure, the two halves against the element-wise
spline, the block-triangular Jacobian, inverses, caching, dtypes, devices, and a
maximum-likelihood fit that a diagonal Normal cannot match."""

import math

import pytest
import torch
from flow_checks import (
    assert_inverts,
    assert_log_det_matches_autograd,
    assert_works_in_transformed_distribution,
    scramble_,
)
from torch.autograd.functional import jacobian

import pyro.distributions as dist
from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule
from pyro.nn import DenseNN
from pyro.nn.flows.spline import ConditionalSpline, Spline
from pyro.nn.flows.spline_coupling import SplineCoupling, spline_coupling


def _flow(input_dim, seed=0, identity=False, order="linear", split_dim=None, scale=0.7):
    torch.manual_seed(seed)
    split = input_dim // 2 if split_dim is None else split_dim
    m, k = input_dim - split, 4
    dims = [m * k, m * k, m * (k - 1)] + ([m * k] if order == "linear" else [])
    net = DenseNN(split, [8], param_dims=dims)
    flow = SplineCoupling(input_dim, split, net, count_bins=k, order=order, identity=identity)
    return scramble_(flow.double(), scale, seed)


def test_helper_builds_pyros_structure():
    flow = spline_coupling(5)
    assert type(flow) is SplineCoupling and isinstance(flow, TransformModule)
    assert flow.domain == constraints.real_vector and flow.codomain == constraints.real_vector
    assert flow.bijective and flow._cache_size == 1
    assert flow.split_dim == 2 and flow.identity is False
    assert type(flow.lower_spline) is Spline and flow.lower_spline.input_dim == 2
    assert type(flow.upper_spline) is ConditionalSpline and flow.upper_spline.input_dim == 3
    net = flow.upper_spline.nn
    assert isinstance(net, DenseNN) and net.input_dim == 2
    assert net.hidden_dims == [50, 50] and net.param_dims == [24, 24, 21, 24]
    other = spline_coupling(5, split_dim=3, hidden_dims=[4], count_bins=6, bound=2.0)
    assert other.split_dim == 3 and other.upper_spline.nn.param_dims == [12, 12, 10, 12]
    assert other.upper_spline.nn.hidden_dims == [4]
    assert (other.lower_spline.bound, other.upper_spline.bound) == (2.0, 2.0)
    assert list(other.state_dict())[:4] == [
        "lower_spline.unnormalized_widths", "lower_spline.unnormalized_heights",
        "lower_spline.unnormalized_derivatives", "lower_spline.unnormalized_lambdas"]
    hypernet = DenseNN(3, [4], param_dims=[4, 4, 3, 4])
    with pytest.raises(ValueError, match="split_dim"):
        SplineCoupling(3, 3, hypernet, count_bins=4)


@pytest.mark.parametrize("identity", [False, True])
@pytest.mark.parametrize("order", ["linear", "quadratic"])
def test_halves_are_the_element_wise_splines(order, identity):
    flow = _flow(5, seed=1, identity=identity, order=order)
    x = torch.randn(6, 5, dtype=torch.float64) * 2
    y = flow(x)
    x_a, x_b = x[:, :2], x[:, 2:]
    lower = flow.lower_spline.spline_op(x_a)
    upper = flow.upper_spline.condition(x_a).spline_op(x_b)
    y_a, ld_a = (x_a, torch.zeros_like(x_a)) if identity else lower
    torch.testing.assert_close(y, torch.cat([y_a, upper[0]], -1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x, y), ld_a.sum(-1) + upper[1].sum(-1),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("identity", [False, True])
@pytest.mark.parametrize("order", ["linear", "quadratic"])
def test_log_det_jacobian_structure_and_inverse(order, identity):
    flow = _flow(4, seed=2, identity=identity, order=order)
    x = torch.randn(2, 3, 4, dtype=torch.float64) * 2.5
    assert_log_det_matches_autograd(flow, x, rtol=1e-9, atol=1e-9)
    jac = jacobian(flow, x[0, 0])
    assert torch.all(jac[:2, 2:] == 0)  # the first part never sees the second
    assert jac[2:, :2].abs().max() > 0  # the second depends on the first
    assert_inverts(flow, x, rtol=1e-9, atol=1e-9)
    y = torch.randn(5, 4, dtype=torch.float64)
    x_y = flow.inv(y)
    assert flow(x_y) is y
    torch.testing.assert_close(flow._call(x_y), y, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x_y, y),
                               flow.log_abs_det_jacobian(x_y.clone(), y.clone()), rtol=1e-9,
                               atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes_in_a_transformed_distribution(dtype):
    torch.manual_seed(3)
    assert_works_in_transformed_distribution(spline_coupling(4, hidden_dims=[8]).to(dtype), 4,
                                             dtype)


def test_maximum_likelihood_fit_of_a_banana_beats_a_diagonal_normal():
    """x1 ~ N(0, 1), x2 ~ N(x1^2 - 1, 0.25^2): mean log-likelihood of the truth is
    -log(2 pi) - 0.5 - log 0.25 - 0.5 = -1.45; the best diagonal Normal (x2's variance is
    2 + 0.0625) gets -(1 + log 2 pi) - 0.5 log 2.0625 = -3.20. A small spline coupling must
    reach -2.1 (1 nat per point beyond any diagonal Normal) in 200 steps."""
    torch.manual_seed(0)

    def banana(n):
        x1 = torch.randn(n)
        return torch.stack([x1, x1 ** 2 - 1 + 0.25 * torch.randn(n)], -1)

    data, held_out = banana(1000), banana(2000)
    flow = spline_coupling(2, split_dim=1, hidden_dims=[32], count_bins=8, bound=4.0)
    flow_dist = dist.TransformedDistribution(dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1),
                                             [flow])
    optim = torch.optim.Adam(flow.parameters(), lr=0.02)
    for _ in range(200):
        optim.zero_grad()
        loss = -flow_dist.log_prob(data.clone()).mean()
        loss.backward()
        optim.step()
    with torch.no_grad():
        fit = flow_dist.log_prob(held_out).mean().item()
    var = held_out.var(0)
    diagonal = (-0.5 * torch.log(2 * math.pi * math.e * var)).sum().item()
    truth = -math.log(2 * math.pi) - 1.0 - math.log(0.25)
    assert diagonal < -3.1
    assert fit > -2.1 and fit < truth + 0.1, (fit, truth, diagonal)


@pytest.mark.cuda
def test_on_cuda_matches_cpu():
    flow, gpu = _flow(4, seed=4), _flow(4, seed=4).cuda()
    x = torch.randn(6, 4, dtype=torch.float64) * 2
    y = gpu(x.cuda())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), flow(x), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(gpu.log_abs_det_jacobian(x.cuda(), y).cpu(),
                               flow.log_abs_det_jacobian(x, flow(x)), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(gpu.inv(y.clone()).cpu(), x, rtol=1e-9, atol=1e-9)
