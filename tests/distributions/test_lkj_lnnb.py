"""LKJ (correlation matrices) and LogNormalNegativeBinomial, against formulas written here."""

import math

import pytest
import scipy.integrate
import scipy.stats
import torch

import pyro.distributions as dist
from pyro.distributions import constraints

T = torch.float64


# ----- LKJ ----------------------------------------------------------------------------------

def _lkj_log_normalizer(d, eta):
    # log of the integral of det(C)^(eta - 1) over d x d correlation matrices (LKJ 2009):
    # sum_k (2 eta - 2 + d - k)(d - k) log 2 + (d - k) log B(b_k, b_k), b_k = eta + (d - k - 1)/2
    total = 0.0
    for k in range(1, d):
        b = eta + (d - k - 1) / 2
        log_beta = 2 * math.lgamma(b) - math.lgamma(2 * b)
        total += (2 * eta - 2 + d - k) * (d - k) * math.log(2) + (d - k) * log_beta
    return total


def _corr(*off):
    d = int(round((1 + math.sqrt(1 + 8 * len(off))) / 2))
    c = torch.eye(d, dtype=T)
    i, j = torch.tril_indices(d, d, -1)
    c[i, j] = torch.tensor(off, dtype=T)
    c[j, i] = torch.tensor(off, dtype=T)
    return c


@pytest.mark.parametrize("d, eta", [(2, 1.0), (2, 0.5), (3, 1.0), (3, 2.5), (4, 0.7), (5, 3.0)])
def test_lkj_log_prob_matches_formula(d, eta):
    lkj = dist.LKJ(d, torch.tensor(eta, dtype=T))
    values = [torch.eye(d, dtype=T), dist.LKJ(d, 2.0).sample().to(T)]
    values[1] = (values[1] + values[1].T) / 2
    values[1].diagonal().fill_(1.0)
    for c in values:
        expected = (eta - 1) * torch.logdet(c) - _lkj_log_normalizer(d, eta)
        assert lkj.log_prob(c).item() == pytest.approx(expected.item(), abs=1e-8)


def test_lkj_known_values():
    # d = 2, eta = 1: the correlation is uniform on (-1, 1); d = 3: the elliptope's volume is pi^2/2
    assert dist.LKJ(2, 1.0).log_prob(_corr(0.3).float()).item() == pytest.approx(-math.log(2), abs=1e-6)
    assert dist.LKJ(3, torch.tensor(1.0, dtype=T)).log_prob(_corr(0.1, -0.4, 0.2)).item() == pytest.approx(
        math.log(2 / math.pi ** 2), abs=1e-10)


def test_lkj_density_integrates_to_one():
    # Monte Carlo over the cube of off-diagonal entries (volume 8), zero outside the elliptope.
    gen = torch.Generator().manual_seed(1)
    off = torch.rand(100000, 3, generator=gen, dtype=T) * 2 - 1
    c = torch.eye(3, dtype=T).repeat(100000, 1, 1)
    c[:, 1, 0] = c[:, 0, 1] = off[:, 0]
    c[:, 2, 0] = c[:, 0, 2] = off[:, 1]
    c[:, 2, 1] = c[:, 1, 2] = off[:, 2]
    det = torch.linalg.det(c)
    inside = det > 0
    eta = torch.tensor([0.6, 1.0, 2.0], dtype=T)
    lkj = dist.LKJ(3, eta, validate_args=False)
    density = torch.zeros(100000, 3, dtype=T)
    density[inside] = lkj.log_prob(c[inside].unsqueeze(1)).exp()
    assert torch.allclose(8 * density.mean(0), torch.ones(3, dtype=T), atol=0.02)


def test_lkj_samples_shapes_support_and_marginal_variance():
    conc = torch.tensor([0.5, 1.0, 4.0], dtype=T)  # float64: eta < 1 gives nearly singular draws
    lkj = dist.LKJ(3, conc)
    assert lkj.batch_shape == (3,) and lkj.event_shape == (3, 3)
    assert lkj.support is constraints.corr_matrix and not lkj.has_rsample
    x = lkj.sample([4000])
    assert x.shape == (4000, 3, 3, 3)
    assert bool(constraints.corr_matrix.check(x).all())
    # each off-diagonal correlation is Beta(b, b) on (-1, 1), b = eta - 1 + d/2: variance 1/(2 eta + d - 1)
    var = (x[..., 0, 1] ** 2).mean(0)
    assert torch.allclose(var, 1 / (2 * conc + 2), rtol=0.1)
    assert torch.equal(lkj.mean, torch.eye(3, dtype=T).expand(3, 3, 3))
    assert lkj.log_prob(x).shape == (4000, 3)


