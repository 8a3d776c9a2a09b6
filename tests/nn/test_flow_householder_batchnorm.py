"""Householder, BatchNorm and the permute helper: maths, inverses, statistics, registration."""

import pytest
import torch
from torch.autograd.functional import jacobian

import pyro.distributions as dist
import pyro.distributions.transforms as T
from pyro.distributions import constraints
from pyro.nn.flows import BatchNorm, Householder, batchnorm, householder, permute


# ----- Householder --------------------------------------------------------------------------------
def test_householder_resolves_and_helper_defaults():
    assert T.Householder is Householder and T.householder is householder
    assert householder(5).u_unnormed.shape == (3, 5)  # input_dim // 2 + 1
    assert householder(4, 2).u_unnormed.shape == (2, 4)
    flow = Householder(6)
    assert flow.u_unnormed.shape == (1, 6)
    assert flow.u_unnormed.abs().max() <= 6 ** -0.5
    assert flow.domain is constraints.real_vector and flow.codomain is constraints.real_vector
    assert flow.bijective and flow.volume_preserving
    with pytest.raises(ValueError):
        Householder(3, 0)
    with pytest.warns(UserWarning):
        Householder(3, 4)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_householder_orthogonal_exact_inverse_zero_logdet(count):
    torch.manual_seed(count)
    flow = Householder(4, count).double()
    x = torch.randn(4, dtype=torch.double)
    jac = jacobian(flow, x)
    assert torch.allclose(jac.T @ jac, torch.eye(4, dtype=torch.double), atol=1e-10)
    assert abs(abs(torch.linalg.det(jac).item()) - 1.0) < 1e-10
    xs = torch.randn(7, 3, 4, dtype=torch.double)
    ys = flow(xs)
    ladj = flow.log_abs_det_jacobian(xs, ys)
    assert ladj.shape == (7, 3) and torch.all(ladj == 0)
    assert flow.inv(ys) is xs  # cached
    assert torch.allclose(flow.inv(ys.clone()), xs, atol=1e-12)  # uncached, exact
    assert torch.allclose(ys.norm(dim=-1), xs.norm(dim=-1), atol=1e-12)


def test_householder_order_of_reflections():
    flow = Householder(3, 2).double()
    x = torch.randn(3, dtype=torch.double)
    y = x
    for u in flow.u_unnormed.detach():
        u = u / u.norm()
        y = y - 2 * torch.dot(y, u) * u
    assert torch.allclose(flow(x), y, atol=1e-12)


def test_householder_under_transformed_distribution_and_grad():
    flow = householder(3)
    base = dist.Normal(torch.zeros(3), torch.ones(3)).to_event(1)
    d = dist.TransformedDistribution(base, [flow])
    z = d.rsample((5,))
    assert torch.allclose(d.log_prob(z), base.log_prob(flow.inv(z.clone())), atol=1e-5)
    d.log_prob(torch.randn(5, 3)).sum().backward()
    assert flow.u_unnormed.grad is not None


# ----- BatchNorm ----------------------------------------------------------------------------------
def _bn(input_dim=3, **kwargs):
    flow = BatchNorm(input_dim, **kwargs).double()
    with torch.no_grad():
        flow.gamma.copy_(torch.linspace(0.5, 2.0, input_dim))
        flow.beta.copy_(torch.linspace(-0.3, 0.4, input_dim))
    return flow


def test_batchnorm_resolves_and_defaults():
    assert T.BatchNorm is BatchNorm and T.batchnorm is batchnorm
    flow = batchnorm(3, momentum=0.2, epsilon=1e-3)
    assert (flow.momentum, flow.epsilon) == (0.2, 1e-3)
    flow = BatchNorm(3)
    assert (flow.momentum, flow.epsilon) == (0.1, 1e-5)
    assert torch.equal(flow.gamma, torch.ones(3)) and torch.equal(flow.beta, torch.zeros(3))
    assert torch.equal(flow.moving_mean, torch.zeros(3))
    assert torch.equal(flow.moving_variance, torch.ones(3))
    assert dict(flow.named_buffers()).keys() == {"moving_mean", "moving_variance"}
    assert flow.domain is constraints.real and flow.bijective and flow._cache_size == 0


