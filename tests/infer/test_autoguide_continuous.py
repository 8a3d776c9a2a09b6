"""AutoContinuous and its Normal family: the flat latent layout, the Delta sites with their
log-Jacobians, Pyro's parameter names, summaries, and posteriors recovered by SVI."""

import contextlib
import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.distributions import biject_to, constraints
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.autoguide import (
    AutoContinuous,
    AutoDiagonalNormal,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    init_to_value,
)
from pyro.optim import ClippedAdam

GUIDES = [AutoDiagonalNormal, AutoMultivariateNormal, AutoLowRankMultivariateNormal]


def _plated_model():
    pyro.sample("a", dist.Normal(0.0, 1.0))
    pyro.sample("s", dist.LogNormal(0.0, 1.0))
    pyro.sample("p", dist.Dirichlet(torch.ones(3)))
    with pyro.plate("N", 4):
        pyro.sample("b", dist.Normal(0.0, 1.0))
        with pyro.plate("M", 2, dim=-2):
            pyro.sample("c", dist.Normal(torch.zeros(2), 1.0).to_event(1))
    pyro.sample("obs", dist.Normal(0.0, 1.0), obs=torch.tensor(0.3))


# a, s, p (2 unconstrained), b (4), c (2 * 4 * 2)
PLATED_SHAPES = {"a": (), "s": (), "p": (3,), "b": (4,), "c": (2, 4, 2)}
PLATED_DIM = 1 + 1 + 2 + 4 + 16


def _sample_sites(trace):
    return {n: s for n, s in trace.nodes.items() if s["type"] == "sample"}


@pytest.mark.parametrize("guide_cls", GUIDES)
def test_sites_shapes_and_plates(guide_cls):
    pyro.set_rng_seed(0)
    guide = guide_cls(_plated_model)
    trace = poutine.trace(guide).get_trace()
    sites = _sample_sites(trace)
    name = f"_{guide_cls.__name__}_latent"
    latent = sites[name]
    assert latent["infer"] == {"is_auxiliary": True}
    assert latent["value"].shape == (PLATED_DIM,) and latent["cond_indep_stack"] == ()
    assert guide.latent_dim == PLATED_DIM
    for site_name, shape in PLATED_SHAPES.items():
        site = sites[site_name]
        assert isinstance(site["fn"], dist.Delta)
        assert site["value"].shape == shape
        assert site["fn"].event_dim == (1 if site_name in ("p", "c") else 0)
    assert [f.name for f in sites["b"]["cond_indep_stack"]] == ["N"]
    assert sorted(f.name for f in sites["c"]["cond_indep_stack"]) == ["M", "N"]
    assert {f.dim for f in sites["c"]["cond_indep_stack"]} == {-1, -2}
    assert "obs" not in sites

    # the returned values are the Delta sites' values, each in its support
    values = guide()
    assert {k: tuple(v.shape) for k, v in values.items()} == PLATED_SHAPES
    assert bool(values["s"] > 0)
    assert torch.allclose(values["p"].sum(), torch.tensor(1.0))

    # _unpack_latent yields (prototype site, unconstrained value) in trace order, batched too
    unpacked = list(guide._unpack_latent(torch.zeros(PLATED_DIM)))
    assert [(s["name"], tuple(v.shape)) for s, v in unpacked] == [
        ("a", ()), ("s", ()), ("p", (2,)), ("b", (4,)), ("c", (2, 4, 2))]
    batched = list(guide._unpack_latent(torch.zeros(5, PLATED_DIM)))
    assert [tuple(v.shape) for _, v in batched] == [(5,), (5,), (5, 2), (5, 4), (5, 2, 4, 2)]

    # the model runs replayed against the guide, and the ELBO is finite
    loss = Trace_ELBO().loss(_plated_model, guide)
    assert math.isfinite(loss)


def _log_weight(model, guide, *, particles=None):
    """log p(x, z) - log q(z) of one guide draw: a scalar, or one per particle when the draw is
    made inside a particle plate at dim -3 (left of the model's two plates)."""
    plate = pyro.plate("particles", particles, dim=-3) if particles else contextlib.nullcontext()
    with plate:
        guide_trace = poutine.trace(guide).get_trace()
        model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace()
    total = 0.0
    for trace, sign in ((model_trace, 1.0), (guide_trace, -1.0)):
        for site in trace.nodes.values():
            if site["type"] == "sample" and site["name"] not in ("N", "M", "particles"):
                log_prob = site["fn"].log_prob(site["value"])
                # inside the particle plate every log_prob is (particles, ...)
                flat = log_prob.reshape((particles, -1)) if particles else log_prob.reshape(-1)
                total = total + sign * flat.sum(-1)
    return total, guide_trace


