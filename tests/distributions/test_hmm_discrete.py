"""DiscreteHMM and IndependentHMM against brute-force enumeration of every state path."""

import itertools

import pytest
import torch

import pyro.distributions as dist
from pyro.distributions.hmm import DiscreteHMM


def _brute_force(init, trans, obs_logp):
    """log p(y) and the final-state posterior by enumerating every path.

    ``init``: (S,) logits; ``trans``: (T, S, S); ``obs_logp``: (T, S) log p(y[t] | state).
    """
    T, S = obs_logp.shape
    init = init.log_softmax(-1)
    trans = trans.log_softmax(-1)
    total = []
    final = torch.full((S,), -float("inf"), dtype=obs_logp.dtype)
    for prev in range(S):
        for path in itertools.product(range(S), repeat=T):
            lp = init[prev]
            last = prev
            for t, s in enumerate(path):
                lp = lp + trans[t, last, s] + obs_logp[t, s]
                last = s
            total.append(lp)
            final[path[-1]] = torch.logaddexp(final[path[-1]], lp)
    total = torch.stack(total).logsumexp(0)
    return total, final - total


def _forward_algorithm(init, trans, obs_logp):
    """The forward recursion in probability space, one step at a time."""
    alpha = init.softmax(-1)
    for t in range(obs_logp.shape[0]):
        alpha = (alpha @ trans[t].softmax(-1)) * obs_logp[t].exp()
    return alpha.sum().log(), (alpha / alpha.sum()).log()


@pytest.mark.parametrize("T", [1, 2, 3, 5])
def test_log_prob_and_filter_match_enumeration(T):
    torch.manual_seed(T)
    S, B = 3, 2
    init = torch.randn(B, S, dtype=torch.float64)
    trans = torch.randn(B, T, S, S, dtype=torch.float64)
    loc = torch.randn(B, T, S, dtype=torch.float64)
    scale = torch.rand(B, T, S, dtype=torch.float64) + 0.5
    d = DiscreteHMM(init, trans, dist.Normal(loc, scale))
    assert d.batch_shape == (B,) and d.event_shape == (T,) and d.duration == (T if T > 1 else None)
    y = torch.randn(B, T, dtype=torch.float64)
    lp = d.log_prob(y)
    post = d.filter(y)
    assert isinstance(post, dist.Categorical)
    for b in range(B):
        obs_logp = dist.Normal(loc[b], scale[b]).log_prob(y[b].unsqueeze(-1))
        expected, final = _brute_force(init[b], trans[b], obs_logp)
        fwd, fwd_final = _forward_algorithm(init[b], trans[b], obs_logp)
        assert torch.allclose(lp[b], expected, atol=1e-10)
        assert torch.allclose(lp[b], fwd, atol=1e-10)
        assert torch.allclose(post.logits[b], final, atol=1e-10)
        assert torch.allclose(post.logits[b], fwd_final, atol=1e-10)


def test_homogeneous_chain_scores_any_length_and_broadcasts():
    torch.manual_seed(0)
    S = 2
    init, trans = torch.randn(S, dtype=torch.float64), torch.randn(S, S, dtype=torch.float64)
    probs = torch.rand(S, 3, dtype=torch.float64).softmax(-1)
    d = DiscreteHMM(init, trans, dist.Categorical(probs))
    assert d.duration is None and d.event_shape == (1,) and d.batch_shape == ()
    y = torch.tensor([[0, 2, 1, 1, 0, 2, 2], [1, 1, 1, 0, 0, 2, 1]])
    lp = d.log_prob(y)
    assert lp.shape == (2,)
    for i in range(2):
        obs_logp = probs.log()[:, y[i]].T
        expected, _ = _forward_algorithm(init, trans.expand(7, S, S), obs_logp)
        assert torch.allclose(lp[i], expected, atol=1e-10)
    with pytest.raises(ValueError, match="duration"):
        d.sample()


