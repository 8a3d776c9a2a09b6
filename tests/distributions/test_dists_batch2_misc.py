"""TruncatedPolyaGamma, GaussianScaleMixture, OMTMultivariateNormal and AVFMultivariateNormal:
log-densities against series, scipy and numerical integration; samplers against densities;
moments; the custom rsample gradients against hand-written estimators (scipy's Lyapunov solver,
autograd of the variance surrogate) and, in expectation, against analytic gradients; shapes,
expand, dtypes and argument checks."""

import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.linalg as sl
import scipy.stats as st
import torch

import pyro.distributions as dist
from pyro.distributions.testing.gof import auto_goodness_of_fit

TEST_FAILURE_RATE = 1e-3
T = torch.float64


def t(x, dtype=T):
    return torch.tensor(x, dtype=dtype)


# ----- TruncatedPolyaGamma --------------------------------------------------------------------


def pg_series(x, terms):
    """The PG(1, 0) density series, summed naively over ``terms`` terms."""
    x = np.asarray(x, dtype=np.float64)[..., None]
    n = np.arange(terms)
    total = ((-1.0) ** n * (2 * n + 1) * np.exp(-(2 * n + 1) ** 2 / (8 * x))).sum(-1)
    return total / np.sqrt(2 * np.pi * x[..., 0] ** 3)


def test_polya_gamma_class_facts():
    d = dist.TruncatedPolyaGamma(torch.zeros(3, 2))
    assert d.batch_shape == () and d.event_shape == ()
    assert (d.truncation_point, d.num_log_prob_terms, d.num_gamma_variates) == (2.5, 7, 8)
    assert d.support.lower_bound == 0.0 and d.support.upper_bound == 2.5
    assert not d.has_rsample and d.arg_constraints == {}


def test_polya_gamma_log_prob_is_the_seven_term_series():
    x = np.array([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.4, 2.5])
    d = dist.TruncatedPolyaGamma(torch.zeros((), dtype=T))
    lp = d.log_prob(torch.tensor(x))
    np.testing.assert_allclose(lp.numpy(), np.log(pg_series(x, 7)), rtol=1e-10)
    # and the full density where seven terms have converged
    inner = x[x <= 1.0]
    np.testing.assert_allclose(lp[: inner.size].numpy(), np.log(pg_series(inner, 400)), rtol=1e-9)
    # tiny values do not underflow to -inf
    assert torch.isfinite(d.log_prob(t(1e-4)))
    assert d.log_prob(t(1e-4)).item() == pytest.approx(
        -1 / 8e-4 - 0.5 * math.log(2 * math.pi) - 1.5 * math.log(1e-4), rel=1e-12)


def test_polya_gamma_density_integrates_to_one_with_mean_one_quarter():
    d = dist.TruncatedPolyaGamma(torch.zeros((), dtype=T))

    def density(x):
        return d.log_prob(t(x)).exp().item()

    mass = si.quad(density, 1e-6, 2.5, limit=200)[0]
    mean = si.quad(lambda x: x * density(x), 1e-6, 2.5, limit=200)[0]
    assert mass == pytest.approx(1.0, abs=1e-4)
    assert mean == pytest.approx(0.25, abs=1e-4)  # PG(1, 0) has mean 1/4