@pytest.mark.parametrize("guide_cls", GUIDES)
def test_vectorized_particles_line_up_with_the_plates(guide_cls):
    """Drawn inside a particle plate left of the model's plates, each particle's sites are the
    slices of its own latent vector, and its log-weight equals that of the same latent drawn
    alone."""
    pyro.set_rng_seed(6)
    guide = guide_cls(_plated_model)
    guide()
    weights, trace = _log_weight(_plated_model, guide, particles=3)
    latent = trace.nodes[f"_{guide_cls.__name__}_latent"]["value"]
    assert latent.shape == (3, 1, 1, PLATED_DIM)
    assert trace.nodes["b"]["value"].shape == (3, 1, 4)
    assert trace.nodes["c"]["value"].shape == (3, 2, 4, 2)
    for i in range(3):
        one = poutine.condition(guide, data={f"_{guide_cls.__name__}_latent": latent[i, 0, 0]})
        weight, single = _log_weight(_plated_model, one)
        assert torch.allclose(single.nodes["c"]["value"], trace.nodes["c"]["value"][i])
        assert torch.allclose(weights[i], weight, atol=1e-4)


def test_param_names_shapes_and_initial_values():
    def model():
        pyro.sample("a", dist.Normal(torch.zeros(3), 1.0).to_event(1))
        pyro.sample("s", dist.LogNormal(0.0, 1.0))

    init = init_to_value(values={"a": torch.tensor([0.5, -1.0, 2.0]), "s": torch.tensor(3.0)})
    expected_loc = torch.tensor([0.5, -1.0, 2.0, math.log(3.0)])
    store = pyro.get_param_store()

    pyro.clear_param_store()
    guide = AutoDiagonalNormal(model, init_loc_fn=init, init_scale=0.3)
    guide()
    assert sorted(store.keys()) == ["AutoDiagonalNormal.loc", "AutoDiagonalNormal.scale"]
    assert torch.allclose(guide.loc, expected_loc)
    assert torch.allclose(guide.scale, torch.full((4,), 0.3))
    assert isinstance(store._constraints["AutoDiagonalNormal.scale"], type(constraints.softplus_positive))

    pyro.clear_param_store()
    guide = AutoMultivariateNormal(model, init_loc_fn=init, init_scale=0.3)
    guide()
    assert sorted(store.keys()) == ["AutoMultivariateNormal.loc", "AutoMultivariateNormal.scale",
                                    "AutoMultivariateNormal.scale_tril"]
    assert torch.allclose(guide.loc, expected_loc)
    assert torch.equal(guide.scale_tril, torch.eye(4))
    assert torch.allclose(guide.get_posterior().covariance_matrix, 0.09 * torch.eye(4))

    pyro.clear_param_store()
    pyro.set_rng_seed(1)
    guide = AutoLowRankMultivariateNormal(model, init_loc_fn=init, init_scale=0.3)
    guide()
    assert sorted(store.keys()) == ["AutoLowRankMultivariateNormal.cov_factor",
                                    "AutoLowRankMultivariateNormal.loc",
                                    "AutoLowRankMultivariateNormal.scale"]
    assert guide.rank == 2 and guide.cov_factor.shape == (4, 2)  # round(sqrt(4))
    assert torch.allclose(guide.scale, torch.full((4,), 0.3 / math.sqrt(2)))
    W, s = guide.cov_factor, guide.scale
    cov = torch.diag(s) @ (W @ W.T + torch.eye(4)) @ torch.diag(s)
    assert torch.allclose(guide.get_posterior().covariance_matrix, cov, atol=1e-6)


@pytest.mark.parametrize("latent_dim,rank", [(1, 1), (2, 1), (3, 2), (7, 3), (13, 4), (24, 5)])
def test_low_rank_default_rank(latent_dim, rank):
    def model():
        pyro.sample("z", dist.Normal(torch.zeros(latent_dim), 1.0).to_event(1))

    pyro.clear_param_store()
    guide = AutoLowRankMultivariateNormal(model)
    guide()
    assert guide.cov_factor.shape == (latent_dim, rank)


def test_bad_arguments_and_models():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))

    for guide_cls in GUIDES:
        for bad in (0.0, -1.0, 1, "x"):
            with pytest.raises(ValueError, match="Expected init_scale > 0. but got"):
                guide_cls(model, init_scale=bad)
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="Expected rank > 0 but got"):
            AutoLowRankMultivariateNormal(model, rank=bad)

    def discrete():
        pyro.sample("k", dist.Bernoulli(0.5))

    with pytest.raises(ValueError, match="discrete sample site 'k'.*enumerat"):
        AutoDiagonalNormal(discrete)()

    def observed_only():
        pyro.sample("x", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0))

    with pytest.raises(RuntimeError, match="AutoMultivariateNormal found no latent variables"):
        AutoMultivariateNormal(observed_only)()
    with pytest.raises(AttributeError):
        AutoDiagonalNormal(model).loc  # no parameters before the guide has seen the model
    assert isinstance(AutoDiagonalNormal(model), AutoContinuous)
    assert not isinstance(AutoMultivariateNormal(model), AutoDiagonalNormal)


