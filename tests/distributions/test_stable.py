"""Stable and StableWithLogProb: samples and densities against scipy, special cases, gradients."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

import pyro.distributions as dist
from pyro.distributions.stable import standard_stable

D = torch.float64


@pytest.fixture
def levy(request):
    """scipy's levy_stable in the parameterization ``request.param`` ("S0" or "S1")."""
    old = scipy.stats.levy_stable.parameterization
    scipy.stats.levy_stable.parameterization = request.param
    yield scipy.stats.levy_stable
    scipy.stats.levy_stable.parameterization = old


def _ecdf(samples, grid):
    return (samples.unsqueeze(-1) <= torch.as_tensor(grid, dtype=samples.dtype)).double().mean(0)


# scipy's "S0" is Pyro's "S0"; scipy's "S1" is Pyro's "S" (for stability != 1).
SAMPLE_CASES = [
    ("S0", "S0", 1.5, 0.3),
    ("S0", "S0", 0.7, -0.6),
    ("S0", "S0", 1.0, 0.5),
    ("S0", "S0", 1.9, 0.9),
    ("S0", "S0", 0.5, 1.0),
    ("S", "S1", 1.5, 0.3),
    ("S", "S1", 0.8, -0.5),
]


@pytest.mark.parametrize("coords,levy,alpha,beta", SAMPLE_CASES, indirect=["levy"])
def test_samples_match_scipy_cdf(coords, levy, alpha, beta):
    torch.manual_seed(0)
    scale, loc = 2.0, 1.0
    d = dist.Stable(torch.tensor(alpha, dtype=D), torch.tensor(beta, dtype=D), scale, loc,
                    coords=coords)
    x = d.sample((20000,))
    grid = loc + scale * np.array([-5.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 5.0])
    expected = levy.cdf(grid, alpha, beta, loc=loc, scale=scale)
    assert np.abs(_ecdf(x, grid).numpy() - expected).max() < 0.015


LOG_PROB_CASES = [(a, b) for a in (0.5, 0.9, 1.5, 1.9) for b in (0.0, 0.3, -0.7)]
LOG_PROB_CASES += [(1.0, 0.3), (1.0, -0.7), (0.3, 0.5), (1.999, 0.2)]


@pytest.mark.parametrize("levy", ["S0"], indirect=True)
def test_log_prob_matches_scipy(levy):
    scale, loc = 1.5, -0.5
    alpha, beta = (torch.tensor(v, dtype=D).unsqueeze(-1) for v in zip(*LOG_PROB_CASES))
    x = torch.tensor([-6.0, -2.5, -1.0, -0.3, 0.1, 0.7, 1.6, 4.0, 9.0], dtype=D)
    actual = dist.StableWithLogProb(alpha, beta, scale, loc).log_prob(x)
    assert actual.shape == (len(LOG_PROB_CASES), 9)
    for i, (a, b) in enumerate(LOG_PROB_CASES):
        expected = levy.logpdf(x.numpy(), a, b, loc=loc, scale=scale)
        assert np.allclose(actual[i].numpy(), expected, atol=1e-5, rtol=0), (a, b)


@pytest.mark.parametrize("levy", ["S1"], indirect=True)
@pytest.mark.parametrize("alpha,beta", [(1.5, 0.5), (0.7, -0.4)])
def test_log_prob_s_coords_matches_scipy_s1(levy, alpha, beta):
    x = torch.tensor([-4.0, -1.0, 0.0, 1.0, 3.0], dtype=D)
    d = dist.Stable(torch.tensor(alpha, dtype=D), torch.tensor(beta, dtype=D), 2.0, 1.0,
                    coords="S")
    expected = levy.logpdf(x.numpy(), alpha, beta, loc=1.0, scale=2.0)
    assert np.allclose(d.log_prob(x).numpy(), expected, atol=1e-5, rtol=0)


def test_log_prob_at_the_mode_location_uses_the_closed_form():
    # x == zeta (in standard S0 coords, zeta = -skew * tan(pi a / 2)), where Nolan's integral
    # is singular: the density there is Gamma(1 + 1/a) cos(theta0) / (pi (1 + zeta^2)^(1/2a)).
    a, b = 0.5, 0.3
    zeta = -b * math.tan(math.pi * a / 2)
    theta0 = math.atan(b * math.tan(math.pi * a / 2)) / a
    expected = math.log(math.gamma(1 + 1 / a) * math.cos(theta0)
                        / (math.pi * (1 + zeta ** 2) ** (1 / (2 * a))))
    d = dist.Stable(torch.tensor(a, dtype=D), torch.tensor(b, dtype=D))
    x = torch.tensor([zeta, zeta + 1e-6, zeta - 1e-6], dtype=D)
    assert torch.allclose(d.log_prob(x), torch.tensor(expected, dtype=D), atol=1e-5)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.5), (1.5, 0.3), (1.9, -0.8)])
