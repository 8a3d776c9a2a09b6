"""``ConjugateReparam`` with the conjugate families' ``conjugate_update``: the analytic posterior
and evidence of Beta-Bernoulli and Gamma-Poisson models."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import Trace_ELBO
from pyro.infer.reparam import ConjugateReparam


def _log_beta(a, b):
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def test_conjugate_reparam_beta_bernoulli_is_the_exact_posterior():
    pyro.set_rng_seed(3)
    data = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    a, b = 2.0, 3.0
    heads = data.sum().item()
    tails = len(data) - heads
    n = 20000

    def model(data):
        p = pyro.sample("p", dist.Beta(a, b))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Bernoulli(p), obs=data)

    def likelihood(data):  # the Bernoulli likelihood of p, normalised as a Beta
        h = data.sum()
        return dist.Beta(h + 1, len(data) - h + 1)

    def many(data):
        with pyro.plate("draws", n, dim=-2):
            model(data)

    log_evidence = _log_beta(a + heads, b + tails) - _log_beta(a, b)
    reparam_many = poutine.reparam(many, {"p": ConjugateReparam(likelihood)})
    tr = poutine.trace(reparam_many).get_trace(data)
    tr.compute_log_prob()
    assert tr.nodes["p"]["is_observed"] and tr.nodes["p"]["value"].shape == (n, 1)
    log_joint = tr.nodes["p"]["log_prob"].squeeze(-1) + tr.nodes["obs"]["log_prob"].sum(-1)
    assert torch.allclose(log_joint, torch.full((n,), log_evidence), atol=1e-4)
    # The draws follow Beta(a + heads, b + tails): mean 8/13, sd 0.13 (standard errors 0.001).
    pa, pb = a + heads, b + tails
    mean, var = pa / (pa + pb), pa * pb / ((pa + pb) ** 2 * (pa + pb + 1))
    p = tr.nodes["p"]["value"]
    assert p.mean().item() == pytest.approx(mean, abs=0.005)
    assert p.var().item() == pytest.approx(var, rel=0.04)
    # An empty guide: the ELBO is the exact log evidence.
    loss = Trace_ELBO().loss(poutine.reparam(model, {"p": ConjugateReparam(likelihood)}),
                             lambda data: None, data)
    assert loss == pytest.approx(-log_evidence, abs=1e-4)


def test_conjugate_reparam_gamma_poisson_with_a_vector_of_rates():
    pyro.set_rng_seed(5)
    counts = torch.tensor([[3.0, 0.0, 7.0], [5.0, 1.0, 4.0], [2.0, 0.0, 6.0], [4.0, 2.0, 9.0]])
    k, r = 2.0, 0.5
    n_obs = counts.shape[0]
    total = counts.sum(0)

    def model():
        rate = pyro.sample("rate", dist.Gamma(torch.full((3,), k), r).to_event(1))
        with pyro.plate("obs_plate", n_obs):
            pyro.sample("obs", dist.Poisson(rate).to_event(1), obs=counts)

    # The Poisson likelihood of each rate, lambda^S exp(-n lambda), normalised as a Gamma.
    guide_dist = dist.Gamma(total + 1, torch.full((3,), float(n_obs))).to_event(1)
    log_evidence = sum(
        k * math.log(r) - math.lgamma(k) + math.lgamma(k + s) - (k + s) * math.log(r + n_obs)
        for s in total.tolist()) - torch.lgamma(counts + 1).sum().item()
    loss = Trace_ELBO().loss(poutine.reparam(model, {"rate": ConjugateReparam(guide_dist)}),
                             lambda: None)
    assert loss == pytest.approx(-log_evidence, abs=1e-3)
    # Vectorised draws from Gamma(k + S, r + n) per rate.
    draws = 20000

    def many():
        with pyro.plate("draws", draws, dim=-2):
            model()

    tr = poutine.trace(poutine.reparam(many, {"rate": ConjugateReparam(guide_dist)})).get_trace()
    rate = tr.nodes["rate"]["value"].reshape(draws, 3)
    post_k, post_r = k + total, r + n_obs
    assert torch.allclose(rate.mean(0), post_k / post_r, rtol=0.015)
    assert torch.allclose(rate.var(0), post_k / post_r ** 2, rtol=0.06)


