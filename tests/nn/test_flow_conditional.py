"""The conditional flows (ConditionalAffineAutoregressive, ConditionalAffineCoupling,
ConditionalPlanar, ConditionalRadial, ConditionalHouseholder): helpers' defaults, the
unconditional maths with the network's outputs plugged in, autograd log-dets with batched
contexts, inverses, ConditionalTransformedDistribution, CUDA, and a conditional density fit."""

import math

import pytest
import torch
from flow_checks import assert_autoregressive, assert_inverts, assert_log_det_matches_autograd, scramble_

import pyro.distributions as dist
from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformedDistribution, ConditionalTransformModule
from pyro.nn import ConditionalAutoRegressiveNN, DenseNN
from pyro.nn.flows.affine_autoregressive import (
    AffineAutoregressive,
    ConditionalAffineAutoregressive,
    conditional_affine_autoregressive,
)
from pyro.nn.flows.affine_coupling import AffineCoupling, conditional_affine_coupling
from pyro.nn.flows.householder import (
    ConditionalHouseholder,
    ConditionedHouseholder,
    Householder,
    conditional_householder,
)
from pyro.nn.flows.planar import ConditionalPlanar, ConditionedPlanar, Planar, conditional_planar
from pyro.nn.flows.radial import ConditionalRadial, ConditionedRadial, Radial, conditional_radial

D, C = 3, 2  # input and context sizes

MAKERS = {
    "affine_autoregressive": lambda: conditional_affine_autoregressive(D, C, hidden_dims=[8]),
    "affine_autoregressive_stable": lambda: conditional_affine_autoregressive(
        D, C, hidden_dims=[8], stable=True),
    "affine_coupling": lambda: conditional_affine_coupling(D, C, hidden_dims=[8]),
    "planar": lambda: conditional_planar(D, C, hidden_dims=[6]),
    "radial": lambda: conditional_radial(D, C, hidden_dims=[6]),
    "householder": lambda: conditional_householder(D, C, hidden_dims=[6], count_transforms=2),
}
EXACT_INVERSE = {"affine_autoregressive", "affine_autoregressive_stable", "affine_coupling",
                 "householder"}


