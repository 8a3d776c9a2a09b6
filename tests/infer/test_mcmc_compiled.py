"""The potential captured once and compiled (pyro.infer.mcmc.compiled), and its fallbacks."""

import warnings

import torch

import pyro
import pyro.distributions as dist
from pyro.infer import MCMC, NUTS
from pyro.infer.mcmc.compiled import capture, capture_fn


def _schools(y, sigma):
    mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = pyro.sample("tau", dist.HalfCauchy(5.0))
    with pyro.plate("schools", len(y)):
        eta = pyro.sample("eta", dist.Normal(0.0, 1.0))
        pyro.sample("obs", dist.Normal(mu + tau * eta, sigma), obs=y)


_Y = torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
_SIGMA = torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def _schools_potential(z):
    """By hand: z = (mu, log tau, eta_1..8), minus the log-joint minus log |d tau / d log tau|."""
    mu, log_tau, eta = z[0], z[1], z[2:]
    tau = log_tau.exp()
    log_joint = (dist.Normal(0.0, 5.0).log_prob(mu) + dist.HalfCauchy(5.0).log_prob(tau)
                 + dist.Normal(0.0, 1.0).log_prob(eta).sum()
                 + dist.Normal(mu + tau * eta, _SIGMA).log_prob(_Y).sum())
    return -(log_joint + log_tau)


def _setup(kernel):
    with pyro.validation_enabled(False):
        kernel.setup(10, _Y, _SIGMA)
    return kernel


def test_the_compiled_potential_equals_the_model_in_value_and_gradient():
    pyro.set_rng_seed(0)
    kernel = _setup(NUTS(_schools))
    assert kernel._compiled is not None
    g = torch.Generator().manual_seed(3)
    for _ in range(3):
        z = torch.randn(10, generator=g) * 2
        e, grad = kernel._energy_and_grad(z)
        leaf = z.clone().requires_grad_(True)
        ref = _schools_potential(leaf)
        ref_grad, = torch.autograd.grad(ref, leaf)
        assert torch.allclose(e, ref.detach(), rtol=1e-5, atol=1e-4)
        assert torch.allclose(grad, ref_grad, rtol=1e-5, atol=1e-4)


def test_a_value_dependent_model_keeps_the_eager_potential_without_warnings():
    def model(y, sigma):
        mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
        loc = mu if float(mu.detach()) > 0 else -mu  # a branch on a sample: not capturable
        with pyro.plate("schools", len(y)):
            pyro.sample("obs", dist.Normal(loc, sigma), obs=y)

    pyro.set_rng_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kernel = _setup(NUTS(model))
        assert kernel._compiled is None
        mcmc = MCMC(NUTS(model), num_samples=20, warmup_steps=20, disable_progbar=True)
        mcmc.run(_Y, _SIGMA)
    assert mcmc.get_samples()["mu"].shape == (20,)


def test_jit_compile_keeps_its_own_path():
    pyro.set_rng_seed(0)
    kernel = _setup(NUTS(_schools, jit_compile=True, ignore_jit_warnings=True))
    assert kernel._compiled is None
    z = torch.randn(10)
    e, _ = kernel._energy_and_grad(z)
    assert torch.allclose(e, _schools_potential(z), rtol=1e-5, atol=1e-4)


def test_capture_handles_constants_in_place_ops_and_checks_its_points():
    c = torch.tensor([0.5, 1.0, 2.0])

    def fn(z):
        y = z.clone()
        y.mul_(c.exp())  # an in-place op: recorded as it is
        return (y * y).sum(), 2 * y * c.exp()

    def pure(z):
        w = c.log1p() * z  # c.log1p() is folded into a constant
        return (w.sin().sum(),)

    z = torch.tensor([0.1, -0.2, 0.3])
    points = [torch.tensor([1.0, 2.0, -3.0])]
    compiled = capture(fn, z, points)
    other = torch.tensor([-0.7, 0.4, 1.5])
    for got, want in zip(compiled(other), fn(other)):
        assert torch.allclose(got, want)
    compiled_pure = capture_fn(pure, (z,), [(p,) for p in points])
    assert torch.allclose(compiled_pure(other)[0], (c.log1p() * other).sin().sum())

    def copy_then_write(z):  # the copy keeps the value from before the write
        a = z * 2
        b = a.clone()
        a.exp_()
        return ((a + b).sum(), a.detach() * b)

    compiled_copy = capture_fn(copy_then_write, (z,), [(p,) for p in points])
    for got, want in zip(compiled_copy(other), copy_then_write(other)):
        assert torch.allclose(got, want)

    def reads_a_value(z):
        return (z * 2 if float(z.sum()) > 0 else z, z)

    assert capture(reads_a_value, z, points) is None

    state = {"n": 0}

    def changes_between_calls(z):  # agrees at z but not at the check point
        state["n"] += 1
        return (z * state["n"], z)

    assert capture(changes_between_calls, z, points) is None
