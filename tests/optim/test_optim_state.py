"""Optimizer state: format, round trips, atomic and safe files, bit-for-bit resumption."""

import os
import pickle

import pytest
import torch
from torch.distributions import constraints

import pyro
import pyro.optim
from pyro.params import StateFileError


def model_loss():
    loc = pyro.param("loc", torch.tensor([0.5, -1.0, 2.0]))
    scale = pyro.param("scale", torch.tensor([1.0, 2.0, 0.5]), constraint=constraints.positive)
    data = torch.tensor([[1.0, 0.0, 3.0], [2.0, -1.0, 2.5], [0.0, 0.5, 1.0]])
    nll = (0.5 * ((data - loc) / scale) ** 2 + scale.log()).sum()
    return nll, [loc.unconstrained(), scale.unconstrained()]


def train(optim, steps, scheduler_every=None):
    for t in range(steps):
        loss, params = model_loss()
        loss.backward()
        optim(params)
        for p in params:  # the optimizer leaves gradients in place, as in Pyro; SVI clears them
            p.grad = None
        if scheduler_every and (t + 1) % scheduler_every == 0:
            optim.step()


def snapshot():
    return {name: p.detach().clone() for name, p in pyro.get_param_store().named_parameters()}


MAKERS = {
    "Adam": lambda: pyro.optim.Adam({"lr": 0.05}, {"clip_norm": 5.0}),
    "ClippedAdam": lambda: pyro.optim.ClippedAdam({"lr": 0.05, "lrd": 0.95, "clip_norm": 1.0}),
    "Adagrad": lambda: pyro.optim.Adagrad({"lr": 0.1}),
    "ExponentialLR": lambda: pyro.optim.ExponentialLR(
        {"optimizer": torch.optim.Adam, "optim_args": {"lr": 0.05}, "gamma": 0.8}),
    "ReduceLROnPlateau": lambda: pyro.optim.ReduceLROnPlateau(
        {"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.05, "momentum": 0.9}, "patience": 0}),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_resumption_is_bit_for_bit(name, tmp_path):
    make = MAKERS[name]
    every = 2 if name == "ExponentialLR" else None

    def train_with_metric(optim, start, stop):
        for t in range(start, stop):
            loss, params = model_loss()
            loss.backward()
            optim(params)
            for p in params:
                p.grad = None
            if name == "ReduceLROnPlateau":
                optim.step(float(t % 3))  # a metric that stalls: the rate drops
            elif every and (t + 1) % every == 0:
                optim.step()

    optim = make()
    train_with_metric(optim, 0, 10)
    straight = snapshot()

    pyro.clear_param_store()
    optim = make()
    train_with_metric(optim, 0, 5)
    pyro.get_param_store().save(tmp_path / "params.pt")
    optim.save(tmp_path / "optim.pt")
    del optim
    pyro.clear_param_store()

    pyro.get_param_store().load(tmp_path / "params.pt")
    optim = make()
    optim.load(tmp_path / "optim.pt")
    train_with_metric(optim, 5, 10)
    resumed = snapshot()
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key


def test_get_state_has_pyro_layout():
    optim = pyro.optim.Adam({"lr": 0.05})
    train(optim, 2)
    state = optim.get_state()
    assert set(state) == {"loc", "scale"}
    entry = state["loc"]
    assert set(entry) == {"state", "param_groups"}
    assert entry["param_groups"][0]["lr"] == 0.05 and entry["param_groups"][0]["params"] == [0]
    assert entry["state"][0]["step"].item() == 2.0
    assert entry["state"][0]["exp_avg"].shape == (3,)

    scheduler = pyro.optim.StepLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}, "step_size": 1})
    train(scheduler, 1)
    s_entry = scheduler.get_state()["scale"]
    assert set(s_entry) == {"scheduler", "optimizer"} and s_entry["scheduler"]["last_epoch"] == 0


def test_set_state_before_and_after_params_appear():
    source = pyro.optim.Adam({"lr": 0.05})
    train(source, 3)
    state = source.get_state()
    values = snapshot()

    # before: consumed when the params appear
    fresh = pyro.optim.Adam({"lr": 0.05})
    fresh.set_state(state)
    assert fresh.get_state().keys() == {"loc", "scale"}  # pending state is reported
    train(fresh, 1)
    after_fresh = snapshot()

    # after: parameters already being optimized take it at once
    for name, value in values.items():
        pyro.get_param_store()._params[name].data.copy_(value)
    late = pyro.optim.Adam({"lr": 0.05})
    train(late, 1)
    for name, value in values.items():
        pyro.get_param_store()._params[name].data.copy_(value)
    late.set_state(state)
    train(late, 1)
    after_late = snapshot()

    for name, value in values.items():
        pyro.get_param_store()._params[name].data.copy_(value)
    train(source, 1)
    reference = snapshot()
    for key in reference:
        assert torch.equal(after_fresh[key], reference[key])
        assert torch.equal(after_late[key], reference[key])


