"""pyro.infer.util's DiCE helpers and plate sums, against score-function gradients and sums
written out by hand."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer.util import (
    Dice,
    compute_site_dice_factor,
    get_dependent_plate_dims,
    plate_log_prob_sum,
    torch_exp,
    torch_sum,
)


def _guide(p, q):
    z = pyro.sample("z", dist.Bernoulli(p))
    with pyro.plate("data", 3):
        w = pyro.sample("w", dist.Bernoulli(q * torch.ones(3)))
        pyro.sample("n", dist.Normal(torch.zeros(3), 1.0))  # reparameterised: no dice factor
    return z, w


def _ordering(trace):
    return {name: frozenset(f for f in site["cond_indep_stack"] if f.vectorized)
            for name, site in trace.nodes.items() if site["type"] == "sample"}


def test_dice_gradient_is_the_score_function_gradient():
    pyro.set_rng_seed(1)
    p = torch.tensor(0.3, requires_grad=True)
    q = torch.tensor(0.6, requires_grad=True)
    trace = poutine.trace(_guide).get_trace(p, q)
    z, w = trace.nodes["z"]["value"], trace.nodes["w"]["value"]
    ordering = _ordering(trace)
    root_cost = (z + 1.0) ** 2 * 2.0
    plate_cost = (w + 2.0 * z) * torch.tensor([1.0, -2.0, 3.0])
    costs = {frozenset(): [root_cost], ordering["w"]: [plate_cost]}
    surrogate = Dice(trace, ordering).compute_expectation(costs)
    assert torch.allclose(surrogate, root_cost + plate_cost.sum())
    got = torch.autograd.grad(surrogate, [p, q])

    # By hand: the root cost sees only z; each plate element sees z and its own w_i.
    log_qz = dist.Bernoulli(p).log_prob(z)
    log_qw = dist.Bernoulli(q * torch.ones(3)).log_prob(w)
    d_z = torch.autograd.grad(log_qz, [p, q], allow_unused=True)
    d_w = [torch.autograd.grad(log_qw[i], [p, q], allow_unused=True, retain_graph=True)
           for i in range(3)]

    def g(t):
        return 0.0 if t is None else t

    for k in range(2):
        expected = root_cost * g(d_z[k]) + sum(
            plate_cost[i] * (g(d_z[k]) + g(d_w[i][k])) for i in range(3))
        assert torch.allclose(got[k], expected)


def test_dice_over_a_parallel_enumerated_site_is_the_exact_expectation():
    p = torch.tensor(0.3, requires_grad=True)

    def guide():
        pyro.sample("z", dist.Bernoulli(p), infer={"enumerate": "parallel"})

    trace = poutine.trace(poutine.enum(guide, first_available_dim=-1)).get_trace()
    z = trace.nodes["z"]["value"]
    cost = 5.0 * z + 1.0  # 1 at z=0, 6 at z=1
    expectation = Dice(trace, _ordering(trace)).compute_expectation({frozenset(): [cost]})
    assert torch.allclose(expectation, (1 - p) * 1.0 + p * 6.0)
    (grad,) = torch.autograd.grad(expectation, [p])
    assert torch.allclose(grad, torch.tensor(5.0))


def test_site_dice_factors():
    pyro.set_rng_seed(0)
    p, q = torch.tensor(0.3, requires_grad=True), torch.tensor(0.6)
    trace = poutine.trace(_guide).get_trace(p, q)
    factor, denom = compute_site_dice_factor(trace.nodes["z"])
    assert factor.item() == 0.0 and factor.requires_grad and denom == 0
    assert compute_site_dice_factor(trace.nodes["n"]) == (0, 0)

    def mc_guide():
        pyro.sample("m", dist.Normal(0.0, 1.0), infer={"enumerate": "parallel", "num_samples": 4})

    mc = poutine.trace(poutine.enum(mc_guide, first_available_dim=-1)).get_trace()
    assert compute_site_dice_factor(mc.nodes["m"])[0] == pytest.approx(-math.log(4))


def test_plate_log_prob_sum_is_the_sum_over_the_other_dims():
    def model():
        with pyro.plate("data", 4, dim=-1):
            pyro.sample("x", dist.Normal(torch.zeros(4), 1.0), obs=torch.arange(4.0))
            with pyro.plate("inner", 2, dim=-2):
                pyro.sample("y", dist.Normal(torch.zeros(2, 4), 2.0), obs=torch.ones(2, 4))

    trace = poutine.trace(model).get_trace()
    expected = (dist.Normal(0.0, 1.0).log_prob(torch.arange(4.0))
                + 2 * dist.Normal(0.0, 2.0).log_prob(torch.tensor(1.0)))
    assert torch.allclose(plate_log_prob_sum(trace, "data"), expected)
    with pytest.raises(ValueError, match="site 'x' is not in the plate 'inner'"):
        plate_log_prob_sum(trace, "inner")


def test_small_helpers():
    trace = poutine.trace(_guide).get_trace(torch.tensor(0.3), torch.tensor(0.6))
    assert get_dependent_plate_dims([trace.nodes["z"], trace.nodes["w"]]) == [-1]
    assert get_dependent_plate_dims([trace.nodes["w"], trace.nodes["n"]]) == []
    assert torch.equal(torch_sum(torch.ones(2, 3), (-1,)), torch.tensor([3.0, 3.0]))
    assert torch.equal(torch_sum(torch.ones(3), (-2, -1)), torch.tensor(3.0))
    assert torch_exp(1.0) == pytest.approx(math.e)
    assert torch.allclose(torch_exp(torch.tensor(1.0)), torch.tensor(math.e))
