"""Logistic, SkewLogistic, AsymmetricLaplace, SoftAsymmetricLaplace, SoftLaplace and AffineBeta
against scipy.stats / numerical integration, their samplers against their densities, moments,
cdf/icdf, reparameterised gradients against finite differences, dtypes and argument checks."""

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


# name -> (constructor, params, scipy log-density or None, support for integration)
FAMILIES = {
    "Logistic": (dist.Logistic, {"loc": t([0.5, -1.0]), "scale": t([2.0, 0.7])},
                 lambda x, loc, scale: st.logistic.logpdf(x, loc, scale)),
    "SkewLogistic": (dist.SkewLogistic,
                     {"loc": t([0.5, -1.0]), "scale": t([2.0, 0.7]), "asymmetry": t([1.5, 0.4])},
                     lambda x, loc, scale, asymmetry: st.genlogistic.logpdf(x, asymmetry, loc, scale)),
    "AsymmetricLaplace": (dist.AsymmetricLaplace,
                          {"loc": t([0.5, -1.0]), "scale": t([2.0, 0.7]), "asymmetry": t([1.5, 0.4])},
                          lambda x, loc, scale, asymmetry: st.laplace_asymmetric.logpdf(x, asymmetry, loc, scale)),
    "SoftAsymmetricLaplace": (dist.SoftAsymmetricLaplace,
                              {"loc": t([0.5, -1.0]), "scale": t([2.0, 0.7]),
                               "asymmetry": t([1.5, 0.4]), "softness": t([0.7, 1.3])},
                              None),
    "SoftLaplace": (dist.SoftLaplace, {"loc": t([0.5, -1.0]), "scale": t([2.0, 0.7])},
                    lambda x, loc, scale: st.hypsecant.logpdf(x, loc, scale)),
}


def _np(params):
    return {k: v.numpy() for k, v in params.items()}


def _soft_al_reference(x, loc, scale, asymmetry, softness):
    # The asymmetric Laplace convolved with Normal(0, scale * softness), by quadrature.
    al = st.laplace_asymmetric(asymmetry, loc, scale)
    noise = st.norm(0, scale * softness)
    f = lambda y: al.pdf(y) * noise.pdf(x - y)  # noqa: E731
    left, _ = si.quad(f, -np.inf, loc, epsabs=1e-13, epsrel=1e-11)
    right, _ = si.quad(f, loc, np.inf, epsabs=1e-13, epsrel=1e-11)
    return math.log(left + right)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_log_prob_matches_reference(name):
    cls, params, ref = FAMILIES[name]
    d = cls(**params)
    x = t([[-3.0, 0.2], [0.0, -1.0], [0.7, 4.0], [6.0, -5.0]])
    actual = d.log_prob(x)
    assert actual.shape == (4, 2) and actual.dtype == T
    if ref is not None:
        expected = ref(x.numpy(), **_np(params))
    else:
        p = _np(params)
        expected = np.array([[_soft_al_reference(x[i, j].item(), *(p[k][j] for k in params))
                              for j in range(2)] for i in range(4)])
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", list(FAMILIES) + ["AffineBeta"])
def test_density_integrates_to_one_and_cdf_icdf(name):
    if name == "AffineBeta":
        d = dist.AffineBeta(t(2.0), t(3.0), t(-1.0), t(4.0))
        lo, hi = -1.0, 3.0
    else:
        cls, params, _ = FAMILIES[name]
        d = cls(**{k: v[0] for k, v in params.items()})
        lo, hi = -np.inf, np.inf
    total, _ = si.quad(lambda x: d.log_prob(t(x)).exp().item(), lo, hi, epsabs=1e-12)
    assert total == pytest.approx(1.0, abs=1e-8)
    if not hasattr(type(d), "cdf") or name in ("AffineBeta", "AsymmetricLaplace", "SoftAsymmetricLaplace"):
        return
    for x in (-2.0, 0.3, 3.0):
        mass, _ = si.quad(lambda v: d.log_prob(t(v)).exp().item(), -np.inf, x, epsabs=1e-12)
        assert d.cdf(t(x)).item() == pytest.approx(mass, abs=1e-9)
    q = t([0.01, 0.3, 0.5, 0.9, 0.999])
    assert torch.allclose(d.cdf(d.icdf(q)), q, rtol=1e-10)


