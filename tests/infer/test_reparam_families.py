"""StudentTReparam, ProjectedNormalReparam and GumbelSoftmaxReparam keep the model's law."""

import math

import pytest
import torch
from scipy import stats

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
from pyro.distributions.testing.gof import auto_goodness_of_fit
from pyro.infer.reparam import GumbelSoftmaxReparam, ProjectedNormalReparam, StudentTReparam

TEST_FAILURE_RATE = 1e-3


def _trace(model, config, *args, **kwargs):
    return poutine.trace(poutine.reparam(model, config)).get_trace(*args, **kwargs)


def test_studentt_samples_follow_the_law():
    fn = dist.StudentT(3.0, 1.0, 2.0)

    def model():
        with pyro.plate("draws", 4000):
            pyro.sample("x", fn)

    x = _trace(model, {"x": StudentTReparam()}).nodes["x"]["value"]
    assert auto_goodness_of_fit(x, fn.log_prob(x).exp()) > TEST_FAILURE_RATE


def test_studentt_conditional_structure():
    def model(obs=None):
        pyro.sample("x", dist.StudentT(torch.tensor([3.0, 7.0]), 1.0, 2.0).to_event(1), obs=obs)

    obs = torch.tensor([0.5, 2.0])
    tr = _trace(model, {"x": StudentTReparam()}, obs=obs)
    gamma = tr.nodes["x_gamma"]
    assert torch.allclose(gamma["fn"].base_dist.concentration, torch.tensor([1.5, 3.5]))
    assert torch.allclose(gamma["fn"].base_dist.rate, torch.tensor([1.5, 3.5]))
    site = tr.nodes["x"]
    assert site["is_observed"] and torch.equal(site["value"], obs)
    assert site["fn"].event_shape == (2,)
    assert torch.allclose(site["fn"].base_dist.scale, 2.0 * gamma["value"].rsqrt())
    # Integrating the mixing variable out gives back the Student-t density (1-D quadrature).
    g = torch.linspace(1e-4, 40.0, 200001, dtype=torch.float64)
    half = 1.5
    mix = (dist.Gamma(torch.tensor(half, dtype=torch.float64), half).log_prob(g)
           + dist.Normal(torch.tensor(1.0, dtype=torch.float64), 2.0 * g.rsqrt()).log_prob(
               torch.tensor(0.5, dtype=torch.float64))).exp()
    integral = torch.trapezoid(mix, g)
    assert float(integral) == pytest.approx(
        math.exp(float(dist.StudentT(3.0, 1.0, 2.0).log_prob(torch.tensor(0.5)))), rel=1e-4)


def test_projected_normal_samples_follow_the_law():
    fn = dist.ProjectedNormal(torch.tensor([1.0, 0.5]))

    def model():
        with pyro.plate("draws", 4000):
            pyro.sample("x", fn)

    tr = _trace(model, {"x": ProjectedNormalReparam()})
    x = tr.nodes["x"]["value"]
    assert torch.allclose(x.norm(dim=-1), torch.ones(4000), atol=1e-5)
    angle = torch.atan2(x[:, 1], x[:, 0])
    # Density per unit of angle = density on the circle's arc length.
    assert auto_goodness_of_fit(angle, fn.log_prob(x).exp()) > TEST_FAILURE_RATE
    assert float(tr.nodes["x"]["fn"].log_prob(x).abs().sum()) == 0.0
    aux = tr.nodes["x_normal"]
    assert torch.allclose(aux["fn"].log_prob(aux["value"]),
                          dist.Normal(0.0, 1.0).log_prob(aux["value"]).sum(-1))


def test_projected_normal_3d_mean_direction():
    conc = torch.tensor([0.0, 2.0, 1.0])

    def model():
        with pyro.plate("draws", 20000):
            pyro.sample("x", dist.ProjectedNormal(conc))

    x = _trace(model, {"x": ProjectedNormalReparam()}).nodes["x"]["value"]
    direct = dist.ProjectedNormal(conc).sample((20000,))
    for i in range(3):
        assert stats.ks_2samp(x[:, i].numpy(), direct[:, i].numpy()).pvalue > TEST_FAILURE_RATE


def test_gumbel_softmax_samples_follow_the_law():
    fn = dist.RelaxedOneHotCategorical(torch.tensor(0.7), torch.tensor([0.2, 0.3, 0.5]))

    def model():
        with pyro.plate("draws", 5000):
            pyro.sample("x", fn)

    tr = _trace(model, {"x": GumbelSoftmaxReparam()})
    x = tr.nodes["x"]["value"]
    assert torch.allclose(x.sum(-1), torch.ones(5000), atol=1e-5)
    direct = fn.sample((5000,))
    for i in range(3):
        assert stats.ks_2samp(x[:, i].numpy(), direct[:, i].numpy()).pvalue > TEST_FAILURE_RATE
    u = tr.nodes["x_uniform"]["value"]
    expected = ((fn.logits - torch.log(-torch.log(u))) / 0.7).softmax(-1)
    assert torch.allclose(x, expected, atol=1e-6)


@pytest.mark.parametrize("reparam, fn", [
    (ProjectedNormalReparam(), dist.ProjectedNormal(torch.ones(3))),
    (GumbelSoftmaxReparam(), dist.RelaxedOneHotCategorical(torch.tensor(1.0), torch.ones(3) / 3)),
])
def test_observed_sites_are_refused(reparam, fn):
    def model():
        pyro.sample("x", fn, obs=fn.sample())

    with pytest.raises(NotImplementedError, match="does not support observe statements"):
        _trace(model, {"x": reparam})


@pytest.mark.parametrize("reparam", [StudentTReparam(), ProjectedNormalReparam(),
                                     GumbelSoftmaxReparam()])
def test_wrong_family_is_refused(reparam):
    def model():
        pyro.sample("y", dist.Normal(torch.zeros(3), 1.0).to_event(1))

    with pytest.raises(TypeError, match="'y'.*got Normal"):
        _trace(model, {"y": reparam})
