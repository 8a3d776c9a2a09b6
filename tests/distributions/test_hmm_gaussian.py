"""GaussianHMM and pyro.ops.gaussian against dense joint Gaussians and a Kalman filter."""

import pytest
import torch

import pyro.distributions as dist
from pyro.distributions.hmm import GaussianHMM
from pyro.ops.gaussian import (
    gaussian_tensordot,
    matrix_and_mvn_to_gaussian,
    mvn_to_gaussian,
    sequential_gaussian_filter_sample,
    sequential_gaussian_tensordot,
)

F64 = torch.float64


def _random_mvn(batch, n, gen_scale=1.0):
    loc = torch.randn(batch + (n,), dtype=F64)
    L = torch.randn(batch + (n, n), dtype=F64).tril(-1) * 0.3
    L = L + torch.diag_embed(torch.rand(batch + (n,), dtype=F64) + 0.5) * gen_scale
    return dist.MultivariateNormal(loc, scale_tril=L)


def _model(T, H, O):
    init = _random_mvn((), H)
    A = torch.randn(T, H, H, dtype=F64) * 0.5
    trans = _random_mvn((T,), H)
    B = torch.randn(T, H, O, dtype=F64)
    obs = dist.Normal(torch.randn(T, O, dtype=F64), torch.rand(T, O, dtype=F64) + 0.5).to_event(1)
    return init, A, trans, B, obs


def _dense_joint(init, A, trans, B, obs):
    """Mean and covariance of the flattened observations, by writing y as a linear map of
    the independent Gaussian inputs (z[-1], transition noise, observation noise)."""
    T, H, O = B.shape
    obs_cov = torch.diag_embed(obs.base_dist.scale.pow(2))
    n_in = H + T * H + T * O
    mean_in = torch.cat([init.loc, trans.loc.reshape(-1), obs.base_dist.loc.reshape(-1)])
    cov_in = torch.block_diag(init.covariance_matrix, *trans.covariance_matrix, *obs_cov)
    M = torch.zeros(T * O, n_in, dtype=F64)
    z = torch.zeros(H, n_in, dtype=F64)  # z = z_map @ inputs
    z[:, :H] = torch.eye(H, dtype=F64)
    for t in range(T):
        z = A[t].T @ z
        z[:, H + t * H:H + (t + 1) * H] += torch.eye(H, dtype=F64)
        M[t * O:(t + 1) * O] = B[t].T @ z
        M[t * O:(t + 1) * O, H + T * H + t * O:H + T * H + (t + 1) * O] += torch.eye(O, dtype=F64)
    return M @ mean_in, M @ cov_in @ M.T


def _kalman(init, A, trans, B, obs, y):
    """Covariance-form Kalman filter: the final-state posterior."""
    m, P = init.loc, init.covariance_matrix
    for t in range(y.shape[0]):
        m = m @ A[t] + trans.loc[t]
        P = A[t].T @ P @ A[t] + trans.covariance_matrix[t]
        S = B[t].T @ P @ B[t] + torch.diag(obs.base_dist.scale[t].pow(2))
        K = P @ B[t] @ torch.linalg.inv(S)
        m = m + (y[t] - m @ B[t] - obs.base_dist.loc[t]) @ K.T
        P = P - K @ S @ K.T
    return m, P


@pytest.mark.parametrize("T", [1, 2, 5])
def test_log_prob_and_filter_match_dense_joint_and_kalman(T):
    torch.manual_seed(T)
    H, O = 2, 3
    parts = _model(T, H, O)
    d = GaussianHMM(*parts)
    assert d.event_shape == (T, O) and d.hidden_dim == H and d.obs_dim == O
    y = torch.randn(T, O, dtype=F64)
    mean, cov = _dense_joint(*parts)
    expected = dist.MultivariateNormal(mean, cov).log_prob(y.reshape(-1))
    assert torch.allclose(d.log_prob(y), expected, atol=1e-9)
    post = d.filter(y)
    m, P = _kalman(*parts, y)
    assert isinstance(post, dist.MultivariateNormal)
    assert torch.allclose(post.loc, m, atol=1e-9)
    assert torch.allclose(post.covariance_matrix, P, atol=1e-9)


def test_rsample_moments_match_dense_joint():
    torch.manual_seed(0)
    T, H, O = 3, 2, 2
    parts = _model(T, H, O)
    d = GaussianHMM(*parts)
    y = d.rsample((40000,))
    assert y.shape == (40000, T, O)
    mean, cov = _dense_joint(*parts)
    flat = y.reshape(40000, -1)
    sd = cov.diagonal().sqrt()
    assert ((flat.mean(0) - mean).abs() / sd).max() < 0.03
    emp = torch.cov(flat.T)
    assert ((emp - cov).abs() / (sd[:, None] * sd[None, :])).max() < 0.05


