"""Every learning-rate scheduler wrapper against the torch scheduler driven by hand."""

import pytest
import torch
from torch.optim import lr_scheduler as lr

import pyro
import pyro.optim
from pyro.optim import PyroLRScheduler
from pyro.optim.pytorch_optimizers import TORCH_SCHEDULERS

CONSTANT = (lr.ConstantLR, {"factor": 0.5, "total_iters": 2})
EXPONENTIAL = (lr.ExponentialLR, {"gamma": 0.9})

# scheduler settings for every torch scheduler; step(metric) is given the loss where flagged
SCHEDULER_SETTINGS = {
    "LambdaLR": {"lr_lambda": lambda epoch: 0.5 ** epoch},
    "MultiplicativeLR": {"lr_lambda": lambda epoch: 0.8},
    "StepLR": {"step_size": 2, "gamma": 0.5},
    "MultiStepLR": {"milestones": [1, 3], "gamma": 0.25},
    "ConstantLR": {"factor": 0.5, "total_iters": 2},
    "LinearLR": {"start_factor": 0.25, "total_iters": 3},
    "ExponentialLR": {"gamma": 0.9},
    "SequentialLR": {"schedulers": [CONSTANT, EXPONENTIAL], "milestones": [2]},
    "CosineAnnealingLR": {"T_max": 4},
    "ChainedScheduler": {"schedulers": [CONSTANT, EXPONENTIAL]},
    "ReduceLROnPlateau": {"factor": 0.5, "patience": 0, "threshold": 0.5},
    "CyclicLR": {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2, "cycle_momentum": False},
    "CosineAnnealingWarmRestarts": {"T_0": 2},
    "OneCycleLR": {"max_lr": 0.2, "total_steps": 10, "cycle_momentum": False},
    "PolynomialLR": {"total_iters": 4, "power": 2.0},
}
TARGET = torch.tensor([1.0, -2.0])


def quadratic(p):
    return 0.5 * ((p - TARGET) ** 2).sum()


def make_torch_scheduler(cls, optimizer, settings):
    settings = dict(settings)
    if "schedulers" in settings:
        parts = [c(optimizer, **s) for c, s in settings.pop("schedulers")]
        if cls is lr.ChainedScheduler:
            return cls(parts, optimizer=optimizer)
        return cls(optimizer, parts, **settings)
    return cls(optimizer, **settings)


BASES = {"LRScheduler", "_LRScheduler"}  # wrapped as Pyro does; torch's get_lr is abstract


def test_every_torch_scheduler_has_a_wrapper_and_a_test():
    assert set(TORCH_SCHEDULERS) == set(SCHEDULER_SETTINGS) | BASES
    for name, cls in TORCH_SCHEDULERS.items():
        assert getattr(pyro.optim, name).pt_scheduler_constructor is cls


@pytest.mark.parametrize("name", sorted(SCHEDULER_SETTINGS))
def test_scheduler_wrapper_matches_torch(name):
    cls = TORCH_SCHEDULERS[name]
    settings = SCHEDULER_SETTINGS[name]
    user_args = {"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}, **settings}
    scheduler = getattr(pyro.optim, name)(user_args)
    assert isinstance(scheduler, PyroLRScheduler)
    assert set(user_args) >= {"optimizer", "optim_args"}  # the caller's dict is left alone

    ref = torch.tensor([0.0, 0.0], requires_grad=True)
    ref_optim = torch.optim.SGD([ref], lr=0.1)
    ref_scheduler = make_torch_scheduler(cls, ref_optim, settings)
    lrs = []
    for epoch in range(6):
        a = pyro.param("a", torch.tensor([0.0, 0.0]))
        loss = quadratic(a)
        loss.backward()
        scheduler([a.unconstrained()])
        a.unconstrained().grad = None  # left in place by the optimizer, as in Pyro
        ref_loss = quadratic(ref)
        ref_loss.backward()
        ref_optim.step()
        ref.grad = None
        if name == "ReduceLROnPlateau":
            scheduler.step(loss.item())
            ref_scheduler.step(ref_loss.item())
        else:
            scheduler.step()
            ref_scheduler.step()
        assert torch.equal(pyro.param("a").detach(), ref.detach()), f"epoch {epoch}"
        (torch_optim,) = {id(o): o for o in scheduler.optim_objs.values()}.values()
        lrs.append(torch_optim.optimizer.param_groups[0]["lr"])
        assert lrs[-1] == ref_optim.param_groups[0]["lr"]
    assert len(set(lrs)) > 1, f"{name} never changed the learning rate"


def test_exponential_lr_numbers():
    scheduler = pyro.optim.ExponentialLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.5}, "gamma": 0.5})
    for _ in range(3):
        a = pyro.param("a", torch.tensor(0.0))
        a.backward()  # gradient 1: a moves by -lr
        scheduler([a.unconstrained()])
        a.unconstrained().grad = None
        scheduler.step()
    assert pyro.param("a").item() == -(0.5 + 0.25 + 0.125)


