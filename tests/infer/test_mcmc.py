"""MCMC: HMC and NUTS against analytic posteriors, the runner's API, and the helpers.

Tolerances come from each run's own effective sample size: a posterior mean estimated from
``n_eff`` draws is off by about ``sd / sqrt(n_eff)``; we allow five of those.
"""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import HMC, MCMC, NUTS, config_enumerate
from pyro.infer.mcmc import MCMCKernel, RandomWalkKernel
from pyro.infer.mcmc.adaptation import build_adaptation_schedule
from pyro.infer.mcmc.util import diagnostics, initialize_model, predictive, summary
from pyro.ops.stats import effective_sample_size


def _ess(flat):
    """The ESS of each column, at most the number of draws (antithetic chains, whose
    estimate exceeds it or turns negative, count as independent draws: conservative)."""
    n = flat.shape[0]
    ess = effective_sample_size(flat.unsqueeze(0))
    return torch.where(ess <= 0, torch.full_like(ess, n), ess.clamp(min=10, max=n))


def _check_mean(draws, mean, sd, sigmas=5.0):
    """Every coordinate of the draws' mean within ``sigmas`` Monte Carlo errors of ``mean``."""
    flat = draws.reshape(draws.shape[0], -1)
    ess = _ess(flat)
    err = (flat.mean(0) - torch.as_tensor(mean, dtype=flat.dtype).reshape(-1)).abs()
    bound = sigmas * torch.as_tensor(sd, dtype=flat.dtype).reshape(-1) / ess.sqrt()
    assert (err < bound).all(), (flat.mean(0), mean, bound)


def _gaussian(dim=5, rho=0.8):
    idx = torch.arange(dim, dtype=torch.float64)
    scale = torch.linspace(0.5, 2.0, dim, dtype=torch.float64)
    cov = rho ** (idx[:, None] - idx[None]).abs() * scale[:, None] * scale[None]
    mean = torch.linspace(-1.0, 1.0, dim, dtype=torch.float64)
    precision = torch.linalg.inv(cov)

    def potential_fn(params):
        d = params["x"] - mean
        return 0.5 * d @ precision @ d

    return mean, cov, potential_fn


def test_warmup_schedule_is_stans():
    def ends(n):
        return [(w.start, w.end) for w in build_adaptation_schedule(n)]

    assert ends(10) == [(0, 9)]
    assert ends(20) == [(0, 2), (3, 17), (18, 19)]
    assert ends(100) == [(0, 14), (15, 89), (90, 99)]
    assert ends(200) == [(0, 74), (75, 99), (100, 149), (150, 199)]
    assert ends(500) == [(0, 74), (75, 99), (100, 149), (150, 249), (250, 449), (450, 499)]
    assert ends(1000)[-2:] == [(450, 949), (950, 999)]


@pytest.mark.parametrize("kernel_cls,full_mass", [(NUTS, False), (NUTS, True), (HMC, True)])
def test_correlated_gaussian(kernel_cls, full_mass):
    pyro.set_rng_seed(0)
    mean, cov, potential_fn = _gaussian()
    options = {"trajectory_length": 2.0} if kernel_cls is HMC else {}
    kernel = kernel_cls(potential_fn=potential_fn, full_mass=full_mass, **options)
    mcmc = MCMC(kernel, num_samples=600, warmup_steps=300,
                initial_params={"x": torch.zeros(5, dtype=torch.float64)}, disable_progbar=True)
    mcmc.run()
    x = mcmc.get_samples()["x"]
    assert x.shape == (600, 5)
    sd = cov.diagonal().sqrt()
    _check_mean(x, mean, sd)
    ess = float(_ess(x).min())
    # A covariance entry estimated from n_eff draws has relative error about sqrt(2 / n_eff).
    err = (torch.cov(x.T) - cov).abs() / (sd[:, None] * sd[None])
    assert float(err.max()) < 6 * math.sqrt(2 / ess)
    inverse = next(iter(kernel.inverse_mass_matrix.values()))
    assert inverse.shape == ((5, 5) if full_mass else (5,))
    if full_mass:  # the adapted mass matrix learnt the correlation
        corr = inverse[0, 1] / (inverse[0, 0] * inverse[1, 1]).sqrt()
        assert float(corr) > 0.5


