"""``MaskedMixture`` with its mask enumerated by ``TraceEnum_ELBO``: the loss is an exact sum."""

import math

import torch

import pyro
import pyro.distributions as dist
from pyro.infer import TraceEnum_ELBO, config_enumerate
from pyro.ops.indexing import Vindex


def normal_logpdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)


def test_enumerated_change_point_loss_is_the_exact_marginal():
    data = torch.tensor([0.2, -0.3, 0.1, 2.8, 3.3, 2.6])
    n = len(data)

    @config_enumerate
    def model():
        t = pyro.sample("t", dist.Categorical(torch.ones(n + 1) / (n + 1)))
        mask = torch.arange(n) >= t
        with pyro.plate("data", n):
            pyro.sample("obs", dist.MaskedMixture(mask, dist.Normal(0.0, 1.0), dist.Normal(3.0, 0.5)),
                        obs=data)

    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda: None)
    # -log sum_t p(t) prod_i p(x_i | t), written out term by term
    terms = []
    for t in range(n + 1):
        log_lik = sum(normal_logpdf(x, 3.0, 0.5) if i >= t else normal_logpdf(x, 0.0, 1.0)
                      for i, x in enumerate(data.tolist()))
        terms.append(math.log(1.0 / (n + 1)) + log_lik)
    top = max(terms)
    expected = -(top + math.log(sum(math.exp(v - top) for v in terms)))
    assert math.isclose(loss, expected, rel_tol=1e-5)


def test_enumerated_local_mask_in_a_plate_and_its_gradient():
    data = torch.tensor([-0.5, 0.4, 2.2, 3.9])
    loc = torch.tensor(2.5, requires_grad=True)

    @config_enumerate
    def model():
        with pyro.plate("data", len(data)):
            z = pyro.sample("z", dist.Bernoulli(0.3))
            assert z.shape == (2, 1)  # enumerated left of the plate
            pyro.sample("obs", dist.MaskedMixture(z.bool(), dist.Normal(0.0, 1.0), dist.Normal(loc, 1.0)),
                        obs=data)

    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    surrogate = elbo.differentiable_loss(model, lambda: None)
    surrogate.backward()
    # -sum_i log(0.7 N(x_i; 0, 1) + 0.3 N(x_i; loc, 1)) and its derivative in loc, by hand
    lp0 = -0.5 * data ** 2 - 0.5 * math.log(2 * math.pi)
    lp1 = -0.5 * (data - loc.detach()) ** 2 - 0.5 * math.log(2 * math.pi)
    joint0, joint1 = math.log(0.7) + lp0, math.log(0.3) + lp1
    expected = -torch.logaddexp(joint0, joint1).sum()
    responsibility = torch.sigmoid(joint1 - joint0)
    expected_grad = -(responsibility * (data - loc.detach())).sum()
    assert torch.allclose(surrogate.detach(), expected, rtol=1e-5)
    assert torch.allclose(loc.grad, expected_grad, rtol=1e-5)


def test_vindex_selects_hmm_emissions_for_enumerated_states():
    # a two-step HMM: Vindex picks the transition row of the enumerated previous state
    trans = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    init = torch.tensor([0.6, 0.4])
    locs = torch.tensor([-1.0, 2.0])
    data = torch.tensor([[-0.8, 1.7], [2.2, 2.1], [-1.1, -0.9]])  # 3 sequences of length 2

    @config_enumerate
    def model():
        with pyro.plate("seqs", 3):
            x = pyro.sample("x0", dist.Categorical(init))
            pyro.sample("y0", dist.Normal(Vindex(locs)[..., x], 1.0), obs=data[:, 0])
            x = pyro.sample("x1", dist.Categorical(Vindex(trans)[..., x, :]))
            pyro.sample("y1", dist.Normal(Vindex(locs)[..., x], 1.0), obs=data[:, 1])

    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda: None)
    expected = 0.0
    for seq in data.tolist():
        total = 0.0
        for a in range(2):
            for b in range(2):
                total += (init[a] * trans[a, b]).item() * math.exp(
                    normal_logpdf(seq[0], locs[a].item(), 1.0) + normal_logpdf(seq[1], locs[b].item(), 1.0))
        expected -= math.log(total)
    assert math.isclose(loss, expected, rel_tol=1e-5)
