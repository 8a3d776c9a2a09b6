"""Rejector, the rejection-sampled Gamma family built on it, and ``has_rsample_`` overrides."""

import math

import pytest
import scipy.stats as st
import torch

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
from pyro.distributions import Rejector
from pyro.distributions.testing import fakes
from pyro.distributions.testing.rejection_gamma import (
    RejectionGamma,
    RejectionStandardGamma,
    ShapeAugmentedBeta,
    ShapeAugmentedDirichlet,
    ShapeAugmentedGamma,
)

T = torch.float64


# ----- has_rsample_ -------------------------------------------------------------------------

def test_has_rsample_sets_in_place_and_returns_self():
    d = dist.Normal(0.0, 1.0)
    assert d.has_rsample_(False) is d
    assert d.has_rsample is False
    assert dist.Normal(0.0, 1.0).has_rsample is True  # the class is untouched
    assert dist.Poisson(1.0).has_rsample_(True).has_rsample is True


@pytest.mark.parametrize("bad", [1, 0, "yes", None, torch.tensor(True)])
def test_has_rsample_rejects_non_bool(bad):
    with pytest.raises(ValueError, match=r"Normal.has_rsample_\(value\): value must be True or False"):
        dist.Normal(0.0, 1.0).has_rsample_(bad)


@pytest.mark.parametrize("build", [
    lambda: dist.Normal(0.0, 1.0),                      # torch-native expand
    lambda: dist.Gamma(2.0, 1.0),
    lambda: dist.Beta(2.0, 3.0),
    lambda: dist.Gumbel(0.0, 1.0),                      # has_rsample is a property in torch
    lambda: dist.Unit(torch.tensor(0.0)),               # Pyro's own, with its own expand
    lambda: Rejector(dist.Normal(0.0, 1.0), lambda x: -x.abs(), 0.0),  # ExpandedDistribution
], ids=["Normal", "Gamma", "Beta", "Gumbel", "Unit", "Rejector"])
def test_override_survives_expand_to_event_and_mask(build):
    for value in (False, True):
        d = build().has_rsample_(value)
        e = d.expand([4])
        assert e.has_rsample is value
        assert e.expand([2, 4]).has_rsample is value
        assert e.to_event(1).has_rsample is value
        assert d.mask(False).has_rsample is value
        assert d.mask(torch.tensor([True, False])).has_rsample is value  # mask expands the base
        assert d.expand_by([3]).has_rsample is value


def test_override_on_wrappers_survives_their_expand():
    base = dist.Normal(torch.zeros(2, 3), 1.0)
    ind = base.to_event(1).has_rsample_(False)
    assert base.has_rsample is True and ind.has_rsample is False
    assert ind.expand([5, 2]).has_rsample is False
    assert ind.to_event(1).has_rsample is False  # merged into one Independent
    assert ind.to_event(1).to_event(-1).has_rsample is False
    masked = dist.Normal(0.0, 1.0).mask(False).has_rsample_(False)
    assert masked.base_dist.has_rsample is True and masked.expand([3]).has_rsample is False
    expanded = dist.ExpandedDistribution(dist.Normal(0.0, 1.0), [3]).has_rsample_(False)
    assert expanded.base_dist.has_rsample is True
    assert expanded.expand([2, 3]).has_rsample is False


def test_override_score_parts_and_draws():
    loc = torch.tensor(0.5, requires_grad=True)
    d = dist.Normal(loc, 1.0).has_rsample_(False)
    x = d()
    assert not x.requires_grad
    parts = d.score_parts(torch.tensor(0.0))
    expected = -0.5 * 0.25 - 0.5 * math.log(2 * math.pi)
    assert parts.log_prob.item() == pytest.approx(expected, abs=1e-6)
    assert parts.score_function is parts.log_prob and parts.entropy_term == 0