def test_beta_bernoulli_with_nuts():
    pyro.set_rng_seed(1)
    data = torch.tensor([1.0] * 7 + [0.0] * 3)

    def model(data):
        p = pyro.sample("p", dist.Beta(2.0, 2.0))
        with pyro.plate("flips", len(data)):
            pyro.sample("obs", dist.Bernoulli(p), obs=data)

    mcmc = MCMC(NUTS(model), num_samples=300, warmup_steps=150, disable_progbar=True)
    mcmc.run(data)
    p = mcmc.get_samples()["p"]
    a, b = 9.0, 5.0
    assert ((p > 0) & (p < 1)).all()
    _check_mean(p, a / (a + b), math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))))


def test_normal_normal_with_hmc():
    pyro.set_rng_seed(2)
    data = torch.randn(20) * 1.0 + 2.0
    prior_sd, noise = 2.0, 1.0

    def model(data):
        mu = pyro.sample("mu", dist.Normal(0.0, prior_sd))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Normal(mu, noise), obs=data)

    mcmc = MCMC(HMC(model, num_steps=5), num_samples=400, warmup_steps=200, disable_progbar=True)
    mcmc.run(data)
    precision = 1 / prior_sd ** 2 + len(data) / noise ** 2
    post_mean = (data.sum() / noise ** 2) / precision
    _check_mean(mcmc.get_samples()["mu"], post_mean, precision ** -0.5)


def test_constrained_scale_and_simplex_match_their_conjugate_posteriors():
    pyro.set_rng_seed(3)
    x = torch.randn(30) * 0.5
    counts = torch.tensor([3.0, 10.0, 5.0])
    labels = torch.repeat_interleave(torch.arange(3), counts.long())

    def model(x, labels):
        tau = pyro.sample("tau", dist.Gamma(2.0, 1.0))  # a precision
        with pyro.plate("x", len(x)):
            pyro.sample("obs_x", dist.Normal(0.0, tau.rsqrt()), obs=x)
        w = pyro.sample("w", dist.Dirichlet(torch.ones(3)))
        with pyro.plate("labels", len(labels)):
            pyro.sample("obs_l", dist.Categorical(w), obs=labels)

    mcmc = MCMC(NUTS(model), num_samples=200, warmup_steps=100, disable_progbar=True)
    mcmc.run(x, labels)
    s = mcmc.get_samples()
    assert s["tau"].shape == (200,) and s["w"].shape == (200, 3)
    assert (s["tau"] > 0).all()
    assert (s["w"] > 0).all() and torch.allclose(s["w"].sum(-1), torch.ones(200), atol=1e-5)
    shape, rate = 2.0 + len(x) / 2, 1.0 + (x ** 2).sum() / 2
    _check_mean(s["tau"], shape / rate, math.sqrt(shape) / rate)
    alpha = 1.0 + counts
    a0 = alpha.sum()
    _check_mean(s["w"], alpha / a0, (alpha * (a0 - alpha) / (a0 ** 2 * (a0 + 1))).sqrt())


def test_enumerated_discrete_latent_gives_the_exact_marginal():
    pyro.set_rng_seed(4)
    y = torch.tensor(1.5)

    @config_enumerate
    def model(y):
        mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
        z = pyro.sample("z", dist.Categorical(torch.tensor([0.3, 0.7])))
        loc = torch.stack([mu, mu + 3.0])[z]
        pyro.sample("y", dist.Normal(loc, 1.0), obs=y)

    mcmc = MCMC(NUTS(model), num_samples=500, warmup_steps=200, disable_progbar=True)
    mcmc.run(y)
    samples = mcmc.get_samples()
    assert set(samples) == {"mu"}
    # The exact marginal p(mu | y) by quadrature.
    g = torch.linspace(-8, 8, 16001, dtype=torch.float64)
    normal = torch.distributions.Normal
    log_lik = torch.stack([math.log(0.3) + normal(g, 1.0).log_prob(y.double()),
                           math.log(0.7) + normal(g + 3, 1.0).log_prob(y.double())]).logsumexp(0)
    log_post = normal(0.0, 1.0).log_prob(g) + log_lik
    w = (log_post - log_post.logsumexp(0)).exp()
    m = (w * g).sum()
    sd = (w * (g - m) ** 2).sum().sqrt()
    _check_mean(samples["mu"].double(), m, sd)
    assert abs(float(samples["mu"].std()) - float(sd)) < 0.15


