"""The stable reparameterizers and LinearHMMReparam leave the model's distribution unchanged."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.reparam import (
    LatentStableReparam,
    LinearHMMReparam,
    StableReparam,
    StudentTReparam,
    SymmetricStableReparam,
)
from pyro.optim import Adam

D = torch.float64
N = 20000


@pytest.fixture
def levy_s0():
    old = scipy.stats.levy_stable.parameterization
    scipy.stats.levy_stable.parameterization = "S0"
    yield scipy.stats.levy_stable
    scipy.stats.levy_stable.parameterization = old


def _stable(alpha, beta, coords="S0"):
    return dist.Stable(torch.tensor(alpha, dtype=D), torch.tensor(beta, dtype=D), 2.0, 1.0,
                       coords=coords)


GRID = 1.0 + 2.0 * np.array([-5.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 5.0])


def _ecdf(x):
    return (x.unsqueeze(-1) <= torch.tensor(GRID)).double().mean(0).numpy()


def _draw(reparam, fn, n=N):
    def model():
        with pyro.plate("n", n):
            return pyro.sample("x", fn)

    with poutine.trace() as tr:
        x = poutine.reparam(model, {"x": reparam})()
    return x, tr.trace


CASES = [
    (LatentStableReparam, 1.5, 0.4),
    (LatentStableReparam, 0.8, -0.7),
    (LatentStableReparam, 1.0, 0.5),
    (StableReparam, 1.5, 0.4),
    (StableReparam, 1.0, -0.6),
    (StableReparam, 0.7, 0.9),
    (StableReparam, 1.8, 0.0),
    (SymmetricStableReparam, 1.5, 0.0),
    (SymmetricStableReparam, 0.6, 0.0),
    (SymmetricStableReparam, 2.0, 0.0),
]


@pytest.mark.parametrize("reparam,alpha,beta", CASES)
def test_reparameterized_site_keeps_its_distribution(levy_s0, reparam, alpha, beta):
    torch.manual_seed(0)
    x, trace = _draw(reparam(), _stable(alpha, beta))
    expected = levy_s0.cdf(GRID, alpha, beta, loc=1.0, scale=2.0)
    assert np.abs(_ecdf(x) - expected).max() < 0.015


def test_s_coords_sites_are_shifted_to_s0():
    old = scipy.stats.levy_stable.parameterization
    scipy.stats.levy_stable.parameterization = "S1"
    try:
        expected = scipy.stats.levy_stable.cdf(GRID, 1.5, 0.5, loc=1.0, scale=2.0)
    finally:
        scipy.stats.levy_stable.parameterization = old
    torch.manual_seed(1)
    for reparam in (LatentStableReparam(), StableReparam()):
        x, _ = _draw(reparam, _stable(1.5, 0.5, coords="S"))
        assert np.abs(_ecdf(x) - expected).max() < 0.015


@pytest.mark.parametrize("reparam,beta", [(StableReparam, 0.6), (SymmetricStableReparam, 0.0)])
def test_observed_site_marginal_is_the_stable_density(reparam, beta):
    # Averaging the conditional normal density of an observation over the auxiliary draws
    # gives the stable density of the observation.
    torch.manual_seed(2)
    obs = torch.tensor(0.3, dtype=D)
    fn = _stable(1.5, beta).expand((N,))

    def model():
        with pyro.plate("n", N):
            return pyro.sample("x", fn, obs=obs.expand(N))

    with poutine.trace() as tr:
        poutine.reparam(model, {"x": reparam()})()
    site = tr.trace.nodes["x"]
    assert site["is_observed"] and isinstance(site["fn"], dist.Normal)
    marginal = site["fn"].log_prob(site["value"]).exp().mean()
    expected = _stable(1.5, beta).log_prob(obs).exp()
    assert abs(marginal.item() / expected.item() - 1) < 0.03


def test_site_structure_follows_pyro():
    torch.manual_seed(3)
    fn = _stable(1.5, 0.3)
    _, trace = _draw(LatentStableReparam(), fn, 3)
    sites = [n for n, s in trace.nodes.items() if s["type"] == "sample" and n != "n"]
    assert sites == ["x_uniform", "x_exponential", "x"]
    x = trace.nodes["x"]
    assert x["is_observed"] and isinstance(x["fn"], dist.MaskedDistribution)
    assert x["fn"].log_prob(x["value"]).abs().sum() == 0
    u = trace.nodes["x_uniform"]["fn"]
    assert isinstance(u, dist.Uniform) and torch.allclose(u.high, torch.full((3,), math.pi / 2,
                                                                            dtype=D))
    _, trace = _draw(StableReparam(), fn, 3)
    sites = [n for n, s in trace.nodes.items() if s["type"] == "sample" and n != "n"]
    assert sites == ["x_z_uniform", "x_z_exponential", "x_t_uniform", "x_t_exponential", "x"]
    _, trace = _draw(SymmetricStableReparam(), _stable(1.5, 0.0), 3)
    sites = [n for n, s in trace.nodes.items() if s["type"] == "sample" and n != "n"]
    assert sites == ["x_uniform", "x_exponential", "x"]
    # event dims are kept: a Stable(...).to_event(1) site gets auxiliary sites with that event
    fn = dist.Stable(torch.full((4,), 1.5), torch.zeros(4)).to_event(1)
    _, trace = _draw(SymmetricStableReparam(), fn, 3)
    assert trace.nodes["x_uniform"]["fn"].event_shape == (4,)
    assert trace.nodes["x"]["fn"].event_shape == (4,)


def test_symmetric_mixing_scale_is_the_closed_form():
    # x ~ Normal(loc, scale * sqrt(2 m)), m = cos(pi a/4)^(2/a) (z + tan(pi a/4)) with z the
    # standard S0(a/2, 1) draw of the auxiliary sites.
    torch.manual_seed(4)
    a = 1.5
    _, trace = _draw(SymmetricStableReparam(), _stable(a, 0.0), 5)
    u, e = trace.nodes["x_uniform"]["value"], trace.nodes["x_exponential"]["value"]
    from pyro.distributions.stable import standard_stable

    z = standard_stable(torch.tensor(a / 2, dtype=D), torch.tensor(1.0, dtype=D), u, e)
    m = math.cos(math.pi * a / 4) ** (2 / a) * (z + math.tan(math.pi * a / 4))
    assert torch.allclose(trace.nodes["x"]["fn"].scale, 2.0 * (2 * m).sqrt())


def test_errors():
    def run(reparam, fn, obs=None):
        poutine.reparam(lambda: pyro.sample("x", fn, obs=obs), {"x": reparam})()

    with pytest.raises(TypeError, match="StableWithLogProb"):
        run(StableReparam(), dist.StableWithLogProb(1.5, 0.0))
    with pytest.raises(TypeError, match="expects a Stable"):
        run(LatentStableReparam(), dist.Normal(0.0, 1.0))
    with pytest.raises(ValueError, match="nonzero skew"):
        run(SymmetricStableReparam(), dist.Stable(1.5, 0.2))
    with pytest.raises(NotImplementedError, match="observe"):
        run(LatentStableReparam(), dist.Stable(1.5, 0.2), torch.tensor(0.0))
    with pytest.raises(TypeError, match="LinearHMM"):
        run(LinearHMMReparam(), dist.Normal(0.0, 1.0))
    with pytest.raises(TypeError, match="Reparam or None"):
        LinearHMMReparam(init="nope")


H, O, T = 2, 2, 4


def _linear_hmm(noise, batch=(), obs_transform=False, skew=0.3):
    torch.manual_seed(5)
    A = 0.5 * torch.randn(batch + (T, H, H), dtype=D)
    B = torch.randn(batch + (T, H, O), dtype=D)

    def nd(shape, scale):
        if noise == "stable":
            return dist.Stable(torch.full(shape, 1.7, dtype=D), torch.full(shape, skew, dtype=D),
                               torch.full(shape, scale, dtype=D)).to_event(1)
        return dist.StudentT(torch.full(shape, 4.0, dtype=D), torch.zeros(shape, dtype=D),
                             torch.full(shape, scale, dtype=D)).to_event(1)

    obs = nd(batch + (T, O), 0.5)
    if obs_transform:
        obs = dist.TransformedDistribution(obs, [dist.transforms.ExpTransform()])
    return dist.LinearHMM(nd(batch + (H,), 1.0), A, nd(batch + (T, H), 0.7), B, obs,
                          duration=T)


def test_linear_hmm_reparam_gives_a_gaussian_hmm_conditioned_on_the_aux_sites():
    hmm = _linear_hmm("stable", batch=(3,))
    rep = LinearHMMReparam(StableReparam(), StableReparam(), StableReparam())

    def model(y=None):
        with pyro.plate("b", 3):
            return pyro.sample("x", hmm, obs=y)

    y = torch.randn(3, T, O, dtype=D)
    with poutine.trace() as tr:
        poutine.reparam(model, {"x": rep})(y)
    nodes = tr.trace.nodes
    for part, event in (("init", (H,)), ("trans", (T, H)), ("obs", (T, O))):
        for aux in ("z_uniform", "z_exponential", "t_uniform", "t_exponential"):
            site = nodes[f"x_{part}_{aux}"]
            assert site["fn"].batch_shape == (3,) and site["fn"].event_shape == event
    site = nodes["x"]
    assert isinstance(site["fn"], dist.GaussianHMM) and site["is_observed"]
    assert site["fn"].batch_shape == (3,) and site["fn"].event_shape == (T, O)
    # the same GaussianHMM built by hand from StableReparam's conditional normals
    normals = {}
    for part, fn in (("init", hmm.initial_dist), ("trans", hmm.transition_dist.to_event(1)),
                     ("obs", hmm.observation_dist.to_event(1))):
        msg = {"name": f"x_{part}", "fn": fn, "value": None, "is_observed": False}
        with poutine.condition(data={k: nodes[k]["value"] for k in nodes if k.startswith("x_")}):
            normal = StableReparam().apply(msg)["fn"]
        inner = normal
        while isinstance(inner, torch.distributions.Independent):
            inner = inner.base_dist
        normals[part] = inner.to_event(1)
    expected = dist.GaussianHMM(normals["init"], hmm.transition_matrix, normals["trans"],
                                hmm.observation_matrix, normals["obs"])
    assert torch.allclose(site["fn"].log_prob(y), expected.log_prob(y))


@pytest.mark.parametrize("noise,reparam", [("stable", SymmetricStableReparam),
                                           ("stable", StableReparam),
                                           ("studentt", StudentTReparam)])
def test_linear_hmm_reparam_keeps_the_distribution(noise, reparam):
    hmm = _linear_hmm(noise, skew=0.0 if reparam is SymmetricStableReparam else 0.3)
    rep = LinearHMMReparam(reparam(), reparam(), reparam())
    n = 4000

    def model():
        with pyro.plate("n", n):
            return pyro.sample("x", hmm)

    torch.manual_seed(6)
    x = poutine.reparam(model, {"x": rep})()
    torch.manual_seed(7)
    ref = hmm.sample((n,))
    assert x.shape == ref.shape == (n, T, O)
    q = torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9], dtype=D)
    for t in (0, T - 1):
        for k in range(O):
            a, b = x[:, t, k], ref[:, t, k]
            spread = (b.quantile(0.75) - b.quantile(0.25)).item()
            assert torch.allclose(a.quantile(q), b.quantile(q), atol=0.12 * spread)


def test_linear_hmm_reparam_with_transformed_observations():
    hmm = _linear_hmm("studentt", obs_transform=True)
    rep = LinearHMMReparam(StudentTReparam(), StudentTReparam(), StudentTReparam())
    with poutine.trace() as tr:
        poutine.reparam(lambda: pyro.sample("x", hmm), {"x": rep})()
    fn = tr.trace.nodes["x"]["fn"]
    assert isinstance(fn, dist.TransformedDistribution)
    assert isinstance(fn.base_dist, dist.GaussianHMM)
    assert isinstance(fn.transforms[0], dist.transforms.ExpTransform)
    y = tr.trace.nodes["x"]["value"]
    assert (y > 0).all()
    jac = y.log().sum((-1, -2))
    assert torch.allclose(fn.log_prob(y), fn.base_dist.log_prob(y.log()) - jac)
    with pytest.raises(ValueError, match="StudentT, not Gaussian"):
        poutine.reparam(lambda: pyro.sample("x", hmm), {"x": LinearHMMReparam()})()


def test_svi_step_on_a_reparameterized_model():
    # With the auxiliary sites guided by their priors and loc by a point mass, one SVI step's
    # loss is -log N(loc; 0, 10) - sum_i log Normal(y_i; loc, sqrt(2 m_i)), and Adam's first
    # step moves loc by lr against the sign of its gradient.
    pyro.clear_param_store()
    torch.manual_seed(8)
    data = dist.Stable(1.5, 0.0, 1.0, 3.0).sample((50,))

    def model(data):
        loc = pyro.sample("loc", dist.Normal(0.0, 10.0))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Stable(1.5, 0.0, 1.0, loc), obs=data)

    def guide(data):
        pyro.sample("loc", dist.Delta(pyro.param("loc_q", torch.tensor(1.0))))
        with pyro.plate("data", len(data)):
            pyro.sample("obs_uniform", dist.Uniform(-math.pi / 2, math.pi / 2))
            pyro.sample("obs_exponential", dist.Exponential(1.0))

    model = poutine.reparam(model, {"obs": SymmetricStableReparam()})
    svi = SVI(model, guide, Adam({"lr": 0.05}), Trace_ELBO())
    torch.manual_seed(9)
    loss = svi.step(data)
    torch.manual_seed(9)
    tr = poutine.trace(guide).get_trace(data)
    u, e = tr.nodes["obs_uniform"]["value"], tr.nodes["obs_exponential"]["value"]
    from pyro.distributions.stable import standard_stable

    z = standard_stable(torch.tensor(0.75), torch.tensor(1.0), u, e)
    m = math.cos(math.pi * 1.5 / 4) ** (2 / 1.5) * (z + math.tan(math.pi * 1.5 / 4))
    loc = torch.tensor(1.0, requires_grad=True)
    expected = -(dist.Normal(0.0, 10.0).log_prob(loc)
                 + dist.Normal(loc, (2 * m).sqrt()).log_prob(data).sum())
    (grad,) = torch.autograd.grad(expected, [loc])
    assert abs(loss - expected.item()) < 1e-3 * abs(expected.item())
    new_loc = pyro.param("loc_q").item()
    assert abs(new_loc - (1.0 - 0.05 * grad.sign().item())) < 1e-4


def test_strategies_pick_the_stable_reparameterizers_as_pyro():
    from pyro.infer.reparam import AutoReparam, MinimalReparam

    def msg(fn, observed):
        return {"name": "s", "fn": fn, "is_observed": observed}

    skewed = dist.Stable(1.5, 0.3)
    symmetric = dist.Stable(1.5, torch.zeros(2))
    for strategy in (MinimalReparam, AutoReparam):
        assert type(strategy().configure(msg(skewed, True))).__name__ == "StableReparam"
        assert type(strategy().configure(msg(symmetric, True))).__name__ == "SymmetricStableReparam"
        assert strategy().configure(msg(dist.StableWithLogProb(1.5, 0.3), True)) is None
    assert type(MinimalReparam().configure(msg(skewed, False))).__name__ == "LatentStableReparam"
    assert type(AutoReparam().configure(msg(skewed, False))).__name__ == "LocScaleReparam"


def test_loc_scale_reparam_keeps_the_stable_coords():
    from pyro.infer.reparam import LocScaleReparam

    def model():
        return pyro.sample("x", dist.Stable(1.5, 0.5, 2.0, 1.0, coords="S"))

    pyro.set_rng_seed(0)
    reparam = LocScaleReparam(centered=0.0, shape_params=["stability", "skew"])
    tr = poutine.trace(poutine.reparam(model, {"x": reparam})).get_trace()
    assert tr.nodes["x_decentered"]["fn"].coords == "S"
