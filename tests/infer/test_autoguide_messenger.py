"""The effect-handler autoguides: their posteriors' densities by hand, Pyro's parameter names and
initial values, plates, medians, traces, and a conjugate posterior recovered by SVI."""

import pickle
import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.autoguide import (
    AutoHierarchicalNormalMessenger,
    AutoMessenger,
    AutoNormalMessenger,
    AutoRegressiveMessenger,
)
from pyro.optim import ClippedAdam

GUIDES = [AutoNormalMessenger, AutoHierarchicalNormalMessenger, AutoRegressiveMessenger]
DATA = torch.tensor([0.5, 1.0, 1.5, 2.2])
PRIOR_SCALE = 2.0


def conjugate(data):
    loc = pyro.sample("loc", dist.Normal(0.0, PRIOR_SCALE))
    with pyro.plate("N", len(data)):
        pyro.sample("x", dist.Normal(loc, 1.0), obs=data)


def _posterior_moments(guide):
    """Mean and std of ``loc`` under the guide, read from its parameters."""
    store = pyro.get_param_store()
    loc, scale = store["locs.loc"], store["scales.loc"]
    if isinstance(guide, AutoRegressiveMessenger):
        # loc + scale * u with u ~ the prior N(0, PRIOR_SCALE)
        return loc, scale * PRIOR_SCALE
    # (the hierarchical guide adds weight * prior mean, which is 0 here)
    return loc, scale


