"""Bad inputs to the core primitives answer with a clear error that names the site."""

import sys

import pytest
import torch

import pyro
import pyro.poutine as poutine
from pyro.call_site import sample_site_name


@pytest.mark.parametrize("fn", [1.5, "normal", None, 3, [torch.distributions.Normal(0.0, 1.0)]])
@pytest.mark.parametrize("stack", ["none", "trace", "trace+block+scale"])
def test_sample_fn_neither_distribution_nor_callable(fn, stack):
    def model():
        return pyro.sample("x", fn)

    if stack == "trace":
        run = poutine.trace(model).get_trace
    elif stack == "trace+block+scale":
        run = poutine.trace(poutine.block(poutine.scale(model, 2.0))).get_trace
    else:
        run = model
    with pytest.raises(TypeError, match=r"site 'x'") as info:
        run()
    message = str(info.value)
    assert type(fn).__name__ in message
    assert "distribution or a callable" in message


def test_sample_fn_check_also_with_obs():
    with pytest.raises(TypeError, match=r"site 'y'.*got float 2\.0"):
        poutine.trace(lambda: pyro.sample("y", 2.0, obs=torch.tensor(1.0))).get_trace()


def test_sample_accepts_plain_torch_distributions_and_callables():
    torch.manual_seed(0)
    d = torch.distributions.Normal(torch.tensor(0.5), torch.tensor(1e-6))
    assert pyro.sample("a", d).item() == pytest.approx(0.5, abs=1e-4)
    assert pyro.sample("b", lambda k: k + 1, 2) == 3
    tr = poutine.trace(lambda: pyro.sample("c", d)).get_trace()
    assert tr.nodes["c"]["fn"] is d


def _site_of_here(depth=1):
    return sample_site_name(sys._getframe(depth))


def sample(name, value):
    return value


def test_sample_site_name_literal_variable_fstring_keyword():
    # ``_site_of_here`` runs while the enclosing ``sample(...)`` call's arguments are evaluated
    assert sample("z", _site_of_here()) == "z"
    site = "w"
    assert sample(site, _site_of_here()) == "w"
    i = 3

    class Box:
        tag = "q"

    assert sample(f"loc_{i}_{Box.tag}", _site_of_here()) == "loc_3_q"
    assert sample(name="k", value=_site_of_here()) == "k"
    assert sample(
        "multi",
        _site_of_here(),
    ) == "multi"


def test_sample_site_name_innermost_and_unreadable():
    assert sample("outer", sample("inner", _site_of_here())) == "inner"
    assert sample(str(1), _site_of_here()) is None  # needs a call: not evaluated
    assert _site_of_here() is None  # no sample call around


def test_log_prob_sum_error_names_the_computation_and_the_site():
    def model():
        pyro.sample("x", torch.distributions.Normal(torch.zeros(2), 1.0), obs=torch.zeros(3))

    tr = poutine.trace(model).get_trace()
    with pytest.raises(ValueError, match=r"^Error while computing log_prob_sum at site 'x':"):
        tr.log_prob_sum()
    with pytest.raises(ValueError, match=r"^Error while computing log_prob at site 'x':"):
        tr.compute_log_prob()