def test_batchnorm_train_statistics_match_hand_computation():
    torch.manual_seed(0)
    flow = _bn(momentum=0.25)
    eps = flow.epsilon
    g, b = flow.constrained_gamma.detach(), flow.beta.detach()
    y1 = torch.randn(16, 3, dtype=torch.double) * 2 + 1
    y2 = torch.randn(16, 3, dtype=torch.double) * 0.5 - 1
    x1 = flow.inv(y1)
    mean1, var1 = y1.mean(0), ((y1 - y1.mean(0)) ** 2).sum(0) / (16 - 1)
    assert torch.allclose(x1, g * (y1 - mean1) / torch.sqrt(var1 + eps) + b, atol=1e-10)
    run_mean, run_var = 0.25 * mean1, 0.75 + 0.25 * var1
    assert torch.allclose(flow.moving_mean, run_mean, atol=1e-12)
    assert torch.allclose(flow.moving_variance, run_var, atol=1e-12)
    # the log-det in training mode: from the batch's variance, broadcast over the batch
    ladj = flow.log_abs_det_jacobian(x1, y1)
    assert torch.allclose(ladj.expand(16, 3),
                          (0.5 * torch.log(var1 + eps) - torch.log(g)).expand(16, 3), atol=1e-10)
    flow.inv(y2)
    mean2, var2 = y2.mean(0), y2.var(0, unbiased=True)
    assert torch.allclose(flow.moving_mean, 0.75 * run_mean + 0.25 * mean2, atol=1e-12)
    assert torch.allclose(flow.moving_variance, 0.75 * run_var + 0.25 * var2, atol=1e-12)
    # the forward map uses the running statistics and does not touch them
    before = flow.moving_mean.clone()
    x = torch.randn(5, 3, dtype=torch.double)
    y = flow(x)
    expect = (x - b) / g * torch.sqrt(flow.moving_variance + eps) + flow.moving_mean
    assert torch.allclose(y, expect, atol=1e-10)
    assert torch.equal(flow.moving_mean, before)


def test_batchnorm_eval_uses_running_statistics_and_inverts():
    torch.manual_seed(1)
    flow = _bn()
    flow.inv(torch.randn(32, 3, dtype=torch.double) * 3 + 2)
    flow.eval()
    mean, var = flow.moving_mean.clone(), flow.moving_variance.clone()
    y = torch.randn(10, 3, dtype=torch.double)
    x = flow.inv(y)
    g, b = flow.constrained_gamma.detach(), flow.beta.detach()
    assert torch.allclose(x, g * (y - mean) / torch.sqrt(var + flow.epsilon) + b, atol=1e-10)
    assert torch.equal(flow.moving_mean, mean) and torch.equal(flow.moving_variance, var)
    assert torch.allclose(flow(x), y, atol=1e-10)
    assert torch.allclose(flow.inv(flow(x)), x, atol=1e-10)


def test_batchnorm_eval_logdet_matches_autograd_jacobian_per_sample():
    torch.manual_seed(2)
    flow = _bn(4)
    flow.inv(torch.randn(20, 4, dtype=torch.double) * 2)
    flow.eval()
    xs = torch.randn(6, 4, dtype=torch.double)
    ladj = flow.log_abs_det_jacobian(xs, flow(xs)).expand(6, 4)  # elementwise
    for x, ladj_x in zip(xs, ladj):
        jac = jacobian(flow, x)
        assert torch.allclose(jac, torch.diag(torch.diagonal(jac)), atol=1e-12)
        assert torch.allclose(ladj_x.sum(), torch.linalg.slogdet(jac)[1], atol=1e-8)
        assert torch.allclose(ladj_x, torch.log(torch.diagonal(jac).abs()), atol=1e-8)


def test_batchnorm_gamma_kept_positive_and_density():
    flow = BatchNorm(2)
    with torch.no_grad():
        flow.gamma.copy_(torch.tensor([-1.0, 2.0]))
    assert torch.allclose(flow.constrained_gamma, torch.tensor([1e-6, 2.0 + 1e-6]))
    flow = batchnorm(3)
    base = dist.Normal(torch.zeros(3), torch.ones(3))
    d = dist.TransformedDistribution(base, [flow])
    data = torch.randn(50, 3) * 3 + 1
    lp = d.log_prob(data)
    assert lp.shape == (50, 3) and torch.isfinite(lp).all()
    lp.sum().backward()
    assert flow.gamma.grad is not None and flow.beta.grad is not None
    flow.eval()
    assert d.sample((4,)).shape == (4, 3)


# ----- permute ------------------------------------------------------------------------------------
def test_permute_helper_given_permutation():
    assert T.permute is permute
    flow = T.permute(4, torch.tensor([2, 0, 3, 1]))
    assert isinstance(flow, T.Permute)
    x = torch.arange(8.0).reshape(2, 4)
    assert torch.equal(flow(x), x[:, [2, 0, 3, 1]])
    assert torch.equal(flow.inv(flow(x).clone()), x)
    assert torch.equal(flow.log_abs_det_jacobian(x, flow(x)), torch.zeros(2))
    flow = permute(3, [2, 1, 0], -2)
    assert flow.dim == -2
    x = torch.randn(5, 3, 2)
    assert torch.equal(flow(x), x[:, [2, 1, 0], :])


def test_permute_helper_random_permutation():
    torch.manual_seed(3)
    for n in [1, 5, 9]:
        flow = permute(n)
        assert isinstance(flow, T.Permute) and flow.permutation.dtype == torch.long
        assert torch.equal(flow.permutation.sort().values, torch.arange(n))
    assert permute(4, dim=-2).dim == -2
