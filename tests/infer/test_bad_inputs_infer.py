"""Bad inputs to inference answer clearly: a NaN loss names its site; SVI wants a Pyro optimizer."""

import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import (
    HMC,
    MCMC,
    NUTS,
    SVI,
    Predictive,
    Trace_ELBO,
    TraceEnum_ELBO,
    TraceGraph_ELBO,
    TraceMeanField_ELBO,
    config_enumerate,
)
from pyro.optim import Adam

ELBOS = [
    Trace_ELBO,
    TraceGraph_ELBO,
    TraceMeanField_ELBO,
    lambda **kw: TraceEnum_ELBO(max_plate_nesting=1, strict_enumeration_warning=False, **kw),
]
METHODS = ["loss", "loss_and_grads", "differentiable_loss"]


def _nan_warnings(fn):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        value = fn()
    return value, [str(w.message) for w in record]


def _call(elbo, method, model, guide):
    out = getattr(elbo, method)(model, guide)
    return out.detach().item() if isinstance(out, torch.Tensor) else out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("make_elbo", ELBOS)
def test_nan_param_is_named(make_elbo, method):
    pyro.clear_param_store()

    def model():
        with pyro.plate("data", 3):
            pyro.sample("z", dist.Normal(0.0, 1.0))

    def guide():
        loc = pyro.param("loc", torch.zeros(3))
        with pyro.plate("data", 3):
            pyro.sample("z", dist.Normal(loc, 1.0))

    guide()
    with torch.no_grad():
        pyro.param("loc").unconstrained()[1] = float("nan")
    with pyro.validation_enabled(False):
        loss, messages = _nan_warnings(lambda: _call(make_elbo(), method, model, guide))
    assert loss != loss
    assert len(messages) == 1, messages
    assert messages[0].startswith("Encountered NaN: loss")
    assert "param 'loc' of the guide: its value is nan" in messages[0]


@pytest.mark.parametrize("vectorize", [False, True])
def test_observation_outside_support_is_named(vectorize):
    pyro.clear_param_store()

    def model():
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("ok", dist.Normal(z, 1.0), obs=torch.tensor(0.3))
        pyro.sample("x", dist.Beta(2.0, 2.0), obs=torch.tensor(1.5))

    def guide():
        pyro.sample("z", dist.Normal(pyro.param("m", torch.tensor(0.0)), 1.0))

    elbo = Trace_ELBO(num_particles=3, vectorize_particles=vectorize, max_plate_nesting=0)
    with pyro.validation_enabled(False):
        _, messages = _nan_warnings(lambda: elbo.loss_and_grads(model, guide))
    assert len(messages) == 1, messages
    assert "site 'x' of the model: its log_prob is nan" in messages[0]
    assert "Beta" in messages[0]


def test_nan_distribution_parameter_from_data_is_named():
    data = torch.tensor([0.0, float("nan"), 1.0])

    @config_enumerate
    def model():
        c = pyro.sample("c", dist.Categorical(torch.ones(3) / 3))
        pyro.sample("x", dist.Normal(data[c], 1.0), obs=torch.tensor(0.0))

    with pyro.validation_enabled(False):
        _, messages = _nan_warnings(
            lambda: TraceEnum_ELBO(max_plate_nesting=0).loss(model, lambda: None))
    assert len(messages) == 1, messages
    assert "site 'x' of the model: its distribution's parameter 'loc' is nan (Normal)" in messages[0]


def test_sample_value_nan_is_named():
    def model():
        pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.tensor(float("nan")))

    with pyro.validation_enabled(False):
        _, messages = _nan_warnings(lambda: Trace_ELBO().loss(model, lambda: None))
    assert len(messages) == 1, messages
    assert "site 'y' of the model: its observed value is nan" in messages[0]


def test_finite_loss_warns_nothing_and_keeps_no_traces():
    pyro.clear_param_store()

    def model():
        pyro.sample("z", dist.Normal(0.0, 1.0))

    def guide():
        pyro.sample("z", dist.Normal(pyro.param("m", torch.tensor(0.2)), 1.0))

    elbo = Trace_ELBO(num_particles=2)
    loss, messages = _nan_warnings(lambda: elbo.loss_and_grads(model, guide))
    assert loss == loss and messages == []
    assert "_recorded_traces" not in vars(elbo)


@pytest.mark.parametrize("optim", [torch.optim.Adam, "instance"])
def test_svi_rejects_torch_optimizers(optim):
    if optim == "instance":
        optim = torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="Optimizer should be an instance of pyro.optim.PyroOptim") as info:
        SVI(lambda: None, lambda: None, optim, Trace_ELBO())
    assert "Adam" in str(info.value)