def test_lkj_expand():
    lkj = dist.LKJ(3, torch.tensor([1.0, 2.0]))
    e = lkj.expand([4, 2])
    assert type(e) is dist.LKJ and e.batch_shape == (4, 2) and e.concentration.shape == (4, 2)
    c = _corr(0.2, 0.1, -0.3).float()
    assert torch.allclose(e.log_prob(c), lkj.log_prob(c).expand(4, 2))
    assert e.sample().shape == (4, 2, 3, 3)


def test_lkj_bad_inputs():
    with pytest.raises(ValueError, match="dim must be at least 2, got dim=1"):
        dist.LKJ(1, 1.0)
    with pytest.raises(TypeError, match="dim must be an int"):
        dist.LKJ(3.0, 1.0)
    with pytest.raises(ValueError, match=r"LKJ: Expected parameter concentration \(Tensor of shape \(2,\)\)"):
        dist.LKJ(3, torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="CorrMatrix"):
        dist.LKJ(3, 1.0).log_prob(torch.ones(3, 3))


# ----- LogNormalNegativeBinomial ------------------------------------------------------------

def _nb_log_pmf(y, nu, logit):
    # number of successes before nu failures, success log-odds logit
    log_p = -math.log1p(math.exp(-logit)) if logit > 0 else logit - math.log1p(math.exp(logit))
    log_q = log_p - logit
    return math.lgamma(y + nu) - math.lgamma(nu) - math.lgamma(y + 1) + nu * log_q + y * log_p


