"""``pyro.ops.jit.trace``: compiled functions that read params give the uncompiled numbers."""

import warnings

import pytest
import torch
from torch.distributions import Normal, constraints

import pyro
import pyro.poutine as poutine
from pyro.ops import jit

pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")


def test_torch_jit_trace_is_available():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(lambda x, y: (x * y).sum(), (torch.ones(3), torch.ones(3)))
    assert traced(torch.full((3,), 2.0), torch.ones(3)).item() == 6.0


def model(x):
    scale = pyro.param("scale", torch.tensor(0.5), constraint=constraints.positive)
    loc = pyro.param("loc", torch.tensor([0.1, -0.2]))
    return pyro.sample("y", Normal(x + loc, scale))


def log_prob_fn(x, y):
    conditioned = poutine.condition(model, data={"y": y})
    return poutine.trace(conditioned).get_trace(x).log_prob_sum()


def grads():
    store = pyro.get_param_store()
    return {name: p.grad.clone() for name, p in store.named_parameters()}


def zero_grads():
    for _, p in pyro.get_param_store().named_parameters():
        p.grad = None


def test_compiled_matches_uncompiled_values_and_gradients():
    x = torch.tensor([1.0, 2.0])
    y = torch.tensor([1.5, 1.0])
    expected = log_prob_fn(x, y)
    expected.backward()
    expected_grads = grads()
    zero_grads()
    compiled = jit.trace(log_prob_fn)
    actual = compiled(x, y)
    assert actual.item() == pytest.approx(expected.item(), rel=1e-6)
    actual.backward()
    for name, g in grads().items():
        assert torch.allclose(g, expected_grads[name], rtol=1e-6), name
    assert len(compiled.compiled) == 1
    graph = next(iter(compiled.compiled.values()))
    assert isinstance(graph, torch.jit.ScriptFunction)


def test_params_are_inputs_not_constants():
    x = torch.tensor([1.0, 2.0])
    y = torch.tensor([1.5, 1.0])
    compiled = jit.trace(log_prob_fn)
    compiled(x, y)
    pyro.get_param_store()["scale"] = torch.tensor(2.0)
    pyro.get_param_store()["loc"] = torch.tensor([1.0, 1.0])
    assert compiled(x, y).item() == pytest.approx(log_prob_fn(x, y).item(), rel=1e-6)
    expected = Normal(x + 1.0, 2.0).log_prob(y).sum().item()
    assert compiled(x, y).item() == pytest.approx(expected, rel=1e-6)
    assert len(compiled.compiled) == 1


def test_training_step_with_compiled_loss_matches_uncompiled():
    x = torch.tensor([1.0, 2.0])
    y = torch.tensor([1.5, 1.0])

    def run(loss_fn):
        pyro.clear_param_store()
        loss_fn(x, y)  # create params
        params = [p for _, p in pyro.get_param_store().named_parameters()]
        opt = torch.optim.SGD(params, lr=0.05)
        for _ in range(5):
            opt.zero_grad()
            loss = -loss_fn(x, y)
            loss.backward()
            opt.step()
        return {k: v.detach().clone() for k, v in pyro.get_param_store().items()}

    plain = run(log_prob_fn)
    compiled = run(jit.trace(log_prob_fn))
    for name in plain:
        assert torch.allclose(plain[name], compiled[name], rtol=1e-5, atol=1e-6), name


def test_recompiles_per_argument_structure():
    @jit.trace
    def f(x, n, extra=None):
        base = pyro.param("w", torch.tensor(2.0)) * x * n
        return base if extra is None else base + extra["b"]

    assert f(torch.ones(2), 3).tolist() == [6.0, 6.0]
    assert f(torch.ones(2), 3).tolist() == [6.0, 6.0]
    assert len(f.compiled) == 1
    assert f(torch.ones(2), 4).tolist() == [8.0, 8.0]  # a non-tensor argument changed
    assert len(f.compiled) == 2
    assert f(torch.ones(2, 2), 1).tolist() == [[2.0, 2.0], [2.0, 2.0]]  # a new rank
    assert len(f.compiled) == 3
    out = f(torch.ones(1), 1, extra={"b": torch.tensor([5.0])})
    assert out.tolist() == [7.0] and len(f.compiled) == 4
    # same structure with different tensor values reuses the graph
    assert f(torch.full((3,), 2.0), 3).tolist() == [12.0, 12.0, 12.0]
    assert len(f.compiled) == 4


def test_random_draws_differ_between_calls():
    compiled = jit.trace(lambda x: pyro.sample("z", Normal(x, 1.0)))
    a = compiled(torch.zeros(4))
    b = compiled(torch.zeros(4))
    assert not torch.equal(a, b)
    pyro.set_rng_seed(5)
    c = compiled(torch.zeros(4))
    pyro.set_rng_seed(5)
    assert torch.equal(c, compiled(torch.zeros(4)))


def test_outer_handlers_see_the_params():
    compiled = jit.trace(lambda x: pyro.param("w", torch.tensor(3.0)) * x)
    compiled(torch.ones(1))
    with poutine.trace(param_only=True) as tr:
        compiled(torch.ones(1))
    assert list(tr.trace.nodes) == ["w"]
    substituted = poutine.substitute(compiled, data={"w": torch.tensor(10.0)})
    assert substituted(torch.ones(1)).item() == 10.0


def test_decorator_with_options_and_ignore_warnings():
    @jit.trace(ignore_warnings=True, jit_options={"check_trace": False})
    def f(x):
        if x.sum() > 0:  # data-dependent control flow: a TracerWarning
            return x * 2
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(torch.ones(2)).tolist() == [2.0, 2.0]


def test_module_params_are_inputs():
    net = torch.nn.Linear(2, 1)

    def f(x):
        return pyro.module("net", net)(x).sum()

    compiled = jit.trace(f)
    x = torch.tensor([[1.0, 2.0]])
    assert compiled(x).item() == pytest.approx(f(x).item(), rel=1e-6)
    with torch.no_grad():
        net.weight.fill_(1.0)
        net.bias.fill_(0.5)
    assert compiled(x).item() == pytest.approx(3.5, rel=1e-6)
