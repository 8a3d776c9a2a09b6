"""AutoNormal / AutoDelta: parameter shapes, init strategies, median and quantiles, fitting."""

import math

import pytest
import torch

import pyro
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.autoguide import (
    AutoDelta,
    AutoNormal,
    init_to_feasible,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_value,
)

D = torch.distributions
DATA = torch.tensor([1.0, 2.0, 0.5])


def model(data):
    z = pyro.sample("z", D.Normal(0.0, 1.0))
    s = pyro.sample("s", D.LogNormal(0.0, 1.0))
    u = pyro.sample("u", D.Beta(2.0, 6.0))
    with pyro.plate("data", len(data)):
        loc = pyro.sample("loc", D.Normal(z, 1.0))
        pyro.sample("x", D.Normal(loc, s), obs=data)
    return u


@pytest.fixture(autouse=True)
def clean_store():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


def test_autonormal_params_and_sites():
    guide = AutoNormal(model)
    tr = poutine.trace(guide).get_trace(DATA)
    store = pyro.get_param_store()
    for name, shape in [("z", ()), ("s", ()), ("u", ()), ("loc", (3,))]:
        assert store[f"AutoNormal.locs.{name}"].shape == shape
        assert store[f"AutoNormal.scales.{name}"].shape == shape
        assert torch.allclose(store[f"AutoNormal.scales.{name}"], torch.tensor(0.1))
        assert tr.nodes[name]["value"].shape == shape
    # Default init_to_feasible: zero in unconstrained space.
    med = guide.median(DATA)
    assert med["z"].item() == pytest.approx(0.0)
    assert med["s"].item() == pytest.approx(1.0)
    assert med["u"].item() == pytest.approx(0.5)
    assert torch.equal(guide.locs.loc, store["AutoNormal.locs.loc"])
    # Values lie in each site's support.
    assert tr.nodes["s"]["value"].item() > 0
    assert 0 < tr.nodes["u"]["value"].item() < 1


def test_autonormal_log_density_includes_jacobian():
    guide = AutoNormal(model, init_scale=0.3)
    tr = poutine.trace(guide).get_trace(DATA)
    tr.compute_log_prob()
    s = tr.nodes["s"]["value"]
    loc = pyro.param("AutoNormal.locs.s")
    # LogNormal(loc, 0.3) density of s, i.e. Normal in log space plus the log-Jacobian -log s.
    expected = D.LogNormal(loc, 0.3).log_prob(s)
    got = tr.nodes["s_unconstrained"]["log_prob"] + tr.nodes["s"]["log_prob"]
    assert got.item() == pytest.approx(expected.item(), abs=1e-5)


@pytest.mark.parametrize("init_fn,expected", [
    (init_to_feasible, {"z": 0.0, "s": 1.0, "u": 0.5}),
    (init_to_mean, {"z": 0.0, "s": math.exp(0.5), "u": 0.25}),
    (init_to_value(values={"z": 3.0, "s": 2.0, "u": 0.1}), {"z": 3.0, "s": 2.0, "u": 0.1}),
])
@pytest.mark.parametrize("guide_cls", [AutoNormal, AutoDelta])
def test_init_strategies(init_fn, expected, guide_cls):
    guide = guide_cls(model, init_loc_fn=init_fn)
    med = guide.median(DATA)
    for name, value in expected.items():
        assert med[name].item() == pytest.approx(value, abs=1e-5)


def test_init_to_median_and_sample():
    pyro.set_rng_seed(0)
    med = AutoDelta(model, init_loc_fn=init_to_median(num_samples=2001)).median(DATA)
    # Medians: 0 for Normal(0, 1), 1 for LogNormal(0, 1).
    assert med["z"].item() == pytest.approx(0.0, abs=0.08)
    assert med["s"].item() == pytest.approx(1.0, abs=0.08)
    # Beta(2, 6) median is the root of the regularised incomplete beta at 1/2: about 0.2285.
    assert med["u"].item() == pytest.approx(0.2285, abs=0.02)
    pyro.clear_param_store()
    pyro.set_rng_seed(1)
    guide = AutoDelta(model, init_loc_fn=init_to_sample)
    a = guide.median(DATA)
    pyro.clear_param_store()
    pyro.set_rng_seed(1)
    b = AutoDelta(model, init_loc_fn=init_to_sample).median(DATA)
    assert torch.equal(a["loc"], b["loc"])
    assert a["s"].item() > 0


def test_init_to_value_fallback_and_bad_shape():
    guide = AutoNormal(model, init_loc_fn=init_to_value(values={"z": 1.5}, fallback=init_to_feasible))
    med = guide.median(DATA)
    assert med["z"].item() == pytest.approx(1.5)
    assert med["s"].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="loc"):
        AutoNormal(model, init_loc_fn=init_to_value(values={"loc": torch.zeros(5)})).median(DATA)
    with pytest.raises(ValueError):
        AutoNormal(model, init_scale=-1.0)


def test_autonormal_quantiles():
    guide = AutoNormal(model, init_loc_fn=init_to_value(values={"z": 1.0, "s": 2.0}), init_scale=0.5)
    q = guide.quantiles([0.1, 0.5, 0.9], DATA)
    assert q["loc"].shape == (3, 3)
    normal = D.Normal(1.0, 0.5)
    expected_z = normal.icdf(torch.tensor([0.1, 0.5, 0.9]))
    assert torch.allclose(q["z"], expected_z, atol=1e-5)
    # Positive site: quantiles of a LogNormal(log 2, 0.5).
    expected_s = D.Normal(math.log(2.0), 0.5).icdf(torch.tensor([0.1, 0.5, 0.9])).exp()
    assert torch.allclose(q["s"], expected_s, atol=1e-5)
    assert torch.allclose(q["s"][1], guide.median(DATA)["s"])


