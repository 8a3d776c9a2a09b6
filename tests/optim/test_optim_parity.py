"""Behaviour checked against Pyro 1.9.2: gradients after a step, ClippedAdam's decayed rate, is_scheduler."""

import math

import pytest
import torch
import torch.optim.lr_scheduler as lr_sched

import pyro
import pyro.optim
from pyro.optim.clipped_adam import ClippedAdam
from pyro.optim.optim import is_scheduler


def leaf(name, value):
    return pyro.param(name, value).unconstrained()


def test_gradients_stay_after_a_step_and_clipping_is_in_place():
    p = leaf("a", torch.tensor([1.0, -2.0, 3.0]))
    p.grad = torch.tensor([20.0, -80.0, 180.0])
    pyro.optim.Adam({"lr": 0.1})([p])
    assert torch.equal(p.grad, torch.tensor([20.0, -80.0, 180.0]))  # untouched

    g = torch.tensor([100.0, -200.0, 3.0])
    p.grad = g.clone()
    pyro.optim.Adam({"lr": 0.1}, {"clip_norm": 1.0})([p])
    # scaled to norm 1 in place, as torch.nn.utils.clip_grad_norm_ does (Pyro: [0.4472, -0.8943, 0.0134])
    expected = g * (1.0 / (torch.linalg.vector_norm(g) + 1e-6))
    torch.testing.assert_close(p.grad, expected, rtol=1e-6, atol=0.0)
    torch.testing.assert_close(p.grad, torch.tensor([0.4472, -0.8943, 0.0134]), rtol=0, atol=1e-4)

    p.grad = g.clone()
    pyro.optim.Adam({"lr": 0.1}, {"clip_value": 5.0})([p])
    assert torch.equal(p.grad, torch.tensor([5.0, -5.0, 3.0]))

    p.grad = g.clone()
    pyro.optim.ClippedAdam({"lr": 0.1, "clip_norm": 5.0})([p])
    assert torch.equal(p.grad, torch.tensor([5.0, -5.0, 3.0]))  # ClippedAdam clamps elements in place


def test_clipped_adam_decay_shows_in_param_groups():
    p = leaf("a", torch.tensor([1.0, -2.0, 3.0]))
    optim = pyro.optim.ClippedAdam({"lr": 0.1, "clip_norm": 5.0, "lrd": 0.5})
    grads = [torch.tensor([100.0, -200.0, 3.0])] + [torch.tensor([1.0, -2.0, 3.0])] * 3
    rates = []
    for g in grads:
        p.grad = g.clone()
        optim([p])
        rates.append(optim.optim_objs[p].param_groups[0]["lr"])
    assert rates == [0.05, 0.025, 0.0125, 0.00625]  # Pyro 1.9.2's values (halving is exact)
    # Pyro's state layout and numbers (exp_avg [0.6355, -0.9065, 1.0317] after these steps)
    entry = optim.get_state()["a"]
    state = entry["state"][0]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"} and state["step"] == 4
    m = torch.zeros(3, dtype=torch.float64)
    for g in grads:
        m = 0.9 * m + 0.1 * g.double().clamp(-5.0, 5.0)
    torch.testing.assert_close(state["exp_avg"].double(), m, rtol=1e-6, atol=0.0)
    torch.testing.assert_close(state["exp_avg"], torch.tensor([0.6355, -0.9065, 1.0317]), rtol=0, atol=1e-4)
    assert entry["param_groups"][0]["lr"] == 0.00625


def test_clipped_adam_decays_when_stepped_without_gradient():
    # Pyro steps the optimizer of every given parameter, gradient or not: the rate still decays
    p = leaf("a", torch.tensor([1.0, 2.0]))
    optim = pyro.optim.ClippedAdam({"lr": 0.1, "lrd": 0.5})
    p.grad = torch.ones(2)
    optim([p])
    before = p.detach().clone()
    p.grad = None
    optim([p])
    assert optim.optim_objs[p].param_groups[0]["lr"] == 0.025
    assert torch.equal(p.detach(), before)


# Pyro 1.9.2 on the schedule below (one ClippedAdam per parameter); the printed gradients it kept
PYRO_192_VALUES = {"a": [0.8809801340103149, 0.09528851509094238],
                   "b": [0.7213965654373169, 1.380980134010315, -1.619019865989685]}


