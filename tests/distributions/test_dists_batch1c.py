"""SineSkewed and VonMises3D of issue 16 (circular and spherical families)."""

import math
import warnings

import numpy as np
import pytest
import scipy.stats as st
import torch

import pyro.distributions as dist
from pyro.distributions.testing.gof import auto_goodness_of_fit, multinomial_goodness_of_fit

TEST_FAILURE_RATE = 1e-3
T = torch.float64


def t(x, dtype=T):
    return torch.tensor(x, dtype=dtype)


def _torus_grid(n, dtype=T):
    # Midpoints of an n x n grid on [-pi, pi)^2 and the area of one cell.
    h = 2 * math.pi / n
    a = -math.pi + h * (torch.arange(n, dtype=dtype) + 0.5)
    x, y = torch.meshgrid(a, a, indexing="ij")
    return torch.stack([x, y], -1).reshape(-1, 2), h * h


# ----- SineSkewed ------------------------------------------------------------------------------


def _skewed(dtype=T):
    loc, conc = t([[0.3, -1.0], [2.5, 0.0]], dtype), t([[2.0, 0.5], [1.0, 4.0]], dtype)
    skew = t([[0.4, -0.3], [-0.5, 0.5]], dtype)
    return dist.SineSkewed(dist.VonMises(loc, conc).to_event(1), skew), loc, conc, skew


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sine_skewed_log_prob_is_a_density_and_matches_scipy(dtype):
    d, loc, conc, skew = _skewed(dtype)
    assert d.batch_shape == (2,) and d.event_shape == (2,) and not d.has_rsample
    assert d.support.event_dim == 1
    x, cell = _torus_grid(200, dtype)
    lp = d.log_prob(x.unsqueeze(-2))
    assert lp.shape == (40000, 2) and lp.dtype == dtype
    total = lp.double().exp().sum(0) * cell
    assert torch.allclose(total, torch.ones(2, dtype=T), atol=1e-4 if dtype == torch.float32 else 1e-9)
    # The closed form, with scipy's von Mises.
    pts = np.array([[1.0, 2.0], [-3.0, 0.1], [0.3, -1.0]])
    for i in range(2):
        ref = st.vonmises.logpdf(pts, conc[i].double().numpy(), loc=loc[i].double().numpy()).sum(-1)
        ref = ref + np.log1p((skew[i].double().numpy() * np.sin(pts - loc[i].double().numpy())).sum(-1))
        got = d.log_prob(torch.tensor(pts, dtype=dtype).unsqueeze(-2))[:, i]
        assert np.allclose(got.double().numpy(), ref, atol=1e-5 if dtype == torch.float32 else 1e-10)


def test_sine_skewed_uses_the_base_mean_and_works_in_one_dim():
    base = dist.Normal(t([0.5]), t([0.7])).to_event(1)
    d = dist.SineSkewed(base, t([0.6]))
    x = torch.linspace(-2, 3, 7, dtype=T).unsqueeze(-1)
    expected = base.log_prob(x) + torch.log1p(0.6 * torch.sin(x[:, 0] - 0.5))
    assert torch.allclose(d.log_prob(x), expected, atol=1e-12)


def test_sine_skewed_samples_fit_the_density():
    d, *_ = _skewed()
    torch.manual_seed(0)
    x = d.sample((20000,))
    assert x.shape == (20000, 2, 2) and x.dtype == T
    assert x.min() >= -math.pi and x.max() < math.pi
    n = 8
    edges = torch.linspace(-math.pi, math.pi, n + 1, dtype=T)
    fine, cell = _torus_grid(n * 25)
    for i in range(2):
        dens = d.log_prob(fine.unsqueeze(-2))[:, i].exp().reshape(n, 25, n, 25)
        probs = (dens.sum((1, 3)) * cell).reshape(-1)
        bins = torch.bucketize(x[:, i].contiguous(), edges[1:-1], right=True)
        counts = torch.bincount(bins[:, 0] * n + bins[:, 1], minlength=n * n)
        assert multinomial_goodness_of_fit(probs, counts) > TEST_FAILURE_RATE
    # One dim: the spacings test on the circle's density.
    d1 = dist.SineSkewed(dist.VonMises(t([1.0]), t([1.5])).to_event(1), t([-0.8]))
    y = d1.sample((5000,))
    assert auto_goodness_of_fit(y[:, 0], d1.log_prob(y).exp()) > TEST_FAILURE_RATE


