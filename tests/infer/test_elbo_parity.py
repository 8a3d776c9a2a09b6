"""ELBO behaviours Pyro 1.9 users rely on: factors in guides, plates without a size."""

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import Trace_ELBO, TraceEnum_ELBO, TraceGraph_ELBO

ELBOS = [Trace_ELBO, TraceGraph_ELBO, lambda: TraceEnum_ELBO(max_plate_nesting=0,
                                                             strict_enumeration_warning=False)]


def _model():
    pyro.sample("z", dist.Normal(0.0, 1.0))


@pytest.mark.parametrize("make_elbo", ELBOS)
def test_guide_factor_must_say_has_rsample(make_elbo):
    def guide():
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.factor("f", -(z ** 2))

    with pytest.raises(ValueError, match=r'At guide site pyro.factor\("f",...\), missing specification of has_rsample'):
        make_elbo().loss(_model, guide)
    with pyro.validation_enabled(False):
        make_elbo().loss(_model, guide)  # only validation asks, as in Pyro


@pytest.mark.parametrize("has_rsample", [True, False])
def test_guide_factor_with_has_rsample_is_a_log_density_term(has_rsample):
    def guide():
        pyro.sample("z", dist.Delta(torch.tensor(0.5)))
        pyro.factor("f", torch.tensor(-0.25), has_rsample=has_rsample)

    # ELBO = log p(z=0.5) - (log q(z) + f) with log q = 0 for the Delta: the factor enters as -f
    expected = -(dist.Normal(0.0, 1.0).log_prob(torch.tensor(0.5)).item() + 0.25)
    assert Trace_ELBO().loss(_model, guide) == pytest.approx(expected, rel=1e-6)


def test_plate_without_a_size_accepts_any_size():
    data = torch.arange(7.0)

    def model():
        with pyro.plate("p", dim=-1):
            pyro.sample("x", dist.Normal(0.0, 1.0), obs=data)

    expected = -dist.Normal(0.0, 1.0).log_prob(data).sum().item()
    assert Trace_ELBO().loss(model, lambda: None) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("kind", ["distribution", "factor"])
def test_mean_field_elbo_needs_reparameterized_guide_sites(kind):
    from pyro.infer import TraceMeanField_ELBO

    def guide():
        pyro.sample("z", dist.Normal(0.0, 1.0))
        if kind == "factor":
            pyro.factor("f", torch.tensor(-0.5), has_rsample=False)
        else:
            pyro.sample("b", dist.Bernoulli(0.5), infer={"is_auxiliary": True})

    with pytest.raises(NotImplementedError, match="All distributions in the guide must be fully reparameterized"):
        TraceMeanField_ELBO().loss(_model, guide)


def test_get_plate_stacks_lists_each_sample_sites_vectorized_plates():
    from pyro import poutine
    from pyro.infer.util import get_plate_stacks

    def model():
        pyro.sample("a", dist.Normal(0.0, 1.0))
        with pyro.plate("p", 2), pyro.plate("q", 3, dim=-2):
            pyro.sample("b", dist.Normal(0.0, 1.0))
        for i in pyro.plate("seq", 2):
            pyro.sample(f"c{i}", dist.Normal(0.0, 1.0))

    stacks = get_plate_stacks(poutine.trace(model).get_trace())
    assert stacks["a"] == [] and stacks["c0"] == [] and stacks["c1"] == []
    assert sorted(f.name for f in stacks["b"]) == ["p", "q"]
