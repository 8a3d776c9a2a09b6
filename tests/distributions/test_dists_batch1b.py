"""ExtendedBinomial, ExtendedBetaBinomial and GroupedNormalNormal of issue 16."""

import numpy as np
import pytest
import scipy.stats as st
import torch

import pyro.distributions as dist
from pyro.distributions.testing.gof import multinomial_goodness_of_fit

TEST_FAILURE_RATE = 1e-3
T = torch.float64


def t(x, dtype=T):
    return torch.tensor(x, dtype=dtype)


# ----- ExtendedBinomial / ExtendedBetaBinomial -------------------------------------------------


def _extended(name, dtype):
    if name == "binomial":
        n, p = t([3.0, 5.0, 8.0], dtype), t([0.3, 0.6, 0.9], dtype)
        return dist.ExtendedBinomial(n, p), lambda k, i: st.binom.logpmf(k, n[i].item(), p[i].item())
    a, b, n = t([2.0, 1.0, 0.7], dtype), t([3.0, 0.5, 4.0], dtype), t([3.0, 5.0, 8.0], dtype)
    return (dist.ExtendedBetaBinomial(a, b, n),
            lambda k, i: st.betabinom.logpmf(k, n[i].item(), a[i].item(), b[i].item()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["binomial", "beta_binomial"])
def test_extended_log_prob_matches_scipy_inside_and_is_minus_inf_outside(name, dtype):
    d, ref = _extended(name, dtype)
    assert d.support is dist.constraints.integer and d.batch_shape == (3,)
    assert d.arg_constraints["total_count"] is dist.constraints.integer
    values = torch.arange(-3.0, 12.0, dtype=dtype).unsqueeze(-1).expand(-1, 3)
    lp = d.log_prob(values)
    assert lp.dtype == dtype and lp.shape == (15, 3)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    for i, n in enumerate([3, 5, 8]):
        for j, k in enumerate(range(-3, 12)):
            if 0 <= k <= n:
                assert abs(lp[j, i].item() - ref(k, i)) < tol
            else:
                assert lp[j, i].item() == -float("inf")
        inside = lp[3:3 + n + 1, i]
        assert abs(inside.exp().sum().item() - 1) < 10 * tol


@pytest.mark.parametrize("name", ["binomial", "beta_binomial"])
def test_extended_samples_moments_expand_and_gradients(name):
    d, _ = _extended(name, T)
    torch.manual_seed(0)
    x = d.sample((20000,))
    assert x.shape == (20000, 3)
    for i, n in enumerate([3, 5, 8]):
        support = torch.arange(n + 1, dtype=T)
        probs = d.log_prob(support.unsqueeze(-1).expand(-1, 3))[:, i].exp()
        counts = torch.bincount(x[:, i].long(), minlength=n + 1)
        assert multinomial_goodness_of_fit(probs, counts) > TEST_FAILURE_RATE
        assert abs(x[:, i].mean().item() - d.mean[i].item()) < 5 * (d.variance[i] / 20000).sqrt()
        assert abs(x[:, i].var().item() / d.variance[i].item() - 1) < 0.06
    e = d.expand((2, 3))
    assert type(e) is type(d) and e.batch_shape == (2, 3)
    assert torch.equal(e.log_prob(t([-1.0, 2.0, 9.0])), d.log_prob(t([-1.0, 2.0, 9.0])).expand(2, 3))
    # gradients stay finite where the value lies outside the support
    params = [p.clone().requires_grad_() for p in (
        (d.probs,) if name == "binomial" else (d.concentration1, d.concentration0))]
    cls = type(d)
    g = cls(d.total_count, *params) if name == "binomial" else cls(*params, d.total_count)
    g.log_prob(t([-2.0, 7.0, 4.0])).sum().backward()
    for p in params:
        assert torch.isfinite(p.grad).all()


def test_extended_accepts_any_integer_and_rejects_bad_arguments():
    with dist.validation_enabled(True):
        b = dist.ExtendedBinomial(t(-3.0), t(0.3))
        assert b.log_prob(t(0.0)).item() == -float("inf")
        assert dist.ExtendedBinomial(t(3.0), logits=t(0.2)).log_prob(t(-1.0)).item() == -float("inf")
        lp = dist.ExtendedBinomial(t(3.0), logits=t(0.2)).log_prob(t(1.0))
        assert abs(lp.item() - st.binom.logpmf(1, 3, 1 / (1 + np.exp(-0.2)))) < 1e-10
        bb = dist.ExtendedBetaBinomial(t(1.0), t(2.0), t(-2.0))
        assert bb.log_prob(t(1.0)).item() == -float("inf")
        with pytest.raises(ValueError, match="total_count"):
            dist.ExtendedBinomial(t(2.5), t(0.3))
        with pytest.raises(ValueError, match="probs"):
            dist.ExtendedBinomial(t(3.0), t(1.5))
        with pytest.raises(ValueError, match="concentration1"):
            dist.ExtendedBetaBinomial(t(-1.0), t(2.0), t(3.0))
        with pytest.raises(ValueError, match="support"):
            dist.ExtendedBinomial(t(3.0), t(0.3)).log_prob(t(1.5))
        with pytest.raises(ValueError, match="support"):
            dist.ExtendedBetaBinomial(t(1.0), t(2.0), t(3.0)).log_prob(t(1.5))


# ----- GroupedNormalNormal --------------------------------------------------------------------

GROUPS = torch.tensor([0, 1, 1, 2, 0, 1])
VALUE = t([0.1, 0.3, -1.0, 2.0, 0.5, -0.2])


def _dense_marginal(prior_loc, prior_scale, obs_scale):
    idx = GROUPS.numpy()
    obs = np.broadcast_to(np.asarray(obs_scale, dtype=float), idx.shape)
    s = np.broadcast_to(np.asarray(prior_scale, dtype=float), (len(prior_loc),))
    same = idx[:, None] == idx[None, :]
    cov = np.diag(obs ** 2) + same * (s[idx][:, None] * s[idx][None, :])
    return np.asarray(prior_loc)[idx], cov


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("obs_scale", [1.5, [1.5, 1.0, 2.0, 1.0, 0.5, 0.8]])
def test_grouped_normal_normal_log_prob_is_dense_gaussian_marginal(obs_scale, dtype):
    prior_loc, prior_scale = [0.5, -1.0, 0.0, 3.0], [2.0, 1.0, 0.5, 1.0]  # group 3 has no data
    d = dist.GroupedNormalNormal(t(prior_loc, dtype), t(prior_scale, dtype), t(obs_scale, dtype), GROUPS)
    assert d.batch_shape == () and d.event_shape == () and d.num_groups == 4
    assert torch.equal(d.num_data_per_batch, t([2.0, 3.0, 1.0, 0.0], dtype))
    lp = d.log_prob(VALUE.to(dtype))
    assert lp.shape == () and lp.dtype == dtype
    mean, cov = _dense_marginal(prior_loc, prior_scale, obs_scale)
    expected = st.multivariate_normal(mean, cov).logpdf(VALUE.numpy())
    assert abs(lp.item() - expected) < (1e-4 if dtype == torch.float32 else 1e-10)


def test_grouped_normal_normal_posterior_is_gaussian_conditioning():
    prior_loc, prior_scale = t([0.5, -1.0, 0.0]), t([2.0, 1.0, 0.5])
    obs = t([1.5, 1.0, 2.0, 1.0, 0.5, 0.8])
    d = dist.GroupedNormalNormal(prior_loc, prior_scale, obs, GROUPS)
    post = d.get_posterior(VALUE)
    assert isinstance(post, dist.Normal) and post.batch_shape == (3,)
    # joint Gaussian of (mu, y): condition mu on y densely
    A = torch.zeros(6, 3, dtype=T)
    A[torch.arange(6), GROUPS] = 1.0
    S_mu = torch.diag(prior_scale ** 2)
    S_y = A @ S_mu @ A.T + torch.diag(obs ** 2)
    gain = S_mu @ A.T @ torch.linalg.inv(S_y)
    loc = prior_loc + gain @ (VALUE - A @ prior_loc)
    cov = S_mu - gain @ A @ S_mu
    assert torch.allclose(post.loc, loc, atol=1e-12)
    assert torch.allclose(post.scale, cov.diagonal().sqrt(), atol=1e-12)
    # log_prob is differentiable in every parameter, matching finite differences
    p = prior_scale.clone().requires_grad_()
    dist.GroupedNormalNormal(prior_loc, p, obs, GROUPS).log_prob(VALUE).backward()
    h = 1e-6
    for i in range(3):
        e = torch.zeros(3, dtype=T)
        e[i] = h
        fd = (dist.GroupedNormalNormal(prior_loc, prior_scale + e, obs, GROUPS).log_prob(VALUE)
              - dist.GroupedNormalNormal(prior_loc, prior_scale - e, obs, GROUPS).log_prob(VALUE)) / (2 * h)
        assert abs(p.grad[i].item() - fd.item()) < 1e-6


def test_grouped_normal_normal_errors_and_missing_methods():
    loc, scale = t([0.5, -1.0, 0.0]), t([2.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="group_idx must be a 1-dimensional tensor of indices"):
        dist.GroupedNormalNormal(loc, scale, t(1.0), torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="group_idx must be a 1-dimensional tensor of indices"):
        dist.GroupedNormalNormal(loc, scale, t(1.0), t([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"inclusive range \[0, prior_loc.size\(0\) - 1\]"):
        dist.GroupedNormalNormal(loc, scale, t(1.0), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"inclusive range"):
        dist.GroupedNormalNormal(loc, scale, t(1.0), torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match="prior_scale"):
        dist.GroupedNormalNormal(loc, -scale, t(1.0), GROUPS, validate_args=True)
    d = dist.GroupedNormalNormal(loc, scale, t(1.0), GROUPS)
    with pytest.raises(ValueError, match="same shape as group_idx"):
        d.log_prob(torch.zeros(3, dtype=T))
    with pytest.raises(ValueError, match="same shape as group_idx"):
        d.log_prob(torch.zeros(2, 6, dtype=T))
    for call in (lambda: d.sample(), lambda: d.expand((2,)), lambda: d.mean):
        with pytest.raises(NotImplementedError):
            call()
