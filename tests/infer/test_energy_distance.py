"""EnergyDistance: the loss by hand from the recorded draws, the prior term, the checks."""

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer.energy_distance import EnergyDistance

DATA = torch.tensor([0.5, -1.0, 2.0])
DRAWS = {}


def model(data=DATA):
    z = pyro.sample("z", dist.Normal(pyro.param("pl", torch.tensor(0.0)), 1.0))
    with pyro.plate("data", 3):
        DRAWS["x"] = pyro.sample("x", dist.Normal(z, 1.0), obs=data)


def guide(data=DATA):
    DRAWS["z"] = pyro.sample("z", dist.Normal(pyro.param("m", torch.tensor(0.3)), 0.8))


def by_hand(x, z, beta, prior_scale):
    n = x.shape[0]
    to_data = (x - DATA).norm(dim=-1).pow(beta).mean()
    pairs = (x.unsqueeze(0) - x.unsqueeze(1)).norm(dim=-1).pow(beta)
    between = pairs.sum() / (n * (n - 1))
    return to_data - 0.5 * between - prior_scale * dist.Normal(0.0, 1.0).log_prob(z).sum()


@pytest.mark.parametrize("beta, prior_scale", [(1.0, 0.0), (1.5, 0.0), (1.0, 2.0)])
def test_loss_matches_the_energy_distance_by_hand(beta, prior_scale):
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    loss_fn = EnergyDistance(beta=beta, prior_scale=prior_scale, num_particles=5,
                             max_plate_nesting=1)
    loss = loss_fn(model, guide)
    x, z = DRAWS["x"].detach(), DRAWS["z"].detach().reshape(-1)
    assert x.shape == (5, 3)  # the particle plate sits left of the data plate
    expected = by_hand(x, z, beta, prior_scale)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # gradients are finite and reach the guide through the reparameterised draws
    (grad,) = torch.autograd.grad(loss, [pyro.param("m").unconstrained()])
    assert torch.isfinite(grad)


def test_a_point_mass_guide_gives_the_distance_to_the_data():
    def noiseless(data=DATA):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        with pyro.plate("data", 3):
            pyro.sample("x", dist.Normal(z, 1e-6), obs=data)

    def point(data=DATA):
        pyro.sample("z", dist.Delta(torch.tensor(0.3)))

    loss = EnergyDistance(beta=1.5, num_particles=4, max_plate_nesting=1)(noiseless, point)
    assert loss.item() == pytest.approx((0.3 - DATA).norm().pow(1.5).item(), rel=1e-4)


def test_arguments_and_guides_checked_as_in_pyro():
    with pytest.raises(ValueError, match=r"Expected beta in \(0,2\)"):
        EnergyDistance(beta=2.0)
    with pytest.raises(ValueError, match="Expected prior_scale >= 0"):
        EnergyDistance(prior_scale=-1.0)
    with pytest.raises(ValueError, match="Expected num_particles >= 2"):
        EnergyDistance(num_particles=1)
    with pytest.raises(NotImplementedError, match="only surrogate loss"):
        EnergyDistance().loss(model, guide)

    def discrete_guide(data=DATA):
        guide()
        pyro.sample("c", dist.Bernoulli(0.5), infer={"is_auxiliary": True})

    with pytest.raises(ValueError, match="fully reparametrized"):
        EnergyDistance(max_plate_nesting=1)(model, discrete_guide)


def test_svi_trains_with_it():
    from pyro.infer import SVI
    from pyro.optim import Adam

    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    svi = SVI(model, guide, Adam({"lr": 0.05}), loss=EnergyDistance(num_particles=8,
                                                                     max_plate_nesting=1))
    for _ in range(120):
        svi.step()
    tail = []
    for _ in range(50):
        svi.step()
        tail.append(pyro.param("m").item())
    # The predictive x = z + noise is closest to the data with z near their centre; Pyro 1.9.2
    # on this same setup settles at 0.45-0.50 (averaged like this, seeds 0-2).
    assert sum(tail) / len(tail) == pytest.approx(0.47, abs=0.1)
