"""AffineAutoregressive / affine_autoregressive: maths, caching, structure, density, training."""

import math

import pytest
import torch
from torch.autograd.functional import jacobian
from torch.nn import functional as F

import pyro.distributions as dist
import pyro.distributions.transforms as T
from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule
from pyro.nn import AutoRegressiveNN
from pyro.nn.flows import AffineAutoregressive, affine_autoregressive

# One-variable flows warn, as Pyro's do (an autoregressive network over one input).
pytestmark = pytest.mark.filterwarnings("ignore:ConditionalAutoRegressiveNN input_dim = 1:UserWarning")



def _flow(input_dim, stable=False, hidden_dims=None, **kwargs):
    hidden_dims = hidden_dims or [4 * input_dim + 3]
    arn = AutoRegressiveNN(input_dim, hidden_dims, param_dims=[1, 1], nonlinearity=torch.nn.Tanh())
    return AffineAutoregressive(arn, stable=stable, **kwargs).double()


def _position(permutation):
    pos = torch.empty_like(permutation)
    pos[permutation] = torch.arange(len(permutation))
    return pos


def _hand_forward(flow, x, stable, lo=-5.0, hi=3.0, bias=2.0):
    """y and log|det J| computed from the network's raw outputs, by the formulas of the docs."""
    mu, s = flow.arn(x)
    if stable:
        gate = torch.sigmoid(s + bias)
        return gate * x + (1 - gate) * mu, F.logsigmoid(s + bias).sum(-1)
    log_scale = s.clamp(lo, hi)
    return mu + torch.exp(log_scale) * x, log_scale.sum(-1)


def test_resolves_where_pyro_users_look():
    from pyro.plugins import get_registry

    assert T.AffineAutoregressive is AffineAutoregressive
    assert T.affine_autoregressive is affine_autoregressive
    registry = get_registry("transforms")
    assert registry.owner("AffineAutoregressive") == "pyro-nn"
    assert registry.owner("affine_autoregressive") == "pyro-nn"


def test_attributes_and_defaults():
    flow = affine_autoregressive(5)
    assert isinstance(flow, TransformModule) and isinstance(flow, torch.nn.Module)
    assert flow.domain == constraints.real_vector and flow.codomain == constraints.real_vector
    assert flow.domain.event_dim == 1 and flow.codomain.event_dim == 1
    assert flow.bijective and flow.autoregressive and flow.sign == 1
    assert flow._cache_size == 1
    assert (flow.log_scale_min_clip, flow.log_scale_max_clip, flow.sigmoid_bias, flow.stable) == (-5.0, 3.0, 2.0, False)
    assert isinstance(flow.arn, AutoRegressiveNN)
    assert flow.arn.hidden_dims == [16] and list(flow.arn.param_dims) == [1, 1]
    other = affine_autoregressive(3, [7, 9], stable=True, sigmoid_bias=1.5, log_scale_max_clip=2.0)
    assert other.arn.hidden_dims == [7, 9]
    assert (other.stable, other.sigmoid_bias, other.log_scale_max_clip) == (True, 1.5, 2.0)
    # the learnable parameters are the network's
    assert {n for n, _ in flow.named_parameters()} == {"arn." + n for n, _ in flow.arn.named_parameters()}


@pytest.mark.parametrize("stable", [False, True])
@pytest.mark.parametrize("input_dim", [1, 2, 3, 6])
def test_forward_and_log_det_match_the_formulas(input_dim, stable):
    torch.manual_seed(input_dim)
    flow = _flow(input_dim, stable)
    x = torch.randn(7, input_dim, dtype=torch.float64)
    y = flow(x)
    y_hand, ladj_hand = _hand_forward(flow, x, stable)
    assert torch.allclose(y, y_hand, atol=1e-12)
    ladj = flow.log_abs_det_jacobian(x, y)
    assert ladj.shape == (7,)
    assert torch.allclose(ladj, ladj_hand, atol=1e-12)


