"""ReweightedWakeSleep: the wake and sleep losses by hand, each training its own side."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer.rws import ReweightedWakeSleep

X = torch.tensor([0.5, -1.0, 2.0])


def model(x=X):
    loc = pyro.param("loc", torch.tensor(0.0))
    z = pyro.sample("z", dist.Normal(loc, 1.0))
    with pyro.plate("data", 3):
        pyro.sample("x", dist.Normal(z, 1.0), obs=x)


def guide(x=X, observations=None):
    pyro.sample("z", dist.Normal(pyro.param("m", torch.tensor(0.3)), 0.8))


def log_weight_parts(z, loc, m):
    log_p = dist.Normal(loc, 1.0).log_prob(z) + dist.Normal(z.unsqueeze(-1), 1.0).log_prob(X).sum(-1)
    return log_p, dist.Normal(m, 0.8).log_prob(z)


@pytest.mark.parametrize("vectorized", [True, False])
def test_wake_losses_and_gradients_by_hand(vectorized):
    n = 4
    pyro.clear_param_store()
    guide(), model()
    loc, m = pyro.param("loc").unconstrained(), pyro.param("m").unconstrained()
    rws = ReweightedWakeSleep(num_particles=n, max_plate_nesting=1, vectorize_particles=vectorized)
    pyro.set_rng_seed(3)
    theta_loss, phi_loss = rws.loss_and_grads(model, guide)
    pyro.set_rng_seed(3)
    if vectorized:
        z = dist.Normal(m, 0.8).expand([n]).sample()
    else:
        z = torch.stack([dist.Normal(m, 0.8).sample() for _ in range(n)])
    log_p, log_q = log_weight_parts(z, loc, m)
    expected_theta = -(torch.logsumexp(log_p - log_q.detach(), 0) - math.log(n))
    expected_phi = -(torch.softmax((log_p - log_q).detach(), 0) * log_q).sum()
    assert theta_loss == pytest.approx(expected_theta.item(), rel=1e-5)
    assert phi_loss == pytest.approx(expected_phi.item(), rel=1e-5)
    # The model's params learn from the wake-theta loss only, the guide's from wake-phi only.
    (loc_grad,) = torch.autograd.grad(expected_theta, [loc])
    (m_grad,) = torch.autograd.grad(expected_phi, [m])
    assert loc.grad.item() == pytest.approx(loc_grad.item(), rel=1e-4)
    assert m.grad.item() == pytest.approx(m_grad.item(), rel=1e-4)


def test_sleep_phase_fits_the_guide_to_model_draws():
    # insomnia=0: the guide learns only from (z, x) drawn from the model, given x.
    seen = []

    def amortised_guide(x=X, observations=None):
        if observations is not None:
            seen.append(observations["x"].shape)
            x = observations["x"]
        w = pyro.param("w", torch.tensor(0.0))
        b = pyro.param("b", torch.tensor(0.0))
        # x is (sleep particles, data) in the sleep phase, (data,) in the wake phase
        loc = w * x.sum(-1, keepdim=True) + b if x.dim() > 1 else w * x.sum() + b
        pyro.sample("z", dist.Normal(loc, 0.5))

    pyro.clear_param_store()
    rws = ReweightedWakeSleep(num_particles=3, insomnia=0.0, num_sleep_particles=200,
                              max_plate_nesting=1, model_has_params=False)
    optim = torch.optim.Adam([torch.zeros(())], lr=0.05)  # replaced once the params exist
    pyro.set_rng_seed(0)
    for step in range(200):
        rws.loss_and_grads(model, amortised_guide)
        params = [pyro.param(n).unconstrained() for n in ("w", "b")]
        if step == 0:
            optim = torch.optim.Adam(params, lr=0.05)
        optim.step()
        optim.zero_grad()
    assert seen[0] == (200, 3)
    # The posterior mean of z given x (prior N(0, 1), three unit-noise draws) is sum(x) / 4.
    assert pyro.param("w").item() == pytest.approx(0.25, abs=0.03)
    assert pyro.param("b").item() == pytest.approx(0.0, abs=0.05)


def test_arguments_checked_as_in_pyro():
    with pytest.raises(AssertionError, match="more than one particle"):
        ReweightedWakeSleep(num_particles=1)
    with pytest.raises(AssertionError, match="insomnia should be in"):
        ReweightedWakeSleep(insomnia=1.5)
