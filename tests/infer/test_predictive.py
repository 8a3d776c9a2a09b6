"""Predictive: shapes, return_sites, parallel vs sequential, analytic posterior predictive."""

import warnings

import pytest
import torch

import pyro
from pyro.infer import Predictive
from pyro.infer.autoguide import AutoNormal, init_to_value

D = torch.distributions


def model(data=None, n=3):
    z = pyro.sample("z", D.Normal(0.0, 1.0))
    with pyro.plate("data", n):
        return pyro.sample("x", D.Normal(z, 1.0), obs=data)


@pytest.fixture(autouse=True)
def clean_store():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


@pytest.mark.parametrize("parallel", [False, True])
def test_prior_predictive_shapes(parallel):
    out = Predictive(model, num_samples=5, parallel=parallel)()
    assert out["z"].shape == (5, 1)
    assert out["x"].shape == (5, 3)


@pytest.mark.parametrize("parallel", [False, True])
def test_posterior_samples_shapes_and_return_sites(parallel):
    z = torch.arange(4.0)
    out = Predictive(model, posterior_samples={"z": z}, parallel=parallel)()
    assert set(out) == {"x"}
    assert out["x"].shape == (4, 3)
    out = Predictive(model, {"z": z}, return_sites=["z", "x", "_RETURN"], parallel=parallel)()
    assert set(out) == {"z", "x", "_RETURN"}
    assert torch.equal(out["z"].reshape(4), z)
    assert torch.equal(out["_RETURN"], out["x"])
    with pytest.raises(ValueError, match="nope"):
        Predictive(model, {"z": z}, return_sites=["nope"], parallel=parallel)()


@pytest.mark.parametrize("parallel", [False, True])
def test_guide_shapes(parallel):
    guide = AutoNormal(model)
    out = Predictive(model, guide=guide, num_samples=7, parallel=parallel)()
    assert set(out) == {"z", "x"}
    assert out["z"].shape == (7, 1) and out["x"].shape == (7, 3)
    out = Predictive(model, guide=guide, num_samples=7, return_sites=["x"], parallel=parallel)()
    assert set(out) == {"x"}


def test_parallel_equals_sequential_given_posterior_samples():
    z = torch.tensor([-1.0, 0.0, 2.0, 5.0])

    def det_model(n=3):
        z = pyro.sample("z", D.Normal(0.0, 1.0))
        with pyro.plate("data", n):
            pyro.deterministic("mean", z.expand(n) if z.dim() == 0 else z.expand(z.shape[:-1] + (n,)))
            return pyro.sample("x", D.Normal(z, 1e-4))

    seq = Predictive(det_model, {"z": z}, return_sites=["x"])()
    par = Predictive(det_model, {"z": z}, return_sites=["x"], parallel=True)()
    assert seq["x"].shape == par["x"].shape == (4, 3)
    assert torch.allclose(seq["x"], par["x"], atol=1e-2)
    assert torch.allclose(par["x"], z[:, None].expand(4, 3), atol=1e-2)
    # Same draws: reseed and compare exactly on a model whose sample order does not matter.
    pyro.set_rng_seed(0)
    a = Predictive(model, {"z": z}, parallel=True)()["x"]
    pyro.set_rng_seed(0)
    b = Predictive(model, {"z": z}, parallel=True)()["x"]
    assert torch.equal(a, b)


@pytest.mark.parametrize("parallel", [False, True])
def test_posterior_predictive_mean_and_variance(parallel):
    # Posterior of z given data: Normal(m, v); predictive of a new x: Normal(m, v + 1).
    pyro.set_rng_seed(1)
    data = torch.tensor([1.0, 2.0, 0.5])
    m, v = data.sum().item() / 4, 1 / 4
    z = D.Normal(m, v ** 0.5).sample((4000 if parallel else 1500,))
    out = Predictive(model, {"z": z}, parallel=parallel)(None, 1)
    x = out["x"].reshape(-1)
    tol = 0.1 if not parallel else 0.06
    assert x.mean().item() == pytest.approx(m, abs=tol)
    assert x.var().item() == pytest.approx(v + 1, abs=2 * tol)


def test_guide_predictive_matches_guide_distribution():
    pyro.set_rng_seed(2)
    guide = AutoNormal(model, init_loc_fn=init_to_value(values={"z": 2.0}), init_scale=0.5)
    guide(torch.zeros(2), 2)  # the guide learns the model's latent sites with x observed
    out = Predictive(model, guide=guide, num_samples=20000, parallel=True)(None, 2)
    assert out["z"].mean().item() == pytest.approx(2.0, abs=0.02)
    assert out["z"].std().item() == pytest.approx(0.5, abs=0.02)
    assert out["x"].mean().item() == pytest.approx(2.0, abs=0.03)
    assert out["x"].var().item() == pytest.approx(1.25, abs=0.05)


def test_argument_errors():
    with pytest.raises(ValueError):
        Predictive(model)
    with pytest.raises(ValueError):
        Predictive(model, {"z": torch.zeros(3)}, guide=AutoNormal(model))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        p = Predictive(model, {"z": torch.zeros(3)}, num_samples=10)
    assert p.num_samples == 3 and any("num_samples" in str(x.message) for x in w)


def test_get_vectorized_trace():
    tr = Predictive(model, {"z": torch.arange(4.0)}).get_vectorized_trace()
    assert tr.nodes["x"]["value"].shape == (4, 3)