@pytest.mark.parametrize("guide_cls", GUIDES)
def test_conjugate_posterior(guide_cls):
    precision = 1 / PRIOR_SCALE ** 2 + len(DATA)
    mean, std = DATA.sum() / precision, precision ** -0.5
    guide = guide_cls(conjugate)
    svi = SVI(conjugate, guide, ClippedAdam({"lr": 0.05, "lrd": 0.994}),
              Trace_ELBO(num_particles=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(500):
            svi.step(DATA)
    fitted_mean, fitted_std = _posterior_moments(guide)
    # Over seeds 0-5 the worst error is about 0.03.
    assert abs(fitted_mean.item() - mean.item()) < 0.06
    assert abs(fitted_std.item() - std) < 0.06


def test_normal_messenger_density_names_and_init():
    def model():
        pyro.sample("a", dist.Normal(3.0, 1.0))
        pyro.sample("s", dist.LogNormal(0.0, 1.0))

    guide = AutoNormalMessenger(model, init_scale=0.5)
    trace = poutine.trace(guide).get_trace()
    store = pyro.get_param_store()
    assert set(store.keys()) == {"locs.a", "scales.a", "locs.s", "scales.s"}
    # init_to_mean: a at 3, s at e^0.5 (unconstrained 0.5)
    assert store["locs.a"].item() == pytest.approx(3.0)
    assert store["locs.s"].item() == pytest.approx(0.5)
    assert store["scales.s"].item() == pytest.approx(0.5)
    s = trace.nodes["s"]
    assert s["infer"]["prior"].__class__ is dist.LogNormal
    value = s["value"]
    expected = dist.Normal(0.5, 0.5).log_prob(value.log()) - value.log()
    assert torch.allclose(s["fn"].log_prob(value), expected, atol=1e-5)
    median = guide.median()
    assert median["a"].item() == pytest.approx(3.0)
    assert median["s"].item() == pytest.approx(torch.tensor(0.5).exp().item())
    with pytest.raises(ValueError, match="Expected init_scale > 0. but got -1"):
        AutoNormalMessenger(model, init_scale=-1.0)


def test_hierarchical_follows_upstream_mean():
    def model():
        a = pyro.sample("a", dist.Normal(3.0, 1.0))
        pyro.sample("b", dist.Normal(a, 1.0).expand([2]).to_event(1))

    guide = AutoHierarchicalNormalMessenger(
        model, init_scale=0.5, init_loc_fn=lambda site: torch.full(site["fn"].shape(), 2.0))
    trace = poutine.trace(guide).get_trace()
    store = pyro.get_param_store()
    a = trace.nodes["a"]["value"]
    # locs start at init - weight * prior mean, so the posterior starts at the init value.
    assert store["locs.a"].item() == pytest.approx(2.0 - 3.0)
    assert torch.allclose(store["locs.b"], 2.0 - a.detach().expand(2), atol=1e-6)
    assert torch.allclose(store["weights.b"], torch.ones(2))
    store["weights.b"] = torch.tensor([0.5, 2.0])
    store["locs.b"] = torch.tensor([0.1, -0.2])
    trace = poutine.trace(guide).get_trace()
    a, b = trace.nodes["a"]["value"], trace.nodes["b"]["value"]
    loc_b = torch.tensor([0.1, -0.2]) + torch.tensor([0.5, 2.0]) * a
    expected = dist.Normal(loc_b, 0.5).log_prob(b).sum()
    assert torch.allclose(trace.nodes["b"]["fn"].log_prob(b), expected, atol=1e-5)
    only_b = AutoHierarchicalNormalMessenger(model, hierarchical_sites=["b"])
    pyro.clear_param_store()
    only_b()
    assert "weights.a" not in pyro.get_param_store()
    assert "weights.b" in pyro.get_param_store()


def test_regressive_transforms_the_prior():
    def model():
        a = pyro.sample("a", dist.Normal(3.0, 2.0))
        pyro.sample("b", dist.Normal(a, 1.0))

    guide = AutoRegressiveMessenger(
        model, init_scale=0.5, init_loc_fn=lambda site: torch.tensor(2.0))
    trace = poutine.trace(guide).get_trace()
    store = pyro.get_param_store()
    assert store["locs.a"].item() == pytest.approx((1 - 0.5) * 2.0)
    assert store["scales.a"].item() == pytest.approx(0.5)
    # Posterior of a: loc + scale * N(3, 2) = N(1 + 0.5 * 3, 0.5 * 2).
    a = trace.nodes["a"]["value"]
    assert torch.allclose(trace.nodes["a"]["fn"].log_prob(a),
                          dist.Normal(2.5, 1.0).log_prob(a), atol=1e-5)
    # b's prior is conditioned on the drawn a: N(1 + 0.5 * a, 0.5).
    b = trace.nodes["b"]["value"]
    assert torch.allclose(trace.nodes["b"]["fn"].log_prob(b),
                          dist.Normal(1.0 + 0.5 * a, 0.5).log_prob(b), atol=1e-5)


def test_plates_subsampling_and_amortization():
    def model():
        mu = pyro.sample("mu", dist.Normal(1.0, 2.0))
        with pyro.plate("N", 6, subsample_size=3, dim=-1):
            with pyro.plate("M", 2, dim=-2):
                pyro.sample("z", dist.LogNormal(mu, 1.0))

    guide = AutoNormalMessenger(model)
    trace = poutine.trace(guide).get_trace()
    assert pyro.get_param_store()["locs.z"].shape == (2, 6)
    assert trace.nodes["z"]["value"].shape == (2, 3)
    pyro.clear_param_store()
    shared = AutoNormalMessenger(model, amortized_plates=("N",))
    trace = poutine.trace(shared).get_trace()
    assert pyro.get_param_store()["locs.z"].shape == (2, 1)
    assert trace.nodes["z"]["fn"].batch_shape == (2, 3)
    assert trace.nodes["z"]["value"].shape == (2, 3)


def test_traces_upstream_values_and_results():
    seen = {}

    class Peek(AutoNormalMessenger):
        def get_posterior(self, name, prior):
            if name == "b":
                seen["a"] = self.upstream_value("a")
                return torch.tensor(0.25)  # a value: the site becomes a Delta there
            return super().get_posterior(name, prior)

    def model(data):
        a = pyro.sample("a", dist.Normal(0.0, 1.0))
        pyro.sample("b", dist.Normal(a, 1.0))
        pyro.deterministic("d", 2 * a)
        pyro.sample("x", dist.Normal(a, 1.0), obs=data)

    guide = Peek(model)
    assert isinstance(guide, AutoMessenger) and isinstance(guide, torch.nn.Module)
    result = guide(torch.tensor(0.3))
    assert set(result) == {"a", "b", "d", "x"}
    assert seen["a"] is result["a"]
    assert result["b"].item() == 0.25 and result["x"].item() == pytest.approx(0.3)
    model_trace, guide_trace = guide.get_traces()
    assert isinstance(model_trace.nodes["b"]["fn"], dist.Normal)
    assert isinstance(guide_trace.nodes["b"]["fn"], dist.Delta)
    assert set(n for n, s in guide_trace.nodes.items() if s["type"] == "sample") == {"a", "b"}
    # An outer trace of the guide holds only the latent sites (observed ones stay inside).
    outer = poutine.trace(guide).get_trace(torch.tensor(0.3))
    assert set(n for n, s in outer.nodes.items() if s["type"] == "sample") == {"a", "b"}
    assert len(guide.call(torch.tensor(0.3))) == 4


@pytest.mark.parametrize("guide_cls", GUIDES)
def test_pickle_round_trip(guide_cls):
    guide = guide_cls(conjugate)
    guide(DATA)
    loaded = pickle.loads(pickle.dumps(guide))
    assert isinstance(loaded, guide_cls) and len(loaded.trace.nodes) == 0
    pyro.get_param_store()["scales.loc"] = torch.tensor(1e-6)  # both read the param store
    assert loaded(DATA)["loc"].item() == pytest.approx(pyro.param("locs.loc").item(), abs=1e-4)
