"""RenyiELBO: the importance-weighted bound by hand, the alpha -> 1 limit, gradients."""

import itertools
import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import Trace_ELBO
from pyro.infer.renyi_elbo import RenyiELBO

X = torch.tensor([0.5, -1.0, 2.0])


def model(x):
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    with pyro.plate("data", len(x)):
        pyro.sample("x", dist.Normal(z, 1.0), obs=x)


def guide(x):
    m = pyro.param("m", torch.tensor(0.3))
    pyro.sample("z", dist.Normal(m, 0.8))


def log_weights(z, m):
    """log p(x, z) - log q(z) for draws ``z`` (any shape), by hand."""
    log_p = dist.Normal(0.0, 1.0).log_prob(z) + dist.Normal(z.unsqueeze(-1), 1.0).log_prob(X).sum(-1)
    return log_p - dist.Normal(m, 0.8).log_prob(z)


def hand_draws(n, vectorized):
    m = pyro.param("m")
    if vectorized:
        return dist.Normal(m, 0.8).expand([n]).rsample()
    return torch.stack([dist.Normal(m, 0.8).rsample() for _ in range(n)])


@pytest.fixture(autouse=True)
def _fresh_store():
    pyro.clear_param_store()
    pyro.get_param_store().setdefault("m", torch.tensor(0.3))
    yield
    pyro.clear_param_store()


@pytest.mark.parametrize("vectorized", [False, True])
def test_alpha_zero_is_the_importance_weighted_bound(vectorized):
    n = 5
    elbo = RenyiELBO(alpha=0, num_particles=n, vectorize_particles=vectorized,
                     max_plate_nesting=1)
    pyro.set_rng_seed(3)
    loss = elbo.differentiable_loss(model, guide, X)
    (grad,) = torch.autograd.grad(loss, [pyro.param("m").unconstrained()])
    pyro.set_rng_seed(3)
    m = pyro.param("m").unconstrained()
    w = log_weights(hand_draws(n, vectorized), m)
    expected = -(torch.logsumexp(w, 0) - math.log(n))
    (expected_grad,) = torch.autograd.grad(expected, [m])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert grad.item() == pytest.approx(expected_grad.item(), rel=1e-4, abs=1e-6)
    pyro.set_rng_seed(3)
    assert elbo.loss(model, guide, X) == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("alpha", [-1.0, 0.5, 2.0])
def test_general_alpha_matches_hand_formula(alpha):
    n = 4
    pyro.set_rng_seed(8)
    loss = RenyiELBO(alpha=alpha, num_particles=n).loss(model, guide, X)
    pyro.set_rng_seed(8)
    w = log_weights(hand_draws(n, False), torch.tensor(0.3))
    a = 1.0 - alpha
    expected = -(torch.logsumexp(a * w, 0) - math.log(n)) / a
    assert loss == pytest.approx(expected.item(), rel=1e-5)


def test_alpha_near_one_tends_to_trace_elbo():
    n = 6
    pyro.get_param_store()["m"] = torch.tensor(2.0)  # a poor guide: weights that vary
    pyro.set_rng_seed(1)
    trace_elbo = Trace_ELBO(num_particles=n).loss(model, guide, X)
    gaps = []
    for alpha in (0.5, 0.9, 0.99):
        pyro.set_rng_seed(1)  # the same draws for every loss
        gaps.append(RenyiELBO(alpha=alpha, num_particles=n).loss(model, guide, X) - trace_elbo)
    # The bound rises toward the log-evidence as alpha falls; the gap to the ELBO is
    # (1 - alpha) * Var(w) / 2 to first order, so it shrinks tenfold from 0.9 to 0.99.
    assert gaps[0] < gaps[1] < gaps[2] < 0
    assert gaps[2] / gaps[1] == pytest.approx(0.1, abs=0.02)


def test_alpha_one_is_rejected_with_pyros_message():
    with pytest.raises(ValueError, match="alpha should not be equal to 1"):
        RenyiELBO(alpha=1)


def test_score_function_gradient_is_unbiased():
    # A Bernoulli guide has no rsample: the gradient comes from the score-function term.
    obs = torch.tensor(0.4)

    def bern_model():
        z = pyro.sample("z", dist.Bernoulli(0.3))
        pyro.sample("x", dist.Normal(2.0 * z, 1.0), obs=obs)

    def bern_guide():
        pyro.sample("z", dist.Bernoulli(pyro.param("p", torch.tensor(0.6))))

    pyro.param("p", torch.tensor(0.6))
    leaf = pyro.param("p").unconstrained()
    # Exact gradient of E_q[-IWAE_2], summing over the four joint values of (z1, z2).
    p = leaf.detach().clone().requires_grad_()
    expected = 0.0
    for z1, z2 in itertools.product([0.0, 1.0], repeat=2):
        zs = torch.tensor([z1, z2])
        log_q = dist.Bernoulli(p).log_prob(zs)
        w = dist.Bernoulli(0.3).log_prob(zs) + dist.Normal(2.0 * zs, 1.0).log_prob(obs) - log_q
        expected = expected + log_q.sum().exp() * -(torch.logsumexp(w, 0) - math.log(2))
    (exact,) = torch.autograd.grad(expected, [p])
    elbo = RenyiELBO(alpha=0, num_particles=2)
    pyro.set_rng_seed(0)
    grads = []
    for _ in range(1000):
        leaf.grad = None
        elbo.loss_and_grads(bern_model, bern_guide)
        grads.append(leaf.grad.item())
    grads = torch.tensor(grads)
    stderr = grads.std() / math.sqrt(len(grads))
    assert abs(grads.mean() - exact) < 4 * stderr
    assert stderr < 0.2 * abs(exact)


def test_svi_takes_a_step_with_it():
    from pyro.infer import SVI
    from pyro.optim import Adam

    svi = SVI(model, guide, Adam({"lr": 0.01}), loss=RenyiELBO(num_particles=3))
    assert math.isfinite(svi.step(X))


@pytest.mark.parametrize("name", ["RenyiELBO", "TraceTMC_ELBO", "JitTraceGraph_ELBO",
                                  "JitTraceMeanField_ELBO", "TraceTailAdaptive_ELBO"])
def test_new_losses_are_accepted_by_name(name):
    import pyro.infer as infer
    from pyro.infer import SVI
    from pyro.optim import Adam

    svi = SVI(lambda: None, lambda: None, Adam({"lr": 0.1}), loss=name)
    assert isinstance(svi.loss.__self__, getattr(infer, name))
