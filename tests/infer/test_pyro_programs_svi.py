"""Regressions found by running small SVI / autoguide / Predictive programs under Pyro 1.9.2
and under this project side by side; each test records the Pyro 1.9.2 behaviour as a fact."""

import logging
import math
import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Predictive, Trace_ELBO, TraceGraph_ELBO
from pyro import poutine
from pyro.infer.autoguide import (
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from pyro.optim import Adam


@pytest.fixture(autouse=True)
def _fresh_store():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _two_plates():
    with pyro.plate("a", 3, dim=-1):
        with pyro.plate("b", 2, dim=-2):
            pyro.sample("x", dist.Normal(0.0, 1.0))


@pytest.mark.parametrize("elbo_cls", [Trace_ELBO, TraceGraph_ELBO])
@pytest.mark.parametrize("num_particles, expected", [(1, 2), (3, 3)])
def test_vectorized_particles_guess_and_log_max_plate_nesting(elbo_cls, num_particles, expected):
    # Pyro 1.9.2: with vectorize_particles=True the nesting is guessed on the first step, even
    # for num_particles=1 (2 plates -> 2; with 3 particles the particle plate adds one -> 3),
    # and the "pyro" logger says "Guessed max_plate_nesting = <n>" at INFO.
    handler = _Records()
    logger = logging.getLogger("pyro")
    logger.addHandler(handler)
    try:
        guide = AutoNormal(_two_plates)
        elbo = elbo_cls(num_particles=num_particles, vectorize_particles=True)
        svi = SVI(_two_plates, guide, Adam({"lr": 0.01}), elbo)
        svi.step()
        svi.step()
    finally:
        logger.removeHandler(handler)
    assert elbo.max_plate_nesting == expected
    assert handler.messages.count(f"Guessed max_plate_nesting = {expected}") == 1


def test_sequential_particles_do_not_guess():
    handler = _Records()
    logger = logging.getLogger("pyro")
    logger.addHandler(handler)
    try:
        elbo = Trace_ELBO(num_particles=3)
        SVI(_two_plates, AutoNormal(_two_plates), Adam({"lr": 0.01}), elbo).step()
    finally:
        logger.removeHandler(handler)
    assert elbo.max_plate_nesting == math.inf
    assert not any("Guessed" in m for m in handler.messages)


def _normal_model():
    pyro.sample("x", dist.Normal(torch.tensor([1.0, -2.0]), torch.tensor([0.5, 2.0])).to_event(1))


def test_laplace_gaussian_is_fixed_and_leaves_the_store_alone():
    # Pyro 1.9.2: the guide laplace_approximation returns holds loc, scale and scale_tril as
    # buffers (no nn.Parameters, nothing in the param store), so SVI cannot move it and an
    # AutoMultivariateNormal fitted beside it keeps its own parameters.
    other = AutoMultivariateNormal(_normal_model)
    other()
    other_scale = other.scale.detach().clone()
    laplace = AutoLaplaceApproximation(_normal_model)
    laplace()
    laplace.loc = torch.tensor([1.0, -2.0])  # the mode
    names_before = sorted(pyro.get_param_store().keys())

    gaussian = laplace.laplace_approximation()
    assert type(gaussian) is AutoMultivariateNormal
    assert sorted(pyro.get_param_store().keys()) == names_before
    assert list(gaussian.named_parameters()) == []
    assert sorted(name for name, _ in gaussian.named_buffers()) == ["loc", "scale", "scale_tril"]
    assert torch.equal(other.scale.detach(), other_scale)
    # The inverse Hessian of -log N(x; m, diag(0.25, 4)) is that covariance.
    assert torch.allclose(gaussian.loc, torch.tensor([1.0, -2.0]))
    assert torch.allclose(gaussian.scale, torch.tensor([0.5, 2.0]), atol=1e-5)
    assert torch.allclose(gaussian.scale_tril, torch.eye(2), atol=1e-5)
    assert not gaussian.scale.requires_grad

    svi = SVI(_normal_model, gaussian, Adam({"lr": 0.1}), Trace_ELBO())
    for _ in range(3):
        svi.step()
    assert torch.allclose(gaussian.scale, torch.tensor([0.5, 2.0]), atol=1e-5)
    assert sorted(pyro.get_param_store().keys()) == names_before
    median = gaussian.median()
    assert torch.allclose(median["x"], torch.tensor([1.0, -2.0]))
    q = gaussian.quantiles([0.5 - 0.3413447, 0.5 + 0.3413447])["x"]  # +- one sd
    assert torch.allclose(q, torch.tensor([[0.5, -4.0], [1.5, 0.0]]), atol=1e-4)


def _regression(x):
    a = pyro.sample("a", dist.Normal(0.0, 10.0))
    with pyro.plate("N", len(x)):
        return pyro.sample("y", dist.Normal(a, 1.0))


def test_predictive_messages_are_pyros():
    # Pyro 1.9.2's phrases, which users match on.
    with pytest.raises(ValueError, match=r"^Either posterior_samples or num_samples must be "
                                         r"specified\.$"):
        Predictive(_regression)(torch.zeros(3))
    predictive = Predictive(_regression, num_samples=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = predictive.get_samples(torch.zeros(3))
    assert [(w.category, str(w.message)) for w in caught] == [
        (DeprecationWarning, "The method `.get_samples` has been deprecated in favor of `.forward`.")]
    assert out["y"].shape == (2, 3)


def test_predictive_vectorized_trace_has_no_sample_plate_site():
    # Pyro 1.9.2: the sample plate encloses the trace, so its subsample site is not a node;
    # the sites still carry its frame.
    trace = Predictive(_regression, num_samples=4).get_vectorized_trace(torch.zeros(5))
    assert list(trace.nodes) == ["_INPUT", "a", "N", "y", "_RETURN"]
    assert [f.name for f in trace.nodes["a"]["cond_indep_stack"]] == ["_num_predictive_samples"]
    assert trace.nodes["a"]["value"].shape == (4, 1)
    assert trace.nodes["y"]["value"].shape == (4, 5)
    assert trace.nodes["_RETURN"]["value"].shape == (4, 5)


def _schools(sigma):
    mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = pyro.sample("tau", dist.HalfCauchy(5.0))
    with pyro.plate("schools", len(sigma)):
        pyro.sample("theta", dist.Normal(mu, tau))


@pytest.mark.parametrize("guide_cls, order", [
    (AutoMultivariateNormal, ["scale", "scale_tril", "loc"]),
    (AutoLowRankMultivariateNormal, ["scale", "cov_factor", "loc"]),
])
def test_mvn_guides_read_params_in_pyros_order(guide_cls, order):
    # Pyro 1.9.2's guide traces list the param sites in this order, then the latent vector.
    sigma = torch.ones(4)
    guide = guide_cls(_schools)
    trace = poutine.trace(guide).get_trace(sigma)
    name = guide_cls.__name__
    assert [n for n, s in trace.nodes.items() if s["type"] == "param"] == [
        f"{name}.{key}" for key in order]
    samples = [n for n, s in trace.nodes.items() if s["type"] == "sample"]
    assert samples == [f"_{name}_latent", "schools", "mu", "tau", "theta"]


def _three_latents():
    pyro.sample("a", dist.Normal(0.0, 1.0))
    pyro.sample("b", dist.Normal(0.0, 1.0))
    pyro.sample("bb", dist.Normal(0.0, 1.0))


def _guide_a_only():
    pyro.sample("a", dist.Normal(0.0, 1.0))


def _guide_with_extras():
    for name in ("a", "b", "bb", "d", "c"):
        pyro.sample(name, dist.Normal(0.0, 1.0))


@pytest.mark.parametrize("guide, message", [
    (_guide_a_only, "Found vars in model but not guide: {'b', 'bb'}"),
    (_guide_with_extras, "Found non-auxiliary vars in guide but not model, consider marking "
                         "these infer={'is_auxiliary': True}:\n{'c', 'd'}"),
])
def test_model_guide_mismatch_warnings_print_sets(guide, message):
    # Pyro 1.9.2 prints the names as a set literal (in no fixed order); ours are sorted.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Trace_ELBO().loss(_three_latents, guide)
    assert [(w.category, str(w.message)) for w in caught] == [(UserWarning, message)]


# (model batch shape, guide batch shape, max_plate_nesting, Pyro 1.9.2 raises ValueError)
_SHAPE_FACTS = [
    ((3,), (2, 3), math.inf, True),
    ((3,), (1, 3), math.inf, False),
    ((3,), (2, 3), 1, False),
    ((1, 3), (3,), math.inf, False),
    ((3,), (1,), math.inf, True),
    ((2, 3), (3,), math.inf, True),
    ((2, 3), (3,), 1, False),
    ((4, 3), (2, 3), 1, False),
    ((4, 3), (2, 3), math.inf, True),
    ((2, 3), (1, 3), 2, True),
    ((), (2,), math.inf, True),
    ((), (2,), 0, False),
    ((5, 1), (5, 3), 2, True),
]


@pytest.mark.parametrize("model_shape, guide_shape, nesting, raises", _SHAPE_FACTS)
def test_model_guide_batch_shapes_checked_as_pyro_does(model_shape, guide_shape, nesting, raises):
    # The rightmost max_plate_nesting batch dims (all when inf), left-padded with ones, must
    # be equal: a size-1 dim of one side does not broadcast against the other's.
    from pyro.infer.util import check_model_guide_match

    def model():
        pyro.sample("a", dist.Normal(torch.zeros(model_shape), 1.0))

    def guide():
        pyro.sample("a", dist.Normal(torch.zeros(guide_shape), 1.0))

    guide_trace = poutine.trace(guide).get_trace()
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace()
    if raises:
        with pytest.raises(ValueError, match="Model and guide shapes disagree at site 'a'"):
            check_model_guide_match(model_trace, guide_trace, nesting)
    else:
        check_model_guide_match(model_trace, guide_trace, nesting)
