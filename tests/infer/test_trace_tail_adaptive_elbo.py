"""TraceTailAdaptive_ELBO: the rank-weighted gradient by hand, and its requirements."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer.trace_tail_adaptive_elbo import TraceTailAdaptive_ELBO

X = torch.tensor([0.5, -1.0, 2.0])


def model():
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    with pyro.plate("data", 3):
        pyro.sample("x", dist.Normal(z, 1.0), obs=X)


def guide():
    pyro.sample("z", dist.Normal(pyro.param("m", torch.tensor(0.3)), 0.8))


@pytest.mark.parametrize("beta", [-1.0, -0.5, 0.0])
def test_gradient_is_the_rank_weighted_gradient(beta):
    n = 6
    pyro.clear_param_store()
    pyro.param("m", torch.tensor(0.3))
    m = pyro.param("m").unconstrained()
    elbo = TraceTailAdaptive_ELBO(num_particles=n, vectorize_particles=True, max_plate_nesting=1,
                                  tail_adaptive_beta=beta)
    pyro.set_rng_seed(3)
    assert elbo.loss_and_grads(model, guide) == math.inf
    grad = m.grad.clone()
    pyro.set_rng_seed(3)
    z = dist.Normal(m, 0.8).expand([n]).rsample()
    w = (dist.Normal(0.0, 1.0).log_prob(z) + dist.Normal(z.unsqueeze(-1), 1.0).log_prob(X).sum(-1)
         - dist.Normal(m, 0.8).log_prob(z))
    wd = w.detach()
    tail = torch.tensor([(wd >= wi).double().mean().item() for wi in wd])  # P(w >= w_i)
    gamma = tail.pow(beta)
    gamma = (gamma / gamma.sum()).float()
    (expected,) = torch.autograd.grad(-(gamma * w).sum(), [m], retain_graph=True)
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-6)
    if beta == 0.0:  # even weights: the ELBO's gradient
        (elbo_grad,) = torch.autograd.grad(-w.mean(), [m])
        torch.testing.assert_close(grad, elbo_grad, rtol=1e-5, atol=1e-6)


def test_requirements_raise_as_in_pyro():
    pyro.clear_param_store()
    with pytest.raises(NotImplementedError, match="vectorize_particles==True"):
        TraceTailAdaptive_ELBO(num_particles=4).differentiable_loss(model, guide)
    with pytest.raises(NotImplementedError, match="Loss method"):
        TraceTailAdaptive_ELBO(num_particles=4, vectorize_particles=True).loss(model, guide)

    def discrete_guide():
        guide()
        pyro.sample("b", dist.Bernoulli(0.5), infer={"is_auxiliary": True})

    with pytest.raises(NotImplementedError, match="fully reparameterized"):
        TraceTailAdaptive_ELBO(num_particles=4, vectorize_particles=True,
                               max_plate_nesting=1).differentiable_loss(model, discrete_guide)
