"""ClippedAdam and AdagradRMSProp against their update equations written out by hand."""

import math

import pytest
import torch

import pyro
import pyro.optim
from pyro.optim.adagrad_rmsprop import AdagradRMSProp
from pyro.optim.clipped_adam import ClippedAdam


def grads_of(p):
    return 3.0 * p ** 3 - 2.0 * p  # gradient of 0.75 p^4 - p^2, large where |p| > 1


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("lrd", [1.0, 0.9])
def test_clipped_adam_matches_its_equations(weight_decay, lrd):
    p0 = torch.tensor([2.5, -0.3, 0.8, -3.0])
    p = p0.clone().requires_grad_()
    optim = ClippedAdam([p], lr=0.1, betas=(0.8, 0.95), eps=1e-6, weight_decay=weight_decay, clip_norm=2.0, lrd=lrd)
    seen = []
    for _ in range(6):
        p.grad = grads_of(p.detach())
        seen.append(p.grad.clone())
        optim.step()
        # the gradient is clamped in place, as in Pyro
        assert p.grad.abs().max() <= 2.0
    # the update equations in float64, on the same gradients
    q, m, v = p0.double(), torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    for t, g in enumerate(seen, start=1):
        g = g.double().clamp(-2.0, 2.0) + weight_decay * q
        m = 0.8 * m + 0.2 * g
        v = 0.95 * v + 0.05 * g * g
        q = q - 0.1 * lrd ** t * math.sqrt(1 - 0.95 ** t) / (1 - 0.8 ** t) * m / (v.sqrt() + 1e-6)
    assert torch.allclose(p.detach().double(), q, rtol=0, atol=1e-6)
    # the decay shows in the param group, as in Pyro (six float multiplications of 0.1 by lrd)
    expected_lr = 0.1
    for _ in range(6):
        expected_lr *= lrd
    assert optim.param_groups[0]["lr"] == expected_lr
    assert set(optim.state[p]) == {"step", "exp_avg", "exp_avg_sq"} and optim.state[p]["step"] == 6


def test_clipped_adam_first_step_moves_by_decayed_lr():
    # Adam's first step is lr * sign(g) (up to eps); with decay the first rate is lr * lrd
    p = torch.tensor([5.0, -5.0], requires_grad=True)
    p.grad = torch.tensor([100.0, -0.5])
    ClippedAdam([p], lr=0.5, lrd=0.5, eps=0.0).step()
    # m / sqrt(v) is 1 only up to rounding (sqrt, and addcdiv fused or not): a few float32 ulp
    torch.testing.assert_close(p.detach(), torch.tensor([4.75, -4.75]), rtol=1e-6, atol=0.0)


def test_clipped_adam_param_joining_late_starts_undecayed():
    optim = pyro.optim.ClippedAdam({"lr": 0.5, "lrd": 0.5, "eps": 0.0})
    a = pyro.param("a", torch.tensor(1.0))
    for _ in range(3):
        a.backward()
        optim([a.unconstrained()])
        a.unconstrained().grad = None
    b = pyro.param("b", torch.tensor(1.0))
    (a + b).backward()
    optim([a.unconstrained(), b.unconstrained()])
    # b's first step uses lr * lrd = 0.25, as it would with an optimizer of its own (each step
    # is lr * m / sqrt(v), exact only up to float32 rounding)
    assert pyro.param("b").item() == pytest.approx(0.75, rel=1e-6)
    # a's steps: 0.25, 0.125, 0.0625, 0.03125
    assert pyro.param("a").item() == pytest.approx(1.0 - 0.25 - 0.125 - 0.0625 - 0.03125, rel=1e-6)
    # b cannot share a's optimizer, whose rate has decayed: two optimizers, as in Pyro
    objs = optim.optim_objs
    assert objs[pyro.param("a").unconstrained()] is not objs[pyro.param("b").unconstrained()]
    assert objs[pyro.param("a").unconstrained()].param_groups[0]["lr"] == 0.5 * 0.5 ** 4
    assert objs[pyro.param("b").unconstrained()].param_groups[0]["lr"] == 0.25


def test_clipped_adam_defaults_and_validation():
    p = torch.zeros(1, requires_grad=True)
    group = ClippedAdam([p]).param_groups[0]
    assert {k: v for k, v in group.items() if k != "params"} == {
        "lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "clip_norm": 10.0, "lrd": 1.0,
        "centered_variance": False}
    with pytest.raises(ValueError, match="clip_norm"):
        ClippedAdam([p], clip_norm=0.0)
    with pytest.raises(ValueError, match="betas"):
        ClippedAdam([p], betas=(1.0, 0.9))


def test_clipped_adam_closure_and_sparse_error():
    p = torch.tensor([1.0], requires_grad=True)
    optim = ClippedAdam([p], lr=0.1)

    def closure():
        p.grad = None
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    assert optim.step(closure).item() == 1.0
    q = torch.zeros(3, requires_grad=True)
    q.grad = torch.sparse_coo_tensor(torch.tensor([[0]]), torch.tensor([1.0]), (3,), check_invariants=True)
    with pytest.raises(RuntimeError, match="sparse"):
        ClippedAdam([q]).step()


def test_adagrad_rmsprop_matches_its_equations():
    p0 = torch.tensor([1.5, -0.5, 2.0])
    p = p0.clone().requires_grad_()
    optim = AdagradRMSProp([p], eta=0.3, delta=0.01, t=0.2)
    q, s = p0.double(), None
    for k in range(1, 6):
        g = grads_of(p.detach())
        p.grad = g.clone()
        optim.step()
        g = g.double()
        s = g * g if s is None else 0.2 * g * g + 0.8 * s
        q = q - 0.3 * k ** (0.01 - 0.5) * g / (1.0 + s.sqrt())
        assert torch.allclose(p.detach().double(), q, rtol=0, atol=1e-6)
        q = p.detach().double()  # follow the float32 trajectory


def test_adagrad_rmsprop_wrapper_first_step():
    optim = pyro.optim.AdagradRMSProp({"eta": 1.0})
    a = pyro.param("a", torch.tensor(0.0))
    (3.0 * a).backward()
    optim([a.unconstrained()])
    # s_1 = 9, step 1 ** (delta - 1/2) = 1: a = -3 / (1 + 3)
    assert pyro.param("a").item() == -0.75