def test_polya_gamma_samples_fit_log_prob_and_the_sum_of_eight_terms():
    torch.manual_seed(0)
    d = dist.TruncatedPolyaGamma(torch.zeros((), dtype=T))
    x = d.sample((5000,))
    assert x.shape == (5000,) and x.dtype == T
    assert (x > 0).all() and (x <= 2.5).all()
    assert auto_goodness_of_fit(x, d.log_prob(x).exp()) > TEST_FAILURE_RATE
    # the sampler's own law: sum of eight Exponential(1) / (2 pi^2 (k - 1/2)^2)
    w = 1 / (2 * math.pi ** 2 * (np.arange(1, 9) - 0.5) ** 2)
    mean, sd = w.sum(), math.sqrt((w ** 2).sum())
    assert abs(x.mean().item() - mean) < 4 * sd / math.sqrt(5000)
    assert x.var().item() == pytest.approx(sd ** 2, rel=0.1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_polya_gamma_expand_shapes_and_dtypes(dtype):
    d = dist.TruncatedPolyaGamma(torch.zeros(2, dtype=dtype))
    e = d.expand((4, 3))
    assert type(e) is dist.TruncatedPolyaGamma and e.batch_shape == (4, 3)
    s = e.sample((2,))
    assert s.shape == (2, 4, 3) and s.dtype == dtype
    assert d.sample().shape == () and d.sample().dtype == dtype
    lp = e.log_prob(torch.full((4, 3), 0.3, dtype=dtype))
    assert lp.shape == (4, 3) and lp.dtype == dtype
    assert lp[0, 0].item() == pytest.approx(math.log(pg_series(0.3, 7)), rel=1e-5)


# ----- GaussianScaleMixture -------------------------------------------------------------------

COORD = t([0.5, 1.0, 2.0])
LOGITS = t([0.3, -0.2, 0.1])
SCALES = t([0.5, 1.0, 2.5])


def gsm_reference_log_prob(x, coord, logits, scales):
    probs = torch.softmax(logits, -1).numpy()
    comps = [st.norm.logpdf(x, scale=(s * coord).numpy()).sum(-1) + np.log(p)
             for p, s in zip(probs, scales.numpy())]
    return np.logaddexp.reduce(np.stack(comps), axis=0)


def test_gsm_log_prob_matches_scipy_mixture():
    d = dist.GaussianScaleMixture(COORD, LOGITS, SCALES)
    assert d.batch_shape == () and d.event_shape == (3,)
    x = torch.randn(4, 5, 3, dtype=T) * 2
    lp = d.log_prob(x)
    assert lp.shape == (4, 5)
    np.testing.assert_allclose(lp.numpy(), gsm_reference_log_prob(x.numpy(), COORD, LOGITS, SCALES),
                               rtol=1e-10)


def test_gsm_samples_fit_log_prob_and_moments():
    torch.manual_seed(1)
    d = dist.GaussianScaleMixture(COORD[:2], LOGITS, SCALES)
    x = d.rsample((4000,))
    assert x.shape == (4000, 2)
    assert auto_goodness_of_fit(x, d.log_prob(x).exp()) > TEST_FAILURE_RATE
    assert torch.allclose(d.mean, torch.zeros(2, dtype=T))
    expected_var = COORD[:2] ** 2 * (torch.softmax(LOGITS, -1) * SCALES ** 2).sum()
    torch.testing.assert_close(d.variance, expected_var)
    torch.testing.assert_close(x.var(0), expected_var, rtol=0.12, atol=0)


def _gsm_params():
    return [p.clone().requires_grad_() for p in (COORD, LOGITS, SCALES)]


def _expected_abs_cubed(coord, logits, scales):
    # E sum_i |z_i|^3 = sum_k p_k sum_i 2 sqrt(2 / pi) (s_k c_i)^3
    probs = torch.softmax(logits, -1)
    return (probs * (2 * math.sqrt(2 / math.pi)) * scales.pow(3)).sum() * coord.pow(3).sum()


def test_gsm_rsample_gradients_are_unbiased():
    torch.manual_seed(2)
    params = _gsm_params()
    z = dist.GaussianScaleMixture(*params).rsample((200000,))
    (z.abs().pow(3).sum() / z.shape[0]).backward()
    estimated = [p.grad for p in params]
    ref_params = _gsm_params()
    expected = torch.autograd.grad(_expected_abs_cubed(*ref_params), ref_params)
    for est, exp, name in zip(estimated, expected, ["coord_scale", "component_logits", "component_scale"]):
        assert torch.allclose(est, exp, rtol=0.05, atol=0.05 * exp.abs().max().item()), name


def test_gsm_coord_scale_gradient_is_pathwise_per_sample():
    torch.manual_seed(3)
    coord, logits, scales = _gsm_params()
    z = dist.GaussianScaleMixture(coord, logits, scales).rsample((7,))
    g = torch.randn(7, 3, dtype=T)
    (z * g).sum().backward()
    torch.testing.assert_close(coord.grad, (g * z.detach() / coord.detach()).sum(0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gsm_logit_gradient_solves_the_radial_transport_equation(dtype):
    # Along the ray of a sample the radial cdf F(r) stays fixed: the finite-difference change of
    # F(r) at the original radius under a logit step equals -F'(r) dr.
    torch.manual_seed(4)
    coord, logits, scales = [p.to(dtype).clone().requires_grad_() for p in (COORD, LOGITS, SCALES)]
    d = dist.GaussianScaleMixture(coord, logits, scales)
    z = d.rsample()
    w = (z / coord).detach().double()
    r = w.norm()
    direction = w / r
    (z * (direction / COORD).to(dtype)).sum().backward()  # d/dt of the radius r: dr / dlogits
    dr = logits.grad.double()

    def radial_cdf(lg):
        probs = torch.softmax(lg, -1).numpy()
        return sum(p * st.chi.cdf(r.item() / s, df=3) for p, s in zip(probs, SCALES.numpy()))

    eps = 1e-6
    for j in range(3):
        step = torch.zeros(3, dtype=T)
        step[j] = eps
        dF = (radial_cdf(LOGITS + step) - radial_cdf(LOGITS - step)) / (2 * eps)
        density = sum(p * st.chi.pdf(r.item() / s, df=3) / s
                      for p, s in zip(torch.softmax(LOGITS, -1).numpy(), SCALES.numpy()))
        assert dr[j].item() == pytest.approx(-dF / density, rel=1e-5 if dtype == T else 1e-3, abs=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gsm_shapes_expand_and_dtypes(dtype):
    d = dist.GaussianScaleMixture(COORD.to(dtype), LOGITS.to(dtype), SCALES.to(dtype))
    assert d.rsample().shape == (3,) and d.rsample((2, 5)).shape == (2, 5, 3)
    assert d.rsample().dtype == dtype and d.log_prob(torch.zeros(3, dtype=dtype)).dtype == dtype
    e = d.expand((4,))
    assert e.batch_shape == (4,) and e.event_shape == (3,)
    assert e.rsample((2,)).shape == (2, 4, 3)
    x = torch.randn(2, 4, 3, dtype=dtype)
    torch.testing.assert_close(e.log_prob(x), d.log_prob(x))


def test_gsm_argument_checks():
    with pytest.raises(ValueError, match="coord_scale parameter in GaussianScaleMixture should be D"):
        dist.GaussianScaleMixture(torch.ones(2, 3), torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match="component_logits and component_scale .* K dimensional"):
        dist.GaussianScaleMixture(torch.ones(3), torch.zeros(2, 2), torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"component_scale parameter .* \(coord_scale: shape \(3,\)"):
        dist.GaussianScaleMixture(torch.ones(3), torch.zeros(3), torch.ones(2))
    with dist.validation_enabled():
        with pytest.raises(ValueError, match="component_scale"):
            dist.GaussianScaleMixture(torch.ones(3), torch.zeros(2), torch.tensor([1.0, -2.0]))


# ----- OMTMultivariateNormal and AVFMultivariateNormal ----------------------------------------

LOC = t([0.5, -1.0, 2.0])
L3 = t([[1.0, 0.0, 0.0], [0.3, 1.5, 0.0], [-0.2, 0.4, 0.8]])
CV = t([[[0.1, 0.2, -0.3], [0.5, 0.0, 0.2]], [[0.3, -0.1, 0.2], [0.1, 0.4, -0.2]]])


def make(kind, loc, L, cv=None):
    if kind == "omt":
        return dist.OMTMultivariateNormal(loc, L)
    return dist.AVFMultivariateNormal(loc, L, CV if cv is None else cv)


def quartic(z):
    return z.pow(4).sum(-1) + z[..., 0] * z[..., 2]


def expected_quartic(loc, L):
    # E z_i^4 = mu^4 + 6 mu^2 S_ii + 3 S_ii^2 and E z_0 z_2 = mu_0 mu_2 + S_02 for z ~ N(mu, S)
    S = L @ L.T
    v = S.diagonal()
    return (loc.pow(4) + 6 * loc.pow(2) * v + 3 * v.pow(2)).sum() + loc[0] * loc[2] + S[0, 2]


@pytest.mark.parametrize("kind", ["omt", "avf"])
def test_mvn_variants_log_prob_and_samples(kind):
    d = make(kind, LOC, L3)
    assert d.batch_shape == () and d.event_shape == (3,) and d.has_rsample
    x = torch.randn(6, 3, dtype=T)
    ref = st.multivariate_normal.logpdf(x.numpy(), LOC.numpy(), (L3 @ L3.T).numpy())
    np.testing.assert_allclose(d.log_prob(x).numpy(), ref, rtol=1e-10)
    torch.manual_seed(5)
    z = d.rsample((4, 2))
    torch.manual_seed(5)
    white = torch.randn(4, 2, 3, dtype=T)
    torch.testing.assert_close(z, LOC + white @ L3.T)


@pytest.mark.parametrize("kind", ["omt", "avf"])
def test_mvn_variants_gradients_are_unbiased(kind):
    torch.manual_seed(6)
    loc, L = LOC.clone().requires_grad_(), L3.clone().requires_grad_()
    n = 200000
    (quartic(make(kind, loc, L).rsample((n,))).sum() / n).backward()
    ref_loc, ref_L = LOC.clone().requires_grad_(), L3.clone().requires_grad_()
    exp_loc, exp_L = torch.autograd.grad(expected_quartic(ref_loc, ref_L), [ref_loc, ref_L])
    torch.testing.assert_close(loc.grad, exp_loc, rtol=0.03, atol=0.3)
    torch.testing.assert_close(L.grad, exp_L.tril(), rtol=0.03, atol=0.3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_omt_scale_tril_gradient_matches_scipy_lyapunov_solution(dtype):
    torch.manual_seed(7)
    L = L3.to(dtype).clone().requires_grad_()
    loc = LOC.to(dtype).clone().requires_grad_()
    z = dist.OMTMultivariateNormal(loc, L).rsample((5, 2))
    g = torch.randn(5, 2, 3, dtype=dtype)
    (z * g).sum().backward()
    centred = (z.detach().double() - LOC).reshape(-1, 3).numpy()
    M = centred.T @ g.double().reshape(-1, 3).numpy()
    S = (L3 @ L3.T).numpy()
    W = sl.solve_continuous_lyapunov(S, 0.5 * (M + M.T))  # S W + W S = sym(M)
    tol = 1e-9 if dtype == T else 1e-4
    np.testing.assert_allclose(L.grad.double().numpy(), np.tril(2 * W @ L3.numpy()), rtol=tol, atol=tol)
    torch.testing.assert_close(loc.grad, g.sum((0, 1)))


def test_avf_with_zero_control_variate_is_the_reparameterisation_gradient():
    loc, L = LOC.clone().requires_grad_(), L3.clone().requires_grad_()
    torch.manual_seed(8)
    quartic(dist.AVFMultivariateNormal(loc, L, torch.zeros(2, 1, 3, dtype=T)).rsample((9,))).sum().backward()
    ref_loc, ref_L = LOC.clone().requires_grad_(), L3.clone().requires_grad_()
    torch.manual_seed(8)
    quartic(dist.MultivariateNormal(ref_loc, scale_tril=ref_L).rsample((9,))).sum().backward()
    torch.testing.assert_close(loc.grad, ref_loc.grad)
    torch.testing.assert_close(L.grad, ref_L.grad.tril())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_avf_gradients_per_sample_against_a_hand_written_estimator(dtype):
    torch.manual_seed(9)
    L = L3.to(dtype).clone().requires_grad_()
    cv = CV.to(dtype).clone().requires_grad_()
    z = dist.AVFMultivariateNormal(LOC.to(dtype), L, cv).rsample((6,))
    g = torch.randn(6, 3, dtype=dtype)
    (z * g).sum().backward()
    g = g.double()
    eps = torch.linalg.solve_triangular(L3, (z.detach().double() - LOC).unsqueeze(-1),
                                        upper=False).squeeze(-1)

    def estimator(B, C):
        # reparameterisation term plus sum_l B_la C_lb ((L^T g) eps^T - its transpose)_ab
        out = torch.zeros(3, 3, dtype=T)
        for j in range(6):
            u = L3.T @ g[j]
            xi = torch.outer(u, eps[j]) - torch.outer(eps[j], u)
            out = out + torch.outer(g[j], eps[j]) + xi * (B.T @ C)
        return out.tril()

    B, C = CV[0].clone().requires_grad_(), CV[1].clone().requires_grad_()
    est = estimator(B, C)
    tol = {} if dtype == T else {"rtol": 1e-4, "atol": 1e-4}
    torch.testing.assert_close(L.grad.double(), est.detach(), **tol)
    dB, dC = torch.autograd.grad(0.5 * est.pow(2).sum(), [B, C])
    torch.testing.assert_close(cv.grad.double(), torch.stack([dB, dC]), **tol)


@pytest.mark.parametrize("kind", ["omt", "avf"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mvn_variants_expand_and_dtypes(kind, dtype):
    d = make(kind, LOC.to(dtype), L3.to(dtype), CV.to(dtype))
    z = d.rsample((2,))
    assert z.shape == (2, 3) and z.dtype == dtype
    e = d.expand((4,))
    assert e.batch_shape == (4,) and e.event_shape == (3,)
    loc = LOC.to(dtype).clone().requires_grad_()
    ze = make(kind, loc, L3.to(dtype), CV.to(dtype)).expand((4,)).rsample((2,))
    assert ze.shape == (2, 4, 3)
    ze.sum().backward()
    torch.testing.assert_close(loc.grad, torch.full((3,), 8.0, dtype=dtype))
    x = torch.randn(2, 4, 3, dtype=dtype)
    torch.testing.assert_close(e.log_prob(x), d.log_prob(x))


def test_mvn_variants_argument_checks():
    for cls, extra in [(dist.OMTMultivariateNormal, ()), (dist.AVFMultivariateNormal, (CV,))]:
        name = cls.__name__
        with pytest.raises(ValueError, match=rf"{name} loc must be 1-dimensional \(got shape \(2, 3\)\)"):
            cls(torch.zeros(2, 3, dtype=T), L3, *extra)
        with pytest.raises(ValueError, match=rf"{name} scale_tril must be 2-dimensional"):
            cls(LOC, L3.expand(2, 3, 3), *extra)
    for bad in [torch.ones(2, 3), torch.ones(3, 1, 3), torch.ones(2, 1, 2)]:
        with pytest.raises(ValueError, match="control_var should be of size 2 x L x D"):
            dist.AVFMultivariateNormal(LOC, L3, bad.to(T))


@pytest.mark.cuda
def test_new_distributions_on_cuda():
    cuda = torch.device("cuda")
    d = dist.TruncatedPolyaGamma(torch.zeros((), device=cuda)).expand((3,))
    assert d.sample((2,)).device.type == "cuda" and d.log_prob(torch.full((3,), 0.3, device=cuda)).is_cuda
    params = [p.to(cuda).clone().requires_grad_() for p in (COORD, LOGITS, SCALES)]
    z = dist.GaussianScaleMixture(*params).rsample((5,))
    z.pow(2).sum().backward()
    assert z.is_cuda and all(p.grad.is_cuda for p in params)
    for kind in ["omt", "avf"]:
        L = L3.to(cuda).clone().requires_grad_()
        z = make(kind, LOC.to(cuda), L, CV.to(cuda)).rsample((4,))
        quartic(z).sum().backward()
        assert z.is_cuda and L.grad.is_cuda