def _lnnb_log_pmf(y, nu, logit, sigma):
    def integrand(eps):
        normal = math.exp(-0.5 * (eps / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        return normal * math.exp(_nb_log_pmf(y, nu, logit + eps))

    value, _ = scipy.integrate.quad(integrand, -12 * sigma, 12 * sigma, epsabs=0, epsrel=1e-12, limit=200)
    return math.log(value)


@pytest.mark.parametrize("nu, logit, sigma", [(2.0, 0.3, 0.5), (5.0, -1.0, 1.2), (0.7, 1.5, 0.2),
                                              (10.0, -3.0, 0.8)])
def test_lnnb_log_prob_matches_adaptive_quadrature(nu, logit, sigma):
    ys = [0.0, 1.0, 3.0, 7.0, 20.0]
    expected = torch.tensor([_lnnb_log_pmf(y, nu, logit, sigma) for y in ys], dtype=T)
    args = [torch.tensor(a, dtype=T) for a in (nu, logit, sigma)]
    precise = dist.LogNormalNegativeBinomial(*args, num_quad_points=80)
    assert torch.allclose(precise.log_prob(torch.tensor(ys, dtype=T)), expected, atol=1e-7)
    default = dist.LogNormalNegativeBinomial(*args)
    assert default.num_quad_points == 8
    if sigma <= 0.5:  # 8 nodes resolve the integrand for small noise only
        assert torch.allclose(default.log_prob(torch.tensor(ys, dtype=T)), expected, atol=2e-3)


def test_lnnb_default_log_prob_equals_pyro_192():
    # log_prob values printed by pyro-ppl 1.9.2 for the same arguments (8 quadrature points)
    d = dist.LogNormalNegativeBinomial(torch.tensor([2.0, 5.0]), torch.tensor([0.3, -1.0]),
                                       torch.tensor([0.5, 1.2]))
    y = torch.tensor([[0.0, 3.0], [7.0, 1.0]])
    expected = torch.tensor([[-1.6193, -2.4101], [-3.4428, -1.5981]])
    assert torch.allclose(d.log_prob(y), expected, atol=1e-4)
    assert torch.allclose(d.mean, torch.tensor([3.0592, 3.7789]), atol=1e-4)
    assert torch.allclose(d.variance, torch.tensor([11.7256, 61.8257]), atol=1e-3)


def test_lnnb_quadrature_rule_and_one_point_limit():
    d = dist.LogNormalNegativeBinomial(2.0, 0.3, 0.5, num_quad_points=5)
    # probabilists' Hermite H_5 = x^5 - 10 x^3 + 15 x: nodes 0, +-sqrt(5 -+ sqrt(10))
    nodes = sorted([0.0, math.sqrt(5 - math.sqrt(10)), math.sqrt(5 + math.sqrt(10))]
                   + [-math.sqrt(5 - math.sqrt(10)), -math.sqrt(5 + math.sqrt(10))])
    assert torch.allclose(d.quad_points.double(), torch.tensor(nodes, dtype=T), atol=1e-6)
    weights = d.log_weights.double().exp()
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert (weights * d.quad_points.double() ** 4).sum().item() == pytest.approx(3.0, abs=1e-5)  # E[x^4]
    one = dist.LogNormalNegativeBinomial(2.0, 0.3, 0.5, num_quad_points=1)
    y = torch.arange(6.0)
    assert torch.allclose(one.log_prob(y), dist.NegativeBinomial(2.0, logits=torch.tensor(0.3)).log_prob(y))


def test_lnnb_normalised_and_moments():
    nu, logit, sigma = torch.tensor([2.0, 5.0], dtype=T), torch.tensor([0.3, -1.0], dtype=T), torch.tensor([0.5, 0.8], dtype=T)
    d = dist.LogNormalNegativeBinomial(nu, logit, sigma, num_quad_points=32)
    y = torch.arange(0.0, 600.0, dtype=T).unsqueeze(-1)
    pmf = d.log_prob(y).exp()
    assert torch.allclose(pmf.sum(0), torch.ones(2, dtype=T), atol=1e-9)
    mean = (y * pmf).sum(0)
    var = ((y - mean) ** 2 * pmf).sum(0)
    assert torch.allclose(d.mean, nu * torch.exp(logit + sigma ** 2 / 2))
    assert torch.allclose(mean, d.mean, rtol=1e-6)
    assert torch.allclose(var, d.variance, rtol=1e-5)
    x = d.sample([40000])
    assert x.shape == (40000, 2) and bool((x == x.round()).all()) and bool((x >= 0).all())
    assert torch.allclose(x.mean(0), d.mean, rtol=0.05)
    assert torch.allclose(x.var(0), d.variance, rtol=0.2)


def test_lnnb_shapes_expand_and_gradient():
    d = dist.LogNormalNegativeBinomial(torch.tensor([[2.0], [3.0]]), torch.tensor([0.1, 0.2, 0.3]), 0.5)
    assert d.batch_shape == (2, 3) and d.event_shape == () and d.support is constraints.nonnegative_integer
    assert d.log_prob(torch.tensor(2.0)).shape == (2, 3)
    assert d.log_prob(torch.ones(4, 1, 1)).shape == (4, 2, 3)
    e = d.expand([5, 2, 3])
    assert type(e) is dist.LogNormalNegativeBinomial and e.batch_shape == (5, 2, 3)
    assert torch.allclose(e.log_prob(torch.tensor(2.0)), d.log_prob(torch.tensor(2.0)).expand(5, 2, 3))
    # gradient of log p(y) in logits against a central finite difference
    logit = torch.tensor(0.3, dtype=T, requires_grad=True)
    lp = dist.LogNormalNegativeBinomial(torch.tensor(2.0, dtype=T), logit, torch.tensor(0.5, dtype=T))
    lp.log_prob(torch.tensor(3.0, dtype=T)).backward()
    h = 1e-5

    def f(v):
        return dist.LogNormalNegativeBinomial(torch.tensor(2.0, dtype=T), torch.tensor(v, dtype=T),
                                              torch.tensor(0.5, dtype=T)).log_prob(torch.tensor(3.0, dtype=T)).item()

    assert logit.grad.item() == pytest.approx((f(0.3 + h) - f(0.3 - h)) / (2 * h), abs=1e-7)


def test_lnnb_bad_inputs():
    with pytest.raises(ValueError, match="multiplicative_noise_scale"):
        dist.LogNormalNegativeBinomial(2.0, 0.3, -0.5)
    with pytest.raises(ValueError, match="total_count"):
        dist.LogNormalNegativeBinomial(-1.0, 0.3, 0.5)
    with pytest.raises(ValueError, match="num_quad_points must be at least 1, got 0"):
        dist.LogNormalNegativeBinomial(2.0, 0.3, 0.5, num_quad_points=0)
    with pytest.raises(TypeError, match="num_quad_points must be an int"):
        dist.LogNormalNegativeBinomial(2.0, 0.3, 0.5, num_quad_points=2.5)
    with pytest.raises(ValueError, match=r"incompatible shapes \(total_count: shape \(2,\), logits: shape \(3,\)"):
        dist.LogNormalNegativeBinomial(torch.ones(2), torch.ones(3), 0.5)
    with pytest.raises(ValueError, match="support"):
        dist.LogNormalNegativeBinomial(2.0, 0.3, 0.5).log_prob(torch.tensor(0.5))


@pytest.mark.parametrize("dim, eta", [(3, 1.0), (4, 2.0), (5, 0.5)])
def test_lkj_cholesky_samples_have_the_exact_marginals(dim, eta):
    # every off-diagonal correlation of LKJ(dim, eta) is 2 Beta(a, a) - 1, a = eta - 1 + dim / 2
    # (torch 2.13's own sampler fails this beyond the first row; ours replaces it)
    torch.manual_seed(dim)
    L = dist.LKJCholesky(dim, eta).sample((20000,))
    C = L @ L.mT
    a = eta - 1 + dim / 2
    for i in range(1, dim):
        for j in range(i):
            r = ((C[:, i, j].double() + 1) / 2).numpy()
            assert scipy.stats.kstest(r, scipy.stats.beta(a, a).cdf).pvalue > 1e-3, (i, j)
    torch.testing.assert_close(C.diagonal(dim1=-2, dim2=-1), torch.ones(20000, dim), atol=1e-5, rtol=0)