@pytest.mark.parametrize("optim, words", [
    (torch.optim.Adam, r"SVI got the torch optimizer class torch.optim.Adam; pass a Pyro optimizer instead, "
                       r"e.g. pyro.optim.Adam\(\{'lr': 0.01\}\)"),
    (torch.optim.SGD, r"SVI got the torch optimizer class torch.optim.SGD; .* pyro.optim.SGD\("),
    ("Adam", r"SVI got str 'Adam'; pass a Pyro optimizer instead"),
])
def test_svi_optimizer_error_is_a_type_error_saying_what_to_pass(optim, words):
    with pytest.raises(TypeError, match=words):
        SVI(lambda: None, lambda: None, optim, Trace_ELBO())


def test_svi_accepts_pyro_optimizers_and_schedulers():
    scheduler = pyro.optim.ExponentialLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1},
                                          "gamma": 0.9})
    for optim in (Adam({"lr": 0.1}), scheduler):
        SVI(lambda: None, lambda: None, optim, Trace_ELBO())


# ----- Predictive, plate nesting ---------------------------------------------------------------

def _two_latents():
    a = pyro.sample("a", dist.Normal(0.0, 1.0))
    b = pyro.sample("b", dist.Normal(0.0, 1.0))
    return pyro.sample("o", dist.Normal(a + b, 1.0))


def test_predictive_samples_of_different_lengths_name_every_site():
    samples = {"a": torch.zeros(5), "b": torch.zeros(4)}
    with pytest.raises(ValueError, match=r"disagree in their leading \(sample\) dim: 'a': 5, 'b': 4$"):
        Predictive(_two_latents, posterior_samples=samples)


def test_predictive_num_samples_other_than_the_samples_warns_as_pyro():
    samples = {"a": torch.zeros(4), "b": torch.ones(4)}
    with pytest.warns(UserWarning, match=r"^Sample's leading dimension size 4 is different from the "
                                         r"provided 5 num_samples argument\. Defaulting to 4\.$"):
        predictive = Predictive(_two_latents, posterior_samples=samples, num_samples=5)
    assert predictive()["o"].shape == (4,)


@pytest.mark.parametrize("num_samples", [0, -2, 1.5, "3"])
def test_predictive_num_samples_must_be_a_positive_int(num_samples):
    with pytest.raises(ValueError, match=r"^Predictive: num_samples must be a positive int, got"):
        Predictive(_two_latents, num_samples=num_samples)


def test_predictive_sample_without_a_sample_dim_is_named():
    with pytest.raises(ValueError, match=r"posterior sample 'a' must be a tensor with a leading sample dim"):
        Predictive(_two_latents, posterior_samples={"a": torch.tensor(0.0)})


@pytest.mark.parametrize("nesting", ["2", -1, 1.5, True])
def test_elbo_max_plate_nesting_must_be_a_count(nesting):
    with pytest.raises(ValueError, match=r"^max_plate_nesting must be a non-negative int or inf"):
        TraceEnum_ELBO(max_plate_nesting=nesting)


def test_vectorized_particles_with_too_small_a_plate_nesting_say_what_to_raise():
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        with pyro.plate("p", 3, dim=-1), pyro.plate("q", 2, dim=-2):
            pyro.sample("y", dist.Normal(x, 1.0), obs=torch.zeros(2, 3))

    def guide():
        pyro.sample("x", dist.Normal(pyro.param("loc", torch.tensor(0.0)), 1.0))

    elbo = Trace_ELBO(num_particles=2, vectorize_particles=True, max_plate_nesting=1)
    with pytest.raises(ValueError, match=r"(?s)'q' collide at dim=-2.*vectorize_particles=True puts the "
                                         r"particles at dim=-2, left of max_plate_nesting=1 plate dims"):
        elbo.loss(model, guide)
    assert Trace_ELBO(num_particles=2, vectorize_particles=True, max_plate_nesting=2).loss(model, guide) > 0


# ----- MCMC kernels -----------------------------------------------------------------------------

def _normal_model():
    pyro.sample("x", dist.Normal(0.0, 1.0))


@pytest.mark.parametrize("kwargs, error, words", [
    ({"step_size": -1}, ValueError, r"^HMC: step_size must be positive, got -1$"),
    ({"step_size": "big"}, TypeError, r"^HMC: step_size must be a number, got str 'big'$"),
    ({"trajectory_length": 0.0}, ValueError, r"^HMC: trajectory_length must be positive, got 0\.0$"),
    ({"num_steps": 0}, ValueError, r"^HMC: num_steps must be positive, got 0$"),
    ({"num_steps": 2.5}, ValueError, r"^HMC: num_steps must be a positive int, got 2\.5$"),
    ({"target_accept_prob": 1.0}, ValueError, r"^HMC: target_accept_prob must be in \(0, 1\), got 1\.0$"),
])
def test_hmc_arguments_are_checked_when_built(kwargs, error, words):
    with pytest.raises(error, match=words):
        HMC(_normal_model, **kwargs)