def test_rsample_is_differentiable():
    torch.manual_seed(1)
    T, H, O = 4, 2, 1
    init, A, trans, B, obs = _model(T, H, O)
    A = A.requires_grad_()

    def f(A_):
        torch.manual_seed(7)
        return GaussianHMM(init, A_, trans, B, obs).rsample((3,)).sum()

    assert torch.autograd.gradcheck(f, (A,))


def test_homogeneous_batched_and_expand():
    torch.manual_seed(2)
    H, O = 2, 1
    init = _random_mvn((3,), H)
    A = torch.randn(H, H, dtype=F64) * 0.5
    trans, obs = _random_mvn((), H), _random_mvn((), O)
    B = torch.randn(H, O, dtype=F64)
    d = GaussianHMM(init, A, trans, B, obs)
    assert d.batch_shape == (3,) and d.event_shape == (1, O) and d.duration is None
    y = torch.randn(6, O, dtype=F64)
    lp = d.log_prob(y)
    assert lp.shape == (3,)
    T = 6
    Au = A.expand(T, H, H)
    tr = dist.MultivariateNormal(trans.loc.expand(T, H), scale_tril=trans.scale_tril.expand(T, H, H))
    ob = dist.Normal(obs.loc.expand(T, O), obs.scale_tril[..., 0].expand(T, O)).to_event(1)
    for i in range(3):
        init_i = dist.MultivariateNormal(init.loc[i], scale_tril=init.scale_tril[i])
        mean, cov = _dense_joint(init_i, Au, tr, B.expand(T, H, O), ob)
        assert torch.allclose(lp[i], dist.MultivariateNormal(mean, cov).log_prob(y.reshape(-1)),
                              atol=1e-9)
    with pytest.raises(ValueError, match="duration"):
        d.rsample()
    e = GaussianHMM(init, A, trans, B, obs, duration=6).expand((2, 3))
    assert e.batch_shape == (2, 3) and e.event_shape == (6, O)
    assert torch.allclose(e.log_prob(y), lp.expand(2, 3), atol=1e-9)
    assert e.rsample((4,)).shape == (4, 2, 3, 6, O)


def test_constructor_errors_name_argument_and_shapes():
    H, O = 2, 3
    mvn = lambda n: dist.MultivariateNormal(torch.zeros(n), torch.eye(n))  # noqa: E731
    with pytest.raises(ValueError, match=r"transition_matrix must end in a square.*\(2, 3\)"):
        GaussianHMM(mvn(H), torch.randn(H, 3), mvn(H), torch.randn(H, O), mvn(O))
    with pytest.raises(ValueError, match=r"initial_dist does not fit hidden_dim=2.*event \(3,\)"):
        GaussianHMM(mvn(3), torch.randn(H, H), mvn(H), torch.randn(H, O), mvn(O))
    with pytest.raises(ValueError, match=r"transition_dist does not fit hidden_dim=2"):
        GaussianHMM(mvn(H), torch.randn(H, H), mvn(3), torch.randn(H, O), mvn(O))
    with pytest.raises(ValueError, match=r"observation_dist does not fit.*obs_dim=3.*event \(4,\)"):
        GaussianHMM(mvn(H), torch.randn(H, H), mvn(H), torch.randn(H, O), mvn(4))
    with pytest.raises(ValueError, match=r"observation_dist does not fit.*event \(\)"):
        GaussianHMM(mvn(H), torch.randn(H, H), mvn(H), torch.randn(H, O), dist.Normal(torch.zeros(O), 1.0))
    with pytest.raises(ValueError, match=r"transition_matrix does not fit hidden_dim=3"):
        GaussianHMM(mvn(H), torch.randn(H, H), mvn(H), torch.randn(3, O), mvn(O))
    with pytest.raises(ValueError, match=r"do not broadcast.*transition_matrix.shape\[:-2\]: \(4,\).*observation_matrix.shape\[:-2\]: \(5,\)"):
        GaussianHMM(mvn(H), torch.randn(4, H, H), mvn(H), torch.randn(5, H, O), mvn(O))
    d = GaussianHMM(mvn(H), torch.randn(5, H, H), mvn(H), torch.randn(H, O), mvn(O),
                    validate_args=True)
    with pytest.raises(ValueError, match="right-most size of value must match event_shape"):
        d.log_prob(torch.randn(4, 1, O))


