"""Differences found by running Pyro 1.9 style enumeration programs on Pyro 1.9.2 and on this
project, each fixed here and pinned against Pyro 1.9.2's recorded behaviour or ground truth."""

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import TraceEnum_ELBO, config_enumerate
from pyro.infer.enum import iter_discrete_traces


def _plated_sites():
    with pyro.plate("p", 2):
        pyro.sample("a", dist.Bernoulli(0.4), infer={"enumerate": "sequential"})
        pyro.sample("b", dist.Bernoulli(0.4), infer={"enumerate": "parallel", "expand": False})
        pyro.sample("c", dist.Bernoulli(0.4), infer={"foo": 1})
        pyro.sample("d", dist.Normal(0.0, 1.0), infer={"enumerate": "parallel"})
        pyro.sample("e", dist.Normal(0.0, 1.0))
        pyro.sample("f", dist.Normal(0.0, 1.0), infer={"num_samples": 5, "tmc": "diagonal"})
        pyro.sample("h", dist.Bernoulli(0.5), infer={"expand": True})
    pyro.sample("s", dist.Bernoulli(0.5), obs=torch.tensor(1.0))


def _infer_dicts(**kwargs):
    tr = poutine.trace(config_enumerate(_plated_sites, **kwargs)).get_trace()
    return {name: tr.nodes[name]["infer"] for name in "abcdefhs"}


def test_config_enumerate_fills_only_missing_keys():
    # Pyro 1.9.2: a site's own "enumerate"/"expand" are kept, the missing keys are filled in.
    got = _infer_dicts(expand=True)
    assert got == {
        "a": {"enumerate": "sequential", "expand": True},
        "b": {"enumerate": "parallel", "expand": False},
        "c": {"foo": 1, "enumerate": "parallel", "expand": True},
        "d": {"enumerate": "parallel"},
        "e": {},
        "f": {"num_samples": 5, "tmc": "diagonal"},
        "h": {"expand": True, "enumerate": "parallel"},
        "s": {},
    }


def test_config_enumerate_num_samples_keeps_site_keys():
    # Pyro 1.9.2 with num_samples: every latent site gets all four keys, its own values win
    # (before the fix a site's own expand=True was overwritten, and a site that named its own
    # strategy got no num_samples at all).
    got = _infer_dicts(num_samples=3, tmc="mixture")
    assert got == {
        "a": {"enumerate": "sequential", "num_samples": 3, "expand": False, "tmc": "mixture"},
        "b": {"enumerate": "parallel", "expand": False, "num_samples": 3, "tmc": "mixture"},
        "c": {"foo": 1, "enumerate": "parallel", "num_samples": 3, "expand": False,
              "tmc": "mixture"},
        "d": {"enumerate": "parallel", "num_samples": 3, "expand": False, "tmc": "mixture"},
        "e": {"enumerate": "parallel", "num_samples": 3, "expand": False, "tmc": "mixture"},
        "f": {"num_samples": 5, "tmc": "diagonal", "enumerate": "parallel", "expand": False},
        "h": {"expand": True, "enumerate": "parallel", "num_samples": 3, "tmc": "mixture"},
        "s": {},
    }
    assert list(got["c"]) == ["foo", "enumerate", "num_samples", "expand", "tmc"]


def test_num_samples_reaches_site_that_names_its_strategy():
    # A continuous site marked {"enumerate": "parallel"} under config_enumerate(num_samples=7)
    # is drawn 7 times, as in Pyro; the enumerated TMC estimate of log p(x) is then finite.
    def model(x):
        loc = pyro.sample("loc", dist.Normal(0.0, 1.0), infer={"enumerate": "parallel"})
        pyro.sample("x", dist.Normal(loc, 1.0), obs=x)

    configured = config_enumerate(model, num_samples=7)
    tr = poutine.trace(poutine.enum(configured, first_available_dim=-1)).get_trace(
        torch.tensor(0.5))
    assert tr.nodes["loc"]["value"].shape == (7,)
    pyro.set_rng_seed(0)
    with pytest.warns(RuntimeWarning, match="multiply sampled"):  # Pyro's warning, as Pyro
        loss = TraceEnum_ELBO(max_plate_nesting=0).loss(configured, lambda x: None,
                                                         torch.tensor(0.5))
    assert torch.isfinite(torch.tensor(loss))


def test_iter_discrete_traces_order_is_pyros():
    # Pyro 1.9.2 yields the last support value of each site first, depth-first.
    def guide(n):
        pyro.sample("c", dist.Categorical(torch.tensor([0.2, 0.3, 0.5])),
                    infer={"enumerate": "sequential"})
        with pyro.plate("p", n):
            pyro.sample("d", dist.Bernoulli(0.4), infer={"enumerate": "sequential"})

    traces = list(iter_discrete_traces("flat", guide, 2))
    values = [(int(t.nodes["c"]["value"]), t.nodes["d"]["value"].tolist()) for t in traces]
    assert values == [(2, [1.0]), (2, [0.0]), (1, [1.0]), (1, [0.0]), (0, [1.0]), (0, [0.0])]
    # each trace carries its own joint value's log-density (d's value broadcasts over 2 elements)
    expected = [torch.tensor(p).log() + 2 * torch.tensor(q).log()
                for p in (0.5, 0.3, 0.2) for q in (0.4, 0.6)]
    for tr, want in zip(traces, expected):
        assert torch.allclose(tr.log_prob_sum(), want)
