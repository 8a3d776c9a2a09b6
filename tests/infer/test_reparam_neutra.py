"""NeuTraReparam: the reparameterized model's density is the model's, pulled back through the
fitted guide's transform."""

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.autoguide import AutoDiagonalNormal, AutoMultivariateNormal, AutoNormal
from pyro.infer.reparam import NeuTraReparam
from pyro.optim import Adam

DATA = torch.tensor([0.5, 2.0, 1.5])


def model(data=DATA):
    a = pyro.sample("a", dist.Normal(0.0, 1.0))
    with pyro.plate("p", 2):
        b = pyro.sample("b", dist.LogNormal(a, 1.0))
    with pyro.plate("data", len(data)):
        pyro.sample("obs", dist.Normal(a + b.sum(), 1.0), obs=data)


def _model_log_density(a, b, data=DATA):
    return (dist.Normal(0.0, 1.0).log_prob(a) + dist.LogNormal(a, 1.0).log_prob(b).sum()
            + dist.Normal(a + b.sum(), 1.0).log_prob(data).sum())


def _fit(guide_cls):
    guide = guide_cls(model)
    svi = SVI(model, guide, Adam({"lr": 0.05}), Trace_ELBO())
    for _ in range(10):
        svi.step()
    return guide


@pytest.mark.parametrize("guide_cls", [AutoDiagonalNormal, AutoMultivariateNormal])
def test_density_is_the_pullback(guide_cls):
    guide = _fit(guide_cls)
    neutra = NeuTraReparam(guide)
    tr = poutine.trace(neutra.reparam(model)).get_trace()
    shared = [name for name in tr.nodes if name.endswith("_shared_latent")]
    assert shared == ["a_shared_latent"]
    z = tr.nodes["a_shared_latent"]["value"].detach()
    assert z.shape == (3,)
    for name in ("a", "b"):
        assert tr.nodes[name]["is_observed"]
    values = neutra.transform_sample(z)
    assert torch.allclose(tr.nodes["a"]["value"], values["a"])
    assert torch.allclose(tr.nodes["b"]["value"], values["b"])

    def flat(z):
        out = neutra.transform_sample(z)
        return torch.cat([out["a"].reshape(1), out["b"].reshape(2)])

    jac = torch.autograd.functional.jacobian(flat, z)
    x = flat(z)
    expected = _model_log_density(x[0], x[1:]) + torch.linalg.slogdet(jac)[1]
    tr.compute_log_prob()
    total = sum(site["log_prob_sum"] for site in tr.nodes.values() if site["type"] == "sample")
    assert float(total.detach()) == pytest.approx(float(expected.detach()), abs=1e-4)


def test_each_run_draws_one_shared_latent():
    guide = _fit(AutoDiagonalNormal)
    neutra = NeuTraReparam(guide)
    reparam_model = neutra.reparam(model)
    first = poutine.trace(reparam_model).get_trace()
    second = poutine.trace(reparam_model).get_trace()
    z1, z2 = (t.nodes["a_shared_latent"]["value"] for t in (first, second))
    assert not torch.allclose(z1, z2)
    assert torch.allclose(second.nodes["a"]["value"], neutra.transform_sample(z2)["a"])


def test_standard_geometry_for_an_exact_guide():
    def gauss():
        pyro.sample("x", dist.Normal(torch.tensor([1.0, -2.0]), torch.tensor([2.0, 0.5])).to_event(1))

    guide = AutoDiagonalNormal(gauss)
    guide()
    store = pyro.get_param_store()
    store["AutoDiagonalNormal.loc"] = torch.tensor([1.0, -2.0])
    store["AutoDiagonalNormal.scale"] = torch.tensor([2.0, 0.5])
    assert torch.allclose(guide.scale.detach(), torch.tensor([2.0, 0.5]))
    neutra = NeuTraReparam(guide)
    densities = []
    for _ in range(3):
        tr = poutine.trace(neutra.reparam(gauss)).get_trace()
        tr.compute_log_prob()
        z = tr.nodes["x_shared_latent"]["value"]
        total = sum(s["log_prob_sum"] for s in tr.nodes.values() if s["type"] == "sample")
        densities.append(float((total - dist.Normal(0.0, 1.0).log_prob(z).sum()).detach()))
    # With q equal to the posterior, the pulled-back density is the standard normal's.
    assert densities == pytest.approx([0.0] * 3, abs=1e-5)


def test_needs_an_autocontinuous_guide():
    with pytest.raises(TypeError, match="NeuTraReparam expected an AutoContinuous guide"):
        NeuTraReparam(AutoNormal(model))


def test_transform_sample_of_many_draws_and_an_abandoned_run():
    guide = _fit(AutoDiagonalNormal)
    neutra = NeuTraReparam(guide)
    draws = torch.randn(6, 3)
    many = neutra.transform_sample(draws)
    assert many["a"].shape == (6,) and many["b"].shape == (6, 2)
    for i in (0, 5):
        one = neutra.transform_sample(draws[i])
        assert torch.allclose(many["a"][i], one["a"]) and torch.allclose(many["b"][i], one["b"])

    class Stop(Exception):
        pass

    def stop_after_a():
        pyro.sample("a", dist.Normal(0.0, 1.0))
        raise Stop

    with pytest.raises(Stop):
        neutra.reparam(stop_after_a)()
    # The next run draws its own shared latent and uses it for every site.
    tr = poutine.trace(neutra.reparam(model)).get_trace()
    values = neutra.transform_sample(tr.nodes["a_shared_latent"]["value"])
    assert torch.allclose(tr.nodes["b"]["value"], values["b"])
