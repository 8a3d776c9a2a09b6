"""ELBO estimates and gradients against hand-written torch computations on the same draws."""

import math
import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.distributions import constraints
from pyro.infer import ELBO, JitTrace_ELBO, Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO

LOG_2PI = math.log(2 * math.pi)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def normal_lp(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - torch.log(torch.as_tensor(scale)) - 0.5 * LOG_2PI


def bernoulli_lp(x, p):
    return x * torch.log(p) + (1 - x) * torch.log1p(-p)


def _grads(names):
    return [pyro.param(n).unconstrained().grad.clone() for n in names]


def _zero(names):
    for n in names:
        pyro.param(n).unconstrained().grad = None


# ----- reparameterised sites, plates, subsampling -----------------------------------------------
DATA = torch.tensor([0.5, 1.5, -0.3, 2.0, 1.1, 0.7])
IDX = torch.tensor([4, 1, 3])


def rep_model(data):
    z = pyro.sample("z", dist.Normal(0.0, 2.0))
    with pyro.plate("data", len(data), subsample=IDX) as idx:
        w = pyro.sample("w", dist.Normal(z, 1.0))
        pyro.sample("obs", dist.Normal(w, 0.5), obs=data[idx])


def rep_guide(data):
    m = pyro.param("m", torch.tensor(0.3))
    s = pyro.param("s", torch.tensor(0.8), constraint=constraints.positive)
    wm = pyro.param("wm", torch.zeros(len(data)))
    z = pyro.sample("z", dist.Normal(m, s))
    with pyro.plate("data", len(data), subsample=IDX) as idx:
        pyro.sample("w", dist.Normal(wm[idx] + 0.1 * z, 0.7))


def rep_by_hand(tr):
    """The estimator for the draws recorded in the guide trace ``tr``, written out in torch."""
    z, w = tr.nodes["z"]["value"], tr.nodes["w"]["value"]
    m, s, wm = pyro.param("m"), pyro.param("s"), pyro.param("wm")
    scale = len(DATA) / len(IDX)
    log_p = normal_lp(z, 0.0, 2.0).sum() + scale * (
        normal_lp(w, z, 1.0) + normal_lp(DATA[IDX], w, 0.5)).sum()
    log_q = normal_lp(z, m, s).sum() + scale * normal_lp(w, wm[IDX] + 0.1 * z, 0.7).sum()
    return -(log_p - log_q)


@pytest.mark.parametrize("Elbo", [Trace_ELBO, TraceGraph_ELBO, JitTrace_ELBO])
def test_reparam_gradients_match_hand_written(Elbo):
    names = ["m", "s", "wm"]
    elbo = Elbo(ignore_jit_warnings=True)
    pyro.set_rng_seed(11)
    poutine.trace(rep_guide).get_trace(DATA)  # create params (and compile the JIT graph)
    if Elbo is JitTrace_ELBO:
        elbo.loss_and_grads(rep_model, rep_guide, DATA)
        _zero(names)
    pyro.set_rng_seed(5)
    loss = elbo.loss_and_grads(rep_model, rep_guide, DATA)
    actual = _grads(names)
    _zero(names)
    pyro.set_rng_seed(5)
    tr = poutine.trace(rep_guide).get_trace(DATA)
    expected_loss = rep_by_hand(tr)
    expected_loss.backward()
    expected = _grads(names)
    assert loss == pytest.approx(expected_loss.item(), rel=1e-5)
    for a, e in zip(actual, expected):
        assert torch.allclose(a, e, rtol=1e-5, atol=1e-6)
    assert actual[2][[0, 2, 5]].abs().max() == 0  # rows outside the subsample get no gradient


def test_differentiable_loss_and_loss_agree_with_hand_written():
    pyro.set_rng_seed(11)
    poutine.trace(rep_guide).get_trace(DATA)
    elbo = Trace_ELBO()
    pyro.set_rng_seed(2)
    diff = elbo.differentiable_loss(rep_model, rep_guide, DATA)
    pyro.set_rng_seed(2)
    value = elbo.loss(rep_model, rep_guide, DATA)
    pyro.set_rng_seed(2)
    expected = rep_by_hand(poutine.trace(rep_guide).get_trace(DATA))
    assert diff.requires_grad and isinstance(value, float)
    assert diff.item() == pytest.approx(expected.item(), rel=1e-5)
    assert value == pytest.approx(expected.item(), rel=1e-5)


def test_vectorized_particles_match_hand_written_average():
    names = ["m", "s", "wm"]
    pyro.set_rng_seed(11)
    poutine.trace(rep_guide).get_trace(DATA)
    guessing = Trace_ELBO(num_particles=4, vectorize_particles=True)
    guessing.loss(rep_model, rep_guide, DATA)
    assert guessing.max_plate_nesting == 2  # guessed: one plate, plus the particle plate
    elbo = Trace_ELBO(num_particles=4, vectorize_particles=True, max_plate_nesting=1)
    assert elbo.max_plate_nesting == 2
    pyro.set_rng_seed(8)
    loss = elbo.loss_and_grads(rep_model, rep_guide, DATA)
    actual = _grads(names)
    _zero(names)
    pyro.set_rng_seed(8)
    with pyro.plate("num_particles_vectorized", 4, dim=-2):
        tr = poutine.trace(rep_guide).get_trace(DATA)
    z = tr.nodes["z"]["value"]
    assert z.shape == (4, 1)
    expected_loss = rep_by_hand(tr) / 4
    expected_loss.backward()
    assert loss == pytest.approx(expected_loss.item(), rel=1e-5)
    for a, e in zip(actual, _grads(names)):
        assert torch.allclose(a, e, rtol=1e-5, atol=1e-6)


def test_sequential_particles_average():
    pyro.set_rng_seed(11)
    poutine.trace(rep_guide).get_trace(DATA)
    pyro.set_rng_seed(4)
    loss = Trace_ELBO(num_particles=3).loss(rep_model, rep_guide, DATA)
    pyro.set_rng_seed(4)
    single = [Trace_ELBO().loss(rep_model, rep_guide, DATA) for _ in range(3)]
    assert loss == pytest.approx(sum(single) / 3, rel=1e-5)


def test_scale_and_mask_handlers():
    pyro.set_rng_seed(11)
    poutine.trace(rep_guide).get_trace(DATA)
    mask = torch.tensor([True, False, True])

    def model(data):
        with poutine.scale(scale=3.0):
            z = pyro.sample("z", dist.Normal(0.0, 2.0))
        with pyro.plate("data", len(data), subsample=IDX) as idx:
            w = pyro.sample("w", dist.Normal(z, 1.0))
            with poutine.mask(mask=mask):
                pyro.sample("obs", dist.Normal(w, 0.5), obs=data[idx])

    def guide(data):
        with poutine.scale(scale=3.0):
            rep_guide(data)

    pyro.set_rng_seed(3)
    loss = Trace_ELBO().loss(model, guide, DATA)
    pyro.set_rng_seed(3)
    tr = poutine.trace(rep_guide).get_trace(DATA)
    z, w = tr.nodes["z"]["value"], tr.nodes["w"]["value"]
    m, s, wm = pyro.param("m"), pyro.param("s"), pyro.param("wm")
    k = len(DATA) / len(IDX)
    log_p = 3 * normal_lp(z, 0.0, 2.0) + k * normal_lp(w, z, 1.0).sum() \
        + k * (normal_lp(DATA[IDX], w, 0.5) * mask).sum()
    log_q = 3 * (normal_lp(z, m, s) + k * normal_lp(w, wm[IDX] + 0.1 * z, 0.7).sum())
    assert loss == pytest.approx(-(log_p - log_q).item(), rel=1e-5)


# ----- score-function sites --------------------------------------------------------------------
Y = torch.tensor([1.2, -0.4, 0.9])


def sf_model(y):
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    with pyro.plate("items", len(y)):
        b = pyro.sample("b", dist.Bernoulli(0.4))
        pyro.sample("y", dist.Normal(z + 2 * b, 1.0), obs=y)


def sf_guide(y):
    m = pyro.param("m", torch.tensor(0.2))
    p = pyro.param("p", torch.tensor([0.3, 0.6, 0.5]), constraint=constraints.unit_interval)
    pyro.sample("z", dist.Normal(m, 1.0))
    with pyro.plate("items", len(y)):
        pyro.sample("b", dist.Bernoulli(p))


def test_score_function_gradients_match_hand_written():
    names = ["m", "p"]
    pyro.set_rng_seed(0)
    poutine.trace(sf_guide).get_trace(Y)
    pyro.set_rng_seed(6)
    loss = Trace_ELBO().loss_and_grads(sf_model, sf_guide, Y)
    actual = _grads(names)
    _zero(names)
    pyro.set_rng_seed(6)
    tr = poutine.trace(sf_guide).get_trace(Y)
    z, b = tr.nodes["z"]["value"], tr.nodes["b"]["value"]
    m, p = pyro.param("m"), pyro.param("p")
    glob = normal_lp(z, 0.0, 1.0) - normal_lp(z, m, 1.0)  # outside the plate
    local = bernoulli_lp(b, torch.tensor(0.4)) + normal_lp(Y, z + 2 * b, 1.0) - bernoulli_lp(b, p)
    elbo = glob + local.sum()
    # Each b_i's score multiplies the global cost and its own element's cost only; a site
    # without rsample contributes no entropy term (its expected gradient is zero).
    log_q_b = bernoulli_lp(b, p)
    surrogate = elbo + log_q_b.sum() + ((glob + local).detach() * log_q_b).sum()
    (-surrogate).backward()
    assert loss == pytest.approx(-elbo.item(), rel=1e-5)
    for a, e in zip(actual, _grads(names)):
        assert torch.allclose(a, e, rtol=1e-5, atol=1e-6)


# ----- TraceMeanField_ELBO ---------------------------------------------------------------------
def test_mean_field_kl_equals_closed_form():
    def model():
        with pyro.plate("p", 3):
            pyro.sample("x", dist.Normal(torch.tensor([0.0, 1.0, -1.0]), 2.0))
        pyro.sample("v", dist.Normal(torch.zeros(2), torch.tensor([1.0, 3.0])).to_event(1))

    def guide():
        loc = pyro.param("loc", torch.tensor([0.5, -0.5, 0.0]))
        scale = pyro.param("scale", torch.tensor([0.3, 1.0, 2.5]), constraint=constraints.positive)
        vloc = pyro.param("vloc", torch.tensor([1.0, 2.0]))
        with pyro.plate("p", 3):
            pyro.sample("x", dist.Normal(loc, scale))
        pyro.sample("v", dist.Normal(vloc, 0.5).to_event(1))

    def kl(mq, sq, mp, sp):
        return torch.log(sp / sq) + (sq**2 + (mq - mp) ** 2) / (2 * sp**2) - 0.5

    pyro.set_rng_seed(0)
    poutine.trace(guide).get_trace()
    loss = TraceMeanField_ELBO().loss(model, guide)
    expected = kl(pyro.param("loc"), pyro.param("scale"), torch.tensor([0.0, 1.0, -1.0]), torch.tensor(2.0)).sum()
    expected = expected + kl(pyro.param("vloc"), torch.tensor(0.5), torch.zeros(2), torch.tensor([1.0, 3.0])).sum()
    assert loss == pytest.approx(expected.item(), rel=1e-6)  # exact: no sampling noise at all
    names = ["loc", "scale", "vloc"]
    TraceMeanField_ELBO().loss_and_grads(model, guide)
    actual = _grads(names)
    _zero(names)
    expected.backward()
    for a, e in zip(actual, _grads(names)):
        assert torch.allclose(a, e, rtol=1e-5, atol=1e-6)


# ----- warnings and errors ---------------------------------------------------------------------
def test_guide_site_missing_in_model_warns():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))

    def guide():
        pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("extra", dist.Normal(0.0, 1.0))

    with pytest.warns(UserWarning, match="(?s)guide but not model.*extra"):
        Trace_ELBO().loss(model, guide)


