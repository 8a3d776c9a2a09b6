"""The validation warnings about enumeration, as Pyro 1.9 gives them (type, phrase, absence)."""

import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import (
    Trace_ELBO,
    TraceEnum_ELBO,
    TraceGraph_ELBO,
    config_enumerate,
)


def _warnings(fn):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fn()
    return [(w.category, str(w.message)) for w in record]


def _model():
    pyro.sample("c", dist.Bernoulli(0.3))


@config_enumerate
def _enumerated_guide():
    pyro.sample("c", dist.Bernoulli(0.5))


@pytest.mark.parametrize("Elbo", [Trace_ELBO, TraceGraph_ELBO])
@pytest.mark.parametrize("validate", [True, False])
def test_non_enumerating_losses_warn_about_enumerated_guide_sites(Elbo, validate):
    with pyro.validation_enabled(validate):
        found = _warnings(lambda: Elbo().loss(_model, _enumerated_guide))
    if not validate:
        assert found == []
        return
    assert found == [(UserWarning, "Found sample sites configured for enumeration: c\n"
                                   "If you want to enumerate sites, you need to use TraceEnum_ELBO instead.")]


@pytest.mark.parametrize("validate", [True, False])
def test_no_enumerated_sites_warning_only_under_validation(validate):
    def guide():
        pyro.sample("c", dist.Bernoulli(0.5))

    with pyro.validation_enabled(validate):
        found = _warnings(lambda: TraceEnum_ELBO(max_plate_nesting=0).loss(_model, guide))
    if not validate:
        assert found == []
        return
    assert len(found) == 1 and found[0][0] is UserWarning
    assert found[0][1].startswith("TraceEnum_ELBO found no sample sites configured for enumeration.")
    assert "consider using Trace_ELBO instead" in found[0][1]


def _plated_model():
    with pyro.plate("p", 2):
        pyro.sample("a", dist.Bernoulli(0.3))
    pyro.sample("b", dist.Normal(0.0, 1.0))


@config_enumerate
def _plated_guide():
    with pyro.plate("p", 2):
        pyro.sample("a", dist.Bernoulli(0.4))
    pyro.sample("b", dist.Normal(0.0, 1.0))


def test_site_after_a_guide_enumerated_plate_warns_in_model_and_guide():
    found = _warnings(lambda: TraceEnum_ELBO(max_plate_nesting=1).loss(_plated_model, _plated_guide))
    expected = [
        (RuntimeWarning, f'at {role} site "b", possibly invalid dependency.\n'
                         '  Expected site "b" to precede sites "a"\n'
                         '  to avoid breaking independence of plates "p"')
        for role in ("model", "guide")
    ]
    assert found == expected


def test_no_dependency_warning_when_sites_precede_or_share_the_plates():
    def model():
        pyro.sample("b", dist.Normal(0.0, 1.0))
        with pyro.plate("p", 2):
            pyro.sample("a", dist.Bernoulli(0.3))
            pyro.sample("x", dist.Normal(0.0, 1.0), obs=torch.zeros(2))

    @config_enumerate
    def guide():
        pyro.sample("b", dist.Normal(0.0, 1.0))
        with pyro.plate("p", 2):
            pyro.sample("a", dist.Bernoulli(0.4))

    assert _warnings(lambda: TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide)) == []


def test_model_side_enumeration_gives_no_dependency_warning():
    @config_enumerate
    def model():
        with pyro.plate("p", 2):
            pyro.sample("a", dist.Bernoulli(0.3))
        pyro.sample("b", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0))

    assert _warnings(lambda: TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda: None)) == []


def test_enumeration_dim_errors_use_pyros_phrases():
    @config_enumerate
    def plated():
        with pyro.plate("a", 2, dim=-1), pyro.plate("b", 3, dim=-2):
            c = pyro.sample("c", dist.Categorical(torch.ones(2) / 2))
            pyro.sample("x", dist.Normal(c.float(), 1.0), obs=torch.zeros(3, 2))

    with pytest.raises(ValueError, match="site 'c': Enumeration dim conflict: dim -2"):
        TraceEnum_ELBO(max_plate_nesting=1).loss(plated, lambda: None)

    @config_enumerate
    def unplated():
        c = pyro.sample("c", dist.Categorical(torch.ones(2) / 2))
        pyro.sample("x", dist.Normal(c.float(), 1.0), obs=torch.zeros(2))

    with pytest.raises(ValueError, match="at site 'x', invalid log_prob shape"):
        TraceEnum_ELBO(max_plate_nesting=1).loss(unplated, lambda: None)
