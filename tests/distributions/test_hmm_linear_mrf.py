"""LinearHMM (sampling) and GaussianMRF (log_prob) against dense joint Gaussians."""

import pytest
import torch

import pyro.distributions as dist
from pyro.distributions.hmm import GaussianMRF, LinearHMM

F64 = torch.float64


def _mvn(batch, n):
    loc = torch.randn(batch + (n,), dtype=F64)
    L = torch.randn(batch + (n, n), dtype=F64).tril(-1) * 0.3
    L = L + torch.diag_embed(torch.rand(batch + (n,), dtype=F64) + 0.5)
    return dist.MultivariateNormal(loc, scale_tril=L)


def _add_factor(P, i, idx, mvn):
    prec = torch.linalg.inv(mvn.covariance_matrix)
    P[idx[:, None], idx[None, :]] += prec
    i[idx] += prec @ mvn.loc


def test_gaussian_mrf_log_prob_matches_dense_joint():
    torch.manual_seed(0)
    H, O, T = 2, 3, 4
    init, trans, obs = _mvn((), H), _mvn((T,), 2 * H), _mvn((T,), H + O)
    d = GaussianMRF(init, trans, obs)
    assert d.batch_shape == () and d.event_shape == (T, O)
    assert d.hidden_dim == H and d.obs_dim == O
    y = torch.randn(T, O, dtype=F64)
    # Variables: x[-1], x[0..T-1] (H each), then y[0..T-1] (O each).
    n = H * (T + 1) + O * T
    P, i = torch.zeros(n, n, dtype=F64), torch.zeros(n, dtype=F64)
    x = lambda t: torch.arange(H * (t + 1), H * (t + 2))  # noqa: E731
    yy = lambda t: torch.arange(H * (T + 1) + O * t, H * (T + 1) + O * (t + 1))  # noqa: E731
    _add_factor(P, i, x(-1), init)
    for t in range(T):
        _add_factor(P, i, torch.cat([x(t - 1), x(t)]), dist.MultivariateNormal(
            trans.loc[t], trans.covariance_matrix[t]))
        _add_factor(P, i, torch.cat([x(t), yy(t)]), dist.MultivariateNormal(
            obs.loc[t], obs.covariance_matrix[t]))
    cov = torch.linalg.inv(P)
    mean = cov @ i
    ys = torch.arange(H * (T + 1), n)
    expected = dist.MultivariateNormal(mean[ys], cov[ys[:, None], ys[None, :]]).log_prob(
        y.reshape(-1))
    assert torch.allclose(d.log_prob(y), expected, atol=1e-9)
    e = d.expand((3,))
    assert e.batch_shape == (3,)
    assert torch.allclose(e.log_prob(y), expected.expand(3), atol=1e-9)


def test_gaussian_mrf_errors():
    with pytest.raises(ValueError, match=r"transition_dist needs event \(2 \* hidden_dim,\) = \(4,\)"):
        GaussianMRF(_mvn((), 2), _mvn((), 3), _mvn((), 5))
    with pytest.raises(ValueError, match=r"observation_dist needs event.*hidden_dim=2"):
        GaussianMRF(_mvn((), 2), _mvn((), 4), _mvn((), 2))


def _gaussian_parts(T, H, O):
    init = _mvn((), H)
    A = torch.randn(T, H, H, dtype=F64) * 0.5
    trans = dist.Normal(torch.randn(T, H, dtype=F64), torch.rand(T, H, dtype=F64) + 0.5).to_event(1)
    B = torch.randn(H, O, dtype=F64)
    obs = dist.Normal(torch.randn(O, dtype=F64), torch.rand(O, dtype=F64) + 0.5).to_event(1)
    return init, A, trans, B, obs