def test_autodelta_params_and_density():
    guide = AutoDelta(model, init_loc_fn=init_to_mean)
    tr = poutine.trace(guide).get_trace(DATA)
    assert sorted(k for k in pyro.get_param_store().keys()) == [
        "AutoDelta.loc", "AutoDelta.s", "AutoDelta.u", "AutoDelta.z"]
    tr.compute_log_prob()
    assert tr.nodes["s"]["log_prob"].item() == 0.0
    assert tr.nodes["loc"]["value"].shape == (3,)


def test_create_plates_subsampling():
    data = torch.arange(10.0)

    def sub_model(data, idx=None):
        with pyro.plate("data", 10, subsample=idx) as i:
            loc = pyro.sample("loc", D.Normal(0.0, 1.0))
            pyro.sample("x", D.Normal(loc, 1.0), obs=data[i])

    idx = torch.tensor([2, 7, 9])

    def create_plates(data, idx=None):
        return pyro.plate("data", 10, subsample=idx)

    guide = AutoNormal(sub_model, create_plates=create_plates,
                       init_loc_fn=init_to_value(values={"loc": torch.arange(10.0)}))
    tr = poutine.trace(guide).get_trace(data, None)
    assert pyro.param("AutoNormal.locs.loc").shape == (10,)
    tr = poutine.trace(guide).get_trace(data, idx)
    assert tr.nodes["loc"]["value"].shape == (3,)
    assert torch.allclose(tr.nodes["loc_unconstrained"]["fn"].mean, idx.float())


def _normal_model(data):
    z = pyro.sample("z", D.Normal(0.0, 1.0))
    with pyro.plate("data", len(data)):
        pyro.sample("x", D.Normal(z, 1.0), obs=data)


def test_autonormal_fits_normal_normal_posterior():
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import ClippedAdam

    pyro.set_rng_seed(0)
    guide = AutoNormal(_normal_model)
    svi = SVI(_normal_model, guide, ClippedAdam({"lr": 0.05, "lrd": 0.997}),
              Trace_ELBO(num_particles=16, vectorize_particles=True))
    for _ in range(1000):
        svi.step(DATA)
    n = len(DATA)
    assert guide.locs.z.item() == pytest.approx(DATA.sum().item() / (n + 1), abs=0.03)
    assert guide.scales.z.item() == pytest.approx(math.sqrt(1 / (n + 1)), abs=0.03)
    q = guide.quantiles([0.5], DATA)["z"]
    assert q.item() == pytest.approx(DATA.sum().item() / (n + 1), abs=0.03)


class _ModuleModel(torch.nn.Module):
    """A model that is an nn.Module with a parameter of its own (module level: picklable)."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self):
        pyro.sample("z", D.Normal(0.0, 1.0))


def test_guides_pickle_and_keep_the_model_out_of_their_modules():
    import pickle

    model = _ModuleModel()
    for cls in (AutoNormal, AutoDelta):
        guide = cls(model)
        guide()
        assert guide.model is model
        names = [n for n, _ in guide.named_parameters()]
        assert all(p is not model.scale for p in guide.parameters())  # the model's are not the guide's
        assert names and all(n.split(".")[0] in ("locs", "scales", "z_unconstrained") for n in names)
        copy = pickle.loads(pickle.dumps(guide))
        assert type(copy) is cls and isinstance(copy.model, _ModuleModel)


def _subsampled_model(data):
    def model():
        with pyro.plate("N", 40, subsample_size=8) as idx:
            z = pyro.sample("z", D.Normal(0.0, 1.0))
            pyro.sample("x", D.Normal(z, 1.0), obs=data[idx])

    return model


@pytest.mark.parametrize("cls", [AutoNormal, AutoDelta])
def test_guide_plates_subsample_as_the_model_does(cls):
    # the guide's plate takes the model's subsample_size (as Pyro's does): one step draws 8 of
    # the 40 entries and moves exactly their parameters
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    model = _subsampled_model(torch.randn(40))
    guide = cls(model)
    trace = poutine.trace(guide).get_trace()
    assert trace.nodes["N"]["value"].shape == (8,) and trace.nodes["z"]["value"].shape == (8,)
    before = {k: v.detach().clone() for k, v in pyro.get_param_store().items()}
    assert all(v.shape == (40,) for v in before.values())
    SVI(model, guide, pyro.optim.SGD({"lr": 0.01}), Trace_ELBO()).step()
    for name, value in pyro.get_param_store().items():
        assert int((value.detach() != before[name]).sum()) == 8, name


def test_subsampled_autodelta_reaches_every_entrys_mode():
    # MAP of z_i given x_i is x_i / 2; plain SGD halves each sampled entry's error
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    data = torch.randn(40)
    model = _subsampled_model(data)
    guide = AutoDelta(model)
    svi = SVI(model, guide, pyro.optim.SGD({"lr": 0.05}), Trace_ELBO())
    for _ in range(300):
        svi.step()
    assert (pyro.param("AutoDelta.z").detach() - data / 2).abs().max() < 1e-3