def test_sine_skewed_reflection_about_the_mean_keeps_the_base_when_skewness_is_zero():
    base = dist.VonMises(t([3.0]), t([3.0])).to_event(1)
    d = dist.SineSkewed(base, t([0.0]))
    assert torch.allclose(d.log_prob(t([[2.0], [-3.0]])), base.log_prob(t([[2.0], [-3.0]])))
    torch.manual_seed(1)
    y = d.sample((5000,))
    assert y.min() >= -math.pi and y.max() < math.pi
    assert auto_goodness_of_fit(y[:, 0], d.log_prob(y).exp()) > TEST_FAILURE_RATE


def test_sine_skewed_batching_and_expand():
    base = dist.VonMises(torch.zeros(4, 1, 2, dtype=T), torch.ones(4, 1, 2, dtype=T)).to_event(1)
    skew = torch.tensor([[0.2, 0.1], [-0.3, 0.4], [0.0, -0.5]], dtype=T)
    d = dist.SineSkewed(base, skew)
    assert d.batch_shape == (4, 3) and d.skewness.shape == (4, 3, 2)
    assert d.sample((5,)).shape == (5, 4, 3, 2)
    x = t([0.4, -1.2])
    lp = d.log_prob(x)
    assert lp.shape == (4, 3)
    for j in range(3):
        single = dist.SineSkewed(dist.VonMises(torch.zeros(2, dtype=T), 1.0).to_event(1), skew[j])
        assert torch.allclose(lp[:, j], single.log_prob(x).expand(4), atol=1e-12)
    e = dist.SineSkewed(dist.VonMises(torch.zeros(2, dtype=T), 1.0).to_event(1), skew[1]).expand([5, 2])
    assert type(e) is dist.SineSkewed and e.batch_shape == (5, 2) and e.event_shape == (2,)
    assert e.base_dist.batch_shape == (5, 2)
    assert torch.allclose(e.log_prob(x), lp[0, 1].expand(5, 2), atol=1e-12)
    assert e.sample().shape == (5, 2, 2)
    with pytest.raises(ValueError, match="cannot expand"):
        d.expand([2, 3])


