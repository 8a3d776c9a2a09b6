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


def test_a_model_that_does_not_broadcast_over_chains_falls_back_to_sequential():
    pyro.set_rng_seed(1)
    x = torch.randn(40, 2)
    y = x @ torch.tensor([1.0, -1.0]) + 0.5 * torch.randn(40)

    def model(x, y):
        w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
        with pyro.plate("rows", len(y)):
            # (chains, 1, 2) weights do not multiply a (40, 2) matrix: not vectorizable.
            pyro.sample("obs", dist.Normal(x @ w, 0.5), obs=y)

    mcmc = MCMC(NUTS(model), num_samples=150, warmup_steps=100, num_chains=2,
                disable_progbar=True)
    mcmc.run(x, y)
    assert not mcmc.vectorized
    w = mcmc.get_samples()["w"]
    assert w.shape == (300, 2)
    # Conjugate posterior of the weights: precision I + X^T X / 0.25.
    precision = torch.eye(2) + x.T @ x / 0.25
    cov = torch.linalg.inv(precision)
    mean = cov @ (x.T @ y / 0.25)
    sd = cov.diagonal().sqrt()
    assert ((w.mean(0) - mean).abs() < 5 * sd / math.sqrt(150)).all()
