"""Tensor Monte Carlo enumeration (``num_samples`` with ``tmc="diagonal"`` or ``"mixture"``)."""

import math
import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import TraceEnum_ELBO, config_enumerate

DATA = torch.tensor([0.5, 1.0, 2.0])


def chain(data, noise=1.0):
    """z1 ~ N(0, 1), z2 ~ N(z1, noise), x_i ~ N(z2, 1): marginally x ~ N(0, (1 + noise^2) 11' + I)."""
    z1 = pyro.sample("z1", dist.Normal(0.0, 1.0))
    z2 = pyro.sample("z2", dist.Normal(z1, noise))
    with pyro.plate("data", len(data)):
        pyro.sample("x", dist.Normal(z2, 1.0), obs=data)


def _enum_trace(tmc, n=4, noise=1.0):
    model = config_enumerate(chain, num_samples=n, tmc=tmc)
    return poutine.trace(poutine.enum(model, first_available_dim=-2)).get_trace(DATA, noise)


@pytest.mark.parametrize("tmc", ["diagonal", "mixture"])
def test_each_particle_keeps_one_ancestor(tmc):
    tr = _enum_trace(tmc)
    assert tr.nodes["z1"]["value"].shape == (4, 1)
    assert tr.nodes["z2"]["value"].shape == (4, 1, 1)  # not (4, 4, 1): one draw per particle


def test_diagonal_particle_i_descends_from_ancestor_i():
    tr = _enum_trace("diagonal", n=6, noise=1e-6)
    z1, z2 = tr.nodes["z1"]["value"].reshape(-1), tr.nodes["z2"]["value"].reshape(-1)
    torch.testing.assert_close(z2, z1, atol=1e-4, rtol=0)


def test_mixture_particles_choose_their_ancestors_uniformly():
    n, runs, picks = 5, 400, []
    for _ in range(runs):
        tr = _enum_trace("mixture", n=n, noise=1e-6)
        z1, z2 = tr.nodes["z1"]["value"].reshape(-1), tr.nodes["z2"]["value"].reshape(-1)
        distance = (z2[:, None] - z1[None, :]).abs()
        assert distance.min(1).values.max() < 1e-4  # every draw sits on some ancestor
        picks.append(distance.argmin(1))
    counts = torch.bincount(torch.stack(picks).reshape(-1), minlength=n).double()
    # 2000 uniform choices over 5 ancestors: each count is 400 +- 18 (one sd).
    assert (counts - runs).abs().max() < 80
    diagonal = (torch.stack(picks) == torch.arange(n)).double().mean()
    assert abs(diagonal - 1 / n) < 0.05


@pytest.mark.parametrize("tmc", ["diagonal", "mixture"])
def test_likelihood_estimate_is_unbiased(tmc):
    cov = torch.full((3, 3), 2.0) + torch.eye(3)
    exact = dist.MultivariateNormal(torch.zeros(3), cov).log_prob(DATA).exp()
    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    model = config_enumerate(chain, num_samples=50, tmc=tmc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        estimates = torch.tensor([math.exp(-elbo.loss(model, lambda d: None, DATA))
                                  for _ in range(200)])
    # exp(-loss) is an unbiased estimate of p(x); 200 runs of 50 draws each.
    stderr = estimates.std() / math.sqrt(len(estimates))
    assert abs(estimates.mean() - exact) < 4 * stderr
    assert stderr < 0.05 * exact


def test_model_sites_drawn_by_monte_carlo_warn_under_validation():
    model = config_enumerate(chain, num_samples=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda d: None, DATA)
    assert [(w.category, str(w.message).splitlines()[0]) for w in caught] == [
        (RuntimeWarning, f"Site {name} is multiply sampled in model,") for name in ("z1", "z2")]
    with pyro.validation_enabled(False), warnings.catch_warnings():
        warnings.simplefilter("error")
        TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda d: None, DATA)
