"""Cases of MCMC (issue 14): one whole NUTS run, 500 warm-up + 500 samples, from ``MCMC(...)``
to the samples (potential building and any compilation included).

Each call is a complete run, seconds long, so run these with one round and one timing, e.g.
``python benchmarks/run.py -k 'mcmc.*' --rounds 1 --repeat 1 --clock cpu --threads 1``. The
harness reports the wall (or CPU) time of a run; effective samples per second (the minimum
ESS over latents divided by that time) come from ``run_and_ess`` below, which
``benchmarks/mcmc_ess.py`` calls for both pyro backends. There is no plain-torch twin.
"""

from __future__ import annotations

from cases import bench

WARMUP = 500
SAMPLES = 500


def eight_schools_data():
    import torch

    y = torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    sigma = torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    return y, sigma


def eight_schools_model(y, sigma):
    """The non-centred eight schools model."""
    import pyro
    import pyro.distributions as dist
    import torch

    mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = pyro.sample("tau", dist.HalfCauchy(5.0))
    with pyro.plate("schools", len(y)):
        eta = pyro.sample("eta", dist.Normal(0.0, 1.0))
        theta = mu + tau * eta
        pyro.sample("obs", dist.Normal(theta, sigma), obs=y)
    return torch.as_tensor(theta)


def logreg_data(n=1000, d=10):
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g)
    w = torch.linspace(-1.0, 1.0, d)
    y = torch.bernoulli(torch.sigmoid(x @ w + 0.3), generator=g)
    return x, y


def logreg_model(x, y):
    """Bayesian logistic regression: Normal(0, 1) weights and bias, Bernoulli likelihood."""
    import pyro
    import pyro.distributions as dist

    d = x.shape[1]
    w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
    b = pyro.sample("b", dist.Normal(0.0, 1.0))
    with pyro.plate("rows", x.shape[0]):
        pyro.sample("obs", dist.Bernoulli(logits=x @ w + b), obs=y)


MODELS = {"eight_schools": (eight_schools_model, eight_schools_data),
          "logreg": (logreg_model, logreg_data)}


def run_and_ess(model_name: str, num_chains: int, jit_compile: bool = False):
    """One NUTS run; returns ``(samples, min ESS over every latent element)``."""
    from pyro.infer import MCMC, NUTS
    from pyro.ops.stats import effective_sample_size

    model, data = MODELS[model_name]
    args = data()
    mcmc = MCMC(NUTS(model, jit_compile=jit_compile, ignore_jit_warnings=True),
                num_samples=SAMPLES, warmup_steps=WARMUP, num_chains=num_chains,
                disable_progbar=True)
    mcmc.run(*args)
    grouped = mcmc.get_samples(group_by_chain=True)
    ess = min(float(effective_sample_size(v.reshape(v.shape[:2] + (-1,))).min())
              for v in grouped.values())
    return grouped, ess


def _case(model_name: str, num_chains: int):
    def setup():
        return lambda: run_and_ess(model_name, num_chains)

    return setup


for _name in MODELS:
    for _chains in (1, 4):
        _setup = _case(_name, _chains)
        _setup.__doc__ = (f"NUTS on {_name.replace('_', ' ')}, {WARMUP} warm-up + {SAMPLES} "
                          f"samples, {_chains} chain{'s' if _chains > 1 else ''}")
        bench(f"mcmc.nuts_{_name}_{_chains}chain", target=None)(_setup)