# ----- eight schools ----------------------------------------------------------------------------
Y = torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools(sigma):
    eta = pyro.sample("eta", dist.Normal(torch.zeros(8), torch.ones(8)))
    mu = pyro.sample("mu", dist.Normal(torch.zeros(1), 10 * torch.ones(1)))
    tau = pyro.sample("tau", dist.HalfCauchy(scale=25 * torch.ones(1)))
    theta = mu + tau * eta
    return pyro.sample("obs", dist.Normal(theta, sigma))


def _eight_schools_reference():
    """Posterior means and sds of mu and tau by 2-D quadrature (theta integrated out:
    y_j | mu, tau ~ Normal(mu, sqrt(sigma_j^2 + tau^2)))."""
    mu = torch.linspace(-40, 50, 901, dtype=torch.float64)
    log_tau = torch.linspace(-8, 7, 1201, dtype=torch.float64)
    tau = log_tau.exp()
    sd = (SIGMA.double()[:, None] ** 2 + tau[None] ** 2).sqrt()  # (8, T)
    ll = torch.distributions.Normal(mu[:, None, None], sd[None]).log_prob(Y.double()[None, :, None]).sum(1)
    lp = (ll + torch.distributions.Normal(0.0, 10.0).log_prob(mu)[:, None]
          + torch.distributions.HalfCauchy(25.0).log_prob(tau)[None] + log_tau[None])
    w = (lp - lp.logsumexp((0, 1))).exp()
    out = {}
    for name, grid in (("mu", mu[:, None]), ("tau", tau[None])):
        m = (w * grid).sum()
        out[name] = (m, ((w * (grid - m) ** 2).sum()).sqrt())
    return out


def test_eight_schools_runs_unchanged_and_matches_quadrature(capsys):
    pyro.set_rng_seed(5)
    conditioned = pyro.poutine.condition(eight_schools, data={"obs": Y})
    mcmc = MCMC(NUTS(conditioned), num_samples=300, warmup_steps=150, disable_progbar=True)
    mcmc.run(SIGMA)
    s = mcmc.get_samples()
    assert s["eta"].shape == (300, 8) and s["mu"].shape == (300, 1) and s["tau"].shape == (300, 1)
    ref = _eight_schools_reference()
    for name in ("mu", "tau"):
        m, sd = ref[name]
        _check_mean(s[name].double(), m, sd)
    mcmc.summary(prob=0.5)
    out = capsys.readouterr().out
    assert "25.0%" in out and "75.0%" in out and "eta[7]" in out and "tau[0]" in out
    assert "Number of divergences:" in out


# ----- the runner ------------------------------------------------------------------------------
def test_mcmc_api_shapes_diagnostics_hook_and_r_hat():
    pyro.set_rng_seed(6)
    mean, cov, potential_fn = _gaussian(dim=2, rho=0.5)
    calls = []
    mcmc = MCMC(NUTS(potential_fn=potential_fn), num_samples=400, num_chains=4,
                initial_params={"x": torch.zeros(4, 2, dtype=torch.float64)},
                hook_fn=lambda kernel, params, stage, i: calls.append((stage, i)),
                disable_progbar=True)
    assert mcmc.warmup_steps == 400  # the default: as many as num_samples
    mcmc.run()
    assert len(calls) == 4 * 800 and calls[0] == ("Warmup", 0) and calls[-1] == ("Sample", 399)
    assert mcmc.get_samples()["x"].shape == (1600, 2)
    assert mcmc.get_samples(group_by_chain=True)["x"].shape == (4, 400, 2)
    assert mcmc.get_samples(100)["x"].shape == (100, 2)
    diag = mcmc.diagnostics()
    assert set(diag) == {"x", "divergences", "acceptance rate"}
    assert set(diag["divergences"]) == {f"chain {i}" for i in range(4)}
    assert diag["x"]["n_eff"].shape == (2,)
    assert (diag["x"]["r_hat"] < 1.01).all()
    assert all(0 < v <= 1 for v in diag["acceptance rate"].values())
    # The chains started from the given points and moved independently.
    grouped = mcmc.get_samples(group_by_chain=True)["x"]
    assert not torch.allclose(grouped[0], grouped[1])