def test_gaussian_ops_match_dense_densities():
    torch.manual_seed(3)
    mvn = _random_mvn((2,), 4)
    g = mvn_to_gaussian(mvn)
    x = torch.randn(5, 2, 4, dtype=F64)
    assert torch.allclose(g.log_density(x), mvn.log_prob(x), atol=1e-10)
    assert torch.allclose(g.event_logsumexp(), torch.zeros(2, dtype=F64), atol=1e-10)
    # Marginalising and conditioning against the closed forms.
    C, m = mvn.covariance_matrix, mvn.loc
    marg = g.marginalize(left=1, right=1)
    ref = dist.MultivariateNormal(m[:, 1:3], C[:, 1:3, 1:3])
    assert torch.allclose(marg.log_density(x[..., 1:3]), ref.log_prob(x[..., 1:3]), atol=1e-10)
    v = torch.randn(2, 2, dtype=F64)
    cond = g.condition(v)
    joint = g.log_density(torch.cat([x[..., :2], v.expand(5, 2, 2)], -1))
    assert torch.allclose(cond.log_density(x[..., :2]), joint, atol=1e-10)
    lcond = g.left_condition(v)
    joint = g.log_density(torch.cat([v.expand(5, 2, 2), x[..., 2:]], -1))
    assert torch.allclose(lcond.log_density(x[..., 2:]), joint, atol=1e-10)
    # Independent(Normal) and a matrix-normal pair.
    n = dist.Normal(torch.randn(3, dtype=F64), torch.rand(3, dtype=F64) + 0.5).to_event(1)
    assert torch.allclose(mvn_to_gaussian(n).log_density(x[0, 0, :3]), n.log_prob(x[0, 0, :3]))
    M = torch.randn(2, 3, dtype=F64)
    pair = matrix_and_mvn_to_gaussian(M, n)
    xy = torch.randn(2 + 3, dtype=F64)
    assert torch.allclose(pair.log_density(xy), n.log_prob(xy[2:] - xy[:2] @ M))


def test_tensordot_and_sequential_contraction_integrate_out_states():
    torch.manual_seed(4)
    H, T = 2, 5
    trans = matrix_and_mvn_to_gaussian(torch.randn(T, H, H, dtype=F64) * 0.5, _random_mvn((T,), H))
    evidence = mvn_to_gaussian(_random_mvn((T,), H)).event_pad(left=H)
    chain = trans + evidence
    seq = chain[..., 0]
    for t in range(1, T):
        seq = gaussian_tensordot(seq, chain[..., t], H)
    par = sequential_gaussian_tensordot(chain)
    x = torch.randn(7, 2 * H, dtype=F64)
    assert torch.allclose(par.log_density(x), seq.log_density(x), atol=1e-9)
    # Contraction against a brute-force 2-d grid integral over the shared variable (H = 1).
    a = mvn_to_gaussian(_random_mvn((), 2))
    b = mvn_to_gaussian(_random_mvn((), 2))
    ab = gaussian_tensordot(a, b, 1)
    grid = torch.linspace(-12, 12, 4001, dtype=F64)
    u, w = torch.tensor(0.3, dtype=F64), torch.tensor(-0.7, dtype=F64)
    ua = torch.stack([u.expand(4001), grid], -1)
    wb = torch.stack([grid, w.expand(4001)], -1)
    vals = (a.log_density(ua) + b.log_density(wb)).exp()
    integral = torch.trapezoid(vals, grid).log()
    assert torch.allclose(ab.log_density(torch.stack([u, w])), integral, atol=1e-8)


def test_filter_sample_moments_match_chain():
    torch.manual_seed(5)
    H, T = 1, 2
    init_mvn = _random_mvn((), H)
    A = torch.randn(T, H, H, dtype=F64) * 0.8
    noise = _random_mvn((T,), H)
    init, trans = mvn_to_gaussian(init_mvn), matrix_and_mvn_to_gaussian(A, noise)
    s = sequential_gaussian_filter_sample(init, trans, (40000,))
    assert s.shape == (40000, T + 1, H)
    # The chain x0 ~ init, x[t+1] = x[t] A + noise: its moments in closed form.
    means, variances = [init_mvn.loc], [init_mvn.covariance_matrix]
    for t in range(T):
        means.append(means[-1] @ A[t] + noise.loc[t])
        variances.append(A[t].T @ variances[-1] @ A[t] + noise.covariance_matrix[t])
    mean, var = torch.stack(means), torch.stack(variances)[..., 0]
    assert ((s.mean(0) - mean).abs() / var.sqrt()).max() < 0.03
    assert ((s.var(0) / var) - 1).abs().max() < 0.05
    # Zero noise gives the posterior mean, here the prior mean.
    zero = sequential_gaussian_filter_sample(init, trans, (), torch.zeros(T + 1, H, dtype=F64))
    assert torch.allclose(zero, mean, atol=1e-10)