@pytest.mark.parametrize("stable", [False, True])
@pytest.mark.parametrize("input_dim", [1, 2, 4, 7])
def test_log_det_equals_autograd_jacobian(input_dim, stable):
    torch.manual_seed(10 + input_dim)
    flow = _flow(input_dim, stable)
    xs = torch.randn(5, input_dim, dtype=torch.float64)
    ladj = flow.log_abs_det_jacobian(xs, flow(xs))
    for i, x in enumerate(xs):
        jac = jacobian(lambda v: flow(v), x)
        assert jac.shape == (input_dim, input_dim)
        assert torch.allclose(ladj[i], torch.linalg.slogdet(jac)[1], atol=1e-9), (i, ladj[i], jac)


def test_log_det_uses_the_clipped_log_scale():
    torch.manual_seed(3)
    flow = _flow(3, log_scale_min_clip=-0.05, log_scale_max_clip=0.05)
    with torch.no_grad():  # push the raw log-scales far outside the clip range
        flow.arn.layers[-1].bias[3:] = torch.tensor([4.0, -4.0, 4.0], dtype=torch.float64)
    x = torch.randn(4, 3, dtype=torch.float64)
    _, s = flow.arn(x)
    assert (s.abs() > 1.0).all()
    ladj = flow.log_abs_det_jacobian(x, flow(x))
    assert torch.allclose(ladj, s.clamp(-0.05, 0.05).sum(-1), atol=1e-12)
    for i in range(4):
        assert torch.allclose(ladj[i], torch.linalg.slogdet(jacobian(flow, x[i]))[1], atol=1e-9)
    # the clip bounds the value, not the gradient: every log-scale output still gets d/ds = 1
    grad = torch.autograd.grad(flow.log_abs_det_jacobian(x, flow(x)).sum(), flow.arn.layers[-1].bias)[0]
    assert torch.allclose(grad[3:], torch.full((3,), 4.0, dtype=torch.float64))
    assert torch.all(grad[:3] == 0)


@pytest.mark.parametrize("stable", [False, True])
@pytest.mark.parametrize("input_dim", [2, 5])
def test_jacobian_is_triangular_in_the_network_order(input_dim, stable):
    torch.manual_seed(20 + input_dim)
    flow = _flow(input_dim, stable)
    perm = flow.arn.get_permutation()
    assert sorted(perm.tolist()) == list(range(input_dim))
    pos = _position(perm)
    x = torch.randn(input_dim, dtype=torch.float64)
    jac = jacobian(flow, x)
    ordered = jac[perm][:, perm]  # rows and columns in the autoregressive order
    assert torch.all(ordered.triu(1) == 0)  # output k sees only inputs at positions <= k
    assert torch.all(torch.diagonal(ordered) > 0)
    # and it genuinely depends on the earlier inputs
    below = pos.unsqueeze(-1) > pos.unsqueeze(0)
    assert (jac[below].abs() > 1e-8).sum() >= 1


@pytest.mark.parametrize("stable", [False, True])
@pytest.mark.parametrize("input_dim", [1, 3, 6])
def test_inverse_cached_and_exact(input_dim, stable):
    torch.manual_seed(30 + input_dim)
    flow = _flow(input_dim, stable, hidden_dims=[15, 15])
    x = torch.randn(8, input_dim, dtype=torch.float64)
    y = flow(x)
    assert flow.inv(y) is x  # the cached input of the value the flow produced
    fresh = y.clone()
    x_exact = flow.inv(fresh)  # not in the cache: input_dim passes of the network
    assert x_exact is not x
    assert torch.allclose(x_exact, x, atol=1e-10)
    # an arbitrary value: its inverse maps back onto it, and is now the cached pair
    z = torch.randn(3, 2, input_dim, dtype=torch.float64)
    xz = flow.inv(z)
    assert flow(xz) is z
    assert torch.allclose(flow._call(xz), z, atol=1e-10)
    # the log-det of the inverted pair (from the cache) equals a fresh computation
    assert torch.allclose(flow.log_abs_det_jacobian(xz, z), flow.log_abs_det_jacobian(xz.clone(), z.clone()),
                          atol=1e-12)