def test_sine_skewed_argument_errors_and_warning():
    base = dist.VonMises(torch.zeros(2), torch.ones(2)).to_event(1)
    with pytest.raises(ValueError, match=r"skewness of shape \(3,\).*event_shape \(2,\)"):
        dist.SineSkewed(base, torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="one weight per dim"):
        dist.SineSkewed(dist.VonMises(0.0, 1.0), torch.tensor(0.2))
    with pytest.raises(ValueError, match="do not broadcast"):
        dist.SineSkewed(dist.VonMises(torch.zeros(3, 2), 1.0).to_event(1), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="skewness"), pytest.warns(UserWarning, match="Total skewness"):
        dist.SineSkewed(base, torch.tensor([1.4, -0.3]), validate_args=True)
    with pytest.warns(UserWarning, match="Total skewness weight shouldn't exceed one."):
        dist.SineSkewed(base, torch.tensor([0.6, -0.6]), validate_args=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist.SineSkewed(base, torch.tensor([0.5, -0.5]))
    with pytest.raises(NotImplementedError):
        dist.SineSkewed(base, torch.tensor([0.5, -0.5])).rsample()


# ----- VonMises3D ------------------------------------------------------------------------------


def _sphere_grid(n, dtype=T):
    # Midpoint rule in (polar angle, azimuth); returns unit vectors and their area weights.
    h_t, h_p = math.pi / n, 2 * math.pi / (2 * n)
    theta = h_t * (torch.arange(n, dtype=dtype) + 0.5)
    phi = h_p * (torch.arange(2 * n, dtype=dtype) + 0.5)
    th, ph = torch.meshgrid(theta, phi, indexing="ij")
    xyz = torch.stack([th.sin() * ph.cos(), th.sin() * ph.sin(), th.cos()], -1).reshape(-1, 3)
    return xyz, (th.sin() * h_t * h_p).reshape(-1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_von_mises_3d_normalises_on_the_sphere_and_matches_scipy(dtype):
    conc = t([[0.0, 0.0, 2.0], [0.3, -0.2, 0.1], [4.0, 1.0, -3.0]], dtype)
    d = dist.VonMises3D(conc)
    assert d.batch_shape == (3,) and d.event_shape == (3,) and d.support is dist.constraints.sphere
    xyz, w = _sphere_grid(200, dtype)
    lp = d.log_prob(xyz.unsqueeze(-2))
    assert lp.shape == (xyz.shape[0], 3) and lp.dtype == dtype
    total = (lp.double().exp() * w.double().unsqueeze(-1)).sum(0)
    assert torch.allclose(total, torch.ones(3, dtype=T), atol=1e-4)
    pts = np.array([[0.0, 0.0, 1.0], [0.6, 0.0, -0.8], [0.0, -1.0, 0.0]])
    for i in range(3):
        k = conc[i].double().norm().item()
        ref = st.vonmises_fisher(conc[i].double().numpy() / k, k).logpdf(pts)
        got = d.log_prob(torch.tensor(pts, dtype=dtype).unsqueeze(-2))[:, i].double().numpy()
        assert np.allclose(got, ref, atol=1e-5 if dtype == torch.float32 else 1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_von_mises_3d_is_finite_for_large_concentration(dtype):
    d = dist.VonMises3D(t([0.0, 0.0, 1000.0], dtype))
    lp = d.log_prob(t([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype))
    assert torch.allclose(lp.double(), t([math.log(1000 / (2 * math.pi)), -1000 + math.log(1000 / (2 * math.pi))]),
                          rtol=1e-6, atol=1e-3 if dtype == torch.float32 else 1e-10)


def test_von_mises_3d_batching_expand_and_gradients():
    conc = torch.randn(4, 1, 3, dtype=T, generator=torch.Generator().manual_seed(0))
    d = dist.VonMises3D(conc)
    x = t([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]])
    assert d.log_prob(x).shape == (4, 2)
    e = dist.VonMises3D(conc[0, 0]).expand([2, 5])
    assert type(e) is dist.VonMises3D and e.batch_shape == (2, 5) and e.concentration.shape == (2, 5, 3)
    assert torch.allclose(e.log_prob(x[1]), dist.VonMises3D(conc[0, 0]).log_prob(x[1]).expand(2, 5))
    # d/dc log p = x - (coth k - 1 / k) c / k (the mean resultant direction times its length).
    c = conc[1, 0].clone().requires_grad_()
    dist.VonMises3D(c).log_prob(x[1]).backward()
    k = conc[1, 0].norm()
    expected = x[1] - (1 / torch.tanh(k) - 1 / k) * conc[1, 0] / k
    assert torch.allclose(c.grad, expected, atol=1e-10)


def test_von_mises_3d_errors_and_no_sampler():
    with pytest.raises(ValueError, match="rightmost dim 3"):
        dist.VonMises3D(torch.zeros(2))
    with pytest.raises(ValueError, match="rightmost dim 3"):
        dist.VonMises3D(torch.tensor(2.0))
    d = dist.VonMises3D(torch.tensor([0.0, 0.0, 2.0]), validate_args=False)
    with pytest.raises(ValueError, match="direction vectors are not normalized"):
        d.log_prob(torch.tensor([0.0, 0.0, 2.0]))
    assert d.log_prob(torch.tensor([0.0, 0.0, 1.0 + 1e-7], dtype=T)).isfinite()
    assert not d.has_rsample
    with pytest.raises(NotImplementedError):
        d.sample()
    with pytest.raises(NotImplementedError):
        d.rsample()


# ----- MixtureOfDiagNormalsSharedCovariance -----------------------------------------------------


def _mix_params(dtype=T):
    locs = t([[0.0, 1.0], [2.0, -1.0], [1.0, 3.0]], dtype)
    return locs, t([0.5, 1.5], dtype), t([0.1, -0.3, 0.5], dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shared_cov_mixture_log_prob_matches_scipy_and_normalises(dtype):
    locs, cs, cl = _mix_params(dtype)
    d = dist.MixtureOfDiagNormalsSharedCovariance(locs, cs, cl)
    assert d.batch_shape == () and d.event_shape == (2,) and d.has_rsample
    assert d.support is dist.constraints.real_vector
    pts = np.array([[0.3, 0.2], [1.0, 1.0], [-2.0, 4.0]])
    w = np.exp(cl.double().numpy()) / np.exp(cl.double().numpy()).sum()
    ref = np.log(sum(w[k] * st.multivariate_normal(locs[k].double().numpy(),
                                                   np.diag(cs.double().numpy() ** 2)).pdf(pts)
                     for k in range(3)))
    got = d.log_prob(torch.tensor(pts, dtype=dtype))
    assert got.dtype == dtype
    assert np.allclose(got.double().numpy(), ref, atol=1e-5 if dtype == torch.float32 else 1e-10)
    g = torch.linspace(-6, 9, 301, dtype=dtype)
    h = (g[1] - g[0]).item()
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    assert abs(d.log_prob(grid).double().exp().sum().item() * h * h - 1) < 1e-4


def test_shared_cov_mixture_samples_fit_the_density_and_batch():
    locs, cs, cl = _mix_params()
    d = dist.MixtureOfDiagNormalsSharedCovariance(locs, cs, cl)
    torch.manual_seed(0)
    x = d.rsample((4000,))
    assert x.shape == (4000, 2) and not x.requires_grad
    assert auto_goodness_of_fit(x, d.log_prob(x).exp(), dim=2) > TEST_FAILURE_RATE
    b = dist.MixtureOfDiagNormalsSharedCovariance(locs.expand(4, 3, 2), cs.expand(4, 2), cl.expand(4, 3))
    assert b.batch_shape == (4,) and b.sample((5,)).shape == (5, 4, 2)
    assert torch.allclose(b.log_prob(x[:6].unsqueeze(-2)), d.log_prob(x[:6]).unsqueeze(-1).expand(6, 4))
    e = d.expand([3, 2])
    assert type(e) is dist.MixtureOfDiagNormalsSharedCovariance and e.batch_shape == (3, 2)
    assert e.locs.shape == (3, 2, 3, 2) and e.coord_scale.shape == (3, 2, 2)
    assert e.component_logits.shape == (3, 2, 3) and e.rsample().shape == (3, 2, 2)
    assert torch.allclose(e.log_prob(x[0]), d.log_prob(x[0]).expand(3, 2))


def _mgf(locs, cs, cl, s):
    # E[exp(s . x)] in closed form: sum_k w_k exp(s . locs_k + |s * cs|^2 / 2).
    return (cl.softmax(-1) * torch.exp(locs @ s + 0.5 * (s * cs).pow(2).sum())).sum()


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_shared_cov_mixture_rsample_gradients_are_unbiased(dim):
    gen = torch.Generator().manual_seed(dim)
    locs = torch.randn(3, dim, dtype=T, generator=gen)
    cs = 0.5 + torch.rand(dim, dtype=T, generator=gen)
    cl = torch.randn(3, dtype=T, generator=gen)
    s = t([0.4, -0.3, 0.2][:dim])
    params = [p.clone().requires_grad_() for p in (locs, cs, cl)]
    expected = torch.autograd.grad(_mgf(*params, s), params)
    torch.manual_seed(0)
    x = dist.MixtureOfDiagNormalsSharedCovariance(*params).rsample((200000,))
    assert x.requires_grad
    got = torch.autograd.grad(torch.exp(x @ s).mean(), params)
    for g, e in zip(got, expected):
        assert torch.allclose(g, e, atol=0.01), (g, e)


def test_shared_cov_mixture_argument_errors():
    locs, cs, cl = _mix_params()
    M = dist.MixtureOfDiagNormalsSharedCovariance
    with pytest.raises(ValueError, match=r"locs \(4, 3, 2\), coord_scale \(2,\), component_logits \(4, 3\)"):
        M(locs.expand(4, 3, 2), cs, cl.expand(4, 3))
    with pytest.raises(ValueError, match="component_logits"):
        M(locs, cs, cl[:2])
    with pytest.raises(ValueError, match="coord_scale"):
        M(locs[0], cs, cl)
    with pytest.raises(ValueError, match="coord_scale"):
        with dist.validation_enabled(True):
            M(locs, -cs, cl)
    with pytest.raises(NotImplementedError):
        M(locs, cs, cl).mean


# ----- SineBivariateVonMises -------------------------------------------------------------------


def _series_log_norm(k1, k2, lam):
    # log(4 pi^2 sum_m binom(2m, m) (lam^2 / (4 k1 k2))^m I_m(k1) I_m(k2)), by scipy.
    from scipy.special import comb, ive
    m = np.arange(400)
    terms = comb(2 * m, m) * (lam ** 2 / (4 * k1 * k2)) ** m * ive(m, k1) * ive(m, k2)
    return math.log(4 * math.pi ** 2) + k1 + k2 + math.log(terms.sum())


_BVM = [(0.3, -2.0, 1.0, 2.0, 0.5), (2.5, 1.0, 0.5, 0.8, -1.5), (0.0, 0.0, 4.0, 6.0, 3.0),
        (-1.0, 2.0, 1.0, 3.0, 4.0)]  # the last is bimodal (lam^2 >= k1 k2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bivariate_von_mises_normalises_and_matches_the_series(dtype):
    params = [t([p[i] for p in _BVM], dtype) for i in range(5)]
    with pytest.warns(UserWarning, match="bimodal"):
        d = dist.SineBivariateVonMises(*params, validate_args=True)
    assert d.batch_shape == (4,) and d.event_shape == (2,) and not d.has_rsample
    x, cell = _torus_grid(200, dtype)
    lp = d.log_prob(x.unsqueeze(-2))
    assert lp.shape == (40000, 4) and lp.dtype == dtype
    assert torch.allclose(lp.double().exp().sum(0) * cell, torch.ones(4, dtype=T), atol=1e-4)
    ref = t([_series_log_norm(*p[2:]) for p in _BVM])
    assert torch.allclose(d.norm_const.double(), ref, atol=1e-5 if dtype == torch.float32 else 1e-10)
    big = dist.SineBivariateVonMises(0.0, 0.0, t(500.0), t(300.0), t(200.0))
    assert abs(big.norm_const.item() - _series_log_norm(500.0, 300.0, 200.0)) < 1e-8
    v = t([[0.5, 0.6]], dtype)
    by_hand = (params[2] * (v[:, 0] - params[0]).cos() + params[3] * (v[:, 1] - params[1]).cos()
               + params[4] * (v[:, 0] - params[0]).sin() * (v[:, 1] - params[1]).sin()) - ref.to(dtype)
    assert torch.allclose(d.log_prob(v), by_hand, atol=1e-4 if dtype == torch.float32 else 1e-10)


def test_bivariate_von_mises_samples_fit_the_density():
    params = [t([p[i] for p in _BVM]) for i in range(5)]
    d = dist.SineBivariateVonMises(*params, validate_args=False)
    torch.manual_seed(0)
    x = d.sample((20000,))
    assert x.shape == (20000, 4, 2) and x.min() >= -math.pi and x.max() < math.pi
    n = 8
    edges = torch.linspace(-math.pi, math.pi, n + 1, dtype=T)
    fine, cell = _torus_grid(n * 25)
    dens = d.log_prob(fine.unsqueeze(-2)).exp()
    for i in range(4):
        probs = (dens[:, i].reshape(n, 25, n, 25).sum((1, 3)) * cell).reshape(-1)
        bins = torch.bucketize(x[:, i].contiguous(), edges[1:-1], right=True)
        counts = torch.bincount(bins[:, 0] * n + bins[:, 1], minlength=n * n)
        assert multinomial_goodness_of_fit(probs, counts) > TEST_FAILURE_RATE


def test_bivariate_von_mises_arguments_batching_and_expand():
    S = dist.SineBivariateVonMises
    d = S(0.2, 0.3, 1.0, 2.0, weighted_correlation=0.5)
    assert abs(d.correlation.item() - 0.5 * math.sqrt(2.0)) < 1e-7
    assert torch.allclose(d.mean, torch.tensor([0.2, 0.3]))
    b = S(torch.zeros(3), torch.zeros(2, 1), 1.0, 2.0, 0.5)
    assert b.batch_shape == (2, 3) and b.sample((4,)).shape == (4, 2, 3, 2)
    assert S.infer_shapes(phi_loc=(3,), psi_loc=(), phi_concentration=(2, 1), psi_concentration=(),
                          correlation=()) == ((2, 3), (2,))
    e = S(t(0.2), 0.3, 1.0, 2.0, 0.5).expand([3])
    assert type(e) is S and e.batch_shape == (3,) and e.sample().shape == (3, 2)
    assert torch.allclose(e.norm_const, S(t(0.2), 0.3, 1.0, 2.0, 0.5).norm_const.expand(3))
    with pytest.raises(ValueError, match="exactly one of correlation and weighted_correlation"):
        S(0.2, 0.3, 1.0, 2.0)
    with pytest.raises(ValueError, match="exactly one of correlation and weighted_correlation"):
        S(0.2, 0.3, 1.0, 2.0, 0.5, 0.5)
    with pytest.raises(ValueError, match="phi_concentration"):
        S(0.2, 0.3, -1.0, 2.0, 0.5, validate_args=True)
    with pytest.raises(ValueError, match="incompatible shapes"):
        S(torch.zeros(3), torch.zeros(2), 1.0, 2.0, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S(0.0, 0.0, 1.0, 4.0, 5.0, validate_args=False)
        S(0.0, 0.0, 1.0, 4.0, 1.99, validate_args=True)
    with pytest.warns(UserWarning, match="bimodal"):
        S(0.0, 0.0, 1.0, 4.0, -2.0, validate_args=True)
    with pytest.raises(NotImplementedError):
        d.rsample()


def test_sine_skewed_bivariate_von_mises_is_a_density():
    base = dist.SineBivariateVonMises(t(0.3), t(-2.0), t(1.0), t(2.0), t(0.5))
    d = dist.SineSkewed(base, t([0.3, -0.6]))
    x, cell = _torus_grid(200)
    assert abs(d.log_prob(x).exp().sum().item() * cell - 1) < 1e-9
    expected = base.log_prob(x[:3]) + torch.log1p(0.3 * (x[:3, 0] - 0.3).sin() - 0.6 * (x[:3, 1] + 2.0).sin())
    assert torch.allclose(d.log_prob(x[:3]), expected, atol=1e-12)
    torch.manual_seed(2)
    assert d.sample((6,)).shape == (6, 2)
