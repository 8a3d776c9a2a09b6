"""The KL pairs ``pyro.distributions.kl`` registers beyond torch's, against closed forms, torch's
own pairs on equivalent distributions and Monte Carlo estimates."""

import pytest
import torch

import pyro.distributions as dist
from pyro.distributions import kl_divergence

T = torch.float64


def t(x):
    return torch.tensor(x, dtype=T)


def random_tril(*batch, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(*batch, n, n, generator=g, dtype=T)
    return torch.linalg.cholesky(A @ A.mT + n * torch.eye(n, dtype=T))


def test_kl_is_a_public_module_with_pyros_pairs():
    assert "kl" in dist.__all__ and dist.kl.kl_divergence is torch.distributions.kl_divergence
    registry = torch.distributions.kl._KL_REGISTRY
    td = torch.distributions
    for pair in [(td.Independent, td.Independent), (td.Independent, td.MultivariateNormal),
                 (dist.MaskedDistribution, dist.MaskedDistribution)]:
        assert registry[pair].__module__.startswith("pyro.distributions"), pair
    assert any(p is dist.Delta for p, _ in registry)


def test_diagonal_normal_against_mvn_matches_torchs_mvn_pair():
    loc_p, scale_p = t([[0.0, 1.0, -1.0], [0.5, 0.2, 0.1]]), t([[1.0, 0.5, 2.0], [0.3, 1.0, 1.5]])
    q = dist.MultivariateNormal(t([1.0, 0.0, 0.5]), scale_tril=random_tril())
    p = dist.Normal(loc_p, scale_p).to_event(1)
    kl = kl_divergence(p, q)
    assert kl.shape == (2,)
    ref = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(loc_p, scale_tril=torch.diag_embed(scale_p)), q)
    torch.testing.assert_close(kl, ref)


def test_diagonal_normal_against_batched_mvn_broadcasts_and_matches_monte_carlo():
    torch.manual_seed(0)
    p = dist.Normal(t([0.3, -0.2, 1.0]), t([0.8, 1.2, 0.5])).to_event(1)
    q = dist.MultivariateNormal(t([[0.0, 0.0, 0.0], [1.0, -1.0, 0.0]]), scale_tril=random_tril(2, seed=1))
    kl = kl_divergence(p, q)
    assert kl.shape == (2,)
    x = p.sample((200000,)).unsqueeze(-2)
    mc = (p.log_prob(x) - q.log_prob(x)).mean(0)
    torch.testing.assert_close(kl, mc, rtol=0.02, atol=0.01)
    # plain torch distributions use the same pair
    plain = torch.distributions.Independent(torch.distributions.Normal(p.base_dist.loc, p.base_dist.scale), 1)
    torch.testing.assert_close(kl_divergence(plain, torch.distributions.MultivariateNormal(
        q.loc, scale_tril=q.scale_tril)), kl)


def test_independent_mvn_pair_refuses_other_bases_and_shapes():
    q = dist.MultivariateNormal(torch.zeros(3, dtype=T), scale_tril=random_tril())
    with pytest.raises(NotImplementedError):
        kl_divergence(dist.Laplace(torch.zeros(3, dtype=T), 1.0).to_event(1), q)
    with pytest.raises(NotImplementedError):
        kl_divergence(dist.Normal(torch.zeros(2, 3, dtype=T), 1.0).to_event(2),
                      dist.MultivariateNormal(torch.zeros(2, 3, dtype=T), scale_tril=random_tril()))
    with pytest.raises(ValueError, match=r"event_shape \(4,\) but the MultivariateNormal \(3,\)"):
        kl_divergence(dist.Normal(torch.zeros(4, dtype=T), 1.0).to_event(1), q)


def elementwise_normal_kl(p_loc, p_scale, q_loc, q_scale):
    ratio = torch.as_tensor(p_scale / q_scale, dtype=T) ** 2
    return 0.5 * (ratio + ((p_loc - q_loc) / q_scale) ** 2 - 1 - ratio.log())


def test_independent_pairs_with_different_reinterpreted_dims():
    p_loc, p_scale = torch.randn(4, 2, 3, dtype=T), torch.rand(4, 2, 3, dtype=T) + 0.5
    q_loc, q_scale = torch.randn(4, 2, 3, dtype=T), torch.rand(4, 2, 3, dtype=T) + 0.5
    expected = elementwise_normal_kl(p_loc, p_scale, q_loc, q_scale).sum((-2, -1))
    p = dist.Normal(p_loc, p_scale).to_event(2)
    q = dist.Normal(q_loc, q_scale).to_event(1).to_event(1)
    torch.testing.assert_close(kl_divergence(p, q), expected)
    torch.testing.assert_close(kl_divergence(q, p), elementwise_normal_kl(
        q_loc, q_scale, p_loc, p_scale).sum((-2, -1)))
    # torch's own Independent class gets the pair too (as with Pyro)
    td = torch.distributions
    tp = td.Independent(td.Normal(p_loc, p_scale), 2)
    tq = td.Independent(td.Independent(td.Normal(q_loc, q_scale), 1), 1)
    torch.testing.assert_close(kl_divergence(tp, tq), expected)


def test_delta_against_any_distribution_is_minus_the_log_density():
    v = t([0.5, -1.0])
    q = dist.Normal(t([0.0, 1.0]), t([1.0, 2.0]))
    kl = kl_divergence(dist.Delta(v), q)
    torch.testing.assert_close(kl, -torch.distributions.Normal(q.loc, q.scale).log_prob(v))
    kl_event = kl_divergence(dist.Delta(v, event_dim=1), q.to_event(1))
    assert kl_event.shape == ()
    torch.testing.assert_close(kl_event, kl.sum())


def test_masked_pairs():
    p = dist.Normal(torch.zeros(3, dtype=T), 1.0)
    q = dist.Normal(torch.ones(3, dtype=T), 2.0)
    mask = torch.tensor([True, False, True])
    each = elementwise_normal_kl(torch.zeros(3, dtype=T), 1.0, torch.ones(3, dtype=T), 2.0)
    torch.testing.assert_close(kl_divergence(p.mask(mask), q.mask(True)), each * mask)
    torch.testing.assert_close(kl_divergence(p.mask(mask), q.mask(torch.tensor([True, True, False]))),
                               each * t([1.0, 0.0, 0.0]))
    torch.testing.assert_close(kl_divergence(p.mask(mask), q), each * mask)
    assert kl_divergence(p.mask(False), q.mask(True)) == 0.0


def test_expanded_pair():
    p = dist.Normal(t(0.0), t(1.0)).expand((2, 3))
    q = dist.Normal(t(1.0), t(2.0)).expand((2, 3))
    kl = kl_divergence(p, q)
    assert kl.shape == (2, 3)
    torch.testing.assert_close(kl, elementwise_normal_kl(t(0.0), t(1.0), t(1.0), t(2.0)).expand(2, 3))
