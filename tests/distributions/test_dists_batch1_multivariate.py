"""MultivariateStudentT, ProjectedNormal, NanMaskedNormal and NanMaskedMultivariateNormal:
log-densities against scipy.stats, numerical integration and brute-force marginals; samplers
against densities; moments; reparameterised gradients; shapes, dtypes and argument checks."""

import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st
import torch

import pyro.distributions as dist
from pyro.distributions.testing.gof import auto_goodness_of_fit

TEST_FAILURE_RATE = 1e-3
T = torch.float64


def t(x, dtype=T):
    return torch.tensor(x, dtype=dtype)


L3 = t([[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]])

# ----- MultivariateStudentT -------------------------------------------------------------------


def test_mvt_log_prob_matches_scipy():
    df = t([1.5, 4.0])
    loc = t([[0.0, 1.0, -1.0], [2.0, 0.5, 0.0]])
    d = dist.MultivariateStudentT(df, loc, L3)
    assert d.batch_shape == (2,) and d.event_shape == (3,)
    x = torch.randn(5, 2, 3, dtype=T) * 2
    actual = d.log_prob(x)
    assert actual.shape == (5, 2)
    cov = (L3 @ L3.T).numpy()
    for j in range(2):
        ref = st.multivariate_t.logpdf(x[:, j].numpy(), loc[j].numpy(), cov, df=df[j].item())
        np.testing.assert_allclose(actual[:, j].numpy(), ref, rtol=1e-10)


def test_mvt_batched_scale_tril_and_df_broadcast():
    L = torch.stack([L3, 2 * L3])
    d = dist.MultivariateStudentT(t([[3.0], [5.0]]), torch.zeros(3, dtype=T), L)
    assert d.batch_shape == (2, 2)
    assert d.scale_tril.shape == (2, 2, 3, 3) and d.df.shape == (2, 2) and d.loc.shape == (2, 2, 3)
    x = torch.randn(2, 2, 3, dtype=T)
    lp = d.log_prob(x)
    for i in range(2):
        for j in range(2):
            cov = (L[j] @ L[j].T).numpy()
            ref = st.multivariate_t.logpdf(x[i, j].numpy(), np.zeros(3), cov, df=d.df[i, j].item())
            assert lp[i, j].item() == pytest.approx(ref, rel=1e-10)


def test_mvt_matrices_and_moments():
    d = dist.MultivariateStudentT(t(5.0), t([1.0, -2.0, 0.5]), L3)
    cov = L3 @ L3.T
    assert torch.allclose(d.covariance_matrix, cov)
    assert torch.allclose(d.precision_matrix, torch.linalg.inv(cov))
    assert torch.allclose(d.variance, cov.diagonal() * 5 / 3)
    assert torch.equal(d.mean, t([1.0, -2.0, 0.5]))
    for df, mean_ok, var in ((0.5, False, math.nan), (1.0, False, math.nan), (1.5, True, math.inf),
                             (2.0, True, math.inf)):
        e = dist.MultivariateStudentT(t(df), torch.zeros(3, dtype=T), L3)
        assert bool(e.mean.isnan().all()) != mean_ok
        torch.testing.assert_close(e.variance, torch.full((3,), var, dtype=T), equal_nan=True)
    torch.manual_seed(0)
    x = d.sample((40000,))
    emp_cov = torch.cov(x.T)
    assert torch.allclose(x.mean(0), d.mean, atol=5 * (d.variance / 40000).sqrt().max())
    assert torch.allclose(emp_cov, cov * 5 / 3, rtol=0.1, atol=0.1)


def test_mvt_samples_fit_log_prob():
    torch.manual_seed(1)
    d = dist.MultivariateStudentT(t(4.0), t([0.0, 1.0]), t([[1.0, 0.0], [0.6, 0.8]]))
    x = d.sample((5000,))
    assert auto_goodness_of_fit(x, d.log_prob(x).exp()) > TEST_FAILURE_RATE