def test_param_appearing_after_a_scheduler_step_starts_a_fresh_schedule():
    scheduler = pyro.optim.StepLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 1.0},
                                   "step_size": 1, "gamma": 0.5})
    a = pyro.param("a", torch.tensor(0.0))
    a.backward()
    scheduler([a.unconstrained()])
    a.unconstrained().grad = None
    scheduler.step()
    b = pyro.param("b", torch.tensor(0.0))
    (a + b).backward()
    scheduler([a.unconstrained(), b.unconstrained()])
    # as with one scheduler per parameter (Pyro): b starts at lr 1, a is at 0.5
    assert pyro.param("a").item() == -1.5 and pyro.param("b").item() == -1.0
    objs = scheduler.optim_objs
    assert objs[a.unconstrained()] is not objs[b.unconstrained()]
    c = pyro.param("c", torch.tensor(0.0))
    c.backward()
    scheduler([c.unconstrained()])
    assert objs[b.unconstrained()] is scheduler.optim_objs[c.unconstrained()]  # same fresh schedule


def test_per_param_optim_args_under_a_scheduler():
    scheduler = pyro.optim.ExponentialLR({
        "optimizer": torch.optim.SGD,
        "optim_args": lambda module, name: {"lr": 1.0 if name == "a" else 0.5},
        "gamma": 0.5,
    })
    for _ in range(2):
        a, b = pyro.param("a", torch.tensor(0.0)), pyro.param("b", torch.tensor(0.0))
        (a + b).backward()
        scheduler([a.unconstrained(), b.unconstrained()])
        a.unconstrained().grad = b.unconstrained().grad = None
        scheduler.step()
    assert pyro.param("a").item() == -1.5 and pyro.param("b").item() == -0.75


def test_scheduler_needs_optimizer_and_optim_args():
    with pytest.raises(ValueError, match="'optimizer'"):
        pyro.optim.StepLR({"optim_args": {"lr": 0.1}, "step_size": 1})
    with pytest.raises(ValueError, match="schedulers"):
        pyro.optim.SequentialLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1},
                                 "schedulers": [lr.ConstantLR], "milestones": [1]})


@pytest.mark.parametrize("name", sorted(SCHEDULER_SETTINGS))
def test_params_of_one_step_share_one_optimizer_and_schedule(name):
    scheduler = getattr(pyro.optim, name)({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1},
                                           **SCHEDULER_SETTINGS[name]})
    a, b = pyro.param("a", torch.zeros(2)), pyro.param("b", torch.zeros(3))
    (a.sum() + 2 * b.sum()).backward()
    scheduler([a.unconstrained(), b.unconstrained()])
    objs = scheduler.optim_objs
    assert objs[a.unconstrained()] is objs[b.unconstrained()]
    lr = objs[a.unconstrained()].optimizer.param_groups[0]["lr"]
    assert torch.equal(pyro.param("a").detach(), torch.full((2,), -lr))
    assert torch.equal(pyro.param("b").detach(), torch.full((3,), -2 * lr))


@pytest.mark.parametrize("name", sorted(BASES))
def test_scheduler_base_wrappers_exist_and_defer_to_torch(name):
    # Pyro 1.9 exposes the abstract bases too; using one fails as torch's own does.
    wrapper = getattr(pyro.optim, name)
    assert wrapper.pt_scheduler_constructor is getattr(lr, name)
    scheduler = wrapper({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}})
    pyro.clear_param_store()
    p = pyro.param("base_p", torch.zeros(2))
    with pytest.raises(NotImplementedError):
        scheduler([p.unconstrained()])