def test_clipped_adam_rates_are_per_parameter_when_steps_differ():
    optim = pyro.optim.ClippedAdam({"lr": 0.2, "lrd": 0.9, "clip_norm": 2.0})
    inits = {"a": torch.tensor([1.5, -0.5]), "b": torch.tensor([0.2, 2.0, -1.0])}
    schedule = [("a", "b"), ("a",), ("a", "b"), ("b",), ("a", "b")]
    for names in schedule:
        values = [pyro.param(n, inits[n]) for n in names]
        sum((v ** 3 - v).sum() for v in values).backward()
        params = [v.unconstrained() for v in values]
        optim(params)
        for p in params:
            assert p.grad.abs().max() <= 2.0  # kept, clamped
            p.grad = None
    objs = optim.optim_objs
    for n, expected in PYRO_192_VALUES.items():
        torch.testing.assert_close(pyro.param(n).detach(), torch.tensor(expected), rtol=1e-5, atol=1e-6)
        # four steps each: 0.2 * 0.9 ** 4 (Pyro prints 0.13122000000000003)
        assert objs[pyro.param(n).unconstrained()].param_groups[0]["lr"] == pytest.approx(0.2 * 0.9 ** 4, rel=1e-12)


def test_decaying_optimizer_splits_only_when_a_subset_steps():
    optim = pyro.optim.ClippedAdam({"lr": 0.1, "lrd": 0.5})
    a, b = leaf("a", torch.tensor(1.0)), leaf("b", torch.tensor(1.0))
    a.grad, b.grad = torch.tensor(1.0), torch.tensor(1.0)
    optim([a, b])
    assert optim.optim_objs[a] is optim.optim_objs[b]  # stepped together: one optimizer
    a.grad = torch.tensor(1.0)
    optim([a])
    objs = optim.optim_objs
    assert objs[a] is not objs[b]
    assert objs[a].param_groups[0]["lr"] == 0.025 and objs[b].param_groups[0]["lr"] == 0.05
    assert objs[b].state[b]["step"] == 1 and objs[a].state[a]["step"] == 2
    # without decay the optimizer is shared whatever the steps
    plain = pyro.optim.ClippedAdam({"lr": 0.1})
    plain([a, b])
    plain([a])
    assert plain.optim_objs[a] is plain.optim_objs[b]


def test_clipped_adam_centered_variance():
    x0 = torch.tensor([0.5, -1.5, 2.0], dtype=torch.float64)
    p = x0.clone().requires_grad_()
    optim = ClippedAdam([p], lr=0.1, weight_decay=0.1, lrd=0.9, centered_variance=True)
    x, m, v, rate = x0.clone(), torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), 0.1
    for t in range(1, 5):
        g = torch.tensor([1.0, -3.0, 12.0], dtype=torch.float64) * t
        p.grad = g.clone()
        optim.step()
        g = g.clamp(-10.0, 10.0) + 0.1 * x
        rate *= 0.9
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * (g - m) ** 2  # the deviation from the new first moment
        x = x - rate * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (v.sqrt() + 1e-8)
    torch.testing.assert_close(p.detach(), x, rtol=0, atol=1e-9)


def test_is_scheduler():
    sgd = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    schedulers = [
        lr_sched.StepLR(sgd, 2),
        lr_sched.ReduceLROnPlateau(sgd),
        lr_sched.LambdaLR(sgd, lambda epoch: 1.0),
        lr_sched.SequentialLR(sgd, [lr_sched.ConstantLR(sgd), lr_sched.ExponentialLR(sgd, 0.9)], milestones=[2]),
        lr_sched.ChainedScheduler([lr_sched.ConstantLR(sgd)]),
    ]
    assert [is_scheduler(s) for s in schedulers] == [True] * 5
    # as in Pyro 1.9.2: optimizers, PyroOptim objects (even scheduled ones) and classes are not
    others = [sgd, None, object(), pyro.optim.Adam({}), lr_sched.StepLR,
              pyro.optim.StepLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}, "step_size": 2})]
    assert [is_scheduler(o) for o in others] == [False] * 6


def test_clip_value_clamps_the_summed_entries_of_an_uncoalesced_sparse_gradient():
    from pyro.optim._grad_clipping import clip_grads

    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.sparse_coo_tensor(torch.tensor([[0, 0, 2]]), torch.tensor([5.0, 5.0, -7.0]), (3,),
                                     check_invariants=True)
    clip_grads([p], clip_value=6.0)
    assert p.grad.to_dense().tolist() == [6.0, 0.0, -6.0]  # 5 + 5 = 10 clamps to 6