def test_mvt_rsample_gradient_matches_finite_difference():
    # loc and scale_tril enter the draw linearly for a fixed seed; df through the chi-squared
    # draw, checked by the expected gradient of E[x^2] = df / (df - 2) * diag(cov) (+ loc^2).
    params = {"df": t(6.0), "loc": t([0.5, -1.0]), "scale_tril": t([[1.0, 0.0], [0.3, 0.9]])}
    w = torch.randn(4, 2, dtype=T)

    def draw(**p):
        torch.manual_seed(5)
        return (dist.MultivariateStudentT(**p).rsample((4,)) * w).sum()

    for key in ("loc", "scale_tril"):
        p = {k: v.clone().requires_grad_(k == key) for k, v in params.items()}
        grad = torch.autograd.grad(draw(**p), p[key])[0]
        fd = torch.zeros_like(params[key])
        mask = torch.ones_like(fd).tril() if key == "scale_tril" else torch.ones_like(fd)
        for i in range(fd.numel()):
            if mask.view(-1)[i] == 0:
                continue  # only the lower triangle is a parameter
            step = torch.zeros_like(fd).view(-1)
            step[i] = 1e-6
            step = step.view_as(fd)
            fd.view(-1)[i] = (draw(**dict(params, **{key: params[key] + step}))
                              - draw(**dict(params, **{key: params[key] - step}))) / 2e-6
        assert torch.allclose(grad * mask, fd * mask, rtol=1e-6, atol=1e-8), key
    df = t(6.0).requires_grad_()
    torch.manual_seed(6)
    x = dist.MultivariateStudentT(df, torch.zeros(2, dtype=T), params["scale_tril"]).rsample((200000,))
    grad = torch.autograd.grad(x.pow(2).sum(-1).mean(), df)[0]
    trace = params["scale_tril"].pow(2).sum()
    assert grad.item() == pytest.approx((-2 / 16 * trace).item(), rel=0.1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mvt_dtype_expand_to_event(dtype):
    d = dist.MultivariateStudentT(t(5.0, dtype), torch.zeros(2, 3, dtype=dtype), L3.to(dtype))
    x = d.rsample((4,))
    assert x.dtype == dtype and x.shape == (4, 2, 3) and d.log_prob(x).dtype == dtype
    e = d.expand((5, 2))
    assert type(e) is dist.MultivariateStudentT and e.batch_shape == (5, 2)
    assert e.sample().shape == (5, 2, 3)
    assert torch.allclose(e.log_prob(x[0]), d.log_prob(x[0]).expand(5, 2))
    ind = d.to_event(1)
    assert ind.event_shape == (2, 3) and torch.allclose(ind.log_prob(x), d.log_prob(x).sum(-1))
    m = d.mask(torch.tensor([True, False]))
    assert torch.equal(m.log_prob(x)[:, 1], torch.zeros(4, dtype=dtype))


def test_mvt_argument_errors():
    with pytest.raises(ValueError, match=r"loc must be at least one-dimensional .*loc: shape \(\)"):
        dist.MultivariateStudentT(5.0, t(0.0), L3)
    with pytest.raises(ValueError, match=r"loc has event size 2 but scale_tril is 3 x 3 .*scale_tril: shape \(3, 3\)"):
        dist.MultivariateStudentT(5.0, torch.zeros(2, dtype=T), L3)
    with pytest.raises(ValueError, match=r"scale_tril must be a \(batch of\) square matrices .*shape \(3,\)"):
        dist.MultivariateStudentT(5.0, torch.zeros(3, dtype=T), torch.ones(3, dtype=T))
    with pytest.raises(ValueError, match=r"batch shapes do not broadcast \(df: \(2,\), loc: \(4,\)"):
        dist.MultivariateStudentT(t([3.0, 4.0]), torch.zeros(4, 3, dtype=T), L3)
    with pytest.raises(ValueError, match="Expected parameter scale_tril .*LowerCholesky"):
        dist.MultivariateStudentT(5.0, torch.zeros(3, dtype=T), torch.ones(3, 3, dtype=T), validate_args=True)
    with pytest.raises(ValueError, match="Expected parameter df"):
        dist.MultivariateStudentT(-1.0, torch.zeros(3, dtype=T), L3, validate_args=True)


# ----- ProjectedNormal ------------------------------------------------------------------------


def _pn_reference(x, c):
    # Integrate the normal density along the ray r * x, r > 0 (the density on the sphere).
    n = len(x)
    f = lambda r: r ** (n - 1) * np.exp(-0.5 * np.sum((r * x - c) ** 2))  # noqa: E731
    val, _ = si.quad(f, 0, np.inf, epsabs=0, epsrel=1e-12)
    return math.log(val) - 0.5 * n * math.log(2 * math.pi)


@pytest.mark.parametrize("dim", [2, 3, 4])
def test_projected_normal_log_prob_matches_ray_integral(dim):
    torch.manual_seed(dim)
    c = torch.randn(3, dim, dtype=T) * 2
    c[0] = 0
    x = torch.randn(4, 3, dim, dtype=T)
    x = x / x.norm(dim=-1, keepdim=True)
    lp = dist.ProjectedNormal(c).log_prob(x)
    assert lp.shape == (4, 3)
    ref = np.array([[_pn_reference(x[i, j].numpy(), c[j].numpy()) for j in range(3)] for i in range(4)])
    np.testing.assert_allclose(lp.numpy(), ref, rtol=1e-9)
    # zero concentration: uniform on the sphere, 1 / area
    area = 2 * math.pi ** (dim / 2) / math.gamma(dim / 2)
    assert torch.allclose(lp[:, 0], torch.full((4,), -math.log(area), dtype=T))


def test_projected_normal_integrates_to_one_on_circle_and_sphere():
    d2 = dist.ProjectedNormal(t([1.5, -0.5]))
    total, _ = si.quad(lambda a: d2.log_prob(t([math.cos(a), math.sin(a)])).exp().item(), 0, 2 * math.pi)
    assert total == pytest.approx(1.0, abs=1e-9)
    d3 = dist.ProjectedNormal(t([0.5, 1.0, 2.0]))

    def f(phi, theta):
        v = t([math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi), math.cos(theta)])
        return d3.log_prob(v).exp().item() * math.sin(theta)

    total, _ = si.dblquad(f, 0, math.pi, 0, 2 * math.pi, epsabs=1e-9)
    assert total == pytest.approx(1.0, abs=1e-7)


