"""AffineNormal, matrix_and_gaussian_to_gaussian and the GammaGaussian algebra against dense
joint Gaussians and numerical integration; GammaGaussianHMM.filter against a dense joint."""

import math

import pytest
import torch
from scipy import integrate

import pyro.distributions as dist
from pyro.ops.gamma_gaussian import (
    Gamma,
    GammaGaussian,
    gamma_and_mvn_to_gamma_gaussian,
    gamma_gaussian_tensordot,
    matrix_and_mvn_to_gamma_gaussian,
    scale_mvn,
)
from pyro.ops.gaussian import (
    AffineNormal,
    Gaussian,
    gaussian_tensordot,
    matrix_and_gaussian_to_gaussian,
    mvn_to_gaussian,
)

F64 = torch.float64


def _mvn(batch, n):
    L = torch.randn(batch + (n, n), dtype=F64).tril(-1) * 0.3
    L = L + torch.diag_embed(torch.rand(batch + (n,), dtype=F64) + 0.5)
    return dist.MultivariateNormal(torch.randn(batch + (n,), dtype=F64), scale_tril=L)


def _affine():
    torch.manual_seed(0)
    matrix = torch.randn(2, 3, 4, dtype=F64)
    loc = torch.randn(2, 4, dtype=F64)
    scale = torch.rand(2, 4, dtype=F64) + 0.5
    return AffineNormal(matrix, loc, scale), matrix, loc, scale


def _normal_lp(x, matrix, loc, scale, y):
    mean = (x.unsqueeze(-2) @ matrix).squeeze(-2) + loc
    return torch.distributions.Normal(mean, scale).log_prob(y).sum(-1)


def test_affine_normal_dense_and_conditions():
    a, matrix, loc, scale = _affine()
    assert a.batch_shape == (2,)
    x, y = torch.randn(2, 3, dtype=F64), torch.randn(2, 4, dtype=F64)
    expected = _normal_lp(x, matrix, loc, scale, y)
    g = a.to_gaussian()
    assert isinstance(g, Gaussian) and g.dim() == 7
    assert torch.allclose(g.log_density(torch.cat([x, y], -1)), expected)
    # Fixing all of y: a Gaussian over x; all of x: an AffineNormal with no x.
    cy = a.condition(y)
    assert isinstance(cy, Gaussian) and cy.dim() == 3
    assert torch.allclose(cy.log_density(x), expected)
    cx = a.left_condition(x)
    assert isinstance(cx, AffineNormal) and cx.matrix.shape == (2, 0, 4)
    assert torch.allclose(cx.to_gaussian().log_density(y), expected)
    assert torch.allclose(cx.condition(y).log_normalizer, expected)
    # Partial conditions go through the dense factor.
    assert torch.allclose(a.condition(y[:, 2:]).log_density(torch.cat([x, y[:, :2]], -1)), expected)
    assert torch.allclose(a.left_condition(x[:, :1]).log_density(torch.cat([x[:, 1:], y], -1)),
                          expected)
    # Integrating y out of a conditional density leaves the constant zero over x.
    m = a.marginalize(right=4)
    assert torch.allclose(m.log_normalizer, torch.zeros(2, dtype=F64), atol=1e-10)
    assert torch.allclose(m.precision, torch.zeros(2, 3, 3, dtype=F64), atol=1e-10)
    perm = torch.tensor([4, 0, 6, 1, 5, 2, 3])
    xy = torch.cat([x, y], -1)
    assert torch.allclose(a.event_permute(perm).log_density(xy[:, perm]), expected)
    assert torch.allclose((a + g).log_density(xy), 2 * expected)


