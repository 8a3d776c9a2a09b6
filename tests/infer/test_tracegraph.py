"""TraceGraph_ELBO: Rao-Blackwellised gradients, variance, baselines, a non-reparameterised fit."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.distributions import constraints
from pyro.infer import SVI, Trace_ELBO, TraceGraph_ELBO


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def normal_lp(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)


def bernoulli_lp(x, p):
    p = torch.as_tensor(p)
    return x * torch.log(p) + (1 - x) * torch.log1p(-p)


def _grad(name):
    g = pyro.param(name).unconstrained().grad.clone()
    pyro.param(name).unconstrained().grad = None
    return g


# ----- gradients on fixed draws ----------------------------------------------------------------
def chain_model():
    a = pyro.sample("a", dist.Bernoulli(0.5))
    pyro.sample("y1", dist.Normal(a, 1.0), obs=torch.tensor(0.8))
    c = pyro.sample("c", dist.Bernoulli(0.5))
    pyro.sample("y2", dist.Normal(c + a, 1.0), obs=torch.tensor(1.7))


def chain_guide():
    pa = pyro.param("pa", torch.tensor(0.3), constraint=constraints.unit_interval)
    pc = pyro.param("pc", torch.tensor(0.6), constraint=constraints.unit_interval)
    pyro.sample("a", dist.Bernoulli(pa))
    pyro.sample("c", dist.Bernoulli(pc))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_downstream_cost_gradients_match_hand_written(seed):
    pyro.set_rng_seed(100)
    poutine.trace(chain_guide).get_trace()
    pyro.set_rng_seed(seed)
    loss = TraceGraph_ELBO().loss_and_grads(chain_model, chain_guide)
    actual = [_grad("pa"), _grad("pc")]
    pyro.set_rng_seed(seed)
    tr = poutine.trace(chain_guide).get_trace()
    a, c = tr.nodes["a"]["value"], tr.nodes["c"]["value"]
    pa, pc = pyro.param("pa"), pyro.param("pc")
    lp_a = bernoulli_lp(a, 0.5) + normal_lp(torch.tensor(0.8), a, 1.0)
    lp_c = bernoulli_lp(c, 0.5) + normal_lp(torch.tensor(1.7), c + a, 1.0)
    lq_a, lq_c = bernoulli_lp(a, pa), bernoulli_lp(c, pc)
    # "a" comes first, so every term is downstream of it; "c" only sees itself and y2.
    cost_a = (lp_a + lp_c - lq_a - lq_c).detach()
    cost_c = (lp_c - lq_c).detach()
    surrogate = cost_a * lq_a + cost_c * lq_c
    (-surrogate).backward()
    assert loss == pytest.approx(-(lp_a + lp_c - lq_a - lq_c).item(), rel=1e-5)
    assert torch.allclose(actual[0], _grad("pa"), rtol=1e-5, atol=1e-6)
    assert torch.allclose(actual[1], _grad("pc"), rtol=1e-5, atol=1e-6)


def test_baseline_value_gradients_match_hand_written():
    def guide():
        pa = pyro.param("pa", torch.tensor(0.3), constraint=constraints.unit_interval)
        pc = pyro.param("pc", torch.tensor(0.6), constraint=constraints.unit_interval)
        b = pyro.param("b", torch.tensor(-1.0))
        pyro.sample("a", dist.Bernoulli(pa))
        pyro.sample("c", dist.Bernoulli(pc), infer={"baseline": {"baseline_value": b}})

    pyro.set_rng_seed(100)
    poutine.trace(guide).get_trace()
    pyro.set_rng_seed(7)
    TraceGraph_ELBO().loss_and_grads(chain_model, guide)
    actual = [_grad("pa"), _grad("pc"), _grad("b")]
    pyro.set_rng_seed(7)
    tr = poutine.trace(guide).get_trace()
    a, c = tr.nodes["a"]["value"], tr.nodes["c"]["value"]
    pa, pc, b = pyro.param("pa"), pyro.param("pc"), pyro.param("b")
    lp_a = bernoulli_lp(a, 0.5) + normal_lp(torch.tensor(0.8), a, 1.0)
    lp_c = bernoulli_lp(c, 0.5) + normal_lp(torch.tensor(1.7), c + a, 1.0)
    lq_a, lq_c = bernoulli_lp(a, pa), bernoulli_lp(c, pc)
    cost_a = (lp_a + lp_c - lq_a - lq_c).detach()
    cost_c = (lp_c - lq_c).detach()
    surrogate = cost_a * lq_a + (cost_c - b.detach()) * lq_c - (cost_c - b) ** 2
    (-surrogate).backward()
    for got, name in zip(actual, ["pa", "pc", "b"]):
        assert torch.allclose(got, _grad(name), rtol=1e-5, atol=1e-6), name


# ----- variance --------------------------------------------------------------------------------
XS = torch.tensor([2.1, -0.3, 1.8, 0.4, 2.5, -1.0])


def seq_model():
    for k in pyro.plate("items", len(XS)):
        z = pyro.sample(f"z_{k}", dist.Bernoulli(0.5))
        pyro.sample(f"x_{k}", dist.Normal(2.0 * z, 1.0), obs=XS[k])


def seq_guide():
    p = pyro.param("p", torch.full((len(XS),), 0.5), constraint=constraints.unit_interval)
    for k in pyro.plate("items", len(XS)):
        pyro.sample(f"z_{k}", dist.Bernoulli(p[k]))


def _gradient_samples(elbo, model, guide, n, name="p"):
    pyro.set_rng_seed(0)
    poutine.trace(guide).get_trace()
    grads = []
    for i in range(n):
        pyro.set_rng_seed(1000 + i)
        elbo.loss_and_grads(model, guide)
        grads.append(_grad(name))
    return torch.stack(grads)


def test_graph_estimator_has_lower_variance_than_score_function():
    n = 400
    plain = _gradient_samples(Trace_ELBO(), seq_model, seq_guide, n)
    graph = _gradient_samples(TraceGraph_ELBO(), seq_model, seq_guide, n)
    # Both are unbiased estimates of the same gradient ...
    se = (plain.var(0) / n + graph.var(0) / n).sqrt()
    assert ((plain.mean(0) - graph.mean(0)).abs() < 4 * se).all()
    # ... but each item's score only multiplies its own iteration's cost in the graph estimator.
    assert graph.var(0).sum() < 0.3 * plain.var(0).sum()


def test_decaying_average_baseline_is_unbiased_and_lowers_variance():
    def model():
        z = pyro.sample("z", dist.Bernoulli(0.5))
        pyro.sample("x", dist.Normal(2.0 * z, 0.2), obs=torch.tensor(6.0))  # a large cost

    def guide(baseline):
        p = pyro.param("p", torch.tensor(0.4), constraint=constraints.unit_interval)
        infer = {"baseline": {"use_decaying_avg_baseline": True, "baseline_beta": 0.95}} if baseline else {}
        pyro.sample("z", dist.Bernoulli(p), infer=infer)

    n = 600
    plain = _gradient_samples(TraceGraph_ELBO(), model, lambda: guide(False), n)
    elbo = TraceGraph_ELBO()
    for _ in range(100):  # warm the average up
        elbo.loss_and_grads(model, lambda: guide(True))
    pyro.param("p").unconstrained().grad = None
    based = _gradient_samples(elbo, model, lambda: guide(True), n)
    se = (plain.var() / n + based.var() / n).sqrt()
    assert (plain.mean() - based.mean()).abs() < 4 * se
    assert based.var() < 0.2 * plain.var()


def test_nn_baseline_learns_the_expected_cost():
    baseline = torch.nn.Linear(1, 1)
    torch.nn.init.zeros_(baseline.weight)
    torch.nn.init.zeros_(baseline.bias)
    q = 0.3
    x = torch.tensor(1.2)

    def model():
        z = pyro.sample("z", dist.Bernoulli(0.5))
        pyro.sample("x", dist.Normal(2.0 * z, 1.0), obs=x)

    def guide():
        pyro.module("baseline", baseline)
        pyro.sample("z", dist.Bernoulli(q), infer={"baseline": {
            "nn_baseline": baseline, "nn_baseline_input": torch.ones(1)}})

    svi = SVI(model, guide, pyro.optim.ClippedAdam({"lr": 0.05, "lrd": 0.995}), TraceGraph_ELBO())
    for _ in range(1500):
        svi.step()
    expected = sum(
        qz * (math.log(0.5) + normal_lp(x, 2.0 * z, 1.0).item() - math.log(qz))
        for z, qz in [(1.0, q), (0.0, 1 - q)]
    )
    # The squared-error fit converges to the mean cost (noise shrinks with the decayed lr).
    assert baseline(torch.ones(1)).item() == pytest.approx(expected, abs=0.1)


# ----- fitting a non-reparameterised latent ----------------------------------------------------
def test_bernoulli_latents_recover_exact_posterior():
    xs = torch.tensor([1.4, -0.2, 0.3, -1.7, 2.2])
    prior = 0.3

    def model(xs):
        with pyro.plate("items", len(xs)):
            z = pyro.sample("z", dist.Bernoulli(prior))
            pyro.sample("x", dist.Normal(3.0 * z - 1.5, 1.0), obs=xs)

    def guide(xs):
        q = pyro.param("q", torch.full((len(xs),), 0.5), constraint=constraints.unit_interval)
        with pyro.plate("items", len(xs)):
            pyro.sample("z", dist.Bernoulli(q), infer={"baseline": {"use_decaying_avg_baseline": True}})

    elbo = TraceGraph_ELBO(num_particles=20, vectorize_particles=True)
    svi = SVI(model, guide, pyro.optim.ClippedAdam({"lr": 0.05, "lrd": 0.998}), elbo)
    for _ in range(1500):
        svi.step(xs)
    like1 = prior * torch.exp(-0.5 * (xs - 1.5) ** 2)
    like0 = (1 - prior) * torch.exp(-0.5 * (xs + 1.5) ** 2)
    exact = like1 / (like1 + like0)
    assert torch.allclose(pyro.param("q").detach(), exact, atol=0.03)


def test_all_reparameterised_equals_trace_elbo():
    def model():
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("x", dist.Normal(z, 1.0), obs=torch.tensor(0.5))

    def guide():
        pyro.sample("z", dist.Normal(pyro.param("m", torch.tensor(0.2)), 0.9))

    pyro.set_rng_seed(3)
    a = TraceGraph_ELBO().loss_and_grads(model, guide)
    ga = _grad("m")
    pyro.set_rng_seed(3)
    b = Trace_ELBO().loss_and_grads(model, guide)
    assert a == pytest.approx(b) and torch.allclose(ga, _grad("m"))


def test_unknown_baseline_option_is_an_error():
    def model():
        pyro.sample("z", dist.Bernoulli(0.5))

    def guide():
        pyro.sample("z", dist.Bernoulli(0.5), infer={"baseline": {"use_avg": True}})

    with pytest.raises(ValueError, match="'z'.*use_avg"):
        TraceGraph_ELBO().loss_and_grads(model, guide)
