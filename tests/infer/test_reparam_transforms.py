"""TransformReparam, UnitJacobianReparam (DCT, Haar) and SplitReparam keep the model's law."""

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
from pyro.distributions.testing.gof import auto_goodness_of_fit
from pyro.distributions.transforms import (
    AffineTransform,
    DiscreteCosineTransform,
    ExpTransform,
    HaarTransform,
)
from pyro.infer.reparam import (
    DiscreteCosineReparam,
    HaarReparam,
    SplitReparam,
    TransformReparam,
    UnitJacobianReparam,
)

TEST_FAILURE_RATE = 1e-3


def _trace(model, config, *args, **kwargs):
    return poutine.trace(poutine.reparam(model, config)).get_trace(*args, **kwargs)


def _lognormal_td():
    base = dist.Normal(0.5, 0.8)
    return dist.TransformedDistribution(base, [AffineTransform(1.0, 2.0), ExpTransform()])


def test_transform_samples_follow_the_law():
    def model():
        with pyro.plate("draws", 4000):
            pyro.sample("x", _lognormal_td())

    tr = _trace(model, {"x": TransformReparam()})
    x = tr.nodes["x"]["value"]
    assert auto_goodness_of_fit(x, _lognormal_td().log_prob(x).exp()) > TEST_FAILURE_RATE


def test_transform_density_and_observed():
    def model(obs=None):
        with pyro.plate("p", 3):
            return pyro.sample("x", _lognormal_td(), obs=obs)

    tr = _trace(model, {"x": TransformReparam()})
    base = tr.nodes["x_base"]
    x = tr.nodes["x"]["value"]
    assert torch.allclose(x, torch.exp(1.0 + 2.0 * base["value"]))
    # p(x_base) = p(x) |dx/dx_base|, dx/dx_base = 2 x
    expected = _lognormal_td().log_prob(x) + torch.log(2.0 * x)
    assert torch.allclose(base["fn"].log_prob(base["value"]), expected, atol=1e-5)
    assert float(tr.nodes["x"]["fn"].log_prob(x).abs().sum()) == 0.0

    obs = torch.tensor([0.5, 1.0, 4.0])
    tr = _trace(model, {"x": TransformReparam()}, obs=obs)
    assert tr.nodes["x_base"]["is_observed"]
    assert torch.allclose(tr.nodes["x_base"]["value"], (obs.log() - 1.0) / 2.0, atol=1e-6)


def test_transform_keeps_independent_wrappers():
    def model():
        base = dist.Normal(torch.zeros(3), 1.0)
        pyro.sample("v", dist.TransformedDistribution(base, [ExpTransform()]).to_event(1))

    tr = _trace(model, {"v": TransformReparam()})
    assert tr.nodes["v_base"]["fn"].event_shape == (3,)
    assert tr.nodes["v"]["fn"].event_shape == (3,)
    assert torch.allclose(tr.nodes["v"]["value"], tr.nodes["v_base"]["value"].exp())


def test_transform_rejects_other_distributions():
    def model():
        pyro.sample("g", dist.Gamma(2.0, 1.0))

    with pytest.raises(TypeError, match="TransformReparam.*'g'.*TransformedDistribution"):
        _trace(model, {"g": TransformReparam()})


LOC = torch.tensor([0.0, 1.0, -1.0, 2.0])
COV = 0.5 * torch.eye(4) + 0.5


def _mvn_model(n=None):
    fn = dist.MultivariateNormal(LOC, COV)
    if n is None:
        return pyro.sample("x", fn)
    with pyro.plate("draws", n):
        return pyro.sample("x", fn)


@pytest.mark.parametrize("reparam, suffix, transform", [
    (DiscreteCosineReparam(), "dct", DiscreteCosineTransform()),
    (DiscreteCosineReparam(smooth=1.0), "dct", DiscreteCosineTransform(smooth=1.0)),
    (HaarReparam(), "haar", HaarTransform()),
    (HaarReparam(flip=True), "haar", HaarTransform(flip=True)),
    (UnitJacobianReparam(HaarTransform(), suffix="wave"), "wave", HaarTransform()),
])
def test_unit_jacobian_density_and_values(reparam, suffix, transform):
    tr = _trace(_mvn_model, {"x": reparam})
    aux = tr.nodes[f"x_{suffix}"]
    x = tr.nodes["x"]["value"]
    assert torch.allclose(aux["value"], transform(x), atol=1e-5)
    expected = dist.MultivariateNormal(LOC, COV).log_prob(x)
    if suffix == "dct" and transform.smooth:
        # DCT with smoothing is not volume preserving: the density of y picks up its Jacobian.
        expected = expected - transform.log_abs_det_jacobian(x, aux["value"])
    assert torch.allclose(aux["fn"].log_prob(aux["value"]), expected, atol=1e-4)
    assert float(tr.nodes["x"]["fn"].log_prob(x)) == 0.0


