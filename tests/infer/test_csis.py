"""CSIS learns an amortised proposal much better than the prior, and the posterior it targets."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import Importance
from pyro.infer.csis import CSIS
from pyro.optim import Adam

SIGMA = 0.5  # z ~ N(0, 1), x ~ N(z, SIGMA^2): z | x ~ N(0.8 x, 0.2)


def model(observations={"x": torch.tensor(0.0)}):  # noqa: B006 (Pyro's CSIS convention)
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    pyro.sample("x", dist.Normal(z, SIGMA), obs=observations["x"])


def guide(observations={"x": torch.tensor(0.0)}):  # noqa: B006
    a = pyro.param("a", torch.tensor(0.0))
    b = pyro.param("b", torch.tensor(0.0))
    log_s = pyro.param("log_s", torch.tensor(0.0))
    pyro.sample("z", dist.Normal(a * observations["x"] + b, log_s.exp()))


def test_csis_learns_the_posterior_and_beats_the_prior_ess():
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    csis = CSIS(model, guide, Adam({"lr": 0.1}), num_inference_samples=400,
                training_batch_size=20, validation_batch_size=50)
    first = csis.validation_loss()
    for _ in range(150):
        csis.step()
    assert csis.validation_loss() < first
    # -mean log q(z | x) is minimised by the exact posterior: slope 0.8, sd sqrt(0.2).
    assert pyro.param("a").item() == pytest.approx(0.8, abs=0.1)
    assert pyro.param("b").item() == pytest.approx(0.0, abs=0.1)
    assert pyro.param("log_s").exp().item() == pytest.approx(math.sqrt(0.2), rel=0.15)

    obs = {"x": torch.tensor(2.0)}
    ess = csis.run(observations=obs).get_ESS().item()
    prior = Importance(model, guide=None, num_samples=400).run(observations=obs)
    prior_ess = prior.get_ESS().item()
    # With the near-exact proposal almost every draw counts (ESS near 400); the prior's draws
    # mostly miss x = 2: its ESS fraction is E[w]^2 / E[w^2] = 0.145 (about 58 of 400).
    assert ess > 0.8 * 400
    assert ess > 3.0 * prior_ess
    # The posterior mean from the weighted draws: 0.8 * 2 = 1.6.
    weights = csis.get_normalized_weights()
    z = torch.stack([tr.nodes["z"]["value"] for tr in csis.exec_traces])
    assert (weights * z).sum().item() == pytest.approx(1.6, abs=0.06)


def test_the_guide_receives_the_sampled_observations():
    seen = []

    def recording_guide(observations=None):
        seen.append(observations["x"].item())
        guide(observations)

    pyro.clear_param_store()
    pyro.set_rng_seed(1)
    csis = CSIS(model, recording_guide, Adam({"lr": 0.01}), training_batch_size=5)
    loss = csis.step()
    assert len(seen) == 5 and len(set(seen)) == 5  # five different draws of x, none 0.0
    assert math.isfinite(loss)
    csis.set_validation_batch()
    assert len(csis.validation_batch) == 20