def _flow(name, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return scramble_(MAKERS[name]().to(dtype), 0.5, seed)


def test_helpers_defaults_and_types():
    caa = conditional_affine_autoregressive(6, 2)
    assert type(caa) is ConditionalAffineAutoregressive and caa.kwargs == {}
    assert type(caa.nn) is ConditionalAutoRegressiveNN
    assert (caa.nn.input_dim, caa.nn.context_dim, caa.nn.hidden_dims, caa.nn.param_dims) == (
        6, 2, [60], [1, 1])
    for flow, cls, dims in [
        (conditional_planar(6, 2), ConditionalPlanar, [1, 6, 6]),
        (conditional_radial(6, 2), ConditionalRadial, [6, 1, 1]),
        (conditional_householder(6, 2), ConditionalHouseholder, [6]),
        (conditional_householder(6, 2, count_transforms=3), ConditionalHouseholder, [6, 6, 6]),
    ]:
        assert type(flow) is cls and type(flow.nn) is DenseNN
        assert (flow.nn.input_dim, flow.nn.hidden_dims, flow.nn.param_dims) == (2, [60, 60], dims)
    assert conditional_householder(6, 2, count_transforms=3).count_transforms == 3
    assert conditional_planar(6, 2, hidden_dims=[5]).nn.hidden_dims == [5]
    for name in MAKERS:
        flow = MAKERS[name]()
        assert isinstance(flow, ConditionalTransformModule) and isinstance(flow, torch.nn.Module)
        assert flow.domain == constraints.real_vector and flow.codomain == constraints.real_vector
        assert flow.bijective
        t = flow.condition(torch.zeros(C))
        assert t._cache_size == 1 and t.bijective
        assert t.domain.event_dim == 1 and t.codomain.event_dim == 1
        assert list(getattr(t, "parameters", lambda: [])()) == []  # they stay the module's
    expected = {"planar": ConditionedPlanar, "radial": ConditionedRadial,
                "householder": ConditionedHouseholder, "affine_coupling": AffineCoupling}
    for name, cls in expected.items():
        assert type(MAKERS[name]().condition(torch.zeros(C))) is cls
    t = MAKERS["affine_autoregressive_stable"]().condition(torch.zeros(C))
    assert type(t) is AffineAutoregressive and t.stable and t.sigmoid_bias == 2.0
    # the unconditional flows are the same maths with parameters of their own
    assert issubclass(Planar, ConditionedPlanar) and issubclass(Radial, ConditionedRadial)
    assert issubclass(Householder, ConditionedHouseholder)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_log_det_autograd_batched_contexts_and_inverse(name):
    flow = _flow(name, seed=len(name))
    context = torch.randn(4, C, dtype=torch.float64)
    x = torch.randn(4, D, dtype=torch.float64)
    t = flow.condition(context)
    y = t(x)
    ladj = t.log_abs_det_jacobian(x, y)
    assert y.shape == (4, D) and ladj.shape == (4,)
    for i in range(4):  # each event against its own context, alone
        ti = flow.condition(context[i])
        torch.testing.assert_close(ti(x[i]), y[i])
        assert_log_det_matches_autograd(ti, x[i:i + 1], rtol=1e-8, atol=1e-8)
        torch.testing.assert_close(ti.log_abs_det_jacobian(x[i], ti(x[i])), ladj[i])
    # it depends on the context
    other = flow.condition(torch.randn(4, C, dtype=torch.float64))(x)
    assert (other - y).norm(dim=-1).min() > 1e-4
    assert_inverts(t, x, rtol=1e-9, atol=1e-9, uncached=name in EXACT_INVERSE)
    if name not in EXACT_INVERSE:
        with pytest.raises(KeyError, match="no analytic inverse"):
            t.inv(y.clone())


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_contexts_and_inputs_broadcast(name):
    flow = _flow(name)
    context = torch.randn(2, 1, C, dtype=torch.float64)
    x = torch.randn(5, D, dtype=torch.float64)
    t = flow.condition(context)
    y = t(x)
    assert y.shape == (2, 5, D) and t.log_abs_det_jacobian(x, y).shape == (2, 5)
    torch.testing.assert_close(y[1], flow.condition(context[1, 0])(x))


def test_affine_autoregressive_is_the_unconditional_maths():
    flow = _flow("affine_autoregressive")
    context = torch.randn(4, C, dtype=torch.float64)
    x = torch.randn(4, D, dtype=torch.float64)
    t = flow.condition(context)
    y = t(x)
    mu, s = flow.nn(x, context=context)
    log_scale = s.clamp(-5.0, 3.0)
    torch.testing.assert_close(y, mu + torch.exp(log_scale) * x)
    torch.testing.assert_close(t.log_abs_det_jacobian(x, y), log_scale.sum(-1))
    assert_autoregressive(flow.condition(context[0]), x[0], permutation=flow.nn.permutation.tolist())

    stable = _flow("affine_autoregressive_stable")
    ts = stable.condition(context)
    mu, s = stable.nn(x, context=context)
    gate = torch.sigmoid(s + 2.0)
    torch.testing.assert_close(ts(x), gate * x + (1 - gate) * mu)


def test_planar_radial_householder_are_the_unconditional_maths():
    context = torch.randn(C, dtype=torch.float64)
    x = torch.randn(6, D, dtype=torch.float64)
    cases = [
        (_flow("planar"), Planar(D).double(), ("bias", "u", "w")),
        (_flow("radial"), Radial(D).double(), ("x0", "alpha_prime", "beta_prime")),
    ]
    for cond, plain, names in cases:
        with torch.no_grad():
            for p_name, value in zip(names, cond.nn(context)):
                getattr(plain, p_name).copy_(value)
        t = cond.condition(context)
        y = t(x)
        torch.testing.assert_close(y, plain(x))
        torch.testing.assert_close(t.log_abs_det_jacobian(x, y), plain.log_abs_det_jacobian(x, y))
    cond = _flow("householder")
    plain = Householder(D, count_transforms=2).double()
    with torch.no_grad():
        plain.u_unnormed.copy_(torch.stack(cond.nn(context)))
    t = cond.condition(context)
    torch.testing.assert_close(t(x), plain(x))
    torch.testing.assert_close(t.log_abs_det_jacobian(x, t(x)), torch.zeros(6, dtype=torch.float64))
    one = scramble_(conditional_householder(D, C, hidden_dims=[4]).double())
    reflection = one.condition(context)
    u = one.nn(context)
    u = u / u.norm()
    torch.testing.assert_close(reflection(x), x - 2 * (x @ u).unsqueeze(-1) * u)


@pytest.mark.parametrize("name", sorted(MAKERS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conditional_transformed_distribution(name, dtype):
    flow = _flow(name, dtype=dtype)
    base = dist.Normal(torch.zeros(D, dtype=dtype), torch.ones(D, dtype=dtype)).to_event(1)
    cond_dist = ConditionalTransformedDistribution(base, [flow])
    context = torch.randn(4, C, dtype=dtype)
    d = cond_dist.condition(context)
    assert isinstance(d, dist.TransformedDistribution)
    s = d.sample((4,))
    assert s.shape == (4, D) and s.dtype == dtype and not s.requires_grad
    z = base.sample((4,))
    t = d.transforms[0]
    y = t(z)
    got = d.log_prob(y)
    want = base.log_prob(z) - t.log_abs_det_jacobian(z, y)
    assert got.shape == (4,) and got.dtype == dtype
    torch.testing.assert_close(got, want)
    if name in EXACT_INVERSE:  # a value the flow did not produce
        y2 = y.detach().clone()
        z2 = t.inv(y2)
        torch.testing.assert_close(d.log_prob(y2), base.log_prob(z2) - t.log_abs_det_jacobian(z2, y2))
    r = d.rsample((4,))
    grads = torch.autograd.grad(r.sum(), list(flow.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    # one context for a batch of samples
    assert cond_dist.condition(context[0]).sample((7,)).shape == (7, D)


def test_bad_input():
    flow = _flow("affine_autoregressive")
    with pytest.raises(ValueError, match=r"context's batch shape \(3,\).*input's \(4,\)"):
        flow.condition(torch.zeros(3, C, dtype=torch.float64))(torch.zeros(4, D, dtype=torch.float64))
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        ConditionalAffineAutoregressive(flow.nn, split_dim=1)
    with pytest.raises(ValueError, match="count_transforms must be at least 1"):
        ConditionalHouseholder(D, DenseNN(C, [4], param_dims=[D]), count_transforms=0)
    with pytest.warns(UserWarning, match="over-parametrise"):
        ConditionalHouseholder(D, DenseNN(C, [4], param_dims=[D] * 4), count_transforms=4)
    wrong = ConditionalHouseholder(D, DenseNN(C, [4], param_dims=[D, D]), count_transforms=3)
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*expected \(\.\.\., 3, 3\)"):
        wrong.condition(torch.zeros(C))(torch.zeros(D))


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_cuda(name):
    flow = _flow(name, dtype=torch.float32)
    base = dist.Normal(torch.zeros(D), torch.ones(D)).to_event(1)
    context = torch.randn(4, C)
    z = base.sample((4,))
    t = flow.condition(context)
    y_cpu = t(z)
    ladj_cpu = t.log_abs_det_jacobian(z, y_cpu)
    flow = flow.cuda()
    t = flow.condition(context.cuda())
    y = t(z.cuda())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), y_cpu, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(t.log_abs_det_jacobian(z.cuda(), y).cpu(), ladj_cpu,
                               atol=1e-5, rtol=1e-5)
    cuda_base = dist.Normal(torch.zeros(D, device="cuda"), torch.ones(D, device="cuda")).to_event(1)
    d = ConditionalTransformedDistribution(cuda_base, [flow]).condition(context.cuda())
    s = d.rsample((4,))
    assert s.device.type == "cuda" and d.log_prob(s).device.type == "cuda"


def test_maximum_likelihood_of_a_context_dependent_density():
    # y | c ~ N((2c, -c), 0.5^2 I), c ~ N(0, 1). The true conditional log-likelihood per point is
    # 2 * (-log(0.5 sqrt(2 pi)) - 1/2) = -1.452; any density of y alone is at best the marginal,
    # N(0, [[4.25, -2], [-2, 1.25]]), at -log(2 pi) - log(1.3125) / 2 - 1 = -2.974.
    gen = torch.Generator().manual_seed(1)

    def data(n):
        c = torch.randn(n, 1, generator=gen)
        return c, torch.cat([2 * c, -c], -1) + 0.5 * torch.randn(n, 2, generator=gen)

    context, y = data(256)
    test_context, test_y = data(2000)
    torch.manual_seed(0)
    flow = conditional_affine_autoregressive(2, 1, hidden_dims=[16])
    base = dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1)
    cond_dist = ConditionalTransformedDistribution(base, [flow])
    optim = torch.optim.Adam(flow.parameters(), lr=0.05)
    for _ in range(100):
        optim.zero_grad()
        loss = -cond_dist.condition(context).log_prob(y).mean()
        loss.backward()
        optim.step()
    with torch.no_grad():
        held_out = cond_dist.condition(test_context).log_prob(test_y).mean().item()
    true_value = 2 * (-math.log(0.5 * math.sqrt(2 * math.pi)) - 0.5)
    marginal_best = -math.log(2 * math.pi) - 0.5 * math.log(1.3125) - 1
    assert marginal_best < -2.9
    assert true_value - 0.15 < held_out < true_value + 0.1