def test_potential_fn_needs_initial_params_and_model_xor_potential():
    with pytest.raises(ValueError, match="initial_params"):
        MCMC(NUTS(potential_fn=lambda p: (p["x"] ** 2).sum()), 5, disable_progbar=True).run()
    with pytest.raises(ValueError, match="Only one of"):
        NUTS()


def test_save_params_and_transforms():
    pyro.set_rng_seed(7)

    def model():
        pyro.sample("a", dist.Normal(0.0, 1.0))
        pyro.sample("b", dist.LogNormal(0.0, 1.0))

    mcmc = MCMC(NUTS(model), num_samples=20, warmup_steps=10, save_params=["b"],
                disable_progbar=True)
    mcmc.run()
    s = mcmc.get_samples()
    assert set(s) == {"b"} and (s["b"] > 0).all()


def test_initialize_model_potential_is_the_negative_log_joint_with_jacobian():
    pyro.set_rng_seed(8)
    data = torch.tensor([0.3, -0.2, 1.1])

    def model(data):
        s = pyro.sample("s", dist.HalfNormal(2.0))
        w = pyro.sample("w", dist.Dirichlet(torch.ones(3)))
        with pyro.plate("n", 3):
            pyro.sample("obs", dist.Normal(w * 3, s), obs=data)

    init, potential_fn, transforms, trace = initialize_model(model, (data,), num_chains=3)
    assert init["s"].shape == (3,) and init["w"].shape == (3, 2)
    assert set(transforms) == {"s", "w"} and "obs" in trace.nodes
    u = {"s": torch.tensor(0.4), "w": torch.tensor([0.1, -0.3])}
    s = transforms["s"].inv(u["s"])
    w = transforms["w"].inv(u["w"])
    log_joint = (torch.distributions.HalfNormal(2.0).log_prob(s)
                 + torch.distributions.Dirichlet(torch.ones(3)).log_prob(w)
                 + torch.distributions.Normal(w * 3, s).log_prob(data).sum())
    log_det = (transforms["s"].inv.log_abs_det_jacobian(u["s"], s)
               + transforms["w"].inv.log_abs_det_jacobian(u["w"], w))
    assert torch.allclose(potential_fn(u), -(log_joint + log_det))
    _, jit_potential, _, _ = initialize_model(model, (data,), jit_compile=True,
                                              skip_jit_warnings=True)
    assert torch.allclose(jit_potential(u), -(log_joint + log_det))
    assert torch.allclose(jit_potential(u), potential_fn(u))


def test_jit_compiled_nuts_recovers_the_posterior():
    pyro.set_rng_seed(9)
    data = torch.randn(10) + 1.0

    def model(data):
        mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
        with pyro.plate("n", len(data)):
            pyro.sample("obs", dist.Normal(mu, 1.0), obs=data)

    mcmc = MCMC(NUTS(model, jit_compile=True, ignore_jit_warnings=True), num_samples=300,
                warmup_steps=150, disable_progbar=True)
    mcmc.run(data)
    _check_mean(mcmc.get_samples()["mu"], data.sum() / 11, 11 ** -0.5)


def test_random_walk_kernel():
    pyro.set_rng_seed(10)
    data = torch.randn(10) + 1.0

    def model(data):
        mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
        with pyro.plate("n", len(data)):
            pyro.sample("obs", dist.Normal(mu, 1.0), obs=data)

    mcmc = MCMC(RandomWalkKernel(model, init_step_size=0.3), num_samples=2000, warmup_steps=500,
                disable_progbar=True)
    mcmc.run(data)
    _check_mean(mcmc.get_samples()["mu"], data.sum() / 11, 11 ** -0.5)
    rate = mcmc.diagnostics()["acceptance rate"]["chain 0"]
    assert 0.1 < rate < 0.6


