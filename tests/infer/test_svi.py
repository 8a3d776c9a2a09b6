"""SVI against analytic posteriors, loss look-up by name, the step hook and ``SVI.run``."""

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.distributions import constraints
from pyro.infer import ELBO, SVI, Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO
from pyro.plugins import get_plugin_manager, get_registry, hookimpl


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: a thread pool only adds synchronisation (badly so on a loaded machine).
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _optim(lr=0.05, lrd=0.999):
    return pyro.optim.ClippedAdam({"lr": lr, "lrd": lrd})


# ----- conjugate models ----------------------------------------------------------------------
@pytest.mark.parametrize("Elbo", [Trace_ELBO, TraceMeanField_ELBO])
def test_beta_bernoulli_posterior(Elbo):
    data = torch.tensor([1.0] * 7 + [0.0] * 3)

    def model(data):
        f = pyro.sample("f", dist.Beta(10.0, 10.0))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Bernoulli(f), obs=data)

    def guide(data):
        a = pyro.param("a", torch.tensor(15.0), constraint=constraints.positive)
        b = pyro.param("b", torch.tensor(15.0), constraint=constraints.positive)
        pyro.sample("f", dist.Beta(a, b))

    svi = SVI(model, guide, _optim(0.05, 0.998), Elbo(num_particles=20, vectorize_particles=True))
    for _ in range(2000):
        svi.step(data)
    a, b = pyro.param("a").item(), pyro.param("b").item()
    post_a, post_b = 10.0 + 7, 10.0 + 3
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    exact_mean = post_a / (post_a + post_b)
    exact_var = post_a * post_b / ((post_a + post_b) ** 2 * (post_a + post_b + 1))
    assert mean == pytest.approx(exact_mean, abs=0.006)
    assert var == pytest.approx(exact_var, rel=0.08)


def _normal_normal(n, subsample_size, steps, seed_data=1):
    gen = torch.Generator().manual_seed(seed_data)
    data = 3.0 + 2.0 * torch.randn(n, generator=gen)
    prior_loc, prior_scale, obs_scale = 0.0, 5.0, 2.0

    def model(data):
        loc = pyro.sample("loc", dist.Normal(prior_loc, prior_scale))
        with pyro.plate("data", len(data), subsample_size=subsample_size) as idx:
            pyro.sample("obs", dist.Normal(loc, obs_scale), obs=data[idx])

    def guide(data):
        q_loc = pyro.param("q_loc", torch.tensor(0.0))
        q_scale = pyro.param("q_scale", torch.tensor(1.0), constraint=constraints.positive)
        pyro.sample("loc", dist.Normal(q_loc, q_scale))

    elbo = Trace_ELBO(num_particles=10, vectorize_particles=True)
    svi = SVI(model, guide, _optim(0.05, 0.998), elbo)
    for _ in range(steps):
        svi.step(data)
    precision = 1 / prior_scale**2 + n / obs_scale**2
    exact_loc = (prior_loc / prior_scale**2 + data.sum().item() / obs_scale**2) / precision
    exact_scale = precision**-0.5
    return pyro.param("q_loc").item(), pyro.param("q_scale").item(), exact_loc, exact_scale


@pytest.mark.parametrize("n", [1, 10, 100])
def test_normal_normal_posterior(n):
    loc, scale, exact_loc, exact_scale = _normal_normal(n, None, 2000)
    assert loc == pytest.approx(exact_loc, abs=0.03 * exact_scale + 0.005)
    assert scale == pytest.approx(exact_scale, rel=0.05)


@pytest.mark.parametrize("n, subsample_size", [(100, 20), (1000, 100)])
def test_normal_normal_posterior_subsampled(n, subsample_size):
    # Subsampling scales the likelihood by n / subsample_size: same posterior, noisier steps.
    loc, scale, exact_loc, exact_scale = _normal_normal(n, subsample_size, 3000)
    assert loc == pytest.approx(exact_loc, abs=0.25 * exact_scale)
    assert scale == pytest.approx(exact_scale, rel=0.15)


