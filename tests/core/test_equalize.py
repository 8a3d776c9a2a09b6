"""``poutine.equalize``: sites that share the value of the first of them to run."""

import pytest
import torch
from torch.distributions import Normal

import pyro
import pyro.poutine as poutine


def _model():
    pyro.sample("a", Normal(0.0, 1.0))
    pyro.sample("ab", Normal(5.0, 1.0))
    pyro.sample("xa", Normal(10.0, 1.0))
    pyro.sample("d", Normal(10.0, 1.0), obs=torch.tensor(3.0))
    pyro.sample("e", Normal(10.0, 1.0))


def _sites(tr):
    return {n: s for n, s in tr.nodes.items() if s["type"] == "sample"}


@pytest.mark.parametrize("sites", ["a|xa", ["a", "xa"], ["x?a"]])
def test_later_sites_take_the_first_value_and_add_nothing(sites):
    tr = poutine.trace(poutine.equalize(_model, sites)).get_trace()
    s = _sites(tr)
    assert torch.equal(s["xa"]["value"], s["a"]["value"])  # the very value, passed through
    assert s["xa"]["is_observed"] and s["xa"]["infer"].get("_deterministic")
    assert s["xa"]["fn"].log_prob(s["xa"]["value"]).item() == 0.0
    assert not s["a"]["is_observed"] and not s["ab"]["is_observed"]  # whole names match only
    assert not torch.equal(s["ab"]["value"], s["a"]["value"])


def test_keep_dist_conditions_on_equality():
    tr = poutine.trace(poutine.equalize(_model, ["a", "e"], keep_dist=True)).get_trace()
    s = _sites(tr)
    assert torch.equal(s["e"]["value"], s["a"]["value"]) and s["e"]["is_observed"]
    assert isinstance(s["e"]["fn"], Normal)
    tr.compute_log_prob()
    expected = Normal(10.0, 1.0).log_prob(s["a"]["value"])
    torch.testing.assert_close(s["e"]["log_prob"], expected)


def test_an_observed_first_site_gives_its_value():
    tr = poutine.trace(poutine.equalize(_model, ["d", "e"])).get_trace()
    assert _sites(tr)["e"]["value"].item() == 3.0


def test_params_and_context_manager_and_fresh_runs():
    def pmodel():
        return pyro.param("x", torch.tensor(1.0)), pyro.param("y", torch.tensor(2.0))

    x, y = poutine.equalize(pmodel, ["x", "y"], type="param")()
    assert x.item() == 1.0 and y.item() == 1.0
    with poutine.trace() as tracer, poutine.equalize(sites=["a", "e"]):
        _model()
    s = _sites(tracer.trace)
    assert torch.equal(s["e"]["value"], s["a"]["value"])
    equalized = poutine.equalize(_model, ["a", "e"])
    first = _sites(poutine.trace(equalized).get_trace())["e"]["value"]
    second = _sites(poutine.trace(equalized).get_trace())
    assert torch.equal(second["e"]["value"], second["a"]["value"])
    assert not torch.equal(first, second["e"]["value"])  # each run takes its own first value


def test_bad_arguments():
    with pytest.raises(TypeError, match="sites must be a string or a list of strings"):
        poutine.equalize(_model, 3)
    with pytest.raises(ValueError, match="type must be 'sample' or 'param'"):
        poutine.equalize(_model, "a", type="plate")
    with pytest.raises(ValueError, match="is not callable"):
        poutine.equalize(3, "a")
