"""LocScaleReparam: the site's law is unchanged for every centering, learned or fixed."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
from pyro.distributions.testing.gof import auto_goodness_of_fit
from pyro.infer.reparam import LocScaleReparam

TEST_FAILURE_RATE = 1e-3
LOC = torch.tensor([1.0, -2.0])
SCALE = torch.tensor([0.5, 3.0])


def model(n=1, obs=None):
    with pyro.plate("draws", n, dim=-2):
        with pyro.plate("pair", 2, dim=-1):
            return pyro.sample("x", dist.Normal(LOC, SCALE), obs=obs)


def _trace(config, *args, **kwargs):
    return poutine.trace(poutine.reparam(model, config)).get_trace(*args, **kwargs)


@pytest.mark.parametrize("centered", [0.0, 0.5, 1.0, None])
def test_samples_follow_the_original_law(centered):
    x = _trace({"x": LocScaleReparam(centered)}, n=4000).nodes["x"]["value"].detach()
    assert x.shape == (4000, 2)
    for i in range(2):
        probs = dist.Normal(LOC[i], SCALE[i]).log_prob(x[:, i]).exp()
        assert auto_goodness_of_fit(x[:, i], probs) > TEST_FAILURE_RATE


@pytest.mark.parametrize("centered", [0.0, 0.3, None])
def test_joint_density_is_the_pullback(centered):
    tr = _trace({"x": LocScaleReparam(centered)}, n=5)
    c = 0.5 if centered is None else centered
    x = tr.nodes["x"]["value"]
    aux = tr.nodes["x_decentered"]
    # x = loc + scale^(1-c) (x_dec - c loc): the density of x_dec is p(x) |dx/dx_dec|.
    expected = dist.Normal(LOC, SCALE).log_prob(x) + (1 - c) * SCALE.log()
    assert torch.allclose(aux["fn"].log_prob(aux["value"]), expected, atol=1e-5)
    assert torch.allclose(aux["fn"].loc, c * LOC.expand(5, 2))
    assert torch.allclose(aux["fn"].scale, (SCALE ** c).expand(5, 2))
    assert torch.allclose(x, LOC + SCALE ** (1 - c) * (aux["value"] - c * LOC), atol=1e-6)
    # The original site is a Delta that adds nothing.
    assert tr.nodes["x"]["is_observed"]
    assert float(tr.nodes["x"]["fn"].log_prob(x).abs().sum()) == 0.0


def test_centered_one_leaves_the_site_alone():
    tr = _trace({"x": LocScaleReparam(1.0)}, n=3)
    assert "x_decentered" not in tr.nodes
    assert isinstance(tr.nodes["x"]["fn"], dist.Normal)
    assert not tr.nodes["x"]["is_observed"]


def test_centered_none_learns_a_param():
    tr = _trace({"x": LocScaleReparam()}, n=3)
    store = pyro.get_param_store()
    assert "x_centered" in store
    centered = store["x_centered"].detach()
    assert centered.shape == ()  # one entry per event element; the event is ()
    assert float(centered) == pytest.approx(0.5)
    assert tr.nodes["x_centered"]["type"] == "param"
    # Constrained to the unit interval: the unconstrained value is its logit.
    unconstrained = store.get_unconstrained("x_centered")
    assert torch.allclose(torch.sigmoid(unconstrained.detach()), centered)
    # The density of the auxiliary draw depends on the centering: it carries a gradient.
    aux = tr.nodes["x_decentered"]
    aux["fn"].log_prob(aux["value"].detach()).sum().backward()
    assert unconstrained.grad is not None and float(unconstrained.grad.abs()) > 0


def test_learned_centering_shape_follows_event_shape():
    def vector_model():
        with pyro.plate("p", 3):
            pyro.sample("v", dist.Normal(torch.zeros(3, 2), torch.ones(3, 2)).to_event(1))

    poutine.trace(poutine.reparam(vector_model, {"v": LocScaleReparam()})).get_trace()
    assert pyro.param("v_centered").shape == (2,)


def test_tensor_centering_per_element():
    c = torch.tensor([0.2, 0.7])
    tr = _trace({"x": LocScaleReparam(c)}, n=2)
    aux = tr.nodes["x_decentered"]["fn"]
    assert torch.allclose(aux.loc, (c * LOC).expand(2, 2))
    assert torch.allclose(aux.scale, (SCALE ** c).expand(2, 2))


def test_observed_site_gets_an_observed_decentered_site():
    obs = torch.tensor([[0.3, 1.0]])
    tr = _trace({"x": LocScaleReparam(0.0)}, obs=obs)
    aux = tr.nodes["x_decentered"]
    assert aux["is_observed"]
    assert torch.allclose(aux["value"], (obs - LOC) / SCALE)
    assert torch.allclose(tr.nodes["x"]["value"], obs, atol=1e-6)
    expected = dist.Normal(LOC, SCALE).log_prob(obs) + SCALE.log()
    assert torch.allclose(aux["fn"].log_prob(aux["value"]), expected, atol=1e-5)


def test_shape_params_pass_through():
    def st_model():
        pyro.sample("t", dist.StudentT(4.0, 1.0, 2.0))

    tr = poutine.trace(poutine.reparam(
        st_model, {"t": LocScaleReparam(0.0, shape_params=["df"])})).get_trace()
    aux = tr.nodes["t_decentered"]
    assert isinstance(aux["fn"], dist.StudentT)
    assert float(aux["fn"].df) == 4.0 and float(aux["fn"].loc) == 0.0
    assert float(aux["fn"].scale) == 1.0
    t = tr.nodes["t"]["value"]
    assert float(t) == pytest.approx(1.0 + 2.0 * float(aux["value"]), abs=1e-6)
    # density in the new coordinates: p(t) * |dt/dt_dec| = p(t) * 2
    expected = dist.StudentT(4.0, 1.0, 2.0).log_prob(t) + math.log(2.0)
    assert float(aux["fn"].log_prob(aux["value"])) == pytest.approx(float(expected), abs=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="centered"):
        LocScaleReparam(1.5)
    with pytest.raises(ValueError, match="centered"):
        LocScaleReparam(torch.tensor([0.5, -0.1]))
    with pytest.raises(TypeError, match="shape_params"):
        LocScaleReparam(0.0, shape_params="df")

    def gamma_model():
        pyro.sample("g", dist.Gamma(2.0, 1.0))

    with pytest.raises(TypeError, match="'g'.*Gamma.*loc"):
        poutine.trace(poutine.reparam(gamma_model, {"g": LocScaleReparam(0.0)})).get_trace()


def test_noncentering_removes_nuts_divergences_in_neals_funnel():
    from pyro.infer import MCMC, NUTS

    def funnel():
        y = pyro.sample("y", dist.Normal(0.0, 3.0))
        with pyro.plate("n", 4):
            pyro.sample("x", dist.Normal(0.0, (y / 2).exp()))

    divergences = {}
    noncentered = poutine.reparam(funnel, {"x": LocScaleReparam(0.0)})
    # A fixed step size (no adaptation), so that the count does not hinge on how adaptation
    # rounds on a given CPU kernel: the centered neck diverges at step 1, the standard-normal
    # geometry of the non-centered model does not.
    for name, fn in [("centered", funnel), ("noncentered", noncentered)]:
        pyro.set_rng_seed(1)
        mcmc = MCMC(NUTS(fn, max_tree_depth=5, step_size=1.0, adapt_step_size=False),
                    num_samples=150, warmup_steps=100, disable_progbar=True)
        mcmc.run()
        divergences[name] = len(mcmc.diagnostics()["divergences"]["chain 0"])
    assert divergences["centered"] > 0
    assert divergences["noncentered"] == 0