def test_model_site_missing_in_guide_warns():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("y", dist.Normal(0.0, 1.0))

    def guide():
        pyro.sample("x", dist.Normal(0.0, 1.0))

    with pytest.warns(UserWarning, match="model but not guide.*'y'"):
        Trace_ELBO().loss(model, guide)


def test_auxiliary_guide_site_does_not_warn():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))

    def guide():
        u = pyro.sample("u", dist.Normal(0.0, 1.0), infer={"is_auxiliary": True})
        pyro.sample("x", dist.Normal(u, 1.0))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trace_ELBO().loss(model, guide)


def test_shape_mismatch_names_site():
    def model():
        pyro.sample("x", dist.Normal(torch.zeros(3), 1.0).to_event(1))

    def guide():
        pyro.sample("x", dist.Normal(torch.zeros(2), 1.0).to_event(1))

    with pytest.raises(ValueError, match="'x'"):
        Trace_ELBO().loss(model, guide)


def test_undeclared_batch_dim_is_an_error():
    def model():
        pyro.sample("x", dist.Normal(torch.zeros(3), 1.0))

    def guide():
        pyro.sample("x", dist.Normal(torch.zeros(3), 1.0))

    with pytest.raises(ValueError, match="site 'x'.*plate"):
        Trace_ELBO().loss(model, guide)


def test_max_plate_nesting_too_small_is_an_error():
    def model():
        with pyro.plate("a", 2, dim=-2):
            pyro.sample("x", dist.Normal(torch.zeros(2, 1), 1.0))

    with pytest.raises(ValueError, match="max_plate_nesting"):
        Trace_ELBO(max_plate_nesting=1).loss(model, model)


def test_seed_elbo_is_an_elbo():
    elbo = ELBO(num_particles=2)
    assert isinstance(elbo, ELBO) and isinstance(elbo, Trace_ELBO)
    assert elbo.num_particles == 2


def test_elbo_module_is_differentiable_loss():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))

    def guide():
        pyro.sample("x", dist.Normal(pyro.param("m", torch.tensor(1.0)), 1.0))

    module = Trace_ELBO()(model, guide)
    assert isinstance(module, torch.nn.Module)
    pyro.set_rng_seed(1)
    value = module()
    pyro.set_rng_seed(1)
    assert value.item() == pytest.approx(Trace_ELBO().loss(model, guide), rel=1e-6)
