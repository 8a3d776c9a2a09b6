"""Chains in worker processes: ``MCMC(..., mp_context="spawn" | "forkserver")``.

Models and potentials live at module level: the spawned workers import them by name.
"""

import os
import signal
import time

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import HMC, MCMC, NUTS
from pyro.infer.mcmc.parallel import ChainError

Y = torch.tensor([0.9, 1.4, 0.2, 1.8, 1.1, 0.5, 1.3, 0.7, 1.6, 1.0])
POST_MEAN = float(Y.sum() / (len(Y) + 1))  # mu ~ N(0, 1), y ~ N(mu, 1)
POST_VAR = 1.0 / (len(Y) + 1)


def normal_model(y):
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    with pyro.plate("data", len(y)):
        pyro.sample("obs", dist.Normal(mu, 1.0), obs=y)


def raising_potential(params):
    x = params["x"]
    if float(x) > 50:
        raise ValueError(f"potential refused x={float(x):.0f}")
    return 0.5 * x ** 2


def dying_potential(params):
    x = params["x"]
    if float(x) > 50:
        os.kill(os.getpid(), signal.SIGKILL)
    return 0.5 * x ** 2


def test_spawned_chains_match_sequential_runs_and_the_posterior():
    pyro.set_rng_seed(0)
    mcmc = MCMC(NUTS(normal_model), num_samples=100, warmup_steps=60, num_chains=2,
                mp_context="spawn", disable_progbar=True)
    mcmc.run(Y)
    grouped = mcmc.get_samples(group_by_chain=True)
    assert grouped["mu"].shape == (2, 100)
    assert mcmc.get_samples()["mu"].shape == (200,)
    # Each worker is seeded from the parent's generator: chain c is the one-chain run that
    # starts from that seed in this process (same draws, not just the same distribution).
    pyro.set_rng_seed(0)
    seeds = torch.randint(0, 2 ** 62, (2,)).tolist()
    for c in range(2):
        pyro.set_rng_seed(seeds[c])
        alone = MCMC(NUTS(normal_model), num_samples=100, warmup_steps=60,
                     disable_progbar=True)
        alone.run(Y)
        assert torch.allclose(alone.get_samples()["mu"], grouped["mu"][c], atol=1e-5)
    mu = grouped["mu"].reshape(-1)
    sd = POST_VAR ** 0.5
    assert abs(float(mu.mean()) - POST_MEAN) < 4 * sd / 100 ** 0.5
    assert abs(float(mu.var()) / POST_VAR - 1) < 0.35
    diag = mcmc.diagnostics()
    assert set(diag["divergences"]) == {"chain 0", "chain 1"}
    assert set(diag["acceptance rate"]) == {"chain 0", "chain 1"}
    assert float(diag["mu"]["r_hat"]) < 1.1


def _run_two_chains(potential):
    kernel = HMC(potential_fn=potential, step_size=0.1, num_steps=4, adapt_step_size=False)
    mcmc = MCMC(kernel, num_samples=5, warmup_steps=5, num_chains=2, mp_context="forkserver",
                initial_params={"x": torch.tensor([0.0, 100.0])}, disable_progbar=True)
    start = time.monotonic()
    with pytest.raises(ChainError) as info:
        mcmc.run()
    return info.value, time.monotonic() - start


def test_a_failing_chain_ends_the_run_with_its_message():
    error, elapsed = _run_two_chains(raising_potential)
    assert error.chain == 1
    message = str(error)
    assert "chain 1" in message and "ValueError" in message
    assert "potential refused x=100" in message
    assert isinstance(error, RuntimeError)
    assert elapsed < 60


def test_a_killed_worker_ends_the_run():
    error, elapsed = _run_two_chains(dying_potential)
    assert error.chain == 1
    assert "chain 1" in str(error) and "died" in str(error)
    assert f"exit code {-signal.SIGKILL}" in str(error)
    assert elapsed < 60


def test_bad_mp_context():
    mcmc = MCMC(NUTS(normal_model), num_samples=2, warmup_steps=2, num_chains=2,
                mp_context="no-such-method", disable_progbar=True)
    with pytest.raises(ValueError, match="no-such-method"):
        mcmc.run(Y)