@pytest.mark.parametrize("dim", [2, 3])
def test_projected_normal_samples_fit_log_prob(dim):
    torch.manual_seed(10 + dim)
    c = t([1.0, 0.5, -0.3][:dim])
    d = dist.ProjectedNormal(c)
    x = d.sample((5000,))
    assert torch.allclose(x.norm(dim=-1), torch.ones(5000, dtype=T))
    assert auto_goodness_of_fit(x, d.log_prob(x).exp(), dim=dim - 1) > TEST_FAILURE_RATE


def test_projected_normal_mean_rsample_and_errors():
    c = t([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    d = dist.ProjectedNormal(c)
    assert torch.allclose(d.mean[0], c[0] / c[0].norm()) and torch.equal(d.mean[1], t([1.0, 0.0, 0.0]))
    torch.manual_seed(0)
    x = d.rsample((2,))
    torch.manual_seed(0)
    noise = torch.randn(2, 2, 3, dtype=T)
    y = c + noise
    assert torch.allclose(x, y / y.norm(dim=-1, keepdim=True))
    # the draw's gradient: d(y / |y|) / dc = (I - u u^T) / |y|
    conc = c[0].clone().requires_grad_()
    w = torch.randn(3, dtype=T)
    torch.manual_seed(1)
    s = dist.ProjectedNormal(conc).rsample()
    grad = torch.autograd.grad((s * w).sum(), conc)[0]
    torch.manual_seed(1)
    y = c[0] + torch.randn(3, dtype=T)
    u = y / y.norm()
    expected = (torch.eye(3, dtype=T) - torch.outer(u, u)) @ w / y.norm()
    assert torch.allclose(grad, expected)
    assert dist.ProjectedNormal.infer_shapes(concentration=(4, 3)) == ((4,), (3,))
    e = d.expand((5, 2))
    assert type(e) is dist.ProjectedNormal and e.sample().shape == (5, 2, 3)
    with pytest.raises(NotImplementedError, match="not implemented for dim = 5"):
        dist.ProjectedNormal(torch.ones(5, dtype=T)).log_prob(torch.ones(5, dtype=T) / 5 ** 0.5)
    with pytest.raises(ValueError, match=r"concentration must be at least one-dimensional.*shape \(\)"):
        dist.ProjectedNormal(t(1.0))
    with pytest.raises(ValueError, match="support"):
        dist.ProjectedNormal(c[0], validate_args=True).log_prob(t([1.0, 1.0, 0.0]))
    f32 = dist.ProjectedNormal(c[0].float())
    assert f32.rsample((3,)).dtype == torch.float32 and f32.log_prob(f32.sample()).dtype == torch.float32


# ----- NanMasked ------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")


def test_nan_masked_normal():
    loc = t([0.0, 1.0, 2.0]).requires_grad_()
    d = dist.NanMaskedNormal(loc, t(2.0))
    v = t([0.5, NAN, INF])
    lp = d.log_prob(v)
    expected = torch.tensor([st.norm.logpdf(0.5, 0.0, 2.0), 0.0, 0.0], dtype=T)
    assert torch.allclose(lp, expected)
    (grad,) = torch.autograd.grad(lp.sum(), loc)
    assert torch.allclose(grad, t([0.5 / 4, 0.0, 0.0]))
    assert torch.equal(dist.NanMaskedNormal(t(0.0), t(1.0), validate_args=True).log_prob(t([NAN])), t([0.0]))
    assert dist.NanMaskedNormal(t([0.0, 1.0]), t(1.0)).log_prob(t(0.0)).shape == (2,)
    assert type(d.expand((2, 3))) is dist.NanMaskedNormal
    assert torch.allclose(d.log_prob(t([0.1, 0.2, 0.3])), dist.Normal(loc, 2.0).log_prob(t([0.1, 0.2, 0.3])))


COV3 = t([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.5]])


@pytest.mark.parametrize("param", ["covariance_matrix", "scale_tril", "precision_matrix"])
def test_nan_masked_mvn_marginalises_missing_entries(param):
    given = {"covariance_matrix": COV3, "scale_tril": torch.linalg.cholesky(COV3),
             "precision_matrix": torch.linalg.inv(COV3)}[param]
    loc = t([[0.0, 1.0, 2.0], [-1.0, 0.5, 0.0]])
    d = dist.NanMaskedMultivariateNormal(loc, **{param: given})
    v = t([[[0.5, 1.2, 1.0], [NAN, 0.2, 3.0]], [[NAN, INF, 1.0], [NAN, NAN, NAN]], [[0.1, NAN, NAN], [0.3, 0.0, NAN]]])
    lp = d.log_prob(v)
    assert lp.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            obs = v[i, j].isfinite().numpy()
            if not obs.any():
                expected = 0.0
            else:
                expected = st.multivariate_normal.logpdf(v[i, j].numpy()[obs], loc[j].numpy()[obs],
                                                         COV3.numpy()[np.ix_(obs, obs)])
            assert lp[i, j].item() == pytest.approx(expected, rel=1e-10, abs=1e-12), (i, j)


def test_nan_masked_mvn_gradients_and_complete_data():
    loc = t([0.0, 1.0, 2.0]).requires_grad_()
    v = t([[0.5, NAN, 1.0], [0.2, 0.1, 0.0]])
    lp = dist.NanMaskedMultivariateNormal(loc, COV3).log_prob(v).sum()
    (grad,) = torch.autograd.grad(lp, loc)
    assert bool(grad.isfinite().all())
    # by hand: the observed marginal's score in loc, plus the full one for the second row
    sub = COV3[[0, 2]][:, [0, 2]]
    g0 = torch.linalg.solve(sub, v[0, [0, 2]] - loc.detach()[[0, 2]])
    g1 = torch.linalg.solve(COV3, v[1] - loc.detach())
    expected = g1.clone()
    expected[[0, 2]] += g0
    assert torch.allclose(grad, expected)
    full = dist.NanMaskedMultivariateNormal(loc, COV3)
    assert torch.allclose(full.log_prob(v[1:]), dist.MultivariateNormal(loc, COV3).log_prob(v[1:]))
    assert type(full.expand((2,))) is dist.NanMaskedMultivariateNormal
    assert dist.NanMaskedMultivariateNormal(loc, COV3, validate_args=True).log_prob(v).shape == (2,)