def test_batch_broadcasting_and_expand():
    torch.manual_seed(1)
    S, T = 3, 4
    init = torch.randn(2, 1, S)
    trans = torch.randn(T, S, S)
    obs = dist.Normal(torch.randn(4, 1, S), 1.0)
    d = DiscreteHMM(init, trans, obs)
    assert d.batch_shape == (2, 4) and d.event_shape == (T,)
    y = torch.randn(T)
    lp = d.log_prob(y)
    assert lp.shape == (2, 4)
    one = DiscreteHMM(init[1, 0], trans, dist.Normal(obs.loc[3, 0], 1.0))
    assert torch.allclose(lp[1, 3], one.log_prob(y), atol=1e-5)
    e = one.expand((5,))
    assert e.batch_shape == (5,) and e.event_shape == (T,)
    assert torch.allclose(e.log_prob(y), one.log_prob(y).expand(5), atol=1e-6)
    assert e.sample((2,)).shape == (2, 5, T)


def test_multivariate_observations():
    torch.manual_seed(2)
    S, T, D = 2, 3, 2
    init, trans = torch.randn(S, dtype=torch.float64), torch.randn(T, S, S, dtype=torch.float64)
    loc = torch.randn(T, S, D, dtype=torch.float64)
    obs = dist.MultivariateNormal(loc, torch.eye(D, dtype=torch.float64))
    d = DiscreteHMM(init, trans, obs)
    assert d.event_shape == (T, D)
    y = torch.randn(T, D, dtype=torch.float64)
    expected, final = _brute_force(init, trans, obs.log_prob(y.unsqueeze(-2)))
    assert torch.allclose(d.log_prob(y), expected, atol=1e-10)
    assert torch.allclose(d.filter(y).logits, final, atol=1e-10)
    assert d.sample((4,)).shape == (4, T, D)


def test_sample_frequencies_match_log_prob():
    torch.manual_seed(3)
    S, T, K = 2, 3, 2
    init, trans = torch.randn(S), torch.randn(T, S, S)
    probs = torch.tensor([[0.8, 0.2], [0.3, 0.7]])
    d = DiscreteHMM(init, trans, dist.Categorical(probs))
    n = 40000
    y = d.sample((n,))
    assert y.shape == (n, T)
    outcomes = torch.tensor(list(itertools.product(range(K), repeat=T)))
    expected = d.log_prob(outcomes).exp()
    assert torch.allclose(expected.sum(), torch.tensor(1.0), atol=1e-5)
    codes = (y * torch.tensor([K * K, K, 1])).sum(-1)
    freq = torch.bincount(codes, minlength=K ** T).float() / n
    # Four binomial standard errors at the largest cell (p <= 0.5, n = 40000): 0.01.
    assert (freq - expected).abs().max() < 0.01


def test_log_prob_gradient_matches_finite_differences():
    torch.manual_seed(4)
    S, T = 3, 6
    init = torch.randn(S, dtype=torch.float64)
    trans = torch.randn(T, S, S, dtype=torch.float64, requires_grad=True)
    loc = torch.randn(S, dtype=torch.float64)
    y = torch.randn(T, dtype=torch.float64)

    def f(tr):
        return DiscreteHMM(init, tr, dist.Normal(loc, 1.0)).log_prob(y)

    assert torch.autograd.gradcheck(f, (trans,))


@pytest.mark.parametrize("args, match", [
    ((torch.randn(()), torch.randn(3, 3)), r"initial_logits.*shape = torch.Size\(\[\]\)"),
    ((torch.randn(3), torch.randn(3)), r"transition_logits.*torch.Size\(\[3\]\)"),
    ((torch.randn(3), torch.randn(3, 4)), r"transition_logits.shape\[-1\] = 4"),
    ((torch.randn(3), torch.randn(2, 2)), r"initial_logits.shape\[-1\] = 3"),
])
def test_constructor_errors_name_argument_and_shapes(args, match):
    with pytest.raises(ValueError, match=match):
        DiscreteHMM(*args, dist.Normal(torch.zeros(3), 1.0))


def test_constructor_shape_errors():
    with pytest.raises(ValueError, match=r"observation_dist.*batch_shape = torch.Size\(\[\]\)"):
        DiscreteHMM(torch.randn(3), torch.randn(3, 3), dist.Normal(0.0, 1.0))
    with pytest.raises(ValueError, match=r"observation_dist.batch_shape\[-1\] = 4"):
        DiscreteHMM(torch.randn(3), torch.randn(3, 3), dist.Normal(torch.zeros(4), 1.0))
    with pytest.raises(ValueError, match=r"do not broadcast.*\(5,\).*\(6,\)"):
        DiscreteHMM(torch.randn(3), torch.randn(5, 3, 3), dist.Normal(torch.zeros(6, 3), 1.0))
    with pytest.raises(ValueError, match="duration=4.*size 5"):
        DiscreteHMM(torch.randn(3), torch.randn(5, 3, 3), dist.Normal(torch.zeros(3), 1.0),
                    duration=4)