def test_constrained_sites_log_density_is_the_change_of_variables():
    """The guide trace's log-density is that of the constrained values: for the scale site the
    LogNormal density, for the simplex site the Normal density over the stick-breaking
    coordinates divided by the Jacobian determinant (from autograd) of the first K-1 coordinates.
    """
    def model():
        pyro.sample("s", dist.LogNormal(0.0, 1.0))
        pyro.sample("p", dist.Dirichlet(torch.ones(3)))

    pyro.clear_param_store()
    pyro.set_rng_seed(3)
    guide = AutoDiagonalNormal(model, init_scale=0.5)
    trace = poutine.trace(guide).get_trace()
    trace.compute_log_prob()
    loc, scale = guide.loc.detach(), guide.scale.detach()
    u = trace.nodes["_AutoDiagonalNormal_latent"]["value"].detach()
    s, p = trace.nodes["s"]["value"].detach(), trace.nodes["p"]["value"].detach()

    expected_s = torch.distributions.LogNormal(loc[0], scale[0]).log_prob(s)
    stick = biject_to(constraints.simplex)
    jac = torch.autograd.functional.jacobian(lambda v: stick(v)[:2], u[1:3])
    expected_p = (torch.distributions.Normal(loc[1:3], scale[1:3]).log_prob(u[1:3]).sum()
                  - torch.linalg.slogdet(jac)[1])
    assert torch.allclose(p, stick(u[1:3]))
    total = sum(site["log_prob"] for site in trace.nodes.values() if site["type"] == "sample")
    assert torch.allclose(total, expected_s + expected_p, atol=1e-5)
    assert torch.allclose(trace.nodes["s"]["log_prob"], -torch.log(s), atol=1e-6)


@pytest.mark.parametrize("guide_cls", GUIDES)
def test_median_and_quantiles_match_the_guide_marginals(guide_cls):
    """median() and quantiles() against the guide's own draws: a positive site whose guide
    marginal is LogNormal, and a real vector site correlated with it."""
    def model():
        pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
        pyro.sample("s", dist.LogNormal(0.0, 1.0))

    pyro.clear_param_store()
    pyro.set_rng_seed(4)
    guide = guide_cls(model, init_scale=0.5)
    guide()
    store = pyro.get_param_store()
    name = guide_cls.__name__
    store[f"{name}.loc"] = torch.tensor([0.3, -0.7, 0.4])
    if guide_cls is AutoMultivariateNormal:
        store[f"{name}.scale_tril"] = torch.tensor([[1.0, 0.0, 0.0], [0.8, 1.0, 0.0],
                                                    [-0.5, 0.6, 1.0]])
    if guide_cls is AutoLowRankMultivariateNormal:
        store[f"{name}.cov_factor"] = torch.tensor([[0.9], [-1.2], [0.7]])

    median = guide.median()
    assert torch.allclose(median["z"], torch.tensor([0.3, -0.7]))
    assert torch.allclose(median["s"], torch.tensor(math.exp(0.4)))

    levels = [0.1, 0.5, 0.9]
    q = guide.quantiles(levels)
    assert q["z"].shape == (3, 2) and q["s"].shape == (3,)
    with torch.no_grad(), pyro.plate("draws", 40000, dim=-1):
        draws = guide()
    for site, dim in (("z", 0), ("z", 1), ("s", None)):
        x = draws[site] if dim is None else draws[site][..., dim]
        empirical = torch.quantile(x, torch.tensor(levels))
        got = q[site] if dim is None else q[site][:, dim]
        assert torch.allclose(got, empirical, atol=0.03), (site, got, empirical)
    assert torch.allclose(q["s"][1], median["s"])
    # the marginal standard deviation in _loc_scale is that of the posterior's covariance
    loc, scale = guide._loc_scale()
    post = guide.get_posterior()
    assert torch.allclose(scale, post.variance.sqrt(), atol=1e-6)
    with pytest.raises(ValueError, match="quantiles"):
        guide.quantiles([0.5, 1.5])


def test_subsampled_plate_follows_pyro():
    """As in Pyro, a site under a subsampled plate gets a latent slot of the subsample's size and
    the guide's plate subsamples with the model's subsample size (its Delta is scaled by
    size / subsample_size); the model replays the guide's indices."""
    def model():
        with pyro.plate("N", 10, subsample_size=3) as idx:
            pyro.sample("x", dist.Normal(0.0, 1.0))
        return idx

    pyro.set_rng_seed(5)
    guide = AutoDiagonalNormal(model)
    guide_trace = poutine.trace(guide).get_trace()
    assert guide.latent_dim == 3
    x = guide_trace.nodes["x"]
    assert x["value"].shape == (3,) and x["scale"] == pytest.approx(10 / 3)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace()
    assert torch.equal(model_trace.nodes["N"]["value"], guide_trace.nodes["N"]["value"])