class ExactGaussianKernel(MCMCKernel):
    """A third-party kernel: independent exact draws of Normal(3, 2)."""

    def __init__(self):
        self._initial_params = {"x": torch.zeros(())}
        self.setups = 0

    @property
    def initial_params(self):
        return self._initial_params

    @initial_params.setter
    def initial_params(self, params):
        self._initial_params = params

    def setup(self, warmup_steps, *args, **kwargs):
        self.setups += 1

    def sample(self, params):
        return {"x": 3.0 + 2.0 * torch.randn(())}


def test_third_party_kernel_runs_under_mcmc():
    pyro.set_rng_seed(11)
    kernel = ExactGaussianKernel()
    mcmc = MCMC(kernel, num_samples=2000, num_chains=2, disable_progbar=True)
    mcmc.run()
    assert kernel.setups == 2
    x = mcmc.get_samples()["x"]
    assert x.shape == (4000,)
    assert abs(float(x.mean()) - 3.0) < 5 * 2.0 / math.sqrt(4000)
    assert set(mcmc.diagnostics()) == {"x"}


def test_summary_and_diagnostics_helpers_by_hand():
    torch.manual_seed(12)
    samples = {"a": torch.randn(2, 50), "b": torch.randn(2, 50, 3)}
    table = summary(samples, prob=0.9)
    assert list(table["a"]) == ["mean", "std", "median", "5.0%", "95.0%", "n_eff", "r_hat"]
    flat = samples["a"].reshape(-1)
    assert torch.allclose(table["a"]["mean"], flat.mean())
    assert torch.allclose(table["a"]["std"], flat.std())
    assert torch.allclose(table["a"]["median"], flat.median())
    sorted_a = flat.sort().values
    k = int(0.9 * 100)
    i = int((sorted_a[k:] - sorted_a[: 100 - k]).argmin())
    assert float(table["a"]["5.0%"]) == float(sorted_a[i])
    assert float(table["a"]["95.0%"]) == float(sorted_a[i + k])
    assert table["b"]["r_hat"].shape == (3,)
    diag = diagnostics(samples)
    assert torch.allclose(diag["a"]["n_eff"], table["a"]["n_eff"])
    single = summary({"a": samples["a"][0]}, group_by_chain=False)
    assert torch.allclose(single["a"]["mean"], samples["a"][0].mean())


def test_mcmc_predictive_is_deprecated():
    def model(x=None):
        m = pyro.sample("m", dist.Normal(0.0, 1.0))
        return pyro.sample("x", dist.Normal(m, 1.0), obs=x)

    with pytest.warns(FutureWarning, match="pyro.infer.Predictive"):
        out = predictive(model, {"m": torch.zeros(10)}, None)
    assert set(out) == {"x"} and out["x"].shape == (10,)


def test_progress_bar_and_validation_switch(capsys):
    from pyro.util import is_validation_enabled

    seen = []

    def model():
        seen.append(is_validation_enabled())
        pyro.sample("x", dist.Normal(0.0, 1.0))

    pyro.set_rng_seed(13)
    MCMC(NUTS(model), num_samples=5, warmup_steps=5).run()
    err = capsys.readouterr().err
    assert "Sample" in err and "step size" in err and "acc. prob" in err
    assert seen and not any(seen)  # disable_validation=True: validation off inside the run
    seen.clear()
    with pyro.validation_enabled(True):
        MCMC(NUTS(model), num_samples=5, warmup_steps=5, disable_progbar=True,
             disable_validation=False).run()
    assert seen and all(seen)


def test_select_samples_draws_with_replacement_as_pyro_does():
    from pyro.infer.mcmc.util import select_samples

    samples = {"x": torch.arange(20.0), "y": torch.arange(20.0) * 10}
    torch.manual_seed(0)
    picked = select_samples(samples, num_samples=50)  # more than the draws: allowed, as in Pyro
    assert picked["x"].shape == (50,)
    assert set(picked["x"].tolist()) <= set(range(20))
    assert torch.equal(picked["y"], picked["x"] * 10)  # the same draws for every site
    assert len(set(picked["x"].tolist())) < 50  # with replacement: repeats
    grouped = select_samples({"x": torch.arange(40.0).reshape(2, 20)}, num_samples=5, group_by_chain=True)
    assert grouped["x"].shape == (2, 5)
    assert torch.equal(grouped["x"][1] - grouped["x"][0], torch.full((5,), 20.0))
    assert select_samples(samples) is samples
