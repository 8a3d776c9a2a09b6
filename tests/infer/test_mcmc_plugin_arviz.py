"""A third-party MCMC kernel registered as a plugin runs under ``MCMC`` by name, and ArviZ
builds its ``InferenceData`` from our ``MCMC`` as it does from Pyro's."""

import math

import arviz as az
import numpy as np
import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import MCMC, NUTS
from pyro.infer.mcmc import MCMCKernel
from pyro.plugins import hookimpl
from pyro.plugins.testing import pyro_plugin_manager, pyro_register  # noqa: F401  (fixtures)


class TinyMetropolis(MCMCKernel):
    """Random-walk Metropolis on a potential (a plugin's kernel)."""

    def __init__(self, potential_fn, scale=1.0):
        self.potential_fn = potential_fn
        self.scale = scale
        self._initial_params = None
        self.accepted = 0

    @property
    def initial_params(self):
        return self._initial_params

    @initial_params.setter
    def initial_params(self, params):
        self._initial_params = params

    def sample(self, params):
        proposal = {k: v + self.scale * torch.randn_like(v) for k, v in params.items()}
        log_ratio = float(self.potential_fn(params) - self.potential_fn(proposal))
        if math.log(torch.rand(()).item() + 1e-300) < log_ratio:
            self.accepted += 1
            return proposal
        return params


class TinyPlugin:
    @hookimpl
    def pyro_register_inference(self, registry):
        registry.add("TinyMetropolis", TinyMetropolis)


def test_plugin_kernel_runs_under_mcmc_by_name(pyro_register):  # noqa: F811
    pyro_register(TinyPlugin(), name="tiny-mcmc-plugin")
    from pyro.infer.mcmc import TinyMetropolis as by_name

    assert by_name is TinyMetropolis
    assert pyro.infer.TinyMetropolis is TinyMetropolis
    pyro.set_rng_seed(0)
    kernel = by_name(lambda p: 0.5 * ((p["z"] - 3.0) / 0.5) ** 2, scale=0.8)
    kernel.initial_params = {"z": torch.tensor(0.0)}
    mcmc = MCMC(kernel, num_samples=300, warmup_steps=100, disable_progbar=True)
    mcmc.run()
    z = mcmc.get_samples()["z"]
    assert z.shape == (300,)
    assert abs(float(z.mean()) - 3.0) < 0.25  # N(3, 0.5): ESS of ~50 draws
    assert 0 < kernel.accepted < 400
    with pytest.raises(AttributeError):
        pyro.infer.mcmc.NoSuchKernel


def test_unregistered_names_are_not_kernels(pyro_plugin_manager):  # noqa: F811
    with pytest.raises(AttributeError, match="TinyMetropolis"):
        pyro.infer.mcmc.TinyMetropolis
    with pytest.raises(AttributeError):
        pyro.infer.mcmc.Trace_ELBO  # registered, but not an MCMC kernel


Y = torch.tensor([0.9, 1.4, 0.2, 1.8, 1.1, 0.5])


def normal_model(y):
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    with pyro.plate("data", len(y)):
        pyro.sample("obs", dist.Normal(mu, 1.0), obs=y)


@pytest.fixture(scope="module")
def mcmc():
    pyro.set_rng_seed(1)
    run = MCMC(NUTS(normal_model), num_samples=100, warmup_steps=100, num_chains=2,
               disable_progbar=True)
    run.run(Y)
    return run


def test_arviz_from_pyro_and_summary(mcmc):
    idata = az.from_pyro(mcmc)
    mu = mcmc.get_samples(group_by_chain=True)["mu"].numpy()
    posterior = idata.posterior["mu"]
    assert posterior.shape == (2, 100)
    np.testing.assert_allclose(posterior.values, mu, rtol=1e-6)
    assert idata.sample_stats["diverging"].shape == (2, 100)
    table = az.summary(idata)
    assert table.loc["mu", "mean"] == pytest.approx(float(mu.mean()), abs=1e-3)
    assert table.loc["mu", "sd"] == pytest.approx(float(mu.std(ddof=1)), abs=1e-3)
    assert table.loc["mu", "r_hat"] < 1.1


def test_arviz_reads_the_model_and_its_arguments(mcmc):
    # ArviZ reads kernel.model, _args and _kwargs only when pyro.__version__ >= 1.0 (it is 1.9.2).
    idata = az.from_pyro(mcmc, log_likelihood=True)
    np.testing.assert_allclose(idata.observed_data["obs"].values, Y.numpy())
    mu = mcmc.get_samples(group_by_chain=True)["mu"]
    expected = dist.Normal(mu.unsqueeze(-1), 1.0).log_prob(Y).numpy()
    got = idata.log_likelihood["obs"].values
    assert got.shape == (2, 100, len(Y))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