def test_log_det_of_a_pair_not_in_the_cache_is_recomputed():
    torch.manual_seed(4)
    flow = _flow(3)
    x1, x2 = torch.randn(2, 4, 3, dtype=torch.float64)
    y1 = flow(x1)
    flow(x2)  # the cache now holds (x2, y2)
    assert torch.allclose(flow.log_abs_det_jacobian(x1, y1), _hand_forward(flow, x1, False)[1], atol=1e-12)


def test_batched_shapes_and_float32():
    torch.manual_seed(5)
    flow = affine_autoregressive(4)
    x = torch.randn(2, 3, 4)
    y = flow(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert flow.log_abs_det_jacobian(x, y).shape == (2, 3)
    assert torch.allclose(flow.inv(y.clone()), x, atol=1e-4)
    assert flow(torch.randn(4)).shape == (4,)


@pytest.mark.parametrize("stable", [False, True])
def test_transformed_distribution_log_prob_is_the_change_of_variables(stable):
    torch.manual_seed(6)
    dim = 4
    flow = _flow(dim, stable)
    base = dist.Normal(torch.zeros(dim, dtype=torch.float64), torch.ones(dim, dtype=torch.float64)).to_event(1)
    flow_dist = dist.TransformedDistribution(base, [flow])
    assert flow_dist.event_shape == (dim,) and flow_dist.batch_shape == ()
    x = torch.randn(6, dim, dtype=torch.float64)
    y_hand, ladj_hand = _hand_forward(flow, x, stable)
    std_normal = -0.5 * (x ** 2).sum(-1) - 0.5 * dim * math.log(2 * math.pi)
    expected = std_normal - ladj_hand
    # an uncached value: log_prob inverts it exactly
    assert torch.allclose(flow_dist.log_prob(y_hand.detach().clone()), expected, atol=1e-9)
    # a sample: rsample then log_prob of that same tensor goes through the cache
    y = flow_dist.rsample((5,))
    x_cached = flow.inv(y)
    assert flow.inv(y) is x_cached
    lp = flow_dist.log_prob(y)
    std = -0.5 * (x_cached ** 2).sum(-1) - 0.5 * dim * math.log(2 * math.pi)
    assert torch.allclose(lp, std - _hand_forward(flow, x_cached, stable)[1], atol=1e-9)
    assert y.requires_grad  # rsample is differentiable in the network's parameters


def test_maximum_likelihood_fit_beats_a_diagonal_normal():
    """A correlated 2-D Gaussian (rho = 0.9): the best diagonal Normal has mean log-likelihood
    -(1 + log 2 pi) = -2.838; the true density -2.838 - 0.5 log(0.19) = -2.008. The flow must get
    within 0.25 of the truth, i.e. beat the diagonal Normal by more than 0.58 nats per point."""
    torch.manual_seed(0)
    cov = torch.tensor([[1.0, 0.9], [0.9, 1.0]])
    target = torch.distributions.MultivariateNormal(torch.zeros(2), cov)
    data, held_out = target.sample((2000,)), target.sample((2000,))
    flow = affine_autoregressive(2, [16])
    base = dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1)
    flow_dist = dist.TransformedDistribution(base, [flow])
    optim = torch.optim.Adam(flow.parameters(), lr=0.02)
    with torch.no_grad():
        before = flow_dist.log_prob(held_out.clone()).mean().item()
    for _ in range(300):
        optim.zero_grad()
        loss = -flow_dist.log_prob(data.clone()).mean()
        loss.backward()
        optim.step()
    with torch.no_grad():
        after = flow_dist.log_prob(held_out.clone()).mean().item()
    truth = target.log_prob(held_out).mean().item()
    diagonal_best = -(1 + math.log(2 * math.pi))
    assert after > before + 0.5, (before, after)
    assert after > truth - 0.25, (after, truth)
    assert after > diagonal_best + 0.58, (after, diagonal_best)