def test_affine_normal_rsample_and_batch_ops():
    a, matrix, loc, scale = _affine()
    x = torch.randn(2, 3, dtype=F64)
    cx = a.left_condition(x)
    noise = torch.randn(5, 2, 4, dtype=F64)
    mean = (x.unsqueeze(-2) @ matrix).squeeze(-2) + loc
    assert torch.allclose(cx.rsample(noise=noise), mean + scale * noise)
    assert cx.rsample((6,)).shape == (6, 2, 4)
    with pytest.raises(NotImplementedError):
        a.rsample()
    e = a.expand((5, 2))
    assert isinstance(e, AffineNormal) and e.batch_shape == (5, 2)
    r = a.reshape((2, 1))
    assert r.batch_shape == (2, 1) and r.matrix.shape == (2, 1, 3, 4)
    first = a[(0,)]
    assert first.batch_shape == ()
    y = torch.randn(4, dtype=F64)
    assert torch.allclose(first.to_gaussian().log_density(torch.cat([x[0], y])),
                          _normal_lp(x[0], matrix[0], loc[0], scale[0], y))
    with pytest.raises(ValueError, match=r"AffineNormal: .*matrix \(2, 3, 4\), loc \(2, 5\)"):
        AffineNormal(matrix, torch.zeros(2, 5), scale)


def test_matrix_and_gaussian_to_gaussian_against_dense_marginal():
    torch.manual_seed(1)
    x_dim, y_dim = 3, 2
    matrix = torch.randn(x_dim, y_dim, dtype=F64)
    prior, noise = _mvn((), x_dim), _mvn((), y_dim)
    joint = matrix_and_gaussian_to_gaussian(matrix, mvn_to_gaussian(noise))
    x, y = torch.randn(4, x_dim, dtype=F64), torch.randn(4, y_dim, dtype=F64)
    assert torch.allclose(joint.log_density(torch.cat([x, y], -1)), noise.log_prob(y - x @ matrix))
    # With x ~ prior, y is Normal(prior.loc @ M + noise.loc, M^T S M + R).
    marginal = (mvn_to_gaussian(prior).event_pad(right=y_dim) + joint).marginalize(left=x_dim)
    dense = dist.MultivariateNormal(
        prior.loc @ matrix + noise.loc,
        matrix.T @ prior.covariance_matrix @ matrix + noise.covariance_matrix)
    assert torch.allclose(marginal.log_density(y), dense.log_prob(y))
    with pytest.raises(ValueError, match="maps to 2 variables but y_gaussian has 3"):
        matrix_and_gaussian_to_gaussian(matrix, mvn_to_gaussian(prior))


def test_gaussian_sub():
    g = mvn_to_gaussian(_mvn((2,), 3))
    h = g - torch.tensor([1.0, 2.0], dtype=F64)
    x = torch.randn(2, 3, dtype=F64)
    assert torch.allclose(h.log_density(x), g.log_density(x) - torch.tensor([1.0, 2.0], dtype=F64))
    with pytest.raises(ValueError, match="cannot subtract a Gaussian"):
        g - g


def _at_scale(g, s):
    """The GammaGaussian at a fixed s: a plain Gaussian."""
    return Gaussian(g.log_normalizer + g.alpha * math.log(s) - s * g.beta, s * g.info_vec,
                    s * g.precision)


def test_gamma_and_mvn_to_gamma_gaussian_is_the_joint_density():
    torch.manual_seed(2)
    mvn = _mvn((), 3)
    gamma = dist.Gamma(torch.tensor(2.5, dtype=F64), torch.tensor(1.5, dtype=F64))
    gg = gamma_and_mvn_to_gamma_gaussian(gamma, mvn)
    assert gg.dim() == 3 and gg.alpha.item() == pytest.approx(2.5 + 1.5 - 1)
    x = torch.randn(5, 3, dtype=F64)
    s = torch.rand(5, dtype=F64) + 0.5
    expected = gamma.log_prob(s) + torch.stack(
        [scale_mvn(mvn, s[i]).log_prob(x[i]) for i in range(5)])
    assert torch.allclose(gg.log_density(x, s), expected)
    # Normalised: integrating x then s gives log 1.
    marginal = gg.event_logsumexp()
    assert isinstance(marginal, Gamma)
    assert marginal.logsumexp().item() == pytest.approx(0.0, abs=1e-10)
    assert torch.allclose(marginal.log_density(s), gamma.log_prob(s))
    # compound(): the Student-t of x with s integrated out numerically.
    t = gg.compound()
    assert isinstance(t, dist.MultivariateStudentT) and t.df.item() == pytest.approx(5.0)
    for i in range(2):
        numeric = integrate.quad(lambda v: math.exp(gg.log_density(x[i], torch.tensor(v, dtype=F64))),
                                 0, math.inf)[0]
        assert t.log_prob(x[i]).item() == pytest.approx(math.log(numeric), rel=1e-7)


