"""The param store: constraints, lazy init, names, state, scope, tags."""

import pytest
import torch
from torch.distributions import constraints, transform_to

import pyro
import pyro.poutine as poutine
from pyro.params import (
    ParamStoreDict,
    module_from_param_with_module_name,
    normalize_param_name,
    param_with_module_name,
    user_param_name,
)

CONSTRAINED = [
    (constraints.real, torch.tensor([-1.5, 0.0, 2.0])),
    (constraints.positive, torch.tensor([0.1, 1.0, 30.0])),
    (constraints.greater_than(2.0), torch.tensor([2.5, 3.0])),
    (constraints.less_than(-1.0), torch.tensor([-4.0, -1.5])),
    (constraints.interval(-2.0, 5.0), torch.tensor([-1.9, 0.0, 4.5])),
    (constraints.unit_interval, torch.tensor([0.1, 0.5, 0.9])),
    (constraints.simplex, torch.tensor([0.2, 0.3, 0.5])),
    (constraints.lower_cholesky, torch.tensor([[2.0, 0.0], [0.5, 1.5]])),
    (constraints.positive_definite, torch.tensor([[2.0, 0.5], [0.5, 1.0]])),
    (constraints.corr_cholesky, torch.linalg.cholesky(torch.tensor([[1.0, 0.3], [0.3, 1.0]]))),
]


@pytest.mark.parametrize("constraint, value", CONSTRAINED, ids=lambda c: type(c).__name__)
def test_constraint_round_trip(constraint, value):
    p = pyro.param("p", value, constraint=constraint)
    assert torch.allclose(p, value, atol=1e-5)
    assert bool(constraint.check(p).all())
    unconstrained = p.unconstrained()
    assert unconstrained.is_leaf and unconstrained.requires_grad
    assert torch.allclose(transform_to(constraint)(unconstrained), value, atol=1e-5)
    assert dict(pyro.get_param_store().named_parameters())["p"] is unconstrained
    # moving the unconstrained value anywhere stays inside the constraint
    with torch.no_grad():
        unconstrained.add_(torch.randn_like(unconstrained) * 3)
    assert bool(constraint.check(pyro.param("p")).all())


def test_positive_parameter_is_log_space_and_gradient_flows():
    p = pyro.param("s", torch.tensor(2.0), constraint=constraints.positive)
    assert p.unconstrained().item() == pytest.approx(torch.log(torch.tensor(2.0)).item(), abs=1e-6)
    (p * 3).backward()
    # d(3 exp(u))/du = 3 exp(u) = 6
    assert p.unconstrained().grad.item() == pytest.approx(6.0, rel=1e-6)


def test_unconstrained_real_param_is_identity():
    p = pyro.param("r", torch.tensor([1.0, 2.0]))
    assert p.unconstrained() is p
    assert p.is_leaf and p.requires_grad


def test_init_used_only_first_time():
    first = pyro.param("a", torch.tensor(1.0))
    second = pyro.param("a", torch.tensor(5.0))
    assert second.item() == 1.0 and second is first
    assert pyro.get_param_store()._constraints["a"] is constraints.real
    assert pyro.param("a").item() == 1.0
    # Declaring it again with another constraint given explicitly is an error (Pyro silently
    # keeps the first); a call without a constraint reads the stored one.
    with pytest.raises(ValueError, match="declared with constraint"):
        pyro.param("a", torch.tensor(5.0), constraint=constraints.positive)
    pyro.param("b", torch.tensor(2.0), constraint=constraints.positive)
    assert pyro.param("b", torch.tensor(9.0)).item() == 2.0


def test_lazy_init_evaluated_once():
    calls = []

    def init():
        calls.append(1)
        return torch.full((2,), 3.0)

    for _ in range(3):
        value = pyro.param("lazy", init, constraint=constraints.positive)
    assert calls == [1] and value.tolist() == pytest.approx([3.0, 3.0])
    store = pyro.get_param_store()
    assert store.setdefault("lazy", lambda: 1 / 0).tolist() == pytest.approx([3.0, 3.0])


