"""Polynomial and Sylvester: maths against numerical integration, hand-written torch and autograd,
structure, caching without an analytic inverse, densities and CUDA."""

import copy
import warnings

import pytest
import torch
from flow_checks import (
    assert_autoregressive,
    assert_log_det_matches_autograd,
    assert_works_in_transformed_distribution,
    scramble_,
)
from torch.autograd.functional import jacobian

from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule
from pyro.nn import AutoRegressiveNN
from pyro.nn.flows.householder import Householder
from pyro.nn.flows.polynomial import Polynomial, polynomial
from pyro.nn.flows.sylvester import Sylvester, sylvester

# One-variable flows warn, as Pyro's do (an autoregressive network over one input).
pytestmark = pytest.mark.filterwarnings("ignore:ConditionalAutoRegressiveNN input_dim = 1:UserWarning")



# ----- Polynomial ---------------------------------------------------------------------------------
def _poly(dim, seed, scale=0.4, hidden=None):
    torch.manual_seed(seed)
    return scramble_(polynomial(dim, hidden).double(), scale, seed)


def test_polynomial_defaults_parameters_and_buffers():
    flow = polynomial(4)
    assert type(flow) is Polynomial and isinstance(flow, TransformModule)
    assert flow.domain == constraints.real_vector and flow.codomain == constraints.real_vector
    assert flow.bijective and flow.autoregressive and flow._cache_size == 1
    assert (flow.input_dim, flow.count_degree, flow.count_sum) == (4, 4, 3)
    assert isinstance(flow.arn, AutoRegressiveNN)
    assert flow.arn.hidden_dims == [40] and flow.arn.param_dims == [15]
    assert polynomial(2, [7]).arn.hidden_dims == [7]
    assert {n: tuple(p.shape) for n, p in flow.named_parameters()} == {
        "c": (4,), "arn.layers.0.weight": (40, 4), "arn.layers.0.bias": (40,),
        "arn.layers.1.weight": (60, 40), "arn.layers.1.bias": (60,),
    }
    assert flow.c.abs().max() <= 0.5
    assert torch.equal(flow.powers, torch.arange(1.0, 6.0))
    r = torch.arange(5.0)
    assert torch.equal(flow.power_mask, r[:, None] + r[None, :] + 1)
    torch.testing.assert_close(flow.mask, 1 / (r[:, None] + r[None, :] + 1))
    with pytest.raises(ValueError, match="count_sum"):
        Polynomial(flow.arn, 4, 4, 0)


