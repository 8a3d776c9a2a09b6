"""pyro.sample(..., obs=..., obs_mask=...): partly observed data, imputed where unobserved."""

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import Trace_ELBO

X = torch.tensor([0.3, 1.2, 0.0, -0.7, 0.0, 2.1])  # entries 2 and 4 are missing (filled with 0)
MASK = torch.tensor([True, True, False, True, False, True])


def model(x=X, mask=MASK):
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    with pyro.plate("data", len(x)):
        return pyro.sample("x", dist.Normal(mu, 1.0), obs=x, obs_mask=mask)


def exact_guide(x=X, mask=MASK):
    # The exact posterior of mu given the observed entries, and of the missing ones given mu.
    n = mask.sum()
    mu = pyro.sample("mu", dist.Normal(x[mask].sum() / (n + 1), (1.0 / (n + 1)) ** 0.5))
    with pyro.plate("data", len(x)), poutine.mask(mask=~mask):
        pyro.sample("x_unobserved", dist.Normal(mu, 1.0))


def test_sites_and_interleaved_value():
    pyro.set_rng_seed(0)
    tr = poutine.trace(model).get_trace()
    observed, unobserved, value = tr.nodes["x_observed"], tr.nodes["x_unobserved"], tr.nodes["x"]
    assert observed["is_observed"] and torch.equal(observed["value"], X)
    assert torch.equal(observed["mask"], MASK)
    assert not unobserved["is_observed"] and torch.equal(unobserved["mask"], ~MASK)
    expected = torch.where(MASK, X, unobserved["value"])
    assert torch.equal(value["value"], expected)
    assert torch.equal(tr.nodes["_RETURN"]["value"], expected)
    # Only the entries each site owns count in the log-density.
    tr.compute_log_prob()
    mu = tr.nodes["mu"]["value"]
    per_entry = dist.Normal(mu, 1.0).log_prob(expected)
    assert torch.allclose(tr.nodes["x_observed"]["log_prob_sum"], per_entry[MASK].sum())
    assert torch.allclose(tr.nodes["x_unobserved"]["log_prob_sum"], per_entry[~MASK].sum())
    assert tr.nodes["x"]["log_prob_sum"] == 0


def test_elbo_with_exact_posterior_is_the_evidence_of_the_observed_entries():
    x_obs = X[MASK]
    n = len(x_obs)
    # mu ~ N(0, 1), x_i = mu + N(0, 1): the observed entries are N(0, I + 11^T).
    evidence = torch.distributions.MultivariateNormal(
        torch.zeros(n), torch.eye(n) + torch.ones(n, n)).log_prob(x_obs)
    pyro.set_rng_seed(1)
    for _ in range(3):  # the estimator has zero variance at the exact posterior
        loss = Trace_ELBO().loss(model, exact_guide)
        assert loss == pytest.approx(-evidence.item(), abs=1e-4)


def test_event_dims_are_kept_whole():
    loc = torch.zeros(3, 2)
    obs = torch.arange(6.0).reshape(3, 2)
    mask = torch.tensor([True, False, True])

    def mvn_model():
        with pyro.plate("rows", 3):
            return pyro.sample("y", dist.MultivariateNormal(loc, torch.eye(2)), obs=obs,
                               obs_mask=mask)

    tr = poutine.trace(mvn_model).get_trace()
    value = tr.nodes["y"]["value"]
    assert value.shape == (3, 2)
    assert torch.equal(value[mask], obs[mask])
    assert torch.equal(value[1], tr.nodes["y_unobserved"]["value"][1])


def test_bad_obs_mask_is_an_error_naming_the_site():
    with pytest.raises(ValueError, match="site 'x'.*bool"):
        poutine.trace(model).get_trace(X, MASK.float())


def test_obs_mask_without_obs_samples_every_entry_as_pyro_does():
    mask = torch.tensor([True, False, True])
    tr = poutine.trace(
        lambda: pyro.sample("x", dist.Normal(torch.zeros(3), 1.0), obs=None, obs_mask=mask)).get_trace()
    observed, unobserved, x = tr.nodes["x_observed"], tr.nodes["x_unobserved"], tr.nodes["x"]
    assert not observed["is_observed"] and not unobserved["is_observed"] and x["is_observed"]
    assert torch.equal(observed["mask"], mask) and torch.equal(unobserved["mask"], ~mask)
    expected = torch.where(mask, observed["value"], unobserved["value"])
    assert torch.equal(x["value"], expected)