def test_override_survives_plate_broadcasting():
    loc = torch.tensor(0.0, requires_grad=True)

    def model():
        with pyro.plate("outer", 2, dim=-2), pyro.plate("inner", 3):
            pyro.sample("a", dist.Normal(loc, 1.0).has_rsample_(False))
            pyro.sample("b", dist.Gamma(2.0, 1.0).has_rsample_(False))
            pyro.sample("c", dist.Normal(loc, 1.0).has_rsample_(False).to_event(0))
            pyro.sample("d", dist.Normal(loc.expand(4), 1.0).has_rsample_(False).to_event(1))
            pyro.sample("e", dist.Normal(loc, 1.0).mask(torch.tensor([True, False, True])).has_rsample_(False))
            pyro.sample("f", fakes.NonreparameterizedNormal(loc, 1.0).has_rsample_(True))
            pyro.sample("g", dist.Normal(loc, 1.0))

    trace = poutine.trace(model).get_trace()
    for name in "abcde":
        site = trace.nodes[name]
        assert site["fn"].batch_shape == (2, 3), name
        assert site["fn"].has_rsample is False, name
        assert not site["value"].requires_grad, name
    for name in "fg":
        assert trace.nodes[name]["fn"].has_rsample is True
        assert trace.nodes[name]["value"].requires_grad
    assert set(trace.nonreparam_stochastic_nodes) >= set("abcde")


# ----- Rejector -----------------------------------------------------------------------------

def _truncating_rejector(mu, sigma):
    # Normal(mu, 1) proposals accepted with exp(-(x - mu)^2 (1/sigma^2 - 1) / 2): the accepted
    # values are Normal(mu, sigma) and the acceptance rate is exactly sigma.
    propose = dist.Normal(mu, torch.ones_like(mu))

    def log_prob_accept(x):
        return -0.5 * (x - mu) ** 2 * (1 / sigma ** 2 - 1)

    return Rejector(propose, log_prob_accept, torch.log(sigma))


def test_rejector_log_prob_and_score_parts():
    mu = torch.tensor([0.0, 1.0, -2.0], dtype=T)
    sigma = torch.tensor([0.5, 0.8, 0.3], dtype=T)
    r = _truncating_rejector(mu, sigma)
    assert r.batch_shape == (3,) and r.event_shape == () and r.has_rsample
    x = torch.tensor([0.3, 2.0, -2.5], dtype=T)
    expected = st.norm(mu.numpy(), sigma.numpy()).logpdf(x.numpy())
    assert torch.allclose(r.log_prob(x), torch.as_tensor(expected), atol=1e-12)
    parts = r.score_parts(x)
    lpa = -0.5 * (x - mu) ** 2 * (1 / sigma ** 2 - 1)
    assert torch.allclose(parts.log_prob, r.log_prob(x))
    assert parts.entropy_term is parts.log_prob
    assert torch.allclose(parts.score_function, lpa - sigma.log())


def test_rejector_samples_moments_and_pathwise_gradient():
    mu = torch.tensor([0.0, 1.0], dtype=T, requires_grad=True)
    sigma = torch.tensor([0.5, 0.4], dtype=T)
    r = _truncating_rejector(mu, sigma)
    x = r.rsample([10000])
    assert x.shape == (10000, 2)
    assert torch.allclose(x.mean(0), mu.detach(), atol=0.02)
    assert torch.allclose(x.std(0), sigma, rtol=0.03)
    x.sum().backward()  # every accepted value is mu + noise
    assert torch.allclose(mu.grad, torch.full((2,), 10000.0, dtype=T))
    assert r.sample().shape == (2,) and not r.sample().requires_grad
    assert r().requires_grad


def test_rejector_score_parts_reuse_the_sample_just_drawn():
    calls = []
    mu, sigma = torch.tensor(0.0), torch.tensor(0.5)
    r = _truncating_rejector(mu, sigma)
    accept = r._log_prob_accept_fn

    def counting(x):
        calls.append(x)
        return accept(x)

    r._log_prob_accept_fn = counting
    x = r.rsample([100])
    before = len(calls)
    parts = r.score_parts(x)
    assert len(calls) == before
    assert torch.allclose(parts.score_function, accept(x) - sigma.log())