def test_density_integrates_to_one(alpha, beta):
    # x = tan(phi) maps the line onto (-pi/2, pi/2); f(x) sec^2(phi) stays bounded there.
    # Midpoint rule on 400 cells.
    h = math.pi / 400
    phi = -math.pi / 2 + h * (torch.arange(400, dtype=D) + 0.5)
    d = dist.Stable(torch.tensor(alpha, dtype=D), torch.tensor(beta, dtype=D))
    integrand = d.log_prob(torch.tan(phi)).exp() / torch.cos(phi) ** 2
    total = (integrand.sum() * h).item()
    assert abs(total - 1) < 1e-3


def test_log_prob_is_continuous_through_stability_one():
    x = torch.tensor([-3.0, -0.5, 0.4, 2.0], dtype=D)
    at_one = dist.Stable(torch.tensor(1.0, dtype=D), torch.tensor(0.6, dtype=D)).log_prob(x)
    for eps in (1e-9, 1e-6, 1e-4):
        for a in (1 - eps, 1 + eps):
            near = dist.Stable(torch.tensor(a, dtype=D), torch.tensor(0.6, dtype=D)).log_prob(x)
            assert torch.allclose(near, at_one, atol=1e-5 + 50 * eps)


def test_special_case_densities():
    x = torch.tensor([-3.0, -1.0, 0.2, 1.5, 4.0], dtype=D)
    one = torch.tensor(1.0, dtype=D)
    two = torch.tensor(2.0, dtype=D)
    # stability 2: Normal with variance 2 scale^2 (the skew does nothing)
    normal = dist.Normal(torch.tensor(0.5, dtype=D), math.sqrt(2) * 1.3)
    for skew in (0.0, 0.7):
        stable = dist.Stable(two, torch.tensor(skew, dtype=D), 1.3, 0.5)
        assert torch.allclose(stable.log_prob(x), normal.log_prob(x), atol=1e-6)
    # stability 1, skew 0: Cauchy
    cauchy = dist.Cauchy(torch.tensor(0.5, dtype=D), 1.3)
    assert torch.allclose(dist.Stable(one, torch.tensor(0.0, dtype=D), 1.3, 0.5).log_prob(x),
                          cauchy.log_prob(x), atol=1e-9)
    # stability 1/2, skew 1: Levy(mu, c), located at mu + c in S0 coords and at mu in S coords
    mu, c = -4.0, 0.8
    y = x[x > mu]
    levy = 0.5 * math.log(c / (2 * math.pi)) - c / (2 * (y - mu)) - 1.5 * torch.log(y - mu)
    half = torch.tensor(0.5, dtype=D)
    assert torch.allclose(dist.Stable(half, one, c, mu + c).log_prob(y), levy, atol=1e-6)
    assert torch.allclose(dist.Stable(half, one, c, mu, coords="S").log_prob(y), levy, atol=1e-6)


def test_special_case_samples():
    torch.manual_seed(1)
    n = 20000
    one = torch.tensor(1.0, dtype=D)
    # stability 2: Normal(loc, sqrt(2) scale)
    x = dist.Stable(torch.tensor(2.0, dtype=D), torch.tensor(0.4, dtype=D), 1.3, 0.5).sample((n,))
    grid = torch.tensor([-2.0, -0.5, 0.5, 1.5, 3.0], dtype=D)
    normal_cdf = dist.Normal(torch.tensor(0.5, dtype=D), math.sqrt(2) * 1.3).cdf(grid)
    assert (_ecdf(x, grid) - normal_cdf).abs().max() < 0.015
    assert abs(x.var().item() - 2 * 1.3 ** 2) < 0.1
    # stability 1, skew 0: Cauchy(loc, scale)
    x = dist.Stable(one, torch.tensor(0.0, dtype=D), 1.3, 0.5).sample((n,))
    grid = torch.tensor([-10.0, -1.0, 0.0, 0.5, 2.0, 10.0], dtype=D)
    cauchy_cdf = 0.5 + torch.atan((grid - 0.5) / 1.3) / math.pi
    assert (_ecdf(x, grid) - cauchy_cdf).abs().max() < 0.015
    # stability 1/2, skew 1: Levy(mu, c)
    mu, c = -4.0, 0.8
    x = dist.Stable(torch.tensor(0.5, dtype=D), one, c, mu, coords="S").sample((n,))
    assert x.min().item() > mu
    grid = torch.tensor([-3.9, -3.5, -3.0, -1.0, 5.0, 50.0], dtype=D)
    levy_cdf = torch.erfc(torch.sqrt(c / (2 * (grid - mu))))
    assert (_ecdf(x, grid) - levy_cdf).abs().max() < 0.015