def test_polynomial_forward_is_the_integral_of_the_squares():
    """y_i - c_i integrated numerically (trapezoid, 40001 points) from the network's coefficients,
    read as count_sum groups of count_degree + 1."""
    flow = _poly(3, 1, hidden=[11])
    x = torch.randn(4, 3, dtype=torch.float64)
    y = flow(x)
    a = flow.arn(x).reshape(4, 3, 5, 3)  # (batch, sum, degree, variable)
    for n in range(4):
        for i in range(3):
            u = torch.linspace(0.0, x[n, i].item(), 40001, dtype=torch.float64)
            polys = (a[n, :, :, i].unsqueeze(-1) * u.pow(torch.arange(5.0).unsqueeze(-1))).sum(1)
            integral = torch.trapezoid(polys.pow(2).sum(0), u)
            torch.testing.assert_close(y[n, i] - flow.c[i], integral, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("dim", [1, 2, 4])
def test_polynomial_log_det_triangle_and_monotone(dim):
    flow = _poly(dim, 2 + dim)
    assert_log_det_matches_autograd(flow, torch.randn(2, 3, dim, dtype=torch.float64),
                                    rtol=1e-8, atol=1e-8)
    x = torch.randn(dim, dtype=torch.float64)
    assert_autoregressive(flow, x, flow.arn.get_permutation())
    grid = torch.linspace(-3, 3, 300, dtype=torch.float64)
    xs = torch.zeros(300, dim, dtype=torch.float64)
    xs[:, -1] = grid
    assert torch.all(flow(xs)[:, -1].diff() > 0)


def test_polynomial_custom_degree_and_sum():
    torch.manual_seed(3)
    arn = AutoRegressiveNN(3, [12], param_dims=[(2 + 1) * 4])
    flow = scramble_(Polynomial(arn, input_dim=3, count_degree=2, count_sum=4).double(), 0.5, 3)
    assert flow.mask.shape == (3, 3)
    assert_log_det_matches_autograd(flow, torch.randn(5, 3, dtype=torch.float64), rtol=1e-8,
                                    atol=1e-8)
    with pytest.raises(ValueError, match="count_sum = 12"):
        Polynomial(AutoRegressiveNN(3, [12], param_dims=[5]), 3, 2, 4)(torch.randn(3))
    with pytest.raises(ValueError, match="input_dim=3"):
        flow(torch.randn(2, dtype=torch.float64))


# ----- Sylvester ----------------------------------------------------------------------------------
def test_sylvester_defaults_parameters_and_helper():
    flow = Sylvester(4)
    assert isinstance(flow, Householder) and isinstance(flow, TransformModule)
    assert flow.domain == constraints.real_vector and flow.codomain == constraints.real_vector
    assert flow.bijective and not flow.volume_preserving and flow._cache_size == 1
    assert {n: tuple(p.shape) for n, p in flow.named_parameters()} == {
        "u_unnormed": (1, 4), "R_dense": (4, 4), "S_dense": (4, 4), "R_diag": (4,),
        "S_diag": (4,), "b": (4,),
    }
    for name in ("R_dense", "S_dense", "R_diag", "S_diag", "b"):
        assert getattr(flow, name).abs().max() <= 0.01
    assert torch.equal(flow.triangular_mask, torch.ones(4, 4).triu(1))
    assert sylvester(5).u_unnormed.shape == (3, 5) and sylvester(5, 2).u_unnormed.shape == (2, 5)
    r = flow.R()
    assert torch.equal(r.tril(-1), torch.zeros(4, 4))
    torch.testing.assert_close(torch.diagonal(r), torch.tanh(flow.R_diag))
    with pytest.raises(ValueError):
        Sylvester(3, 0)
    with pytest.warns(UserWarning):
        Sylvester(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Sylvester(3, 3)
    flow.reset_parameters()  # redraws the reflections and the Sylvester parameters
    assert flow.R_dense.abs().max() <= 0.01 and flow.u_unnormed.abs().max() <= 0.5


def _reflections_matrix(flow):
    q = torch.eye(flow.input_dim, dtype=flow.u_unnormed.dtype)
    for u in flow.u_unnormed.detach():
        u = u / u.norm()
        q = (torch.eye(flow.input_dim, dtype=q.dtype) - 2 * torch.outer(u, u)) @ q  # H_k ... H_1
    return q


@pytest.mark.parametrize("count", [1, 2, 3])
def test_sylvester_forward_and_log_det(count):
    torch.manual_seed(count)
    flow = scramble_(Sylvester(4, count).double(), 1.0, count)
    x = torch.randn(6, 4, dtype=torch.float64)
    q = _reflections_matrix(flow)
    r, s = flow.R().detach(), flow.S().detach()
    hand = x + (q @ r @ torch.tanh(s @ q.T @ x.T + flow.b.detach()[:, None])).T
    torch.testing.assert_close(flow(x), hand)
    assert_log_det_matches_autograd(flow, torch.randn(2, 3, 4, dtype=torch.float64), rtol=1e-8,
                                    atol=1e-8)
    # and the Jacobian's determinant, from autograd, is positive: the map keeps orientation
    assert torch.linalg.det(jacobian(flow, torch.randn(4, dtype=torch.float64))) > 0


@pytest.mark.parametrize("make", [lambda: _poly(3, 4), lambda: scramble_(sylvester(3).double())])
def test_cached_inverse_only(make):
    flow = make()
    x = torch.randn(5, 3, dtype=torch.float64)
    y = flow(x)
    assert flow.inv(y) is x
    with pytest.raises(KeyError, match="no analytic inverse"):
        flow.inv(y.clone())
    ladj = flow.log_abs_det_jacobian(x, y)
    flow(torch.randn(5, 3, dtype=torch.float64))  # the cache now holds another pair
    torch.testing.assert_close(flow.log_abs_det_jacobian(x, y), ladj)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("make", [lambda: polynomial(3), lambda: sylvester(3)])
def test_in_transformed_distribution(make, dtype):
    torch.manual_seed(5)
    assert_works_in_transformed_distribution(make().to(dtype), 3, dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("make", [lambda: polynomial(3), lambda: sylvester(3)])
def test_on_cuda_matches_cpu(make):
    torch.manual_seed(6)
    cpu = make().double()
    gpu = copy.deepcopy(cpu).cuda()
    x = torch.randn(8, 3, dtype=torch.float64)
    y = gpu(x.cuda())
    ladj = gpu.log_abs_det_jacobian(x.cuda(), y)
    assert y.device.type == "cuda" and ladj.device.type == "cuda"
    y_cpu = cpu(x)
    torch.testing.assert_close(y.cpu(), y_cpu)
    torch.testing.assert_close(ladj.cpu(), cpu.log_abs_det_jacobian(x, y_cpu))
    assert_log_det_matches_autograd(gpu, x.cuda()[:2], rtol=1e-7, atol=1e-7)