@pytest.mark.cuda
def test_cuda_log_prob_and_rsample():
    torch.manual_seed(8)
    T, H, O = 4, 2, 2
    parts = _model(T, H, O)
    y = torch.randn(T, O, dtype=F64)
    cpu = GaussianHMM(*parts).log_prob(y)
    init, A, trans, B, obs = parts
    cuda = lambda m: dist.MultivariateNormal(m.loc.cuda(), scale_tril=m.scale_tril.cuda())  # noqa: E731
    obs_c = dist.Normal(obs.base_dist.loc.cuda(), obs.base_dist.scale.cuda()).to_event(1)
    d = GaussianHMM(cuda(init), A.cuda(), cuda(trans), B.cuda(), obs_c)
    assert torch.allclose(d.log_prob(y.cuda()).cpu(), cpu, atol=1e-9)
    assert d.rsample((3,)).device.type == "cuda"
    assert d.filter(y.cuda()).loc.device.type == "cuda"


def test_prefix_condition_is_the_conditional_of_the_rest():
    torch.manual_seed(9)
    T, H, O, t = 6, 2, 2, 4
    init, A, trans, B, obs = _model(T, H, O)
    d = GaussianHMM(init, A, trans, B, obs)
    y = torch.randn(3, T, O, dtype=F64)
    rest = d.prefix_condition(y[:, :t])
    assert isinstance(rest, GaussianHMM)
    assert rest.batch_shape == (3,) and rest.event_shape == (T - t, O) and rest.duration == T - t
    head = GaussianHMM(init, A[:t], dist.MultivariateNormal(trans.loc[:t], scale_tril=trans.scale_tril[:t]),
                       B[:t], dist.Normal(obs.base_dist.loc[:t], obs.base_dist.scale[:t]).to_event(1))
    expected = d.log_prob(y) - head.log_prob(y[:, :t])
    assert torch.allclose(rest.log_prob(y[:, t:]), expected, atol=1e-9)
    homogeneous = GaussianHMM(init, A[0], dist.MultivariateNormal(trans.loc[0], scale_tril=trans.scale_tril[0]),
                              B[0], dist.Normal(obs.base_dist.loc[0], obs.base_dist.scale[0]).to_event(1))
    with pytest.raises(ValueError, match="duration is None"):
        homogeneous.prefix_condition(y[:, :t])
    with pytest.raises(ValueError, match="data has 6 steps"):
        d.prefix_condition(y)


def test_conjugate_update_fuses_a_gaussian_likelihood():
    torch.manual_seed(10)
    T, H, O = 3, 2, 2
    parts = _model(T, H, O)
    d = GaussianHMM(*parts)
    other = _random_mvn((T,), O).to_event(1)
    fg, log_normalizer = d.conjugate_update(other)
    assert isinstance(fg, GaussianHMM) and fg.event_shape == (T, O) and log_normalizer.shape == ()
    mean, cov = _dense_joint(*parts)
    g_cov = torch.block_diag(*other.base_dist.covariance_matrix)
    g_mean = other.base_dist.loc.reshape(-1)
    # The integral of the product of two Gaussian densities, in closed form.
    expected = dist.MultivariateNormal(g_mean, cov + g_cov).log_prob(mean)
    assert torch.allclose(log_normalizer, expected, atol=1e-9)
    x = torch.randn(5, T, O, dtype=F64)
    assert torch.allclose(d.log_prob(x) + other.log_prob(x), fg.log_prob(x) + log_normalizer,
                          atol=1e-9)
    # Samples of the updated model against the dense product density.
    prec = torch.linalg.inv(cov) + torch.linalg.inv(g_cov)
    fg_cov = torch.linalg.inv(prec)
    fg_mean = fg_cov @ (torch.linalg.solve(cov, mean) + torch.linalg.solve(g_cov, g_mean))
    n = 20000
    flat = fg.rsample((n,)).reshape(n, -1)
    sd = fg_cov.diagonal().sqrt()
    assert ((flat.mean(0) - fg_mean).abs() / sd).max() < 0.04
    assert ((torch.cov(flat.T) - fg_cov).abs() / (sd[:, None] * sd[None, :])).max() < 0.06
    diag = dist.Normal(torch.randn(T, O, dtype=F64), torch.rand(T, O, dtype=F64) + 0.5).to_event(2)
    fg2, z2 = d.conjugate_update(diag)
    assert torch.allclose(d.log_prob(x) + diag.log_prob(x), fg2.log_prob(x) + z2, atol=1e-9)
    with pytest.raises(ValueError, match="Independent"):
        d.conjugate_update(other.base_dist)