def test_chambers_mallows_stuck_matches_the_textbook_formula():
    # Away from stability 1: S1 draw sin(a(V+B)) / cos(V)^(1/a) (cos(V - a(V+B)) / W)^((1-a)/a)
    # times (1 + b^2 tan^2(pi a/2))^(1/2a); the S0 draw subtracts b tan(pi a / 2).
    torch.manual_seed(2)
    v = (torch.rand(1000, dtype=D) - 0.5) * math.pi
    w = torch.empty(1000, dtype=D).exponential_()
    for a, b in [(1.5, 0.3), (0.7, -0.6), (1.95, 1.0), (0.4, 0.9)]:
        t = math.tan(math.pi * a / 2)
        B = math.atan(b * t) / a
        S = (1 + b * b * t * t) ** (1 / (2 * a))
        x1 = (S * torch.sin(a * (v + B)) / torch.cos(v) ** (1 / a)
              * (torch.cos(v - a * (v + B)) / w) ** ((1 - a) / a))
        z = standard_stable(torch.tensor(a, dtype=D), torch.tensor(b, dtype=D), v, w)
        assert torch.allclose(z, x1 - b * t, rtol=1e-9, atol=1e-9)
    # At stability 1: (2/pi) ((pi/2 + b V) tan V - b log((pi/2) W cos V / (pi/2 + b V)))
    b = 0.6
    x = (2 / math.pi) * ((math.pi / 2 + b * v) * torch.tan(v)
                         - b * torch.log((math.pi / 2) * w * torch.cos(v) / (math.pi / 2 + b * v)))
    z = standard_stable(torch.tensor(1.0, dtype=D), torch.tensor(b, dtype=D), v, w)
    assert torch.allclose(z, x, rtol=1e-9, atol=1e-9)


def test_rsample_draws_uniform_then_exponential():
    # Same seed, same draws: Uniform(-pi/2, pi/2) then Exponential(1), each of the sample shape.
    d = dist.Stable(torch.tensor([1.5, 0.8], dtype=D), torch.tensor([0.2, -0.4], dtype=D),
                    torch.tensor([2.0, 0.5], dtype=D), torch.tensor([1.0, -1.0], dtype=D))
    torch.manual_seed(3)
    x = d.rsample((7,))
    torch.manual_seed(3)
    u = torch.rand(7, 2, dtype=D) * math.pi - math.pi / 2
    e = torch.empty(7, 2, dtype=D).exponential_()
    assert torch.allclose(x, d.loc + d.scale * standard_stable(d.stability, d.skew, u, e))


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.5, 1.99])
def test_rsample_gradients_match_finite_differences(alpha):
    params = [torch.tensor(v, dtype=D, requires_grad=True) for v in (alpha, 0.4, 1.7, 0.3)]

    def draw(p):
        torch.manual_seed(4)
        return dist.Stable(*p).rsample((50,))

    x = draw(params)
    weights = torch.linspace(-1, 1, 50, dtype=D)
    grads = torch.autograd.grad((x * weights).sum(), params)
    h = 1e-6
    for i in range(4):
        up = [p.detach().clone() for p in params]
        down = [p.detach().clone() for p in params]
        up[i] += h
        down[i] -= h
        fd = ((draw(up) - draw(down)) * weights).sum() / (2 * h)
        assert torch.allclose(grads[i], fd, rtol=1e-5, atol=1e-6), i