@pytest.mark.parametrize("depth", [0, 2.0, True])
def test_nuts_max_tree_depth_must_be_a_positive_int(depth):
    with pytest.raises(ValueError, match=r"^NUTS: max_tree_depth must be a positive int"):
        NUTS(_normal_model, max_tree_depth=depth)


def _run(model, **kwargs):
    MCMC(NUTS(model), num_samples=2, warmup_steps=1, disable_progbar=True, **kwargs).run()


def test_nuts_on_a_model_without_latents_says_so():
    def model():
        pyro.sample("o", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0))

    with pytest.raises(ValueError, match=r"no latent sample site to sample \(its sample sites \['o'\]"):
        _run(model)


def test_nuts_on_an_infinite_discrete_latent_gives_pyros_error_and_why():
    def model():
        pyro.sample("k", dist.Poisson(3.0))

    with pytest.raises(ValueError, match=r"(?s)^Continuous inference cannot handle discrete sample site 'k'\. "
                                         r"Consider enumerating.*Poisson has an infinite support"):
        _run(model)


def test_nuts_on_an_unmarked_finite_discrete_latent_points_to_enumeration():
    def model():
        pyro.sample("b", dist.Bernoulli(0.3))

    with pytest.raises(ValueError, match=r"^Continuous inference cannot handle discrete sample site 'b'\. "
                                         r"Consider enumerating that variable as documented in "
                                         r"https://pyro\.ai/examples/enumeration\.$"):
        _run(model)


def test_initial_params_naming_an_unknown_site_are_named():
    with pytest.raises(ValueError, match=r"initial_params must give every latent site of the model, "
                                         r"\['x'\]; unknown: \['zz'\], missing: \['x'\]"):
        _run(_normal_model, initial_params={"zz": torch.tensor(0.0)})


@pytest.mark.parametrize("kwargs, error, words", [
    ({"num_particles": 0}, ValueError, r"^Trace_ELBO: num_particles must be an int >= 1, got 0$"),
    ({"num_particles": 2.0}, TypeError, r"^Trace_ELBO: num_particles must be an int >= 1, got float 2\.0$"),
    ({"tail_adaptive_beta": "a"}, TypeError, r"^Trace_ELBO: tail_adaptive_beta must be a number, got str 'a'$"),
])
def test_elbo_counts_and_numbers_are_checked_when_built(kwargs, error, words):
    with pytest.raises(error, match=words):
        Trace_ELBO(**kwargs)


def test_fit_generalized_pareto_lives_in_ops_stats():
    from pyro.infer.psis import fit_generalized_pareto as via_psis
    from pyro.ops.stats import fit_generalized_pareto

    assert via_psis is fit_generalized_pareto


@pytest.mark.parametrize("kwargs, words", [
    ({"model": 3}, r"^Predictive: model must be a callable, got int 3$"),
    ({"model": _two_latents, "guide": "g"}, r"^Predictive: guide must be a callable or None, got str 'g'$"),
])
def test_predictive_model_and_guide_must_be_callable(kwargs, words):
    with pytest.raises(TypeError, match=words):
        Predictive(num_samples=2, **kwargs)


@pytest.mark.filterwarnings("ignore:TraceEnum_ELBO found no sample sites")
@pytest.mark.parametrize("elbo_class", ["Trace_ELBO", "TraceGraph_ELBO", "TraceEnum_ELBO"])
def test_vectorized_particles_pushing_an_automatic_plate_left_say_what_to_raise(elbo_class):
    import pyro.infer
    from pyro.infer.autoguide import AutoNormal

    def model(data):
        loc = pyro.sample("loc", dist.Normal(0.0, 1.0))
        with pyro.plate("d", 3):  # no dim: allocated left of the particles when nesting is 0
            pyro.sample("obs", dist.Normal(loc, 1.0), obs=data)

    data = torch.zeros(3)
    Elbo = getattr(pyro.infer, elbo_class)
    pyro.clear_param_store()
    guide = AutoNormal(model)
    with pytest.raises(ValueError, match=r"(?s)vectorize_particles=True puts the particles at dim=-1, left "
                                         r"of max_plate_nesting=0 plate dims.*plate 'd' at dim=-2 went left "
                                         r"of the particles; raise max_plate_nesting"):
        Elbo(num_particles=2, vectorize_particles=True, max_plate_nesting=0).loss(model, guide, data)
    loss = Elbo(num_particles=2, vectorize_particles=True, max_plate_nesting=1).loss(model, guide, data)
    assert torch.isfinite(torch.as_tensor(loss))