def test_linear_hmm_gaussian_noise_samples_match_gaussian_hmm_density():
    torch.manual_seed(1)
    T, H, O = 3, 2, 1
    parts = _gaussian_parts(T, H, O)
    lin = LinearHMM(*parts)
    assert lin.event_shape == (T, O) and lin.duration == T and lin.has_rsample
    with pytest.raises(NotImplementedError, match="LinearHMM.log_prob"):
        lin.log_prob(torch.zeros(T, O))
    ref = dist.GaussianHMM(*parts)
    n = 40000
    y = lin.rsample((n,))
    assert y.shape == (n, T, O)
    # The sample mean maximises the average Gaussian log-density along a shift: compare moments
    # of the samples with those of the GaussianHMM's own draws, whose law is the known density.
    z = ref.rsample((n,))
    sd = z.reshape(n, -1).std(0)
    assert ((y.reshape(n, -1).mean(0) - z.reshape(n, -1).mean(0)).abs() / sd).max() < 0.05
    assert ((y.reshape(n, -1).std(0) / sd) - 1).abs().max() < 0.05
    # And the average log-density of LinearHMM draws equals that of GaussianHMM draws.
    assert abs(ref.log_prob(y).mean() - ref.log_prob(z).mean()) < 0.05


def test_linear_hmm_transformed_observations_and_heavy_tails():
    torch.manual_seed(2)
    T, H, O = 2, 1, 1
    init, A, trans, B, obs = _gaussian_parts(T, H, O)
    lin = LinearHMM(init, A, trans, B, dist.TransformedDistribution(
        obs, [dist.transforms.ExpTransform()]))
    assert len(lin.transforms) == 1
    plain = LinearHMM(init, A, trans, B, obs)
    torch.manual_seed(3)
    a = lin.rsample((5,))
    torch.manual_seed(3)
    b = plain.rsample((5,))
    assert torch.allclose(a, b.exp())
    student = LinearHMM(init, A, dist.StudentT(3.0, torch.zeros(T, H, dtype=F64), 1.0).to_event(1),
                        B, obs, duration=T)
    s = student.rsample((4,))
    assert s.shape == (4, T, O)
    assert student.expand((2,)).rsample().shape == (2, T, O)
    with pytest.raises(ValueError, match="transition_dist does not fit hidden_dim=1"):
        LinearHMM(init, A, dist.Normal(torch.zeros(T, 2), 1.0).to_event(1), B, obs)


def test_gamma_gaussian_hmm_integrates_the_scale_out():
    torch.manual_seed(4)
    T, H, O = 3, 2, 2
    init, A, trans, B, obs = _gaussian_parts(T, H, O)
    obs = _mvn((T,), O)
    scale = dist.Gamma(torch.tensor([2.5, 4.0], dtype=F64), torch.tensor([1.5, 2.0], dtype=F64))
    g = dist.GammaGaussianHMM(scale, init, A, trans, B, obs)
    assert g.batch_shape == (2,) and g.event_shape == (T, O) and not g.has_rsample
    y = torch.randn(T, O, dtype=F64)
    lp = g.log_prob(y)
    # Quadrature over s of Gamma(s) * GaussianHMM(covariances / s).log_prob(y), batched over s.
    grid = torch.linspace(1e-4, 30.0, 3001, dtype=F64)
    r = grid.rsqrt()
    chain = dist.GaussianHMM(
        dist.MultivariateNormal(init.loc, scale_tril=init.scale_tril * r[:, None, None]), A,
        dist.Normal(trans.base_dist.loc, trans.base_dist.scale * r[:, None, None]).to_event(1), B,
        dist.MultivariateNormal(obs.loc, scale_tril=obs.scale_tril * r[:, None, None, None]))
    inner = chain.log_prob(y)
    assert inner.shape == grid.shape
    for b in range(2):
        dens = (scale.log_prob(grid[:, None])[:, b] + inner).exp()
        expected = torch.trapezoid(dens, grid).log()
        assert torch.allclose(lp[b], expected, atol=1e-4)
    assert g.expand((3, 2)).batch_shape == (3, 2)
    with pytest.raises(ValueError, match="scale_dist must be a Gamma"):
        dist.GammaGaussianHMM(dist.Normal(0.0, 1.0), init, A, trans, B, obs)