def test_missing_param_without_init_raises_keyerror_naming_it():
    with pytest.raises(KeyError, match="'nope'"):
        pyro.param("nope")


def test_init_outside_constraint_raises():
    with pytest.raises(ValueError, match="param 'neg'"):
        pyro.param("neg", torch.tensor(-1.0), constraint=constraints.positive)
    assert "neg" not in pyro.get_param_store()


def test_dict_interface_and_views():
    store = pyro.get_param_store()
    pyro.param("x", torch.tensor(1.0))
    pyro.param("y", torch.tensor(2.0), constraint=constraints.positive)
    assert list(store.keys()) == ["x", "y"] and list(store) == ["x", "y"]
    assert list(store.get_all_param_names()) == ["x", "y"]
    assert [v.item() for v in store.values()] == pytest.approx([1.0, 2.0])
    assert [(k, v.item()) for k, v in store.items()] == [("x", 1.0), ("y", pytest.approx(2.0))]
    assert len(store) == 2 and bool(store) and "x" in store
    store["z"] = torch.tensor(4.0)
    assert store["z"].item() == 4.0
    del store["x"]
    assert "x" not in store and len(store) == 2
    store.clear()
    assert len(store) == 0 and not store


def test_setitem_keeps_constraint():
    store = pyro.get_param_store()
    pyro.param("y", torch.tensor(2.0), constraint=constraints.positive)
    store["y"] = torch.tensor(9.0)
    assert store["y"].item() == pytest.approx(9.0)
    assert store["y"].unconstrained().item() == pytest.approx(torch.log(torch.tensor(9.0)).item())


def test_match_and_param_name():
    store = pyro.get_param_store()
    pyro.param("loc_a", torch.tensor(1.0))
    pyro.param("loc_b", torch.tensor(2.0))
    pyro.param("scale_a", torch.tensor(3.0), constraint=constraints.positive)
    assert sorted(store.match("loc_")) == ["loc_a", "loc_b"]
    assert sorted(store.match(".*_a")) == ["loc_a", "scale_a"]
    assert store.match("nothing") == {}
    s = pyro.param("scale_a")
    assert store.param_name(s.unconstrained()) == "scale_a"
    assert store.param_name(torch.tensor(3.0)) is None


def test_replace_param():
    store = pyro.get_param_store()
    old = pyro.param("w", torch.tensor(1.0), constraint=constraints.positive)
    store.replace_param("w", torch.tensor(7.0), old)
    assert pyro.param("w").item() == pytest.approx(7.0)
    with pytest.raises(ValueError):
        store.replace_param("w", torch.tensor(1.0), old)


def test_get_state_set_state_round_trip():
    store = pyro.get_param_store()
    pyro.param("a", torch.tensor([1.0, 2.0]))
    pyro.param("b", torch.tensor(0.25), constraint=constraints.unit_interval)
    state = store.get_state()
    assert set(state) == {"params", "constraints"}
    assert state["constraints"]["b"] is constraints.unit_interval
    assert state["params"]["a"] is dict(store.named_parameters())["a"]
    store.clear()
    store.set_state(state)
    assert pyro.param("b").item() == pytest.approx(0.25)
    assert pyro.param("a").tolist() == [1.0, 2.0]
    with pytest.raises(ValueError):
        store.set_state({"params": {}})


def test_scope_isolates_parameter_sets():
    store = pyro.get_param_store()
    pyro.param("shared", torch.tensor(0.0))
    with store.scope() as scope1:
        assert "shared" not in store
        pyro.param("shared", torch.tensor(1.0))
    with store.scope() as scope2:
        pyro.param("shared", torch.tensor(2.0))
    assert pyro.param("shared").item() == 0.0
    with store.scope(scope1):
        assert pyro.param("shared").item() == 1.0
    with store.scope(scope2):
        assert pyro.param("shared").item() == 2.0
    assert pyro.param("shared").item() == 0.0
    with pytest.raises(RuntimeError):
        with store.scope():
            pyro.param("tmp", torch.tensor(1.0))
            raise RuntimeError
    assert list(store.keys()) == ["shared"]