@pytest.mark.parametrize("name", list(FAMILIES) + ["AffineBeta"])
def test_samples_fit_log_prob(name):
    torch.manual_seed(0)
    if name == "AffineBeta":
        d = dist.AffineBeta(t(2.0), t(0.7), t(-1.0), t(4.0))
    else:
        cls, params, _ = FAMILIES[name]
        d = cls(**{k: v[1] for k, v in params.items()})
    x = d.sample((5000,))
    assert auto_goodness_of_fit(x, d.log_prob(x).exp()) > TEST_FAILURE_RATE


MOMENT_FAMILIES = ["Logistic", "AsymmetricLaplace", "SoftAsymmetricLaplace", "SoftLaplace"]


@pytest.mark.parametrize("name", MOMENT_FAMILIES + ["AffineBeta"])
def test_mean_variance(name):
    if name == "AffineBeta":
        d = dist.AffineBeta(t([2.0, 0.5]), t(3.0), t(-1.0), t(4.0))
        ref = st.beta(np.array([2.0, 0.5]), 3.0, -1.0, 4.0)
        ref_mean, ref_var = ref.mean(), ref.var()
    else:
        cls, params, _ = FAMILIES[name]
        d = cls(**params)
        # Reference moments by numerical integration of the density.
        ref_mean, ref_var = [], []
        for j in range(2):
            dj = cls(**{k: v[j] for k, v in params.items()})
            pdf = lambda x: dj.log_prob(t(x)).exp().item()  # noqa: E731
            m, _ = si.quad(lambda x: x * pdf(x), -np.inf, np.inf, epsabs=1e-12)
            v, _ = si.quad(lambda x: (x - m) ** 2 * pdf(x), -np.inf, np.inf, epsabs=1e-12)
            ref_mean.append(m)
            ref_var.append(v)
    np.testing.assert_allclose(d.mean.numpy(), ref_mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(d.variance.numpy(), ref_var, rtol=1e-7)
    torch.manual_seed(1)
    n = 40000
    x = d.sample((n,))
    se = (d.variance / n).sqrt()
    assert torch.all((x.mean(0) - d.mean).abs() < 5 * se)


def test_logistic_entropy_and_skew_logistic_reduces_to_logistic():
    d = dist.Logistic(t([0.5, -1.0]), t([2.0, 0.7]))
    np.testing.assert_allclose(d.entropy().numpy(), st.logistic.entropy(scale=np.array([2.0, 0.7])))
    x = t([-2.0, 0.0, 3.0]).unsqueeze(-1)
    s = dist.SkewLogistic(t([0.5, -1.0]), t([2.0, 0.7]))  # asymmetry defaults to 1
    assert torch.allclose(s.log_prob(x), d.log_prob(x), rtol=1e-12)
    assert torch.allclose(s.cdf(x), d.cdf(x), rtol=1e-12)
    al = dist.AsymmetricLaplace(t(0.5), t(2.0), t(1.0))
    lap = dist.Laplace(t(0.5), t(2.0))
    assert torch.allclose(al.log_prob(x), lap.log_prob(x), rtol=1e-12)
    assert torch.allclose(al.left_scale, t(2.0)) and torch.allclose(al.right_scale, t(2.0))
    for name in ("SkewLogistic",):
        with pytest.raises(NotImplementedError):
            FAMILIES[name][0](t(0.0), t(1.0)).mean


@pytest.mark.parametrize("name", MOMENT_FAMILIES + ["SkewLogistic", "AffineBeta"])
def test_rsample_gradient_matches_finite_difference(name):
    # The pathwise derivative of one seeded draw against central differences of that draw.
    if name == "AffineBeta":
        cls = dist.AffineBeta
        params = {"concentration1": t([2.0]), "concentration0": t([3.0]), "loc": t([-1.0]),
                  "scale": t([4.0])}
    else:
        cls, params, _ = FAMILIES[name]
        params = {k: v[:1].clone() for k, v in params.items()}
    assert cls(**params).has_rsample
    w = torch.randn(6, 1, dtype=T)

    def draw(**p):
        torch.manual_seed(3)
        return (cls(**p).rsample((6,)) * w).sum()

    for key in params:
        if name == "AffineBeta" and key.startswith("concentration"):
            continue  # the Beta's implicit gradient is not a function of a fixed seed
        p = {k: v.clone().requires_grad_(k == key) for k, v in params.items()}
        grad = torch.autograd.grad(draw(**p), p[key])[0]
        eps = 1e-6
        hi = dict(params, **{key: params[key] + eps})
        lo = dict(params, **{key: params[key] - eps})
        fd = (draw(**hi) - draw(**lo)) / (2 * eps)
        assert grad.item() == pytest.approx(fd.item(), rel=1e-5, abs=1e-7), key


def test_affine_beta_expected_gradient_in_concentration():
    # d/dc1 E[x] = scale * c0 / (c1 + c0)^2, estimated from reparameterised draws.
    c1 = t(2.0).requires_grad_()
    torch.manual_seed(4)
    x = dist.AffineBeta(c1, t(3.0), t(-1.0), t(4.0)).rsample((100000,))
    grad = torch.autograd.grad(x.mean(), c1)[0]
    assert grad.item() == pytest.approx(4.0 * 3.0 / 25.0, rel=0.03)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(FAMILIES) + ["AffineBeta"])
