"""Autoguide parameters as nn.Parameters of the guide: names, the store, state, pickling, torch
optimizers after eager initialization, and Pyro's lazy behaviour."""

import math
import pickle

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.autoguide import (
    AutoDelta,
    AutoDiagonalNormal,
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from pyro.optim import Adam

DATA = torch.tensor([0.3, -1.2, 2.0, 0.7, 1.1])


def model(data):
    pyro.sample("mu", dist.Normal(0.0, 1.0))
    pyro.sample("s", dist.LogNormal(0.0, 1.0))
    with pyro.plate("N", 3):
        pyro.sample("z", dist.Normal(0.0, 1.0))
    with pyro.plate("data", len(data)):
        pyro.sample("obs", dist.Normal(0.0, 1.0), obs=data)


# Names as pyro-ppl 1.9.2 gives them for this model after the first call.
PYRO_NAMES = {
    AutoNormal: ["locs.mu_unconstrained", "locs.s_unconstrained", "locs.z_unconstrained",
                 "scales.mu_unconstrained", "scales.s_unconstrained", "scales.z_unconstrained"],
    AutoDelta: ["mu_unconstrained", "s_unconstrained", "z_unconstrained"],
    AutoDiagonalNormal: ["loc", "scale_unconstrained"],
    AutoMultivariateNormal: ["loc", "scale_unconstrained", "scale_tril_unconstrained"],
    AutoLowRankMultivariateNormal: ["loc", "scale_unconstrained", "cov_factor"],
    AutoLaplaceApproximation: ["loc"],
}


@pytest.fixture(autouse=True)
def clean_store():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


@pytest.mark.parametrize("guide_cls", list(PYRO_NAMES), ids=lambda c: c.__name__)
def test_parameters_are_registered_after_the_first_call_and_shared_with_the_store(guide_cls):
    guide = guide_cls(model)
    assert list(guide.named_parameters()) == []  # lazy: nothing before the model is seen
    guide(DATA)
    names = [name for name, _ in guide.named_parameters()]
    assert names == PYRO_NAMES[guide_cls]
    assert list(guide.state_dict()) == names
    store = pyro.get_param_store()
    stored = {id(store.get_unconstrained(key)) for key in store.keys()}
    for _, param in guide.named_parameters():
        assert isinstance(param, torch.nn.Parameter)
        assert id(param) in stored
    assert len(store) == len(names)


def test_autonormal_site_attributes_read_and_write_through_to_the_store():
    guide = AutoNormal(model, init_scale=0.2)
    guide(DATA)
    store = pyro.get_param_store()
    loc_param = dict(guide.named_parameters())["locs.mu_unconstrained"]
    assert torch.allclose(guide.scales.s, torch.tensor(0.2))
    # Pyro's scales are softplus-constrained.
    assert torch.allclose(dict(guide.named_parameters())["scales.s_unconstrained"],
                          torch.tensor(math.log(math.expm1(0.2))))

    guide.locs.mu = torch.tensor(2.5)
    guide.scales.z = torch.tensor([0.7, 0.1, 3.0])
    assert store["AutoNormal.locs.mu"].item() == 2.5
    assert torch.allclose(store["AutoNormal.scales.z"], torch.tensor([0.7, 0.1, 3.0]))
    assert torch.allclose(dict(guide.named_parameters())["scales.z_unconstrained"],
                          torch.tensor([0.7, 0.1, 3.0]).expm1().log())
    # Written in place: an optimizer holding the tensor keeps it.
    assert dict(guide.named_parameters())["locs.mu_unconstrained"] is loc_param
    assert torch.allclose(guide.median(DATA)["mu"], torch.tensor(2.5))

    # A value set in the store is what the guide reads.
    store["AutoNormal.locs.mu"] = torch.tensor(-1.0)
    assert guide.locs.mu.item() == -1.0
    assert guide.median(DATA)["mu"].item() == -1.0
    assert dict(guide.named_parameters())["locs.mu_unconstrained"] is \
        store.get_unconstrained("AutoNormal.locs.mu")

    with pytest.raises(ValueError, match="AutoNormal.scales.s"):
        guide.scales.s = torch.tensor(-1.0)
    with pytest.raises(AttributeError, match="AutoNormal.locs has no parameter 'nope'"):
        guide.locs.nope


def test_autodelta_site_attributes_and_continuous_guide_attributes():
    guide = AutoDelta(model)
    guide(DATA)
    guide.s = torch.tensor(3.0)
    assert torch.allclose(pyro.get_param_store()["AutoDelta.s"], torch.tensor(3.0))
    assert torch.allclose(dict(guide.named_parameters())["s_unconstrained"],
                          torch.tensor(math.log(3.0)))
    assert torch.allclose(guide.median(DATA)["s"], torch.tensor(3.0))

    diag = AutoDiagonalNormal(model)
    diag(DATA)
    diag.scale = torch.full((5,), 0.25)
    assert torch.allclose(pyro.get_param_store()["AutoDiagonalNormal.scale"],
                          torch.full((5,), 0.25))
    assert torch.allclose(diag.scale, torch.full((5,), 0.25))


def test_store_values_win_and_a_cleared_store_gets_the_guides_values_back():
    pyro.param("AutoNormal.locs.mu", torch.tensor(7.0))
    guide = AutoNormal(model)
    guide(DATA)
    assert guide.locs.mu.item() == 7.0  # an existing store value wins, as in Pyro

    guide.locs.mu = torch.tensor(-4.0)
    pyro.clear_param_store()
    guide(DATA)
    assert pyro.get_param_store()["AutoNormal.locs.mu"].item() == -4.0  # not re-initialised
    assert len(pyro.get_param_store()) == 6


def _fitted_normal():
    guide = AutoNormal(model)
    guide(DATA)
    guide.locs.mu = torch.tensor(1.5)
    guide.locs.z = torch.tensor([-0.5, 0.25, 2.0])
    guide.scales.s = torch.tensor(0.3)
    return guide


def test_state_dict_round_trip():
    guide = _fitted_normal()
    state = guide.state_dict()
    pyro.clear_param_store()
    other = AutoNormal(model)
    other(DATA)
    assert other.locs.mu.item() != 1.5
    other.load_state_dict(state)
    assert torch.allclose(other.locs.z, torch.tensor([-0.5, 0.25, 2.0]))
    assert torch.allclose(other.scales.s, torch.tensor(0.3))
    store = pyro.get_param_store()
    assert store["AutoNormal.locs.mu"].item() == 1.5  # the store holds the loaded tensors
    assert torch.allclose(other.median(DATA)["z"], torch.tensor([-0.5, 0.25, 2.0]))


def test_pickle_round_trip():
    guide = _fitted_normal()
    blob = pickle.dumps(guide)
    pyro.clear_param_store()
    copy = pickle.loads(blob)
    assert copy.model is model  # a module-level model pickles with the guide
    assert [n for n, _ in copy.named_parameters()] == PYRO_NAMES[AutoNormal]
    assert torch.allclose(copy.median(DATA)["z"], torch.tensor([-0.5, 0.25, 2.0]))
    assert torch.allclose(pyro.get_param_store()["AutoNormal.scales.s"], torch.tensor(0.3))
    trace = pyro.poutine.trace(copy).get_trace(DATA)
    assert trace.nodes["z"]["value"].shape == (3,)


def test_pickle_leaves_out_a_model_that_does_not_pickle():
    lam = lambda data: model(data)  # noqa: E731
    guide = AutoDelta(lam)
    guide(DATA)
    guide.mu = torch.tensor(0.75)
    copy = pickle.loads(pickle.dumps(guide))
    assert guide.model is lam and copy.model is None
    assert copy(DATA)["mu"].item() == 0.75
    fresh = pickle.loads(pickle.dumps(AutoDelta(lam)))
    with pytest.raises(RuntimeError, match="unpickled before it had seen the model"):
        fresh(DATA)


def group_model(data):
    """mu_k ~ N(0, 1), data[k, i] ~ N(mu_k, 1): posterior N(sum_i x / (n + 1), 1 / (n + 1))."""
    with pyro.plate("groups", data.shape[0], dim=-2):
        mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
        with pyro.plate("obs", data.shape[1], dim=-1):
            pyro.sample("x", dist.Normal(mu, 1.0), obs=data)


GROUPS = torch.tensor([[0.5, 1.5, 1.0, 2.0], [-1.0, -0.5, 0.0, -2.5], [3.0, 2.0, 2.5, 3.5]])
POST_MEAN = GROUPS.sum(-1, keepdim=True) / 5.0
POST_STD = math.sqrt(1 / 5.0)


@pytest.mark.parametrize("guide_cls", [AutoNormal, AutoDiagonalNormal, AutoDelta],
                         ids=lambda c: c.__name__)
def test_eager_init_then_a_torch_optimizer_over_guide_parameters(guide_cls):
    pyro.set_rng_seed(0)
    guide = guide_cls(group_model)
    guide(GROUPS)  # eager initialization: every parameter exists now
    params = list(guide.parameters())
    assert params
    loss_fn = Trace_ELBO(num_particles=128, vectorize_particles=True).differentiable_loss
    optim = torch.optim.Adam(params, lr=0.15)
    sched = torch.optim.lr_scheduler.StepLR(optim, step_size=40, gamma=0.2)
    for _ in range(120):
        optim.zero_grad()
        loss_fn(group_model, guide, GROUPS).backward()
        optim.step()
        sched.step()
    assert list(guide.parameters()) == params  # the same tensors throughout
    with torch.no_grad():
        median = guide.median(GROUPS)["mu"]
    assert median.shape == (3, 1)
    # Mean field is exact here; 0.05 is about a tenth of the posterior std (0.447), and over
    # five times the largest error seen over seeds 0-4.
    assert torch.allclose(median, POST_MEAN, atol=0.05)
    if guide_cls is AutoNormal:
        assert torch.allclose(guide.scales.mu, torch.full((3, 1), POST_STD), atol=0.05)
    if guide_cls is AutoDiagonalNormal:
        assert torch.allclose(guide.scale, torch.full((3,), POST_STD), atol=0.05)


def test_lazy_guide_in_svi_is_unchanged():
    """No eager call: SVI's first step sets the guide up; its parameters are the store's."""
    pyro.set_rng_seed(1)
    guide = AutoNormal(group_model)
    svi = SVI(group_model, guide, Adam({"lr": 0.1}),
              Trace_ELBO(num_particles=64, vectorize_particles=True))
    svi.step(GROUPS)
    params = {name: p for name, p in guide.named_parameters()}
    assert list(params) == ["locs.mu_unconstrained", "scales.mu_unconstrained"]
    for _ in range(100):
        svi.step(GROUPS)
    assert params["locs.mu_unconstrained"] is dict(guide.named_parameters())[
        "locs.mu_unconstrained"]
    assert torch.allclose(guide.median(GROUPS)["mu"], POST_MEAN, atol=0.1)
    assert torch.allclose(guide.locs.mu, pyro.get_param_store()["AutoNormal.locs.mu"])


def test_jit_trace_module_sees_the_guide_parameters():
    import warnings

    guide = _fitted_normal()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about the dict output and the store
        traced = torch.jit.trace_module(guide, {"forward": (DATA,)}, check_trace=False,
                                        strict=False)
    names = [name for name, _ in traced.named_parameters()]
    assert names == PYRO_NAMES[AutoNormal]  # as pyro-ppl 1.9.2's traced AutoNormal
    assert torch.allclose(dict(traced.named_parameters())["locs.z_unconstrained"],
                          torch.tensor([-0.5, 0.25, 2.0]))


def dotted_model():
    """Site names with dots, as a PyroModule model's (``linear.weight``) are."""
    pyro.sample("linear.weight", dist.Normal(torch.zeros(1, 2), 1.0).to_event(2))
    pyro.sample("linear.bias", dist.Normal(0.0, 1.0))
    pyro.sample("noise", dist.LogNormal(0.0, 1.0))


def test_dotted_site_names_nest_as_in_pyro():
    guide = AutoNormal(dotted_model)
    guide()
    # pyro-ppl 1.9.2's names and modules, in its order.
    assert [n for n, _ in guide.named_parameters()] == [
        "locs.noise_unconstrained", "locs.linear.weight_unconstrained",
        "locs.linear.bias_unconstrained", "scales.noise_unconstrained",
        "scales.linear.weight_unconstrained", "scales.linear.bias_unconstrained"]
    assert [n for n, _ in guide.named_modules()] == [
        "", "locs", "locs.linear", "scales", "scales.linear"]
    guide.scales.linear.bias = torch.tensor(0.5)
    assert torch.allclose(pyro.get_param_store()["AutoNormal.scales.linear.bias"],
                          torch.tensor(0.5))
    assert guide.locs.linear.weight.shape == (1, 2)

    delta = AutoDelta(dotted_model)
    delta()
    assert [n for n, _ in delta.named_parameters()] == [
        "noise_unconstrained", "linear.weight_unconstrained", "linear.bias_unconstrained"]
    delta.linear.weight = torch.ones(1, 2)
    assert torch.equal(delta.median()["linear.weight"], torch.ones(1, 2))


@pytest.mark.cuda
def test_parameters_follow_the_data_to_cuda():
    data = GROUPS.cuda()
    guide = AutoNormal(group_model)
    guide(data)
    assert all(p.device.type == "cuda" for p in guide.parameters())
    guide.scales.mu = torch.full((3, 1), 0.5)  # a CPU value lands on the parameter's device
    assert guide.scales.mu.device.type == "cuda"
    assert torch.allclose(pyro.get_param_store()["AutoNormal.scales.mu"].cpu(),
                          torch.full((3, 1), 0.5))
    optim = torch.optim.Adam(guide.parameters(), lr=0.1)
    Trace_ELBO().differentiable_loss(group_model, guide, data).backward()
    optim.step()
    assert all(p.grad is not None and p.grad.device.type == "cuda" for p in guide.parameters())


def test_laplace_approximation_returns_a_fixed_gaussian():
    # as Pyro's: the Gaussian holds buffers, not parameters, and writes nothing to the store
    def normal_model():
        pyro.sample("x", dist.Normal(torch.tensor([1.0, -2.0]), torch.tensor([0.5, 2.0])).to_event(1))

    laplace = AutoLaplaceApproximation(normal_model)
    laplace()
    laplace.loc = torch.tensor([1.0, -2.0])  # the mode
    gaussian = laplace.laplace_approximation()
    assert list(gaussian.named_parameters()) == []
    assert sorted(n for n, _ in gaussian.named_buffers()) == ["loc", "scale", "scale_tril"]
    assert "AutoMultivariateNormal.loc" not in pyro.get_param_store()
    # The inverse Hessian of -log N(x; m, diag(0.25, 4)) is that covariance.
    assert torch.allclose(gaussian.scale, torch.tensor([0.5, 2.0]), atol=1e-5)