def test_log_prob_gradients_match_finite_differences():
    params = [torch.tensor(v, dtype=D, requires_grad=True) for v in (1.4, -0.3, 1.2, 0.5)]
    x = torch.tensor([-2.0, 0.1, 0.9, 3.0], dtype=D, requires_grad=True)

    def lp(p, y):
        return dist.StableWithLogProb(*p).log_prob(y).sum()

    grads = torch.autograd.grad(lp(params, x), params + [x])
    h = 1e-5
    for i in range(4):
        up = [p.detach().clone() for p in params]
        down = [p.detach().clone() for p in params]
        up[i] += h
        down[i] -= h
        fd = (lp(up, x.detach()) - lp(down, x.detach())) / (2 * h)
        assert abs(grads[i].item() - fd.item()) < 1e-4, i
    fd_x = (dist.Stable(*[p.detach() for p in params]).log_prob(x.detach() + h)
            - dist.Stable(*[p.detach() for p in params]).log_prob(x.detach() - h)) / (2 * h)
    assert torch.allclose(grads[4], fd_x, atol=1e-4)


def test_shapes_expand_and_dtypes():
    d = dist.Stable(torch.full((3, 1), 1.5), torch.tensor([0.0, 0.5]), coords="S")
    assert d.batch_shape == (3, 2) and d.event_shape == ()
    assert d.rsample((4,)).shape == (4, 3, 2)
    e = d.expand((5, 3, 2))
    assert isinstance(e, dist.Stable) and e.batch_shape == (5, 3, 2) and e.coords == "S"
    w = dist.StableWithLogProb(1.5, 0.2).expand((2,))
    assert type(w) is dist.StableWithLogProb and w.batch_shape == (2,)
    for dtype in (torch.float32, torch.float64):
        d = dist.Stable(torch.tensor(1.3, dtype=dtype), torch.tensor(0.2, dtype=dtype))
        x = d.rsample((10,))
        assert x.dtype == dtype and torch.isfinite(x).all()
        assert d.log_prob(x).dtype == dtype
    lp32 = dist.Stable(torch.tensor(1.3), torch.tensor(0.2)).log_prob(torch.tensor([0.5]))
    lp64 = dist.Stable(torch.tensor(1.3, dtype=D), torch.tensor(0.2, dtype=D)).log_prob(
        torch.tensor([0.5], dtype=D))
    assert abs(lp32.item() - lp64.item()) < 1e-6


def test_float32_samples_are_finite_at_the_edges_of_the_uniform():
    a = torch.tensor([0.5, 1.0, 1.5, 2.0])
    b = torch.tensor([1.0, -1.0, 0.5, 0.0])
    edge = torch.tensor([-math.pi / 2, math.pi / 2]).repeat_interleave(4)
    z = standard_stable(a.repeat(2), b.repeat(2), edge, torch.ones(8))
    assert not torch.isnan(z).any()


def test_mean_variance_and_arguments():
    a = torch.tensor([1.5, 1.0, 2.0, 0.5])
    b = torch.tensor([0.3, 0.0, 0.0, 1.0])
    d = dist.Stable(a, b, 2.0, 1.0)
    assert torch.allclose(d.mean[[0, 2]], torch.tensor([1.6, 1.0]))
    assert torch.isnan(d.mean[[1, 3]]).all()
    assert torch.equal(d.variance, torch.tensor([math.inf, math.inf, 8.0, math.inf]))
    s = dist.Stable(a, b, 2.0, 1.0, coords="S")
    assert torch.allclose(s.mean[[0, 2]], torch.tensor([1.0, 1.0]))
    assert d.support is dist.constraints.real and d.has_rsample
    assert issubclass(dist.StableWithLogProb, dist.Stable)
    with pytest.raises(AssertionError, match="coords"):
        dist.Stable(1.5, 0.0, coords="X")
    with pytest.raises(ValueError, match="stability"):
        dist.Stable(2.5, 0.3, validate_args=True)
    with pytest.raises(ValueError, match="shape"):
        dist.Stable(torch.ones(2) * 1.5, torch.zeros(3))


@pytest.mark.cuda
def test_cuda_samples_and_log_prob_follow_the_device():
    d = dist.Stable(torch.tensor([1.5, 1.0, 0.7], device="cuda"),
                    torch.tensor([0.3, -0.5, 0.9], device="cuda"), 2.0, 1.0)
    x = d.rsample((100,))
    assert x.device.type == "cuda" and torch.isfinite(x).all()
    lp = d.log_prob(x[:5])
    assert lp.device.type == "cuda"
    cpu = dist.Stable(d.stability.cpu(), d.skew.cpu(), 2.0, 1.0).log_prob(x[:5].cpu())
    assert torch.allclose(lp.cpu(), cpu, atol=1e-5)