def test_validation_rejects_wrong_duration():
    d = DiscreteHMM(torch.randn(3), torch.randn(5, 3, 3), dist.Normal(torch.zeros(3), 1.0),
                    validate_args=True)
    with pytest.raises(ValueError, match="right-most size of value must match event_shape"):
        d.log_prob(torch.randn(4, 1))
    with pytest.raises(ValueError, match="right-most size of value must match event_shape"):
        d.log_prob(torch.randn(6))


def test_importable_from_hmm_module_and_registered():
    import pyro.distributions.hmm as hmm

    assert dist.DiscreteHMM is hmm.DiscreteHMM
    assert dist.GaussianHMM is hmm.GaussianHMM
    assert dist.IndependentHMM is hmm.IndependentHMM
    assert dist.LinearHMM is hmm.LinearHMM and dist.GaussianMRF is hmm.GaussianMRF
    assert dist.GammaGaussianHMM is hmm.GammaGaussianHMM
    names = {"DiscreteHMM", "GammaGaussianHMM", "GaussianHMM", "GaussianMRF", "IndependentHMM",
             "LinearHMM"}
    assert names <= set(dist.__all__)


def test_independent_hmm_sums_series():
    torch.manual_seed(5)
    N, T, S = 3, 4, 2
    # Univariate series need event (T, 1): wrap each observation as a length-one vector.
    base = DiscreteHMM(torch.randn(N, S), torch.randn(N, T, S, S),
                       dist.Normal(torch.randn(N, 1, S, 1), 1.0).to_event(1))
    ih = dist.IndependentHMM(base)
    assert ih.batch_shape == () and ih.event_shape == (T, N) and ih.duration == T
    y = torch.randn(T, N)
    expected = base.log_prob(y.T.unsqueeze(-1)).sum()
    assert torch.allclose(ih.log_prob(y), expected, atol=1e-6)
    assert ih.sample((2,)).shape == (2, T, N)
    assert ih.expand((5,)).batch_shape == (5,)
    with pytest.raises(ValueError, match=r"event_shape \(duration, 1\)"):
        dist.IndependentHMM(dist.Normal(torch.zeros(3), 1.0))


def _log_forward(init, trans, obs_logp):
    """The forward recursion in log space (float64), robust to any dynamic range."""
    alpha = init.log_softmax(-1)
    trans = trans.log_softmax(-1)
    for t in range(obs_logp.shape[0]):
        alpha = (alpha.unsqueeze(-1) + trans[t]).logsumexp(-2) + obs_logp[t]
    return alpha.logsumexp(-1)


def test_float32_extreme_likelihoods_stay_finite_and_accurate():
    torch.manual_seed(6)
    S, T = 4, 9
    init = torch.randn(S) * 5
    trans = torch.randn(T, S, S) * 8  # some transitions of probability ~e^-40
    loc = torch.randn(S) * 3
    obs = dist.Normal(loc, 0.05)  # observation log-likelihood gaps of thousands of nats
    y = torch.randn(T) * 3
    d = DiscreteHMM(init, trans, obs)
    lp = d.log_prob(y)
    expected = _log_forward(init.double(), trans.double(), obs.log_prob(y.unsqueeze(-1)).double())
    assert torch.isfinite(lp)
    assert abs(lp.double() - expected) < 1e-3 * abs(expected)
    assert torch.isfinite(d.filter(y).logits).any()


@pytest.mark.cuda
def test_cuda_log_prob_matches_cpu():
    torch.manual_seed(7)
    S, T = 3, 6
    args = torch.randn(S), torch.randn(T, S, S), torch.randn(T, S)
    y = torch.randn(5, T)
    cpu = DiscreteHMM(args[0], args[1], dist.Normal(args[2], 1.0)).log_prob(y)
    gpu = DiscreteHMM(args[0].cuda(), args[1].cuda(), dist.Normal(args[2].cuda(), 1.0))
    out = gpu.log_prob(y.cuda())
    assert out.device.type == "cuda"
    assert torch.allclose(out.cpu(), cpu, atol=1e-5)
    assert gpu.sample((2,)).device.type == "cuda"
