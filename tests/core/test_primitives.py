"""The primitives with only pyro-core: sample, deterministic, factor, module, validation, seeds."""

import math
import random
import warnings

import pytest
import torch
from torch.distributions import Bernoulli, Normal, constraints

import pyro
import pyro.poutine as poutine
from pyro.util import is_validation_enabled


def test_sample_without_handlers_draws_from_torch_distribution():
    pyro.set_rng_seed(11)
    x = pyro.sample("x", Normal(torch.zeros(3), 1.0))
    torch.manual_seed(11)
    assert torch.equal(x, Normal(torch.zeros(3), 1.0).rsample())
    k = pyro.sample("k", Bernoulli(0.5))
    assert k.item() in (0.0, 1.0)


def test_sample_calls_stochastic_functions_with_args():
    assert pyro.sample("s", lambda a, b=1: a * b, 3, b=4) == 12


def test_sample_with_obs_outside_inference_warns_and_returns_obs():
    obs = torch.tensor(2.0)
    with pytest.warns(RuntimeWarning, match="outside of inference at x"):
        assert pyro.sample("x", Normal(0.0, 1.0), obs=obs) is obs


def test_sample_reparameterized_value_carries_gradient():
    loc = torch.tensor(1.0, requires_grad=True)
    with poutine.trace():
        x = pyro.sample("x", Normal(loc, 1.0))
    x.backward()
    assert loc.grad.item() == 1.0


def _draws():
    draws = [torch.rand(3).tolist(), random.random()]
    try:  # numpy is optional: seeded too when it is installed
        import numpy as np
    except ImportError:
        return draws
    return draws + [np.random.rand()]


def test_set_rng_seed_reproduces_torch_python_and_numpy():
    pyro.set_rng_seed(123)
    first = _draws()
    pyro.set_rng_seed(123)
    assert _draws() == first
    pyro.set_rng_seed(124)
    assert _draws() != first
    pyro.set_rng_seed(124)
    assert torch.rand(3).tolist() != first[0]


