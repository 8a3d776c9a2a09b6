"""TraceTMC_ELBO: exact evidence under exhaustive enumeration, unbiased under sampling."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import config_enumerate
from pyro.infer.tracetmc_elbo import TraceTMC_ELBO

X = torch.tensor([0.2, 1.5, -0.3])
LOCS = torch.tensor([-1.0, 0.5, 2.0])


def mixture(x):
    """A global switch c ~ Bernoulli(0.4) and per-datum clusters k_i ~ Categorical(w_c)."""
    c = pyro.sample("c", dist.Bernoulli(0.4))
    weights = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])[c.long()]
    with pyro.plate("data", len(x)):
        k = pyro.sample("k", dist.Categorical(weights))
        pyro.sample("x", dist.Normal(LOCS[k], 1.0), obs=x)


def exact_log_evidence():
    total = []
    for c, pc in ((0, 0.6), (1, 0.4)):
        w = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])[c]
        per_datum = (w * dist.Normal(LOCS, 1.0).log_prob(X.unsqueeze(-1)).exp()).sum(-1)
        total.append(math.log(pc) + per_datum.log().sum())
    return torch.logsumexp(torch.tensor(total), 0).item()


def test_model_enumeration_is_the_exact_evidence():
    loss = TraceTMC_ELBO(max_plate_nesting=1).loss(config_enumerate(mixture), lambda x: None, X)
    assert loss == pytest.approx(-exact_log_evidence(), rel=1e-5)


def test_guide_enumeration_is_the_exact_evidence():
    def guide(x):
        p = pyro.param("pc", torch.tensor(0.7))
        pyro.sample("c", dist.Bernoulli(p), infer={"enumerate": "parallel"})

    def model(x):
        c = pyro.sample("c", dist.Bernoulli(0.4))
        with pyro.plate("data", len(x)):
            pyro.sample("x", dist.Normal(LOCS[c.long()], 1.0), obs=x)

    per_c = [math.log(pc) + dist.Normal(LOCS[c], 1.0).log_prob(X).sum().item()
             for c, pc in ((0, 0.6), (1, 0.4))]
    exact = torch.logsumexp(torch.tensor(per_c), 0).item()
    pyro.clear_param_store()
    loss = TraceTMC_ELBO(max_plate_nesting=1).differentiable_loss(model, guide, X)
    assert loss.item() == pytest.approx(-exact, rel=1e-5)
    # Summed exactly, the evidence does not depend on the guide.
    pyro.get_param_store()["pc"] = torch.tensor(0.1)
    other = TraceTMC_ELBO(max_plate_nesting=1).loss(model, guide, X)
    assert other == pytest.approx(-exact, rel=1e-5)


def test_gradient_of_exact_evidence_matches_autograd():
    def model(x):
        loc = pyro.param("loc", torch.tensor(0.5))
        k = pyro.sample("k", dist.Categorical(torch.tensor([0.3, 0.7])))
        with pyro.plate("data", len(x)):
            pyro.sample("x", dist.Normal(loc * k.float(), 1.0), obs=x)

    pyro.clear_param_store()
    loss = TraceTMC_ELBO(max_plate_nesting=1).differentiable_loss(config_enumerate(model),
                                                                 lambda x: None, X)
    loc = pyro.param("loc").unconstrained()
    (grad,) = torch.autograd.grad(loss, [loc])
    leaf = torch.tensor(0.5, requires_grad=True)
    per_k = torch.stack([math.log(0.3) + dist.Normal(0.0, 1.0).log_prob(X).sum(),
                         math.log(0.7) + dist.Normal(leaf, 1.0).log_prob(X).sum()])
    expected = -torch.logsumexp(per_k, 0)
    (expected_grad,) = torch.autograd.grad(expected, [leaf])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert grad.item() == pytest.approx(expected_grad.item(), rel=1e-4)


@pytest.mark.parametrize("where", ["guide", "model"])
def test_sampled_estimate_of_the_evidence_is_unbiased(where):
    # z ~ N(0, 1), x_i ~ N(z, 1): the evidence is N(x; 0, I + 11').
    cov = torch.eye(3) + 1.0
    exact = dist.MultivariateNormal(torch.zeros(3), cov).log_prob(X).exp().item()

    def model(x):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        with pyro.plate("data", len(x)):
            pyro.sample("x", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        pyro.sample("z", dist.Normal(0.4, 0.9))

    if where == "guide":
        model_, guide_ = model, config_enumerate(guide, num_samples=20)
    else:
        model_, guide_ = config_enumerate(model, num_samples=20), (lambda x: None)
    elbo = TraceTMC_ELBO(max_plate_nesting=1)
    pyro.set_rng_seed(0)
    estimates = torch.tensor([math.exp(-elbo.loss(model_, guide_, X)) for _ in range(200)])
    stderr = (estimates.std() / math.sqrt(len(estimates))).item()
    assert abs(estimates.mean().item() - exact) < 4 * stderr
    assert stderr < 0.05 * exact


def test_warns_when_nothing_is_enumerated():
    def model():
        pyro.sample("z", dist.Normal(0.0, 1.0))

    def guide():
        pyro.sample("z", dist.Normal(0.0, 1.0))

    with pytest.warns(UserWarning, match="Found no sample sites configured for enumeration"):
        TraceTMC_ELBO(max_plate_nesting=0).loss(model, guide)