def test_poisson_gamma_posterior():
    data = torch.tensor([3.0, 5.0, 2.0, 4.0, 6.0, 1.0, 3.0, 4.0])
    a0, b0 = 2.0, 1.0

    def model(data):
        rate = pyro.sample("rate", dist.Gamma(a0, b0))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Poisson(rate), obs=data)

    def guide(data):
        a = pyro.param("a", torch.tensor(5.0), constraint=constraints.positive)
        b = pyro.param("b", torch.tensor(2.0), constraint=constraints.positive)
        pyro.sample("rate", dist.Gamma(a, b))

    svi = SVI(model, guide, _optim(0.05, 0.998), Trace_ELBO(num_particles=20, vectorize_particles=True))
    for _ in range(2000):
        svi.step(data)
    a, b = pyro.param("a").item(), pyro.param("b").item()
    post_a, post_b = a0 + data.sum().item(), b0 + len(data)
    assert a / b == pytest.approx(post_a / post_b, rel=0.01)
    assert a / b**2 == pytest.approx(post_a / post_b**2, rel=0.08)


# ----- the SVI object ------------------------------------------------------------------------
def _simple():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))

    def guide():
        pyro.sample("x", dist.Normal(pyro.param("m", torch.tensor(0.5)), 1.0))

    return model, guide


def test_step_and_evaluate_loss_return_floats():
    model, guide = _simple()
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.1}), TraceMeanField_ELBO())
    loss = svi.step()
    # The mean-field loss here is KL(N(m, 1) || N(0, 1)) = m^2 / 2, with no sampling noise.
    assert isinstance(loss, float) and loss == pytest.approx(0.5**2 / 2, rel=1e-6)
    m = pyro.param("m").item()
    assert m == pytest.approx(0.4, abs=1e-4)  # Adam's first step moves by lr
    val = svi.evaluate_loss()
    assert isinstance(val, float) and val == pytest.approx(m**2 / 2, rel=1e-5)


def test_optim_must_be_callable():
    model, guide = _simple()
    with pytest.raises(ValueError, match="pyro.optim"):
        SVI(model, guide, object(), Trace_ELBO())


def test_callable_loss():
    model, guide = _simple()
    calls = []

    def my_loss(model, guide, *args, **kwargs):
        calls.append(1)
        return Trace_ELBO().differentiable_loss(model, guide, *args, **kwargs)

    svi = SVI(model, guide, pyro.optim.SGD({"lr": 0.1}), loss=my_loss)
    loss = svi.step()
    assert isinstance(loss, float) and calls == [1]
    assert pyro.param("m").item() != 0.5


@pytest.mark.parametrize("name, kwargs, cls", [
    ("Trace_ELBO", {}, Trace_ELBO),
    ("TraceGraph_ELBO", {"num_particles": 2}, TraceGraph_ELBO),
    ("ELBO", {"num_particles": 3}, Trace_ELBO),
    ("ELBO", {"trace_graph": True}, TraceGraph_ELBO),
])
def test_loss_by_name(name, kwargs, cls):
    model, guide = _simple()
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.1}), loss=name, **kwargs)
    assert type(svi.loss_object) is cls
    assert svi.loss_object.num_particles == kwargs.get("num_particles", 1)
    assert isinstance(svi.step(), float)


def test_loss_by_name_enum_discrete():
    from pyro.infer.traceenum_elbo import TraceEnum_ELBO

    model, guide = _simple()
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.1}), loss="ELBO", enum_discrete=True)
    assert isinstance(svi.loss_object, TraceEnum_ELBO) and svi.loss_object.enum_discrete


def test_unknown_loss_name_lists_known_ones():
    model, guide = _simple()
    with pytest.raises(ValueError, match="Trace_ELBO"):
        SVI(model, guide, pyro.optim.Adam({"lr": 0.1}), loss="NoSuchLoss")


def test_kwargs_without_a_named_loss_are_an_error():
    model, guide = _simple()
    with pytest.raises(TypeError, match="num_particles"):
        SVI(model, guide, pyro.optim.Adam({"lr": 0.1}), Trace_ELBO(), num_particles=3)


