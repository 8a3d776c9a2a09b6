"""pyro.optim.multi: MultiOptimizer, Newton, PyroMultiOptimizer, TorchMultiOptimizer, MixedMultiOptimizer.

Needs pyro-core and pyro-optim only (the optim tox env).
"""

import pytest
import torch

import pyro
import pyro.optim
from pyro.ops.hessian import hessian
from pyro.ops.newton import newton_step
from pyro.optim.multi import MixedMultiOptimizer, MultiOptimizer, Newton, PyroMultiOptimizer, TorchMultiOptimizer

DT = torch.float64


def coupled():
    """A loss that couples ``a`` (shape (2,)) and ``b`` (shape (1, 2)), and its leaves."""
    a = torch.tensor([1.0, 2.0], dtype=DT, requires_grad=True)
    b = torch.tensor([[0.5, -0.5]], dtype=DT, requires_grad=True)
    loss = ((a - 2) ** 2).sum() + ((b - 1) ** 4).sum() + 0.5 * (a * b).sum() + (a * b[0] ** 2).sum()
    return a, b, loss


def test_pyro_optim_has_the_multi_module():
    assert pyro.optim.multi.Newton is Newton


def test_base_class_interface():
    a, _, loss = coupled()
    with pytest.raises(NotImplementedError, match="MultiOptimizer does not implement get_step"):
        MultiOptimizer().get_step(loss, {"a": a})
    with pytest.raises(NotImplementedError):
        MultiOptimizer().step(loss, {"a": a})


def test_newton_get_step_is_differentiable_and_step_writes_in_place():
    theta = torch.tensor([0.3, -0.4], dtype=DT, requires_grad=True)
    x = torch.zeros(3, 2, dtype=DT, requires_grad=True)
    A = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=DT)
    loss = 0.5 * (((x - theta) @ A) * (x - theta)).sum()
    updated = Newton().get_step(loss, {"x": x})
    assert torch.allclose(updated["x"], theta.detach().expand(3, 2), rtol=1e-12)
    (grad,) = torch.autograd.grad(updated["x"].sum(), theta)
    assert torch.allclose(grad, torch.full((2,), 3.0, dtype=DT), rtol=1e-12)  # d mode / d theta = I, 3 rows
    before = x
    Newton().step(0.5 * (((x - theta) @ A) * (x - theta)).sum(), {"x": x})
    assert before is x and x.is_leaf and x.requires_grad and x.grad is None
    assert torch.allclose(x, theta.detach().expand(3, 2), rtol=1e-12)


def test_newton_uses_each_params_trust_radius():
    a, b, loss = coupled()
    updated = Newton(trust_radii={"b": 0.1, "unused": 1.0}).get_step(loss, {"a": a, "b": b})
    a2, b2, loss2 = coupled()
    assert torch.allclose(updated["a"], newton_step(loss2, a2)[0], rtol=1e-13)
    a3, b3, loss3 = coupled()
    assert torch.allclose(updated["b"], newton_step(loss3, b3, 0.1)[0], rtol=1e-13)
    assert (updated["b"] - b).norm() <= 0.1 * (1 + 1e-12)


def test_newton_on_a_constrained_param_steps_its_unconstrained_value():
    # loss of the unconstrained u = log(scale): (u - log 3)^2 per element, minimum in one step
    scale = pyro.param("scale", torch.ones(4, 1, dtype=DT), constraint=torch.distributions.constraints.positive)
    u = scale.unconstrained()
    Newton().step(((u - torch.tensor(3.0, dtype=DT).log()) ** 2).sum(), {"scale": u})
    assert torch.allclose(pyro.param("scale"), torch.full((4, 1), 3.0, dtype=DT), rtol=1e-12)