def _fit(model, guide, steps, num_particles=32, seed=0):
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    svi = SVI(model, guide, ClippedAdam({"lr": 0.05, "lrd": 0.99}),
              Trace_ELBO(num_particles=num_particles, vectorize_particles=True))
    for _ in range(steps):
        svi.step()


# A conjugate model with a strongly correlated 2-D Gaussian posterior.
PRIOR_COV = torch.tensor([[1.0, 0.9], [0.9, 1.0]])
LIK_COV = 2.0 * torch.eye(2)
XBAR = torch.tensor([1.0, -0.5])
POST_PREC = torch.linalg.inv(PRIOR_COV) + torch.linalg.inv(LIK_COV)
POST_COV = torch.linalg.inv(POST_PREC)
POST_MEAN = POST_COV @ torch.linalg.inv(LIK_COV) @ XBAR


def _conjugate_model():
    z = pyro.sample("z", dist.MultivariateNormal(torch.zeros(2), PRIOR_COV))
    pyro.sample("x", dist.MultivariateNormal(z, LIK_COV), obs=XBAR)


def test_multivariate_normal_recovers_correlated_posterior():
    guide = AutoMultivariateNormal(_conjugate_model)
    _fit(_conjugate_model, guide, 300)
    post = guide.get_posterior()
    # posterior correlation 0.82; observed errors ~0.01
    assert torch.allclose(post.mean, POST_MEAN, atol=0.05)
    assert torch.allclose(post.covariance_matrix, POST_COV, atol=0.05)
    assert torch.allclose(guide.median()["z"], POST_MEAN, atol=0.05)


def test_diagonal_normal_recovers_mean_field_optimum():
    """The KL(q||p)-optimal diagonal Normal of a Gaussian has the exact mean and the variances
    1 / diag(precision) (0.17 here, well below the marginal variances 0.53)."""
    guide = AutoDiagonalNormal(_conjugate_model)
    _fit(_conjugate_model, guide, 300)
    assert torch.allclose(guide.loc, POST_MEAN, atol=0.05)
    assert torch.allclose(guide.scale ** 2, 1 / torch.diagonal(POST_PREC), atol=0.02)


def test_low_rank_recovers_rank_one_plus_diagonal_target():
    mu = torch.tensor([0.5, -1.0, 2.0])
    cov = torch.diag(torch.tensor([0.3, 0.2, 0.4])) + torch.outer(*(2 * [torch.tensor([0.9, -0.7, 0.5])]))

    def model():
        pyro.sample("z", dist.MultivariateNormal(mu, cov))

    guide = AutoLowRankMultivariateNormal(model, rank=1)
    _fit(model, guide, 400)
    post = guide.get_posterior()
    # observed errors ~0.035; off-diagonal entries are -0.63, 0.45, -0.35
    assert torch.allclose(post.mean, mu, atol=0.1)
    assert torch.allclose(post.covariance_matrix, cov, atol=0.1)


@pytest.fixture
def without_pyro_nn():
    """A process-wide plugin manager with the first-party plugins, pyro-nn's removed."""
    from pyro.plugins import set_plugin_manager
    from pyro.plugins.testing import fresh_plugin_manager

    manager = fresh_plugin_manager()
    manager.unregister("pyro-nn")  # a no-op where pyro-nn is not installed
    old = set_plugin_manager(manager)
    try:
        yield manager
    finally:
        set_plugin_manager(old)


def test_flow_guides_name_pyro_nn_when_it_is_missing(without_pyro_nn):
    import pyro.infer.autoguide as autoguide

    for name in ("AutoIAFNormal", "AutoNormalizingFlow"):
        with pytest.raises(ModuleNotFoundError) as info:
            getattr(autoguide, name)
        message = str(info.value)
        assert f"pyro.infer.autoguide.{name} is provided by the pyro-nn package" in message
        assert 'pip install "pyro-core[nn]"' in message
    with pytest.raises(ModuleNotFoundError, match="pyro-nn"):
        exec("from pyro.infer.autoguide import AutoIAFNormal", {})
    with pytest.raises(AttributeError, match="has no attribute 'AutoNotAGuide'"):
        autoguide.AutoNotAGuide


def test_every_autoguide_is_registered_through_the_plugin_hook():
    import pyro.infer.autoguide as autoguide
    from pyro.plugins import get_registry

    registry = get_registry("inference")
    for name in autoguide.__all__:
        if name.startswith("Auto"):
            assert registry.get(name) is getattr(autoguide, name)
            assert registry.owner(name) == "pyro-infer"