def test_set_state_restores_changed_hyperparameters_per_param():
    source = pyro.optim.SGD({"lr": 0.1})
    train(source, 1)
    state = source.get_state()
    state["loc"]["param_groups"][0]["lr"] = 0.5
    target = pyro.optim.SGD({"lr": 0.1})
    target.set_state(state)
    train(target, 1)
    objs = target.optim_objs
    loc, scale = (pyro.get_param_store()._params[n] for n in ("loc", "scale"))
    assert objs[loc].param_groups[0]["lr"] == 0.5 and objs[scale].param_groups[0]["lr"] == 0.1
    assert objs[loc] is not objs[scale]


def test_malformed_state_is_rejected_and_changes_nothing():
    optim = pyro.optim.Adam({"lr": 0.05})
    with pytest.raises(ValueError, match="param 'b'"):
        optim.set_state({"a": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]}, "b": {"x": 1}})
    assert optim.get_state() == {}
    with pytest.raises(ValueError, match="exactly one parameter"):
        optim.set_state({"a": {"state": {}, "param_groups": [{"params": [0, 1]}]}})
    scheduler = pyro.optim.StepLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}, "step_size": 1})
    with pytest.raises(ValueError, match="'scheduler' and 'optimizer'"):
        scheduler.set_state({"a": {"state": {}, "param_groups": [{"params": [0]}]}})


def test_save_is_atomic(tmp_path, monkeypatch):
    optim = pyro.optim.Adam({"lr": 0.05})
    train(optim, 1)
    path = tmp_path / "optim.pt"
    optim.save(path)
    good = path.read_bytes()
    train(optim, 1)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        optim.save(path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["optim.pt"]  # no temporary file left behind


def test_state_with_code_is_refused_at_save(tmp_path):
    scheduler = pyro.optim.LambdaLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1},
                                     "lr_lambda": lambda epoch: 1.0})
    train(scheduler, 1)
    # torch leaves lambdas out of LambdaLR's state, so this one saves; a callable object would not
    scheduler.save(tmp_path / "ok.pt")

    class Schedule:
        def __init__(self):
            self.rule = abs  # LambdaLR saves a callable object's attributes

        def __call__(self, epoch):
            return 1.0

    pyro.clear_param_store()
    scheduler = pyro.optim.LambdaLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1},
                                     "lr_lambda": Schedule()})
    train(scheduler, 1)
    with pytest.raises(ValueError, match="builtin_function_or_method"):
        scheduler.save(tmp_path / "bad.pt")
    assert not (tmp_path / "bad.pt").exists()


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_file_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    evil_zip = tmp_path / "evil.pt"
    torch.save({"format": "pyro-optim-state", "version": 1, "state": {"a": _RunsCode(str(marker))}}, evil_zip)
    evil_pickle = tmp_path / "evil.pkl"
    with open(evil_pickle, "wb") as f:
        pickle.dump({"format": "pyro-optim-state", "state": _RunsCode(str(marker))}, f, protocol=2)
    optim = pyro.optim.Adam({"lr": 0.05})
    for path in (evil_zip, evil_pickle):
        with pytest.raises(StateFileError):
            optim.load(path)
    assert not marker.exists()
    assert optim.get_state() == {}


def test_truncated_foreign_and_malformed_files(tmp_path):
    optim = pyro.optim.Adam({"lr": 0.05})
    train(optim, 1)
    optim.save(tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "short.pt").write_bytes(data[: len(data) // 2])
    pyro.get_param_store().save(tmp_path / "store.pt")
    torch.save({"format": "pyro-optim-state", "version": 1, "state": {"loc": {"bad": 1}}}, tmp_path / "malformed.pt")

    target = pyro.optim.Adam({"lr": 0.05})
    with pytest.raises(StateFileError, match="truncated, corrupt"):
        target.load(tmp_path / "short.pt")
    with pytest.raises(StateFileError, match="not a pyro-optim-state file"):
        target.load(tmp_path / "store.pt")
    with pytest.raises(StateFileError, match="param 'loc'"):
        target.load(tmp_path / "malformed.pt")
    with pytest.raises(FileNotFoundError):
        target.load(tmp_path / "missing.pt")
    assert target.get_state() == {}
    target.load(tmp_path / "good.pt")
    assert target.get_state().keys() == {"loc", "scale"}


def test_load_with_map_location(tmp_path):
    optim = pyro.optim.Adam({"lr": 0.05})
    train(optim, 1)
    optim.save(tmp_path / "o.pt")
    target = pyro.optim.Adam({"lr": 0.05})
    target.load(tmp_path / "o.pt", map_location="cpu")
    assert target.get_state()["loc"]["state"][0]["exp_avg"].device.type == "cpu"