def test_dtype_and_shapes(name, dtype):
    if name == "AffineBeta":
        d = dist.AffineBeta(t([2.0, 0.5], dtype), t(3.0, dtype), t(-1.0, dtype), t(4.0, dtype))
    else:
        cls, params, _ = FAMILIES[name]
        d = cls(**{k: v.to(dtype) for k, v in params.items()})
    x = d.rsample((3,))
    assert x.dtype == dtype and x.shape == (3, 2)
    assert d.log_prob(x).dtype == dtype and d.log_prob(x).shape == (3, 2)
    assert bool(d.log_prob(x).isfinite().all())
    e = d.expand((4, 2))
    assert type(e) is type(d) and e.batch_shape == (4, 2) and e.sample().shape == (4, 2)
    assert torch.allclose(e.log_prob(x[0]), d.log_prob(x[0]).expand(4, 2))
    assert d.support.check(x).all()


def test_affine_beta_attributes_and_clamped_samples():
    d = dist.AffineBeta(t([2.0, 0.5]), t(3.0), t(-1.0), t(4.0))
    assert torch.equal(d.low, t([-1.0, -1.0])) and torch.equal(d.high, t([3.0, 3.0]))
    assert torch.equal(d.sample_size, t([5.0, 3.5]))
    assert torch.equal(d.concentration0, t([3.0, 3.0]))
    assert d.support.check(t([-0.999, 2.999])).all() and not d.support.check(t([-1.001, 3.001])).any()
    # log_prob is the beta's at (x - loc) / scale, minus log(scale)
    x = t([0.5, 1.0])
    expected = st.beta.logpdf((x.numpy() + 1) / 4, [2.0, 0.5], 3.0) - math.log(4)
    np.testing.assert_allclose(d.log_prob(x).numpy(), expected, rtol=1e-12)
    torch.manual_seed(0)
    s = dist.AffineBeta(0.01, 0.01, 0.0, 1.0).rsample((20000,))
    eps = torch.finfo(s.dtype).eps
    assert s.min().item() >= eps and s.max().item() <= 1 - eps
    assert bool(dist.AffineBeta(0.01, 0.01, 0.0, 1.0).log_prob(s).isfinite().all())


def test_seeded_draws_are_inverse_cdf_of_uniforms():
    # As in Pyro: one torch.rand draw per sample through the inverse cdf.
    for d in (dist.Logistic(t(0.5), t(2.0)), dist.SkewLogistic(t(0.5), t(2.0), t(1.5)),
              dist.SoftLaplace(t(0.5), t(2.0))):
        torch.manual_seed(0)
        x = d.rsample((5,))
        torch.manual_seed(0)
        u = torch.rand(5, dtype=T)
        assert torch.allclose(x, d.icdf(u), rtol=1e-12)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_argument_errors(name):
    cls, params, _ = FAMILIES[name]
    bad = {k: v for k, v in params.items()}
    bad["scale"] = t([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=rf"{name}: parameters of incompatible shapes .*scale: shape \(3,\)"):
        cls(**bad)
    neg = {k: v for k, v in params.items()}
    neg["scale"] = t([-1.0, 1.0])
    with pytest.raises(ValueError, match="Expected parameter scale"):
        cls(**neg, validate_args=True)
    d = cls(**params, validate_args=True)
    with pytest.raises(ValueError, match="support"):
        d.log_prob(t([float("nan"), 0.0]))


def test_affine_beta_argument_errors():
    with pytest.raises(ValueError, match=r"AffineBeta: parameters of incompatible shapes .*loc: shape \(3,\)"):
        dist.AffineBeta(t([1.0, 2.0]), t(1.0), t([0.0, 1.0, 2.0]), t(1.0))
    with pytest.raises(ValueError, match="^Expected parameter scale .* AffineBeta"):
        dist.AffineBeta(2.0, 3.0, 0.0, -1.0, validate_args=True)
    with pytest.raises(ValueError, match="Expected parameter concentration1"):
        dist.AffineBeta(-2.0, 3.0, 0.0, 1.0, validate_args=True)