def test_rejector_event_shape_accepts_whole_events():
    mu = torch.zeros(2, 3)
    propose = dist.Normal(mu, 1.0).to_event(1)

    def log_prob_accept(x):  # accept only events whose first coordinate is positive
        return torch.where(x[..., 0] > 0, 0.0, -math.inf)

    r = Rejector(propose, log_prob_accept, math.log(0.5))
    assert r.batch_shape == (2,) and r.event_shape == (3,)
    x = r.rsample([500])
    assert x.shape == (500, 2, 3)
    assert bool((x[..., 0] > 0).all())
    # the other coordinates are untouched standard normals
    assert abs(x[..., 1:].mean().item()) < 0.1 and abs(x[..., 1:].std().item() - 1) < 0.05
    lp = r.log_prob(torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
    # log p = log Normal(event) + 0 - log(1/2)
    expected = [math.log(2) + st.norm.logpdf(1.0) + 2 * st.norm.logpdf(0.0),
                math.log(2) + 3 * st.norm.logpdf(1.0)]
    assert torch.allclose(lp.double(), torch.tensor(expected, dtype=T), atol=1e-5)


def test_rejector_shapes_given_explicitly_and_expand():
    r = Rejector(lambda *shape: torch.rand(*shape, 4) if shape else torch.rand(4),
                 lambda x: torch.zeros(x.shape), 0.0, batch_shape=(4,), event_shape=())
    assert r.batch_shape == (4,)
    e = r.expand([3, 4])
    assert isinstance(e, dist.ExpandedDistribution) and e.batch_shape == (3, 4)


def test_rejector_bad_inputs():
    normal = dist.Normal(torch.zeros(3), 1.0)
    with pytest.raises(TypeError, match="propose must be callable"):
        Rejector(3.0, lambda x: x, 0.0)
    with pytest.raises(TypeError, match="log_prob_accept must be callable"):
        Rejector(normal, None, 0.0)
    with pytest.raises(TypeError, match="batch_shape was not given"):
        Rejector(lambda: torch.zeros(3), lambda x: x, 0.0)
    with pytest.raises(ValueError, match=r"log_scale of shape \(2,\) does not broadcast with batch_shape \(3,\)"):
        Rejector(normal, lambda x: x, torch.zeros(2))


# ----- the rejection-sampled Gamma family ---------------------------------------------------

def test_rejection_standard_gamma_density_identity():
    alpha = torch.tensor([1.0, 1.5, 4.0, 0.5], dtype=T)
    r = RejectionStandardGamma(alpha)
    x = torch.tensor([0.2, 1.0, 3.5, 0.05], dtype=T)
    expected = st.gamma(alpha.numpy()).logpdf(x.numpy())
    assert torch.allclose(r.log_prob(x), torch.as_tensor(expected), atol=1e-10)
    # the proposal density times the acceptance probability is exactly Gamma times the scale
    via_rejector = r.propose_log_prob(x) + r.log_prob_accept(x) - r._log_scale
    assert torch.allclose(via_rejector, r.log_prob(x), atol=1e-10)
    assert bool((r.log_prob_accept(x) <= 0).all())
    assert r.log_prob_accept(torch.tensor([-1.0, 0.0, 1.0, 1.0], dtype=T))[:2].eq(-math.inf).all()


def test_rejection_standard_gamma_acceptance_rate_is_exp_log_scale():
    alpha = torch.tensor([0.5, 1.0, 3.0])
    r = RejectionStandardGamma(alpha)
    proposals = r.propose([40000])
    rate = (torch.rand_like(proposals).log() < r.log_prob_accept(proposals)).float().mean(0)
    assert torch.allclose(rate, r._log_scale.exp(), atol=0.01)


def _assert_gamma_moments(x, alpha, beta):
    # within 5 standard errors: of the mean, sqrt(alpha) / beta / sqrt(n); of the variance,
    # relatively sqrt((2 + 6 / alpha) / n) (the excess kurtosis of a Gamma is 6 / alpha)
    n = x.shape[0]
    x = x.double()
    alpha, beta = alpha.double(), beta.double()
    assert bool(((x.mean(0) - alpha / beta).abs() < 5 * alpha.sqrt() / beta / n ** 0.5).all())
    rel = (x.var(0) / (alpha / beta ** 2) - 1).abs()
    assert bool((rel < 5 * ((2 + 6 / alpha) / n) ** 0.5).all())


@pytest.mark.parametrize("boost", [1, 3])
def test_shape_augmented_gamma_moments_and_ks(boost):
    alpha, beta = torch.tensor([0.3, 2.5], dtype=T), torch.tensor([2.0, 0.5], dtype=T)
    d = ShapeAugmentedGamma(alpha, beta, boost=boost)
    x = d.rsample([20000])
    assert x.shape == (20000, 2)
    _assert_gamma_moments(x, alpha, beta)
    for i in range(2):
        ks = st.kstest(x[:, i].numpy(), st.gamma(alpha[i].item(), scale=1 / beta[i].item()).cdf)
        assert ks.pvalue > 1e-3


def test_rejection_gamma_moments_and_score_parts():
    alpha, beta = torch.tensor([1.5, 3.0]), torch.tensor([2.0, 0.5])
    d = RejectionGamma(alpha, beta)
    x = d.rsample([20000])
    _assert_gamma_moments(x, alpha, beta)
    value = torch.tensor([1.0, 2.0])
    parts = d.score_parts(value)
    assert torch.allclose(parts.log_prob, torch.distributions.Gamma(alpha, beta).log_prob(value))
    standard = RejectionStandardGamma(alpha)
    assert torch.allclose(parts.score_function,
                          standard.log_prob_accept(value * beta) - standard._log_scale)


def test_rejection_gamma_gradient_estimator_is_unbiased():
    # d/dalpha E[x] = 1 / beta, with the reparameterised term plus the score-function term.
    alpha = torch.tensor(1.2, requires_grad=True)
    beta = torch.tensor(2.0, requires_grad=True)
    d = RejectionGamma(alpha, beta)
    x = d.rsample([50000])
    score = d.score_parts(x).score_function
    surrogate = (x + x.detach() * (score - score.detach())).mean()
    grad_alpha, grad_beta = torch.autograd.grad(surrogate, [alpha, beta])
    assert grad_alpha.item() == pytest.approx(1 / 2.0, rel=0.05)
    assert grad_beta.item() == pytest.approx(-1.2 / 4.0, rel=0.05)


def test_shape_augmented_dirichlet_and_beta_moments():
    conc = torch.tensor([0.5, 1.0, 2.5], dtype=T)
    d = ShapeAugmentedDirichlet(conc)
    x = d.rsample([20000])
    assert x.shape == (20000, 3)
    assert torch.allclose(x.sum(-1), torch.ones(20000, dtype=T))
    assert torch.allclose(x.mean(0), conc / conc.sum(), atol=0.01)
    b = ShapeAugmentedBeta(torch.tensor(0.5, dtype=T), torch.tensor(2.0, dtype=T), boost=2)
    y = b.rsample([20000])
    assert y.mean().item() == pytest.approx(0.2, abs=0.008)  # 5 standard errors
    assert y.var().item() == pytest.approx(0.5 * 2.0 / (2.5 ** 2 * 3.5), rel=0.1)
    assert st.kstest(y.numpy(), st.beta(0.5, 2.0).cdf).pvalue > 1e-3
    assert torch.allclose(b.log_prob(torch.tensor(0.3, dtype=T)),
                          torch.tensor(st.beta(0.5, 2.0).logpdf(0.3), dtype=T))


def test_rejection_family_expand():
    a, b = torch.tensor([1.5, 3.0]), torch.tensor([2.0, 0.5])
    cases = [
        (RejectionStandardGamma(a), ()),
        (RejectionGamma(a, b), ()),
        (ShapeAugmentedGamma(a, b, boost=2), ()),
        (ShapeAugmentedDirichlet(torch.ones(2, 3)), (3,)),
        (ShapeAugmentedBeta(a, b), ()),
    ]
    for d, event in cases:
        e = d.expand([4, 2])
        assert type(e) is type(d) and e.batch_shape == (4, 2)
        assert e.rsample([5]).shape == (5, 4, 2) + event
    assert ShapeAugmentedGamma(a, b, boost=2).expand([4, 2])._boost == 2


def test_rejection_family_bad_inputs():
    with pytest.raises(ValueError, match="boost must be a non-negative int"):
        ShapeAugmentedGamma(1.0, 1.0, boost=-1)
    with pytest.raises(ValueError, match="boost must be a non-negative int"):
        ShapeAugmentedDirichlet(torch.ones(3), boost=1.5)
    with pytest.raises(ValueError, match="concentration .* must be greater than 1/3"):
        RejectionStandardGamma(torch.tensor([0.2, 1.0]))
    d = ShapeAugmentedGamma(torch.tensor([0.5]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="most recent sample returned by rsample"):
        d.score_parts(torch.tensor([1.0]))
    x = d.rsample()
    assert torch.allclose(d.score_parts(x).log_prob, torch.distributions.Gamma(0.5, 1.0).log_prob(x))
