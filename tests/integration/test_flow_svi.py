"""pyro-nn's flows as SVI guides (needs pyro-infer, pyro-optim and pyro-nn): gradients reach the
network's parameters through ``pyro.module`` and the ELBO improves by a stated amount."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.distributions.transforms as T
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam

RHO = 0.9
# The target is a normalised density, so ELBO = -KL(q || p) <= 0. The best fully factorised
# Normal guide reaches 0.5 * log(1 - rho^2) = -0.830; an affine autoregressive guide can reach 0.
MEAN_FIELD_BEST = 0.5 * math.log(1 - RHO ** 2)


def _target():
    cov = torch.tensor([[1.0, RHO], [RHO, 1.0]])
    return dist.MultivariateNormal(torch.zeros(2), cov)


def _elbo(target, q, n=20000):
    """The ELBO, E_q[log p(z) - log q(z)], estimated on n draws (standard error ~0.003 here)."""
    with torch.no_grad():
        z = q.sample((n,))
        return (target.log_prob(z) - q.log_prob(z)).mean().item()


@pytest.mark.parametrize("make_flow", [
    lambda: dist.InverseAutoRegressiveFlow(2, 16),  # the seed's flow, as the manual uses it
    lambda: T.affine_autoregressive(2, [16]),
    lambda: T.affine_autoregressive(2, [16], stable=True),
], ids=["seed-iaf", "affine", "affine-stable"])
def test_flow_guide_trained_by_svi(make_flow):
    pyro.set_rng_seed(0)
    target = _target()
    flow = make_flow()
    base = dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1)

    def model():
        pyro.sample("z", target)

    def guide():
        pyro.module("my_iaf", flow)
        pyro.sample("z", dist.TransformedDistribution(base, flow))

    before = _elbo(target, dist.TransformedDistribution(base, flow))
    initial = {n: p.detach().clone() for n, p in flow.named_parameters()}
    svi = SVI(model, guide, Adam({"lr": 0.02}), Trace_ELBO(num_particles=4, vectorize_particles=True))
    for _ in range(300):
        svi.step()
    after = _elbo(target, dist.TransformedDistribution(base, flow))

    # the param store holds the network's own tensors, and the optimizer moved every one of them
    store = pyro.get_param_store()
    for name, param in flow.named_parameters():
        assert store["my_iaf$$$" + name] is param
        assert not torch.allclose(param.detach(), initial[name]), name
    assert after > before + 1.0, (before, after)
    assert after > MEAN_FIELD_BEST + 0.4, (after, MEAN_FIELD_BEST)
