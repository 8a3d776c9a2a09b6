"""Importance sampling against analytic and exact posteriors; sequential vs vectorized paths."""

import math

import pytest
import torch

import pyro
from pyro.infer import EmpiricalMarginal, Importance, vectorized_importance_weights

D = torch.distributions
DATA = torch.tensor([1.0, 2.0, 0.5])
# Normal(0, 1) prior, unit-variance Normal likelihood: posterior Normal(sum / (n + 1), 1 / (n + 1)).
POST_MEAN = DATA.sum().item() / (len(DATA) + 1)
POST_VAR = 1.0 / (len(DATA) + 1)


def normal_model(data):
    z = pyro.sample("z", D.Normal(0.0, 1.0))
    with pyro.plate("data", len(data)):
        pyro.sample("x", D.Normal(z, 1.0), obs=data)
    return z


def normal_guide(data):
    pyro.sample("z", D.Normal(0.8, 0.6))


FLIPS = torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0])


def beta_model(data):
    p = pyro.sample("p", D.Beta(2.0, 2.0))
    with pyro.plate("flips", len(data)):
        pyro.sample("obs", D.Bernoulli(p), obs=data)


MUS = torch.tensor([-1.0, 0.5, 2.0])
PRIOR = torch.tensor([0.2, 0.3, 0.5])


def discrete_model(y):
    k = pyro.sample("k", D.Categorical(PRIOR))
    pyro.sample("y", D.Normal(MUS[k], 1.0), obs=y)


def exact_discrete_posterior(y):
    logp = PRIOR.log() + D.Normal(MUS, 1.0).log_prob(y)
    return (logp - logp.logsumexp(0)).exp()


@pytest.mark.parametrize("vectorized,num_samples,tol", [(False, 2000, 0.06), (True, 40000, 0.02)])
def test_normal_normal_prior_proposal(vectorized, num_samples, tol):
    pyro.set_rng_seed(0)
    posterior = Importance(normal_model, num_samples=num_samples, vectorized=vectorized).run(DATA)
    marginal = EmpiricalMarginal(posterior, "z")
    assert marginal.mean.item() == pytest.approx(POST_MEAN, abs=tol)
    assert marginal.variance.item() == pytest.approx(POST_VAR, abs=tol)
    # The return value is the same site.
    assert EmpiricalMarginal(posterior).mean.item() == pytest.approx(marginal.mean.item(), abs=1e-6)


@pytest.mark.parametrize("vectorized", [False, True])
def test_normal_normal_guide_proposal_and_evidence(vectorized):
    pyro.set_rng_seed(1)
    posterior = Importance(normal_model, normal_guide, num_samples=3000,
                           vectorized=vectorized).run(DATA)
    marginal = EmpiricalMarginal(posterior, "z")
    assert marginal.mean.item() == pytest.approx(POST_MEAN, abs=0.03)
    assert marginal.variance.item() == pytest.approx(POST_VAR, abs=0.03)
    # A good proposal: most of the samples count.
    assert posterior.get_ESS().item() > 0.7 * 3000
    # Marginally the data are Normal(0, I + 11^T).
    n = len(DATA)
    evidence = D.MultivariateNormal(torch.zeros(n), torch.eye(n) + torch.ones(n, n)).log_prob(DATA)
    assert posterior.get_log_normalizer().item() == pytest.approx(evidence.item(), abs=0.02)


@pytest.mark.parametrize("vectorized,num_samples,tol", [(False, 1500, 0.03), (True, 30000, 0.008)])
def test_beta_bernoulli(vectorized, num_samples, tol):
    pyro.set_rng_seed(2)
    posterior = Importance(beta_model, num_samples=num_samples, vectorized=vectorized).run(FLIPS)
    marginal = EmpiricalMarginal(posterior, "p")
    a, b = 2.0 + FLIPS.sum().item(), 2.0 + (1 - FLIPS).sum().item()
    assert marginal.mean.item() == pytest.approx(a / (a + b), abs=tol)
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    assert marginal.variance.item() == pytest.approx(var, abs=tol / 2)


@pytest.mark.parametrize("vectorized", [False, True])
def test_discrete_posterior(vectorized):
    pyro.set_rng_seed(3)
    y = torch.tensor(1.2)
    n = 20000 if vectorized else 2500
    posterior = Importance(discrete_model, num_samples=n, vectorized=vectorized).run(y)
    marginal = EmpiricalMarginal(posterior, "k")
    probs = torch.stack([marginal.log_prob(torch.tensor(k)).exp() for k in range(3)])
    assert torch.allclose(probs, exact_discrete_posterior(y), atol=0.03 if not vectorized else 0.015)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-5)


def test_sequential_and_vectorized_agree():
    pyro.set_rng_seed(4)
    seq = EmpiricalMarginal(Importance(normal_model, num_samples=3000).run(DATA), "z")
    vec_post = Importance(normal_model, num_samples=3000, vectorized=True).run(DATA)
    vec = EmpiricalMarginal(vec_post, "z")
    # Standard error of a self-normalised mean, from each run's ESS.
    se = math.sqrt(POST_VAR / 500 * 2)
    assert abs(seq.mean.item() - vec.mean.item()) < 5 * se
    assert abs(seq.variance.item() - vec.variance.item()) < 0.06


def test_weights_api():
    pyro.set_rng_seed(5)
    for vectorized in (False, True):
        posterior = Importance(normal_model, num_samples=50, vectorized=vectorized).run(DATA)
        lw = torch.stack(posterior.log_weights)
        assert lw.shape == (50,)
        assert len(posterior.exec_traces) == 50
        w = posterior.get_normalized_weights()
        assert w.sum().item() == pytest.approx(1.0, abs=1e-5)
        assert torch.allclose(posterior.get_normalized_weights(log_scale=True).exp(), w)
        assert posterior.get_ESS().item() == pytest.approx((1 / (w ** 2).sum()).item(), rel=1e-5)
        # Without a guide the weight is the likelihood of the data at the trace's z.
        for tr, logw in list(zip(posterior.exec_traces, posterior.log_weights))[:5]:
            z = tr.nodes["z"]["value"]
            assert logw.item() == pytest.approx(D.Normal(z, 1.0).log_prob(DATA).sum().item(),
                                                abs=1e-4)
        sample = posterior()
        assert "z" in sample.nodes and "x" not in sample.nodes


def test_vectorized_importance_weights_function():
    pyro.set_rng_seed(6)
    log_w, model_trace, guide_trace = vectorized_importance_weights(
        normal_model, normal_guide, DATA, num_samples=100)
    z = guide_trace.nodes["z"]["value"].reshape(100)
    expected = (D.Normal(0.0, 1.0).log_prob(z) + D.Normal(z.unsqueeze(-1), 1.0).log_prob(DATA).sum(-1)
                - D.Normal(0.8, 0.6).log_prob(z))
    assert torch.allclose(log_w, expected, atol=1e-4)
    log_w, _, _ = vectorized_importance_weights(normal_model, normal_guide, DATA, num_samples=100,
                                                normalized=True)
    assert log_w.logsumexp(0).item() == pytest.approx(0.0, abs=1e-5)


def test_num_samples_default_warns():
    with pytest.warns(UserWarning, match="num_samples"):
        imp = Importance(normal_model)
    assert imp.num_samples == 10
    with pytest.raises(ValueError):
        Importance(normal_model, num_samples=0)
