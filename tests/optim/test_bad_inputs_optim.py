"""Bad inputs to the optimizers answer when the optimizer is built, naming the setting."""

import pytest
import torch

import pyro
import pyro.optim as optim
from pyro.params import StateFileError


def _step(opt, name="w"):
    p = pyro.param(name, torch.ones(2))
    (p ** 2).sum().backward()
    opt([p.unconstrained()])
    return p


@pytest.mark.parametrize("args, error, words", [
    ({"lr": "0.1"}, TypeError, r"^Adam: optim_args\['lr'\] must be a number, got str '0\.1'"),
    ({"lr": 0.1, "betas": 0.9}, TypeError, r"^Adam: optim_args\['betas'\] must be a pair of numbers, got float"),
    ({"lr": 0.1, "eps": None}, TypeError, r"^Adam: optim_args\['eps'\] must be a number, got NoneType"),
    ({"lr": -0.1}, ValueError, r"^Adam: Invalid learning rate: -0\.1"),
    ({"lr": 0.1, "weight_decay": -1.0}, ValueError, r"^Adam: Invalid weight_decay value: -1\.0"),
])
def test_bad_settings_fail_when_the_optimizer_is_built(args, error, words):
    with pytest.raises(error, match=words):
        optim.Adam(args)


def test_bad_per_param_settings_name_the_param():
    pyro.clear_param_store()
    opt = optim.SGD(lambda module_name, param_name: {"lr": "fast"})
    with pytest.raises(TypeError, match=r"^SGD: param 'w': optim_args\['lr'\] must be a number, got str 'fast'"):
        _step(opt)


@pytest.mark.parametrize("clip_args, error, words", [
    ({"clip_norm": -1.0}, ValueError, r"clip_args\['clip_norm'\] must be a positive number, got -1\.0"),
    ({"clip_value": -0.5}, ValueError, r"clip_args\['clip_value'\] must be a positive number, got -0\.5"),
    ({"clip_norm": "1"}, TypeError, r"clip_args\['clip_norm'\] must be a positive number, got str"),
])
def test_bad_clip_args(clip_args, error, words):
    with pytest.raises(error, match=words):
        optim.Adam({"lr": 0.1}, clip_args)


def test_valid_settings_step_as_torch_does():
    pyro.clear_param_store()
    opt = optim.SGD({"lr": torch.tensor(0.25), "momentum": 0.0}, {"clip_norm": 1.0})
    p = _step(opt)
    # gradient 2 * [1, 1] has norm 2*sqrt(2); clipped to norm 1 then one SGD step of lr 0.25
    expected = 1.0 - 0.25 / 2 ** 0.5
    assert p.tolist() == pytest.approx([expected, expected], rel=1e-5)


@pytest.mark.parametrize("given, words", [
    (optim.Adam, r"got the Pyro optimizer pyro.optim.Adam; pass optim_args=\{'optimizer': torch.optim.Adam"),
    (optim.Adam({"lr": 0.1}), r"got an instance of the Pyro optimizer pyro.optim.Adam"),
    (torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), r"got an instance of SGD; pass the class torch.optim.SGD"),
    ("Adam", r", got str 'Adam'"),
])
def test_scheduler_needs_a_torch_optimizer_class(given, words):
    with pytest.raises(TypeError, match=r"^ExponentialLR: optim_args\['optimizer'\] must be a torch optimizer class.*" + words):
        optim.ExponentialLR({"optimizer": given, "optim_args": {"lr": 0.1}, "gamma": 0.9})


def test_state_file_of_another_optimizer_names_both(tmp_path):
    pyro.clear_param_store()
    adam = optim.Adam({"lr": 0.1})
    _step(adam)
    path = tmp_path / "adam.pt"
    adam.save(path)
    sgd = optim.SGD({"lr": 0.1})
    with pytest.raises(StateFileError, match=r"holds optimizer state saved by Adam, but it is being loaded into SGD"):
        sgd.load(path)
    assert sgd.get_state() == {}
    scheduler = optim.ExponentialLR({"optimizer": torch.optim.Adam, "optim_args": {"lr": 0.1}, "gamma": 0.9})
    with pytest.raises(StateFileError, match=r"saved by Adam, but it is being loaded into ExponentialLR\(Adam\)"):
        scheduler.load(path)
    # the same optimizer reads it back: its moments are Adam's after one step
    again = optim.Adam({"lr": 0.1})
    again.load(path)
    state = again.get_state()["w"]["state"][0]
    assert state["exp_avg"].tolist() == pytest.approx([0.2, 0.2], rel=1e-6)  # (1 - 0.9) * grad 2