def test_module_prefixed_names():
    assert param_with_module_name("net", "0.weight") == "net$$$0.weight"
    assert module_from_param_with_module_name("net$$$0.weight") == "net"
    assert user_param_name("net$$$0.weight") == "0.weight"
    assert user_param_name("plain") == "plain"
    assert normalize_param_name("net$$$0.weight") == "net.0.weight"
    assert ParamStoreDict.user_param_name("m$$$b") == "b"


def test_param_site_in_trace_carries_constraint_and_event_dim():
    with poutine.trace() as tr:
        pyro.param("p", torch.ones(3), constraint=constraints.positive, event_dim=1)
    site = tr.trace.nodes["p"]
    assert site["type"] == "param"
    assert site["kwargs"]["constraint"] is constraints.positive and site["kwargs"]["event_dim"] == 1
    assert site["args"][0] == "p"


def test_tags_api():
    store = pyro.get_param_store()
    a = pyro.param("a", torch.tensor(1.0))
    b = pyro.param("b", torch.tensor(2.0), tags=["enc", "fast"])
    c = pyro.param("c", torch.tensor(3.0), tags="enc")
    assert store.get_param_tags("a") == {"default"}
    assert store.get_param_tags("b") == {"default", "enc", "fast"}
    assert store.get_active_params("enc") == {b, c}
    assert store.get_active_params(["fast", "default"]) == {a, b, c}
    store.tag_params(["a", "c"], "slow")
    assert store.get_active_params("slow") == {a, c}
    store.untag_params("c", ["slow", "enc"])
    assert store.get_param_tags("c") == {"default"}
    store.delete_tag("enc")
    assert store.get_active_params("enc") == set()
    assert "b" in store
    store.mark_params_inactive([a])
    assert store.get_active_params() == {b, c}
    store.mark_params_active([a])
    assert store.get_active_params() == {a, b, c}
    with pytest.raises(KeyError):
        store.tag_params("missing", "x")


def test_params_follow_init_dtype():
    p = pyro.param("d", torch.tensor([1.0, 2.0], dtype=torch.float64), constraint=constraints.positive)
    assert p.dtype == torch.float64 and p.unconstrained().dtype == torch.float64


@pytest.mark.cuda
def test_params_follow_init_device():
    p = pyro.param("g", torch.ones(2, device="cuda"), constraint=constraints.positive)
    assert p.device.type == "cuda" and p.unconstrained().device.type == "cuda"


def test_module_tags_every_parameter():
    net = torch.nn.Linear(2, 3)
    pyro.module("net", net, tags=["encoder", "slow"])
    store = pyro.get_param_store()
    assert sorted(store.keys()) == ["net$$$bias", "net$$$weight"]
    for name in store.keys():
        assert store.get_param_tags(name) == {"default", "encoder", "slow"}
    assert store.get_active_params("encoder") == {net.weight, net.bias}
    assert store.get_active_params("decoder") == set()


@pytest.mark.parametrize("constraint", [
    constraints.positive, constraints.greater_than(2.0), constraints.interval(-1.0, 3.0),
    constraints.simplex, constraints.lower_cholesky, constraints.real,
])
def test_read_transform_matches_torch_transform_to(constraint):
    # The store drops no-op parts of torch's transform; values and gradients must not change.
    init = transform_to(constraint)(torch.randn(3, 3))
    value = pyro.param("p", init, constraint=constraint)
    leaf = value.unconstrained()
    expected = transform_to(constraint)(leaf)
    assert torch.allclose(value, expected)
    (grad,) = torch.autograd.grad((value * torch.arange(9.0).reshape(3, 3)).sum(), leaf)
    (expected_grad,) = torch.autograd.grad((expected * torch.arange(9.0).reshape(3, 3)).sum(), leaf)
    assert torch.allclose(grad, expected_grad)