def test_pyro_multi_optimizer_steps_like_its_optimizer():
    a, b, loss = coupled()
    ga, gb = torch.autograd.grad(loss, [a, b], retain_graph=True)
    PyroMultiOptimizer(pyro.optim.SGD({"lr": 0.1})).step(loss, {"a": a, "b": b})
    a0, b0, _ = coupled()
    assert torch.allclose(a, a0 - 0.1 * ga, rtol=1e-14) and torch.allclose(b, b0 - 0.1 * gb, rtol=1e-14)
    # the gradients stay in .grad, as after a Pyro optimizer step, without the loss's graph
    assert torch.equal(a.grad, ga) and a.grad.grad_fn is None
    # the loss's graph is kept: a second step on the same loss uses the same gradients again
    optim = TorchMultiOptimizer(torch.optim.SGD, {"lr": 0.1})
    a, _, _ = coupled()
    loss = ((a - 2) ** 2).sum()  # its graph saves a - 2, not a, so it survives the in-place steps
    optim.step(loss, {"a": a})
    optim.step(loss, {"a": a})
    assert torch.allclose(a, a0 - 0.2 * 2 * (a0 - 2), rtol=1e-14)
    with pytest.raises(NotImplementedError):
        optim.get_step(loss, {"a": a})


def test_mixed_adam_and_newton_reach_the_joint_optimum():
    g = torch.Generator().manual_seed(0)
    B = torch.randn(4, 2, 3, generator=g, dtype=DT)
    c = torch.randn(3, generator=g, dtype=DT)
    P = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=DT)

    def loss_fn(w, z):  # a convex quadratic coupling w (3,) with a batch z (4, 2) of 2-d variables
        r = z - B @ w
        return ((w - c) ** 2).sum() + 0.5 * (r.unsqueeze(-2) @ P @ r.unsqueeze(-1)).sum() + 0.5 * (z ** 2).sum()

    w0 = torch.zeros(3, dtype=DT, requires_grad=True)
    z0 = torch.zeros(4, 2, dtype=DT, requires_grad=True)
    H = hessian(loss_fn(w0, z0), [w0, z0])
    grad = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss_fn(w0, z0), [w0, z0])])
    optimum = -torch.linalg.solve(H, grad)

    pyro.param("w", torch.zeros(3, dtype=DT))
    pyro.param("z", torch.zeros(4, 2, dtype=DT))
    optim = MixedMultiOptimizer([(["w"], pyro.optim.Adam({"lr": 0.1})), (["z"], Newton())])
    for _ in range(150):
        params = {name: pyro.param(name).unconstrained() for name in ("w", "z")}
        optim.step(loss_fn(params["w"], params["z"]), params)
    assert torch.allclose(pyro.param("w"), optimum[:3], atol=1e-7)
    assert torch.allclose(pyro.param("z"), optimum[3:].reshape(4, 2), atol=1e-7)


def test_mixed_step_computes_every_update_before_applying_any():
    # Pyro 1.9.2 fails here ("modified by an inplace operation"); each part's update is the one
    # it would take alone from the same point
    alone = {}
    a, b, loss = coupled()
    alone["a_sgd"] = a.detach() - 0.1 * torch.autograd.grad(loss, [a])[0]
    a, b, loss = coupled()
    alone["a_newton"] = newton_step(loss, a)[0].detach()
    a, b, loss = coupled()
    alone["b_newton"] = newton_step(loss, b)[0].detach()
    for first_sgd in (True, False):
        parts = [(["a"], pyro.optim.SGD({"lr": 0.1})), (["b"], Newton())]
        a, b, loss = coupled()
        MixedMultiOptimizer(parts if first_sgd else parts[::-1]).step(loss, {"a": a, "b": b, "other": a * 2})
        assert torch.allclose(a, alone["a_sgd"], rtol=1e-14) and torch.allclose(b, alone["b_newton"], rtol=1e-14)
    a, b, loss = coupled()
    optim = MixedMultiOptimizer([(["b"], Newton()), (["a"], Newton({"a": 10.0}))])
    updated = optim.get_step(loss, {"a": a, "b": b})
    assert updated["a"].requires_grad
    optim.step(loss, {"a": a, "b": b})
    assert torch.allclose(a, alone["a_newton"], rtol=1e-7) and torch.allclose(b, alone["b_newton"], rtol=1e-14)


