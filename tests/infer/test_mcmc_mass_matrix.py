"""Block and arrowhead mass matrices: Welford adaptation per block, the flat face the kernels
use, and NUTS with ``full_mass`` given as groups of sites."""

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import MCMC, NUTS
from pyro.infer.mcmc import ArrowheadMassMatrix, BlockMassMatrix
from pyro.ops.welford import WelfordCovariance

# z = (a[0], a[1], b): a ~ N(0, I), b | a ~ N(0.8 a0 + 0.3 a1, 0.5); c ~ N(0, 3) apart.
COV = torch.tensor([[1.0, 0.0, 0.8], [0.0, 1.0, 0.3], [0.8, 0.3, 0.98]])


def model():
    a = pyro.sample("a", dist.Normal(torch.zeros(2), 1.0).to_event(1))
    pyro.sample("c", dist.Normal(0.0, 3.0))
    pyro.sample("b", dist.Normal(0.8 * a[0] + 0.3 * a[1], 0.5))


def _shrunk(x):
    """Stan's regularised sample covariance of the rows of ``x``, by hand."""
    n = x.shape[0]
    return torch.cov(x.T) * n / (n + 5.0) + 1e-3 * 5.0 / (n + 5.0) * torch.eye(x.shape[1])


def _draws(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 3, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(
        COV.double()).T
    c = 3.0 * torch.randn(n, generator=g, dtype=torch.float64)
    return z, c


def test_block_welford_matches_dense_welford_on_its_blocks():
    z, c = _draws()
    mass = BlockMassMatrix(init_scale=2.0)
    mass.configure({("a", "b"): (3, 3), ("c",): (1,)}, options={"dtype": torch.float64})
    assert mass.mass_matrix_size == {("a", "b"): 3, ("c",): 1}
    assert torch.equal(mass.inverse_mass_matrix[("a", "b")], 2.0 * torch.eye(3).double())
    assert torch.equal(mass.inverse_mass_matrix[("c",)], torch.full((1,), 2.0).double())
    dense = WelfordCovariance(diagonal=False)
    for zi, ci in zip(z, c):
        mass.update({"a": zi[:2], "b": zi[2], "c": ci}, None)
        dense.update(torch.cat([zi, ci.reshape(1)]))
    mass.end_adaptation()
    full = dense.get_covariance(regularize=True)
    inv = mass.inverse_mass_matrix
    assert torch.allclose(inv[("a", "b")], full[:3, :3], atol=1e-10)
    assert torch.allclose(inv[("c",)], full[3:, 3].reshape(1), atol=1e-10)
    assert torch.allclose(inv[("a", "b")], _shrunk(z), atol=1e-10)
    # ... and the posterior covariance within sampling error (400 draws).
    assert torch.allclose(inv[("a", "b")], COV.double(), atol=0.25)


def test_flat_face_agrees_with_the_named_one():
    z, c = _draws(200)
    mass = BlockMassMatrix()
    mass.configure({("b", "a"): (3, 3), ("c",): (1,)}, options={"dtype": torch.float64})
    for zi, ci in zip(z, c):
        mass.update({"a": zi[:2], "b": zi[2], "c": ci}, None)
    mass.end_adaptation()
    mass.bind(["a", "c", "b"], [2, 1, 1])  # the kernel's flat order: a0, a1, c, b
    r = {"a": torch.tensor([0.3, -1.2]).double(), "c": torch.tensor(0.7).double(),
         "b": torch.tensor(2.0).double()}
    flat_r = torch.cat([r["a"], r["c"].reshape(1), r["b"].reshape(1)])
    named = mass.kinetic_grad(r)
    flat_v = torch.cat([named["a"], named["c"].reshape(1), named["b"].reshape(1)])
    assert torch.allclose(mass.velocity(flat_r), flat_v, atol=1e-12)
    block = mass.inverse_mass_matrix[("b", "a")]  # order b, a0, a1
    x = torch.cat([r["b"].reshape(1), r["a"]])
    expected = 0.5 * (x @ block @ x + r["c"] ** 2 * mass.inverse_mass_matrix[("c",)][0])
    assert torch.allclose(mass.kinetic(flat_r), expected, atol=1e-12)
    # scale draws momenta of covariance M = inverse^{-1}; unscale undoes it.
    eps = {("b", "a"): torch.tensor([0.5, -0.1, 1.5]).double(), ("c",): torch.tensor([2.0]).double()}
    mom = mass.scale(eps, r)
    back = mass.unscale(mom)
    assert all(torch.allclose(back[k], eps[k], atol=1e-10) for k in eps)
    torch.manual_seed(0)
    draws = torch.stack([mass.sample_momentum() for _ in range(20000)])
    flat_inverse = mass.inverse
    assert flat_inverse.shape == (4, 4) and flat_inverse[2, [0, 1, 3]].abs().max() == 0
    assert torch.allclose(torch.cov(draws.T), torch.linalg.inv(flat_inverse), rtol=0.08, atol=0.03)


def test_arrowhead_estimates_the_precision_from_gradients():
    z, c = _draws(600)
    prec = torch.linalg.inv(COV.double())
    grads_z = z @ prec  # gradient of the potential of N(0, COV)
    grads_c = c / 9.0
    mass = ArrowheadMassMatrix()
    mass.configure({("c",): (1,), ("a",): (2, 2), ("b",): (1,)}, options={"dtype": torch.float64})
    key = ("a", "c", "b")  # the head (dense sites) first
    assert mass.mass_matrix_size == {key: 4}
    assert torch.equal(mass.inverse_mass_matrix[key], torch.eye(4).double())
    for zi, gz, ci, gc in zip(z, grads_z, c, grads_c):
        mass.update({"a": zi[:2], "b": zi[2], "c": ci}, {"a": gz[:2], "b": gz[2], "c": gc})
    mass.end_adaptation()
    g = torch.stack([grads_z[:, 0], grads_z[:, 1], grads_c, grads_z[:, 2]], -1)
    shrunk = _shrunk(g)
    top, bottom = mass.mass_matrix[key]
    assert torch.allclose(top, shrunk[:2], atol=1e-10)
    assert torch.allclose(bottom, shrunk.diagonal()[2:], atol=1e-10)
    arrow = torch.diag(shrunk.diagonal())
    arrow[:2], arrow[:, :2] = shrunk[:2], shrunk[:2].T
    assert torch.allclose(mass.inverse_mass_matrix[key], torch.linalg.inv(arrow), atol=1e-8)
    # The head rows estimate the precision (a0, a1 rows, reordered as a0, a1, c, b).
    full_prec = torch.zeros(4, 4).double()
    idx = torch.tensor([0, 1, 3])
    full_prec[idx.unsqueeze(-1), idx] = prec
    full_prec[2, 2] = 1 / 9.0
    assert torch.allclose(top, full_prec[:2], atol=0.35)


def _moments(samples):
    z = torch.cat([samples["a"], samples["b"].unsqueeze(-1)], -1)
    return z.mean(0), torch.cov(z.T), samples["c"].var()


@pytest.mark.parametrize("num_chains", [1, 2])
def test_nuts_full_mass_groups_recovers_posterior(num_chains):
    pyro.set_rng_seed(1)
    kernel = NUTS(model, full_mass=[("a", "b")])
    mcmc = MCMC(kernel, num_samples=150, warmup_steps=300, num_chains=num_chains,
                disable_progbar=True)
    mcmc.run()
    inv = kernel.inverse_mass_matrix
    assert list(inv) == [("a", "b"), ("c",)]
    assert inv[("a", "b")].shape == (3, 3) and inv[("c",)].shape == (1,)
    # The adapted inverse mass matrix is the posterior covariance in the block structure.
    assert torch.allclose(inv[("a", "b")], COV, atol=0.35)
    assert abs(float(inv[("c",)][0]) - 9.0) < 4.0
    mean, cov, var_c = _moments(mcmc.get_samples())
    n = 150 * num_chains
    assert mean.abs().max() < 4 * (1.0 / n) ** 0.5 * 3  # ESS of a few hundred
    assert torch.allclose(cov, COV, atol=0.3)
    assert abs(float(var_c) - 9.0) < 3.0


def test_nuts_arrowhead_mass_matrix_recovers_posterior():
    pyro.set_rng_seed(2)
    kernel = NUTS(model, full_mass=[("a", "b")])
    kernel.mass_matrix_adapter = ArrowheadMassMatrix()
    mcmc = MCMC(kernel, num_samples=300, warmup_steps=300, disable_progbar=True)
    mcmc.run()
    assert isinstance(kernel.mass_matrix_adapter, ArrowheadMassMatrix)
    (key, inv), = kernel.inverse_mass_matrix.items()
    assert key == ("a", "b", "c") and inv.shape == (4, 4)
    mean, cov, var_c = _moments(mcmc.get_samples())
    assert mean.abs().max() < 0.35
    assert torch.allclose(cov, COV, atol=0.3)
    assert abs(float(var_c) - 9.0) < 3.0


@pytest.mark.parametrize("full_mass,phrase", [
    ([("a", "a")], "duplicated"), ([("a",), ("a", "b")], "duplicated"),
    ("a", "list of tuples"), ([["a", "b"]], "list of tuples")])
def test_bad_full_mass_is_refused(full_mass, phrase):
    with pytest.raises(ValueError, match=phrase):
        NUTS(model, full_mass=full_mass)


def test_unknown_site_in_full_mass():
    kernel = NUTS(model, full_mass=[("a", "zz")])
    with pytest.raises(AssertionError, match="zz"):
        MCMC(kernel, num_samples=2, warmup_steps=2, disable_progbar=True).run()