@pytest.mark.parametrize("reparam", [DiscreteCosineReparam(), HaarReparam()])
def test_unit_jacobian_samples_follow_the_law(reparam):
    x = _trace(_mvn_model, {"x": reparam}, n=3000).nodes["x"]["value"]
    assert x.shape == (3000, 4)
    # Each marginal is N(loc_i, 1): test two of them and one linear combination.
    for i in (0, 3):
        probs = dist.Normal(LOC[i], 1.0).log_prob(x[:, i]).exp()
        assert auto_goodness_of_fit(x[:, i], probs) > TEST_FAILURE_RATE
    s = x[:, 0] - x[:, 1]  # variance 1 + 1 - 2 * 0.5 = 1
    probs = dist.Normal(LOC[0] - LOC[1], 1.0).log_prob(s).exp()
    assert auto_goodness_of_fit(s, probs) > TEST_FAILURE_RATE


def test_unit_jacobian_observed():
    obs = torch.tensor([0.5, -1.0, 2.0, 0.0])

    def model():
        pyro.sample("x", dist.MultivariateNormal(LOC, COV), obs=obs)

    tr = _trace(model, {"x": HaarReparam()})
    assert tr.nodes["x_haar"]["is_observed"]
    assert torch.allclose(tr.nodes["x_haar"]["value"], HaarTransform()(obs), atol=1e-6)
    assert torch.allclose(tr.nodes["x"]["value"], obs, atol=1e-6)


def test_unit_jacobian_batch_dims():
    def model():
        with pyro.plate("time", 8):
            pyro.sample("z", dist.Normal(torch.arange(8.0), 1.0))

    with pytest.raises(ValueError, match="experimental_allow_batch=True"):
        _trace(model, {"z": DiscreteCosineReparam()})
    tr = _trace(model, {"z": DiscreteCosineReparam(experimental_allow_batch=True)})
    aux = tr.nodes["z_dct"]
    assert aux["fn"].batch_shape == (1,) and aux["fn"].event_shape == (8,)
    z = tr.nodes["z"]["value"]
    assert z.shape == (8,) and tr.nodes["z"]["fn"].batch_shape == (8,)
    assert torch.allclose(aux["value"].reshape(8), DiscreteCosineTransform()(z), atol=1e-5)
    expected = dist.Normal(torch.arange(8.0), 1.0).log_prob(z).sum()
    assert torch.allclose(aux["fn"].log_prob(aux["value"]).sum(), expected, atol=1e-4)


def test_split_density_and_values():
    def model():
        pyro.sample("x", dist.MultivariateNormal(LOC, COV))

    pieces = {"x_split_0": torch.tensor([0.3]), "x_split_1": torch.tensor([1.0, -2.0, 0.5])}
    conditioned = poutine.condition(model, data=pieces)
    tr = poutine.trace(poutine.reparam(conditioned, {"x": SplitReparam([1, 3], -1)})).get_trace()
    x = tr.nodes["x"]["value"]
    assert torch.equal(x, torch.tensor([0.3, 1.0, -2.0, 0.5]))
    assert tr.nodes["x_split_0"]["fn"].event_shape == (1,)
    assert tr.nodes["x_split_1"]["fn"].event_shape == (3,)
    assert float(tr.nodes["x_split_1"]["fn"].log_prob(pieces["x_split_1"])) == 0.0
    expected = dist.MultivariateNormal(LOC, COV).log_prob(x)
    assert torch.allclose(tr.nodes["x"]["fn"].log_prob(x), expected)
    tr.compute_log_prob()
    total = sum(site["log_prob_sum"] for site in tr.nodes.values() if site["type"] == "sample")
    assert torch.allclose(total, expected)


def test_split_positive_support_and_errors():
    def model():
        pyro.sample("s", dist.Exponential(torch.ones(3)).to_event(1))

    tr = poutine.trace(poutine.reparam(
        poutine.condition(model, data={"s_split_0": torch.ones(2), "s_split_1": torch.ones(1)}),
        {"s": SplitReparam([2, 1], -1)})).get_trace()
    assert tr.nodes["s_split_0"]["fn"].support.check(torch.tensor([1.0, 2.0])).all()
    assert not tr.nodes["s_split_0"]["fn"].support.check(torch.tensor([-1.0, 2.0])).all()
    assert float(tr.nodes["s"]["fn"].log_prob(torch.ones(3))) == pytest.approx(-3.0)
    with pytest.raises(ValueError, match="sum to 4"):
        _trace(model, {"s": SplitReparam([2, 2], -1)})
    with pytest.raises(ValueError, match="dim"):
        SplitReparam([1, 2], 0)