def test_gamma_gaussian_condition_marginalize_tensordot_at_fixed_scale():
    torch.manual_seed(3)
    a = gamma_and_mvn_to_gamma_gaussian(dist.Gamma(torch.tensor([2.0, 3.0], dtype=F64), 1.2),
                                        _mvn((2,), 4))
    b = matrix_and_mvn_to_gamma_gaussian(torch.randn(2, 2, 3, dtype=F64), _mvn((2,), 3))
    assert a.batch_shape == (2,) and b.dim() == 5
    for s in (0.4, 1.0, 2.3):
        v = torch.randn(2, 2, dtype=F64)
        st = torch.tensor(s, dtype=F64)
        pairs = [(a.condition(v), _at_scale(a, s).condition(v)),
                 (a.marginalize(left=1), _at_scale(a, s).marginalize(left=1)),
                 (a.marginalize(left=1, right=1), _at_scale(a, s).marginalize(left=1, right=1)),
                 (gamma_gaussian_tensordot(a, b, 2),
                  gaussian_tensordot(_at_scale(a, s), _at_scale(b, s), 2))]
        for got, want in pairs:
            z = torch.randn(3, 2, got.dim(), dtype=F64)
            assert torch.allclose(got.log_density(z, st), want.log_density(z))
    # cat, getitem, expand, event_pad, adding
    c = GammaGaussian.cat([a, a], 0)
    assert c.batch_shape == (4,) and torch.allclose(c[2].alpha, a[0].alpha)
    assert a.expand((3, 2)).batch_shape == (3, 2) and a.reshape((2, 1)).batch_shape == (2, 1)
    z = torch.randn(2, 6, dtype=F64)
    st = torch.tensor(1.7, dtype=F64)
    assert torch.allclose(a.event_pad(left=1, right=1).log_density(z, st),
                          a.log_density(z[:, 1:5], st))
    assert torch.allclose((a + a).log_density(z[:, :4], st), 2 * a.log_density(z[:, :4], st))


def test_matrix_and_mvn_to_gamma_gaussian_is_the_scaled_noise_density():
    torch.manual_seed(4)
    matrix = torch.randn(2, 3, dtype=F64)
    mvn = _mvn((), 3)
    g = matrix_and_mvn_to_gamma_gaussian(matrix, mvn)
    assert g.alpha.item() == pytest.approx(1.5)
    x, y = torch.randn(2, dtype=F64), torch.randn(3, dtype=F64)
    for s in (0.3, 1.0, 4.0):
        st = torch.tensor(s, dtype=F64)
        assert g.log_density(torch.cat([x, y]), st).item() == pytest.approx(
            scale_mvn(mvn, st).log_prob(y - x @ matrix).item(), rel=1e-10)
    with pytest.raises(ValueError, match="expected a MultivariateNormal"):
        scale_mvn(dist.Normal(torch.zeros(3), 1.0).to_event(1), torch.tensor(2.0))


def _dense_chain(init, A, trans, B, obs, T):
    """Every variable as mean + K @ e over the independent standard normal noises e."""
    H, O = A.shape[0], B.shape[1]
    noise_dim = H * (T + 1) + O * T
    col = 0

    def fresh(d):
        nonlocal col
        K = torch.zeros(d.event_shape[0], noise_dim, dtype=F64)
        K[:, col:col + d.event_shape[0]] = d.scale_tril
        col += d.event_shape[0]
        return d.loc.clone(), K

    z_mean, z_K = fresh(init)
    ys = []
    for _ in range(T):
        m, K = fresh(trans)
        z_mean, z_K = z_mean @ A + m, A.T @ z_K + K
        m, K = fresh(obs)
        ys.append((z_mean @ B + m, B.T @ z_K + K))
    y_mean = torch.cat([m for m, _ in ys])
    y_K = torch.cat([K for _, K in ys])
    return z_mean, z_K, y_mean, y_K


