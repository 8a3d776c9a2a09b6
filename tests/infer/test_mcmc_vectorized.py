"""Several NUTS chains as one batch (pyro.infer.mcmc.vectorized), and the fallback."""

import math

import torch

import pyro
import pyro.distributions as dist
from pyro.infer import MCMC, NUTS
from pyro.ops.stats import effective_sample_size


def _normal_normal(data):
    mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
    log_noise = pyro.sample("s", dist.LogNormal(0.0, 0.1))  # a positive site, nearly 1
    with pyro.plate("data", len(data)):
        pyro.sample("obs", dist.Normal(mu, 1.0), obs=data)
    return log_noise


def test_vectorized_chains_recover_the_posterior_and_stay_independent():
    pyro.set_rng_seed(0)
    data = torch.randn(15) + 1.5
    calls = []
    mcmc = MCMC(NUTS(_normal_normal), num_samples=200, warmup_steps=100, num_chains=4,
                hook_fn=lambda kernel, params, stage, i: calls.append((stage, i)),
                disable_progbar=True)
    mcmc.run(data)
    assert mcmc.vectorized
    assert len(calls) == 4 * 300 and calls[-1] == ("Sample", 199)
    grouped = mcmc.get_samples(group_by_chain=True)
    assert grouped["mu"].shape == (4, 200) and grouped["s"].shape == (4, 200)
    assert (grouped["s"] > 0).all()
    precision = 1 / 4 + len(data)
    mean, sd = float(data.sum()) / precision, precision ** -0.5
    mu = grouped["mu"]
    ess = float(effective_sample_size(mu))
    assert abs(float(mu.mean()) - mean) < 5 * sd / math.sqrt(min(ess, mu.numel()))
    assert abs(float(mu.std()) / sd - 1) < 0.15
    # LogNormal(0, 0.1) is untouched by the data: its mean is exp(0.005).
    assert abs(float(grouped["s"].mean()) - math.exp(0.005)) < 0.02
    diag = mcmc.diagnostics()
    assert float(diag["mu"]["r_hat"]) < 1.02
    assert set(diag["divergences"]) == {f"chain {i}" for i in range(4)}
    assert all(0 < a <= 1 for a in diag["acceptance rate"].values())
    assert not torch.allclose(mu[0], mu[1])
    kernel = mcmc.kernel
    assert 0 < kernel.step_size < 10
    assert next(iter(kernel.inverse_mass_matrix.values())).shape == (2,)


def _regression(x, y):
    w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
    with pyro.plate("rows", len(y)):
        # (chains, 1, 2) weights do not multiply a (40, 2) matrix: the plate route fails.
        pyro.sample("obs", dist.Normal(x @ w, 0.5), obs=y)


def _regression_data():
    pyro.set_rng_seed(1)
    x = torch.randn(40, 2)
    y = x @ torch.tensor([1.0, -1.0]) + 0.5 * torch.randn(40)
    return x, y


def _check_regression_posterior(w, x, y, n):
    # Conjugate posterior of the weights: precision I + X^T X / 0.25.
    precision = torch.eye(2) + x.T @ x / 0.25
    cov = torch.linalg.inv(precision)
    mean = cov @ (x.T @ y / 0.25)
    sd = cov.diagonal().sqrt()
    assert ((w.mean(0) - mean).abs() < 5 * sd / math.sqrt(n)).all()


def test_a_model_that_does_not_broadcast_runs_its_chains_mapped_with_vmap():
    x, y = _regression_data()
    mcmc = MCMC(NUTS(_regression), num_samples=150, warmup_steps=100, num_chains=2,
                disable_progbar=True)
    mcmc.run(x, y)
    assert mcmc.vectorized
    w = mcmc.get_samples()["w"]
    assert w.shape == (300, 2)
    _check_regression_posterior(w, x, y, 150)


def test_the_vmapped_potential_equals_each_chains_own_potential():
    from pyro.infer.mcmc.hmc import _Layout
    from pyro.infer.mcmc.util import initialize_model
    from pyro.infer.mcmc.vectorized import _VmapPotential, compiled_potential

    x, y = _regression_data()
    init, energy, _, prototype = initialize_model(_regression, (x, y), num_chains=3)
    layout = _Layout({k: v[0] for k, v in init.items()})
    z = torch.randn(3, 2)
    with pyro.validation_enabled(False):  # as MCMC runs it
        potential, compiled = compiled_potential(energy, prototype, layout, 3, 1, z)
    assert isinstance(potential, _VmapPotential) and compiled is not None
    points = torch.randn(3, 2) * 2
    e, g = compiled(points)
    for c in range(3):
        # By hand: -log N(w; 0, 1) - sum log N(y; x w, 0.5), and its gradient.
        w = points[c].clone().requires_grad_(True)
        ref = -(dist.Normal(0.0, 1.0).log_prob(w).sum()
                + dist.Normal(x @ w, 0.5).log_prob(y).sum())
        ref_g, = torch.autograd.grad(ref, w)
        assert torch.allclose(e[c], ref.detach(), rtol=1e-5, atol=1e-4)
        assert torch.allclose(g[c], ref_g, rtol=1e-5, atol=1e-4)


def test_a_dynamic_model_falls_back_to_sequential_chains():
    x, y = _regression_data()

    def model(x, y):
        w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
        scale = 0.5 if float(w.detach().sum()) < 1e6 else 1.0  # reads a value: no batch, no map
        with pyro.plate("rows", len(y)):
            pyro.sample("obs", dist.Normal(x @ w, scale), obs=y)

    mcmc = MCMC(NUTS(model), num_samples=100, warmup_steps=60, num_chains=2,
                disable_progbar=True)
    mcmc.run(x, y)
    assert not mcmc.vectorized
    w = mcmc.get_samples()["w"]
    assert w.shape == (200, 2)
    _check_regression_posterior(w, x, y, 100)