def test_deterministic_records_a_zero_log_prob_site():
    value = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    with poutine.trace() as tr:
        out = pyro.deterministic("d", value, event_dim=1)
    site = tr.trace.nodes["d"]
    assert out is value
    assert site["is_observed"] and site["infer"] == {"_deterministic": True}
    assert site["fn"].batch_shape == (2,) and site["fn"].event_shape == (2,)
    assert tr.trace.log_prob_sum().item() == 0.0
    tr.trace.compute_log_prob()
    assert site["log_prob"].tolist() == [0.0, 0.0]
    assert tr.trace.stochastic_nodes == [] and tr.trace.observation_nodes == ["d"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pyro.deterministic("d", value) is value  # no "observe outside inference" warning
    with pytest.raises(ValueError):
        pyro.deterministic("bad", value, event_dim=3)


def test_deterministic_in_plate_and_condition():
    with poutine.trace() as tr:
        with pyro.plate("p", 3):
            pyro.deterministic("d", torch.arange(3.0), event_dim=0)
    assert tr.trace.nodes["d"]["fn"].batch_shape == (3,)
    conditioned = poutine.condition(lambda: pyro.deterministic("d", torch.tensor(1.0)), data={"d": torch.tensor(5.0)})
    assert conditioned().item() == 5.0


def test_factor_adds_log_factor():
    def model():
        z = pyro.sample("z", Normal(0.0, 1.0), obs=torch.tensor(0.5))
        pyro.factor("f", -z ** 2)

    tr = poutine.trace(model).get_trace()
    site = tr.nodes["f"]
    assert site["is_observed"] and site["infer"] == {"is_auxiliary": True}
    expected = -0.5 * 0.25 - 0.5 * math.log(2 * math.pi) - 0.25
    assert tr.log_prob_sum().item() == pytest.approx(expected, abs=1e-6)
    with pytest.warns(RuntimeWarning, match="outside of inference at outside"):
        assert pyro.factor("outside", torch.tensor(1.0)) is None  # as in Pyro: a no-op that warns


def test_factor_batch_in_plate_is_scaled():
    with poutine.trace() as tr:
        with pyro.plate("data", 10, subsample_size=2):
            pyro.factor("f", torch.tensor([1.0, 3.0]))
    assert tr.trace.log_prob_sum().item() == pytest.approx(5 * 4.0)
    assert tr.trace.nodes["f"]["fn"].has_rsample is False  # unspecified: False, as in Pyro 1.9
    with poutine.trace() as tr2:
        pyro.factor("g", torch.tensor(1.0), has_rsample=False)
        pyro.factor("h", torch.tensor(1.0), has_rsample=True)
    assert tr2.trace.nodes["g"]["fn"].has_rsample is False
    assert tr2.trace.nodes["h"]["fn"].has_rsample is True


def test_validation_switches():
    old = is_validation_enabled()
    old_torch = torch.distributions.Distribution._validate_args
    try:
        pyro.enable_validation(False)
        assert not is_validation_enabled()
        assert torch.distributions.Distribution._validate_args is False
        Normal(0.0, -1.0)  # no argument check
        with pyro.validation_enabled():
            assert is_validation_enabled()
            with pytest.raises(ValueError):
                Normal(0.0, -1.0)
            with pyro.validation_enabled(False):
                assert not is_validation_enabled()
        assert not is_validation_enabled()
        assert torch.distributions.Distribution._validate_args is False
        pyro.enable_validation(True)
        assert is_validation_enabled()
        with pytest.raises(ValueError):
            Normal(0.0, -1.0)
    finally:
        pyro.enable_validation(old)
        torch.distributions.Distribution.set_default_validate_args(old_torch)


def test_validation_context_restores_after_exception():
    old = is_validation_enabled()
    with pytest.raises(KeyError):
        with pyro.validation_enabled(not old):
            raise KeyError
    assert is_validation_enabled() == old


# ----- module and random_module -----------------------------------------------------------


def test_module_registers_and_shares_parameters():
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    assert pyro.module("net", net) is net
    store = pyro.get_param_store()
    assert sorted(store.keys()) == ["net$$$0.bias", "net$$$0.weight", "net$$$1.bias", "net$$$1.weight"]
    assert store["net$$$0.weight"] is net[0].weight
    assert store.param_name(net[1].bias) == "net$$$1.bias"
    with torch.no_grad():
        net[0].weight.add_(1.0)
    assert torch.equal(store["net$$$0.weight"], net[0].weight)
    with poutine.trace() as tr:
        pyro.module("net", net)
    assert [n for n in tr.trace.nodes] == list(store.keys())
    assert all(tr.trace.nodes[n]["type"] == "param" for n in tr.trace.nodes)


def test_module_skips_frozen_params_and_checks_inputs():
    net = torch.nn.Linear(2, 2)
    net.bias.requires_grad_(False)
    with pytest.warns(UserWarning, match="bias was not registered in the param store"):
        pyro.module("net", net)
    assert list(pyro.get_param_store().keys()) == ["net$$$weight"]
    with pytest.raises(TypeError):
        pyro.module("cls", torch.nn.Linear)
    with pytest.raises(TypeError):
        pyro.module("notmodule", object())
    with pytest.raises(ValueError):
        pyro.module("a$$$b", net)


def test_module_update_module_params_loads_stored_values():
    src = torch.nn.Linear(2, 1)
    pyro.module("m", src)
    stored = {k: v.detach().clone() for k, v in pyro.get_param_store().items()}
    pyro.clear_param_store()
    pyro.get_param_store().set_state({
        "params": {k: v.clone().requires_grad_() for k, v in stored.items()},
        "constraints": {k: constraints.real for k in stored},
    })
    fresh = torch.nn.Linear(2, 1)
    pyro.module("m", fresh)  # without update the module keeps its own values
    assert not torch.equal(fresh.weight, stored["m$$$weight"])
    pyro.module("m", fresh, update_module_params=True)
    assert torch.equal(fresh.weight, stored["m$$$weight"])
    assert fresh.weight is pyro.get_param_store()["m$$$weight"]
    x = torch.ones(1, 2)
    assert torch.allclose(fresh(x), x @ stored["m$$$weight"].T + stored["m$$$bias"])


def test_random_module_samples_parameters_from_prior():
    import pyro.util

    pyro.util._WARNED.discard("random_module")
    net = torch.nn.Linear(2, 1)
    prior = {"weight": Normal(torch.full((1, 2), 5.0), 1e-3), "bias": Normal(torch.full((1,), -3.0), 1e-3)}
    with pytest.warns(FutureWarning, match="PyroModule"):
        draw = pyro.random_module("rm", net, prior)
    tr = poutine.trace(draw).get_trace()
    sampled = tr.nodes["_RETURN"]["value"]
    assert sampled is not net
    assert torch.allclose(sampled.weight, torch.full((1, 2), 5.0), atol=0.01)
    assert torch.allclose(sampled(torch.ones(1, 2)), torch.tensor([[7.0]]), atol=0.02)
    assert tr.nodes["rm$$$weight"]["type"] == "sample" and tr.nodes["rm$$$bias"]["type"] == "sample"
    assert not torch.allclose(net.weight, sampled.weight)  # the original is untouched
    # two draws differ
    again = draw()
    assert not torch.equal(again.weight, sampled.weight)


def test_core_public_names():
    for name in ("sample", "param", "module", "random_module", "plate", "plate_stack", "iarange",
                 "irange", "observe", "deterministic", "factor", "markov", "subsample",
                 "get_param_store", "clear_param_store", "enable_validation",
                 "validation_enabled", "set_rng_seed", "condition", "do", "poutine"):
        assert hasattr(pyro, name), name
    assert pyro.__version__ == "1.9.2"  # the Pyro API level, which libraries gate on
    with pytest.raises(AttributeError):
        pyro.not_a_name