def test_mixed_runs_a_part_that_only_implements_step():
    class HalveStep(MultiOptimizer):
        def step(self, loss, params):
            grads = torch.autograd.grad(loss, list(params.values()), retain_graph=True)
            with torch.no_grad():
                for p, g in zip(params.values(), grads):
                    p -= 0.5 * g

    a, b, loss = coupled()
    ga = torch.autograd.grad(loss, [a], retain_graph=True)[0]
    a0, b0, loss0 = coupled()
    b_newton = newton_step(loss0, b0)[0].detach()
    MixedMultiOptimizer([(["b"], Newton()), (["a"], HalveStep())]).step(loss, {"a": a, "b": b})
    assert torch.allclose(a, a0 - 0.5 * ga, rtol=1e-14) and torch.allclose(b, b_newton, rtol=1e-14)
    with pytest.raises(NotImplementedError):
        MixedMultiOptimizer([(["a"], HalveStep())]).get_step(loss, {"a": a})


# ----- bad input ------------------------------------------------------------------------------

def test_newton_bad_params_and_radii():
    x4 = torch.zeros(2, 4, requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"param 'x4' has shape \(2, 4\)"):
        Newton().get_step((x4 ** 2).sum(), {"x4": x4})
    x0 = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match=r"param 'x0' must have at least one dimension"):
        Newton().step(x0 ** 2, {"x0": x0})
    x = torch.zeros(2, 2, requires_grad=True)
    with pytest.raises(ValueError, match="Expected loss to be a scalar"):
        Newton().get_step(x ** 2, {"x": x})
    y = torch.zeros(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="loss does not depend on param 'y'"):
        Newton().get_step((x ** 2).sum(), {"x": x, "y": y})
    with pytest.raises(TypeError, match="trust_radii must be a dict"):
        Newton(0.1)
    with pytest.raises(ValueError, match=r"trust_radii\['x'\] must be > 0, got -1.0"):
        Newton({"x": -1.0})
    with pytest.raises(TypeError, match=r"trust_radii\['x'\] must be a positive number or a tensor, got str"):
        Newton({"x": "1"})
    with pytest.raises(TypeError, match="params must be a dict"):
        Newton().step((x ** 2).sum(), [x])
    with pytest.raises(TypeError, match=r"params\['x'\] must be a torch.Tensor, got float"):
        Newton().step((x ** 2).sum(), {"x": 1.0})


def test_pyro_multi_optimizer_bad_optim():
    with pytest.raises(TypeError, match=r"Expected a PyroOptim object but got a <class 'type'>.*TorchMultiOptimizer"):
        PyroMultiOptimizer(torch.optim.SGD)
    with pytest.raises(TypeError, match="Expected a PyroOptim object but got a <class 'str'>"):
        PyroMultiOptimizer("sgd")


def test_mixed_bad_parts():
    with pytest.raises(ValueError, match="Attempted to optimize parameter 'a' by two different optimizers"):
        MixedMultiOptimizer([(["a"], pyro.optim.SGD({"lr": 0.1})), (["a", "b"], Newton())])
    with pytest.raises(TypeError, match=r"parts\[0\] names must be a list of param names, got the string 'ab'"):
        MixedMultiOptimizer([("ab", Newton())])
    with pytest.raises(TypeError, match=r"parts\[1\] \(params \['b'\]\) needs a MultiOptimizer or a PyroOptim, got type"):
        MixedMultiOptimizer([(["a"], Newton()), (["b"], torch.optim.SGD)])
    with pytest.raises(ValueError, match=r"parts\[0\] must be a \(names, optim\) pair"):
        MixedMultiOptimizer([(["a"], Newton(), 1)])
    with pytest.raises(TypeError, match="parts must be a list of"):
        MixedMultiOptimizer({"a": Newton()})
    a, b, loss = coupled()
    optim = MixedMultiOptimizer([(["a"], pyro.optim.SGD({"lr": 0.1})), (["b", "c"], Newton())])
    with pytest.raises(KeyError, match=r"params \['c'\] of its parts are missing from the params given \(\['a', 'b'\]\)"):
        optim.step(loss, {"a": a, "b": b})
    a0, b0, _ = coupled()
    assert torch.equal(a, a0) and torch.equal(b, b0)  # nothing moved