class _HalfLoss(Trace_ELBO):
    """A third-party loss: half the negative ELBO."""

    def __init__(self, factor=0.5, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def loss_and_grads(self, model, guide, *args, **kwargs):
        loss = self.differentiable_loss(model, guide, *args, **kwargs) * self.factor
        loss.backward()
        return loss.item()


class _LossPlugin:
    @hookimpl
    def pyro_register_inference(self, registry):
        registry.add("HalfLoss", _HalfLoss)


def test_plugin_registered_loss_by_name():
    manager = get_plugin_manager()
    get_registry("inference")  # built before the plugin arrives: it must still be updated
    manager.register(_LossPlugin(), name="half-loss-plugin")
    try:
        model, guide = _simple()
        svi = SVI(model, guide, pyro.optim.SGD({"lr": 0.1}), loss="HalfLoss", factor=0.25)
        assert isinstance(svi.loss_object, _HalfLoss) and svi.loss_object.factor == 0.25
        pyro.set_rng_seed(3)
        loss = svi.step()
        pyro.set_rng_seed(3)
        pyro.param("m").unconstrained().data.fill_(0.5)
        full = Trace_ELBO().loss(model, guide)
        assert loss == pytest.approx(0.25 * full, rel=1e-5)
        assert pyro.infer.HalfLoss is _HalfLoss
    finally:
        manager.unregister("half-loss-plugin")
    assert "HalfLoss" not in get_registry("inference")


class _StepRecorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def pyro_svi_step(self, svi, step, loss):
        self.calls.append((svi, step, loss))


@pytest.mark.parametrize("progress_bar", [False, True])
def test_step_hook_called_once_per_step(progress_bar, capsys):
    manager = get_plugin_manager()
    recorder = _StepRecorder()
    manager.register(recorder, name="step-recorder")
    try:
        model, guide = _simple()
        svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.1}), Trace_ELBO())
        losses = svi.run(num_steps=7, progress_bar=progress_bar)
        losses.append(svi.step())
    finally:
        manager.unregister("step-recorder")
    assert len(losses) == 8 and all(isinstance(x, float) for x in losses)
    assert [c[1] for c in recorder.calls] == list(range(8))
    assert [c[2] for c in recorder.calls] == losses
    assert all(c[0] is svi for c in recorder.calls)
    err = capsys.readouterr().err
    if progress_bar:
        assert "7/7" in err and "loss=" in err
    else:
        assert "7/7" not in err


def test_no_hook_lookup_without_implementations():
    model, guide = _simple()
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.1}), Trace_ELBO())
    assert svi._hook is None


def test_run_uses_constructor_num_steps_and_returns_losses():
    model, guide = _simple()
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.1}), Trace_ELBO(), num_steps=5)
    losses = svi.run(progress_bar=False)
    assert len(losses) == 5
    with pytest.raises(ValueError, match="num_steps"):
        SVI(model, guide, pyro.optim.Adam({"lr": 0.1}), Trace_ELBO()).run(progress_bar=False)


def test_seed_elbo_dispatch():
    assert type(ELBO()) is Trace_ELBO
    assert type(ELBO(num_particles=4, trace_graph=True)) is TraceGraph_ELBO
    assert type(ELBO(7, True)) is TraceGraph_ELBO and ELBO(7, True).num_particles == 7
    assert type(Trace_ELBO(num_particles=2)) is Trace_ELBO
    with pytest.raises(TypeError):
        Trace_ELBO(trace_graph=True)


def test_only_params_of_the_step_are_updated():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))

    def guide():
        pyro.sample("x", dist.Normal(pyro.param("m", torch.tensor(1.0)), 1.0))

    other = pyro.param("other", torch.tensor(2.0))
    svi = SVI(model, guide, pyro.optim.SGD({"lr": 0.5}), Trace_ELBO())
    svi.step()
    assert pyro.param("other").item() == 2.0 and other.unconstrained().grad is None
    assert pyro.param("m").unconstrained().grad is None  # zeroed after the step
    assert pyro.param("m").item() != 1.0