def test_gamma_gaussian_hmm_filter_against_dense_joint():
    torch.manual_seed(5)
    H, O, T = 2, 3, 4
    init, trans, obs = _mvn((), H), _mvn((), H), _mvn((), O)
    A, B = torch.randn(H, H, dtype=F64) * 0.5, torch.randn(H, O, dtype=F64)
    a, b = 3.0, 2.0
    hmm = dist.GammaGaussianHMM(dist.Gamma(torch.tensor(a, dtype=F64), torch.tensor(b, dtype=F64)),
                                init, A, trans, B, obs, duration=T)
    y = torch.randn(T, O, dtype=F64)
    scale_post, state_post = hmm.filter(y)
    assert isinstance(scale_post, dist.Gamma) and isinstance(state_post, dist.MultivariateNormal)
    z_mean, z_K, y_mean, y_K = _dense_chain(init, A, trans, B, obs, T)
    S_yy, S_zy, S_zz = y_K @ y_K.T, z_K @ y_K.T, z_K @ z_K.T
    r = y.reshape(-1) - y_mean
    gain = S_zy @ torch.linalg.inv(S_yy)
    assert torch.allclose(state_post.loc, z_mean + gain @ r)
    assert torch.allclose(state_post.covariance_matrix, S_zz - gain @ S_zy.T)
    # The scale's posterior, normalised numerically: Gamma(s; a, b) N(y; mean, S_yy / s).
    n = r.numel()
    quad = (r @ torch.linalg.solve(S_yy, r)).item()
    logdet = torch.linalg.slogdet(S_yy)[1].item()

    def unnorm(s):
        lik = -0.5 * n * math.log(2 * math.pi) - 0.5 * (logdet - n * math.log(s)) - 0.5 * s * quad
        prior = a * math.log(b) - math.lgamma(a) + (a - 1) * math.log(s) - b * s
        return math.exp(prior + lik)
    Z = integrate.quad(unnorm, 0, math.inf)[0]
    for s in (0.2, 0.5, 1.1):
        assert scale_post.log_prob(torch.tensor(s, dtype=F64)).item() == pytest.approx(
            math.log(unnorm(s) / Z), abs=1e-6)
    assert hmm.log_prob(y).item() == pytest.approx(math.log(Z), abs=1e-6)
    # Batched: the scale's batch broadcasts with the series'.
    batched = dist.GammaGaussianHMM(
        dist.Gamma(torch.tensor([3.0, 1.0], dtype=F64), torch.tensor(2.0, dtype=F64)),
        init, A, trans, B, obs, duration=T)
    sp, zp = batched.filter(torch.randn(5, 1, T, O, dtype=F64))
    assert sp.batch_shape == (5, 2) and zp.batch_shape == (5, 1) and zp.event_shape == (H,)


@pytest.mark.cuda
def test_cuda_affine_normal_and_gamma_gaussian():
    a, matrix, loc, scale = _affine()
    x, y = torch.randn(2, 3, dtype=F64), torch.randn(2, 4, dtype=F64)
    ac = AffineNormal(matrix.cuda(), loc.cuda(), scale.cuda())
    assert torch.allclose(ac.condition(y.cuda()).log_density(x.cuda()).cpu(),
                          a.condition(y).log_density(x))
    assert ac.left_condition(x.cuda()).rsample((2,)).device.type == "cuda"
    mvn = _mvn((), 3)
    gamma = dist.Gamma(torch.tensor(2.5, dtype=F64), torch.tensor(1.5, dtype=F64))
    gg = gamma_and_mvn_to_gamma_gaussian(gamma, mvn)
    mvn_c = dist.MultivariateNormal(mvn.loc.cuda(), scale_tril=mvn.scale_tril.cuda())
    gamma_c = dist.Gamma(gamma.concentration.cuda(), gamma.rate.cuda())
    gc = gamma_and_mvn_to_gamma_gaussian(gamma_c, mvn_c)
    v, s = torch.randn(3, dtype=F64), torch.tensor(0.7, dtype=F64)
    assert torch.allclose(gc.marginalize(left=1).log_density(v[1:].cuda(), s.cuda()).cpu(),
                          gg.marginalize(left=1).log_density(v[1:], s))
