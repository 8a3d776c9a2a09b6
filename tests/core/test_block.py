"""``poutine.block`` with every combination of its arguments."""

import pytest
import torch
from torch.distributions import Normal

import pyro
import pyro.poutine as poutine


def model():
    p = pyro.param("p", torch.tensor(0.5))
    a = pyro.sample("a", Normal(p, 1.0))
    pyro.sample("o", Normal(a, 1.0), obs=torch.tensor(0.0))


def visible(**kwargs):
    tr = poutine.trace(poutine.block(model, **kwargs)).get_trace()
    return [name for name in tr.nodes if not name.startswith("_")]


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, []),
        ({"hide_all": True}, []),
        ({"hide_all": False}, ["p", "a", "o"]),
        ({"expose_all": True}, ["p", "a", "o"]),
        ({"hide_all": False, "expose_all": True}, ["p", "a", "o"]),
        ({"hide": ["a"]}, ["p", "o"]),
        ({"hide": ["a", "o"]}, ["p"]),
        ({"expose": ["a"]}, ["a"]),
        ({"expose": ["p", "o"]}, ["p", "o"]),
        ({"hide_types": ["param"]}, ["a", "o"]),
        ({"hide_types": ["sample"]}, ["p", "o"]),
        ({"hide_types": ["observe"]}, ["p", "a"]),
        ({"hide_types": ["sample", "observe"]}, ["p"]),
        ({"expose_types": ["param"]}, ["p"]),
        ({"expose_types": ["sample"]}, ["a"]),
        ({"expose_types": ["observe"]}, ["o"]),
        ({"hide": ["a"], "hide_types": ["param"]}, ["o"]),
        ({"expose": ["a"], "expose_types": ["param"]}, ["p", "a"]),
        # hide sets hide_all off, expose (read later) sets it on: only exposed sites remain
        ({"hide": ["a"], "expose": ["o"]}, ["o"]),
        # expose sets hide_all on, hide_types (read later) sets it off
        ({"expose": ["a"], "hide_types": ["param"]}, ["a", "o"]),
        ({"hide_types": ["param"], "expose_types": ["observe"]}, ["o"]),
        ({"hide": ["p"], "expose_types": ["sample"]}, ["a"]),
        ({"hide_fn": lambda msg: msg["name"] == "a"}, ["p", "o"]),
        ({"expose_fn": lambda msg: msg["type"] == "param"}, ["p"]),
        ({"hide_fn": lambda msg: msg["type"] == "sample", "hide": ["p"]}, ["p"]),
    ],
)
def test_block_combinations(kwargs, expected):
    assert visible(**kwargs) == expected


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"hide_fn": lambda m: True, "expose_fn": lambda m: True}, ValueError),
        # Pyro 1.9 raises AssertionError for a site or type both hidden and exposed.
        ({"hide": ["a"], "expose": ["a"]}, AssertionError),
        ({"hide_types": ["param"], "expose_types": ["param"]}, AssertionError),
    ],
)
def test_block_contradictions_raise(kwargs, error):
    with pytest.raises(error):
        poutine.block(model, **kwargs)


def test_block_still_runs_hidden_sites_for_inner_handlers():
    with poutine.trace() as outer:
        with poutine.block(hide=["a"]):
            with poutine.trace() as inner:
                model()
    assert list(inner.trace.nodes) == ["p", "a", "o"]
    assert list(outer.trace.nodes) == ["p", "o"]


def test_block_as_context_and_decorator():
    with poutine.trace() as tr:
        with poutine.block():
            model()
        pyro.sample("after", Normal(0.0, 1.0))
    assert list(tr.trace.nodes) == ["after"]
    decorated = poutine.block(expose=["a"])(model)
    assert [n for n in poutine.trace(decorated).get_trace().nodes if not n.startswith("_")] == ["a"]
