"""``MaskedMixture``: log_prob, sampling, shapes, support and validation against its components."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.distributions.mixture import MaskedConstraint


def normal_logpdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)


def test_log_prob_selects_the_component_per_element():
    mask = torch.tensor([True, False, True, False])
    c0 = dist.Normal(torch.zeros(4), 1.0)
    c1 = dist.Normal(torch.full((4,), 3.0), 2.0)
    d = dist.MaskedMixture(mask, c0, c1)
    x = torch.tensor([0.5, -1.0, 2.0, 4.0])
    expected = torch.tensor([normal_logpdf(0.5, 3.0, 2.0), normal_logpdf(-1.0, 0.0, 1.0),
                             normal_logpdf(2.0, 3.0, 2.0), normal_logpdf(4.0, 0.0, 1.0)])
    assert d.batch_shape == (4,) and d.event_shape == ()
    assert torch.allclose(d.log_prob(x), expected)
    assert torch.allclose(d.log_prob(x), torch.where(mask, c1.log_prob(x), c0.log_prob(x)))
    # values with sample dims on the left broadcast as for any distribution
    xs = torch.randn(5, 1, 4)
    assert torch.allclose(d.log_prob(xs), torch.where(mask, c1.log_prob(xs), c0.log_prob(xs)))


def test_event_dims_follow_the_components():
    mask = torch.tensor([False, True, True])
    c0 = dist.Normal(torch.zeros(3, 2), 1.0).to_event(1)
    c1 = dist.MultivariateNormal(torch.ones(3, 2), torch.eye(2) * 4.0)
    d = dist.MaskedMixture(mask, c0, c1)
    assert d.batch_shape == (3,) and d.event_shape == (2,)
    x = torch.randn(3, 2)
    assert torch.allclose(d.log_prob(x), torch.where(mask, c1.log_prob(x), c0.log_prob(x)))
    assert d.sample().shape == (3, 2) and d.rsample((4,)).shape == (4, 3, 2)
    assert torch.allclose(d.mean, torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]))
    assert torch.allclose(d.variance, torch.tensor([[1.0, 1.0], [4.0, 4.0], [4.0, 4.0]]))


def test_samples_come_from_the_selected_component():
    mask = torch.tensor([[True, False, False], [False, True, True]])
    d = dist.MaskedMixture(mask, dist.Delta(torch.zeros(2, 3)), dist.Delta(torch.arange(6.0).reshape(2, 3)))
    assert torch.equal(d.sample(), torch.tensor([[0.0, 0.0, 0.0], [0.0, 4.0, 5.0]]))
    far = dist.MaskedMixture(mask, dist.Normal(-100.0, 1.0).expand([2, 3]),
                             dist.Normal(100.0, 1.0).expand([2, 3]))
    x = far.sample((1000,))
    assert x.shape == (1000, 2, 3)
    assert torch.equal(x > 0, mask.expand(1000, 2, 3))
    assert x.requires_grad is False


def test_rsample_sends_gradients_to_the_selected_component_only():
    loc0 = torch.zeros(3, requires_grad=True)
    loc1 = torch.zeros(3, requires_grad=True)
    mask = torch.tensor([True, False, True])
    d = dist.MaskedMixture(mask, dist.Normal(loc0, 1.0), dist.Normal(loc1, 1.0))
    assert d.has_rsample
    d.rsample((7,)).sum().backward()
    assert torch.allclose(loc0.grad, torch.tensor([0.0, 7.0, 0.0]))
    assert torch.allclose(loc1.grad, torch.tensor([7.0, 0.0, 7.0]))
    assert d().requires_grad  # calling draws rsample


def test_has_rsample_needs_both_components():
    mask = torch.tensor([True, False])
    d = dist.MaskedMixture(mask, dist.Poisson(torch.ones(2)), dist.Normal(torch.zeros(2), 1.0))
    assert not d.has_rsample
    with pytest.raises(NotImplementedError, match="Poisson and Normal"):
        d.rsample()
    assert d.sample().shape == (2,)


def test_mask_and_components_broadcast_like_an_enumerated_mask():
    # an enumerated change point t of shape (K, 1) against a plate of N observations
    n = 4
    t = torch.arange(n + 1).reshape(-1, 1)
    mask = torch.arange(n) >= t
    c0, c1 = dist.Normal(0.0, 1.0), dist.Normal(torch.full((n,), 2.0), 1.0)
    d = dist.MaskedMixture(mask, c0, c1)
    assert d.batch_shape == (n + 1, n)
    assert d.mask.shape == (n + 1, n) and d.component0.batch_shape == (n + 1, n)
    x = torch.randn(n)
    lp = d.log_prob(x)
    assert lp.shape == (n + 1, n)
    for k in range(n + 1):
        for i in range(n):
            loc = 2.0 if i >= k else 0.0
            assert math.isclose(lp[k, i].item(), normal_logpdf(x[i].item(), loc, 1.0), rel_tol=1e-5)


def test_expand_keeps_a_masked_mixture():
    mask = torch.tensor([True, False, True])
    d = dist.MaskedMixture(mask, dist.Normal(torch.zeros(3), 1.0), dist.Normal(torch.ones(3), 1.0))
    e = d.expand([2, 3])
    assert isinstance(e, dist.MaskedMixture) and e.batch_shape == (2, 3)
    assert e.component0.batch_shape == (2, 3) and e.mask.shape == (2, 3)
    x = torch.randn(2, 3)
    assert torch.allclose(e.log_prob(x), torch.where(mask, x.sub(1).pow(2), x.pow(2)) * -0.5
                          - 0.5 * math.log(2 * math.pi))
    assert d.expand([3]) is d
    with pytest.raises(ValueError, match="cannot expand"):
        d.expand([4])


def test_support_is_shared_or_masked():
    mask = torch.tensor([True, False, True])
    same = dist.MaskedMixture(mask, dist.Gamma(torch.ones(3), 1.0), dist.Exponential(torch.ones(3)))
    assert same.support is dist.constraints.nonnegative
    mixed = dist.MaskedMixture(mask, dist.Poisson(torch.ones(3)), dist.Gamma(torch.ones(3), 1.0))
    support = mixed.support
    assert isinstance(support, MaskedConstraint)
    assert support.event_dim == 0 and not support.is_discrete
    # element 1 follows the Poisson (integers), elements 0 and 2 the Gamma (non-negative reals)
    assert torch.equal(support.check(torch.tensor([0.5, 0.5, 2.0])), torch.tensor([True, False, True]))
    assert torch.equal(support.check(torch.tensor([-1.0, 2.0, 2.0])), torch.tensor([False, True, True]))
    both_discrete = dist.MaskedMixture(mask, dist.Poisson(torch.ones(3)), dist.Binomial(5, torch.full((3,), 0.5)))
    assert both_discrete.support.is_discrete
    vector = dist.MaskedMixture(mask, dist.Normal(torch.zeros(3, 2), 1.0).to_event(1),
                                dist.Dirichlet(torch.ones(3, 2)))
    assert vector.support.event_dim == 1
    x = torch.tensor([[0.3, 0.7], [-1.0, 5.0], [2.0, 3.0]])
    assert torch.equal(vector.support.check(x), torch.tensor([True, True, False]))


def test_validation_checks_each_element_against_its_own_component():
    mask = torch.tensor([True, False, True])
    d = dist.MaskedMixture(mask, dist.Poisson(torch.ones(3)), dist.Gamma(torch.ones(3), 1.0))
    # 0.5 is no Poisson value, but only the Gamma sees elements 0 and 2
    lp = d.log_prob(torch.tensor([0.5, 1.0, 0.5]))
    assert torch.allclose(lp, torch.tensor([-0.5, -1.0, -0.5]))
    with pytest.raises(ValueError, match="support"):
        d.log_prob(torch.tensor([0.5, 0.5, 0.5]))
    unchecked = dist.MaskedMixture(mask, dist.Poisson(torch.ones(3), validate_args=False),
                                   dist.Gamma(torch.ones(3), 1.0), validate_args=False)
    assert unchecked.log_prob(torch.tensor([0.5, 0.5, 0.5])).shape == (3,)


def test_other_components_density_leaves_no_nan_in_the_gradient():
    rate = torch.ones(2, requires_grad=True)
    loc = torch.zeros(2, requires_grad=True)
    mask = torch.tensor([True, False])
    with pyro.validation_enabled(False):
        d = dist.MaskedMixture(mask, dist.Normal(loc, 1.0), dist.Gamma(2.0, rate))
        x = torch.tensor([1.5, -3.0])  # -3 is outside the Gamma's support, where the Normal is used
        lp = d.log_prob(x)
    assert torch.isfinite(lp).all()
    lp.sum().backward()
    assert torch.allclose(rate.grad, torch.tensor([2.0 / 1.0 - 1.5, 0.0]))
    assert torch.allclose(loc.grad, torch.tensor([0.0, -3.0]))


def test_inside_a_plate_the_site_log_prob_is_the_masked_sum():
    data = torch.tensor([0.1, -0.4, 2.5, 3.1, 2.9])
    mask = torch.arange(5) >= 2

    def model():
        with pyro.plate("data", 5):
            pyro.sample("obs", dist.MaskedMixture(mask, dist.Normal(0.0, 1.0), dist.Normal(3.0, 0.5)),
                        obs=data)

    tr = poutine.trace(model).get_trace()
    assert tr.nodes["obs"]["fn"].batch_shape == (5,)
    expected = sum(normal_logpdf(x, 3.0, 0.5) if m else normal_logpdf(x, 0.0, 1.0)
                   for x, m in zip(data.tolist(), mask.tolist()))
    assert math.isclose(tr.log_prob_sum().item(), expected, rel_tol=1e-5)


def test_bad_arguments_raise_value_errors_naming_the_shapes():
    c0, c1 = dist.Normal(torch.zeros(3), 1.0), dist.Normal(torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="bool tensor, got a tensor of dtype torch.int64"):
        dist.MaskedMixture(torch.tensor([1, 0, 1]), c0, c1)
    with pytest.raises(ValueError, match="bool tensor, got bool"):
        dist.MaskedMixture(True, c0, c1)
    with pytest.raises(ValueError, match=r"mask of shape \(2,\), component0 of batch_shape \(3,\)"):
        dist.MaskedMixture(torch.tensor([True, False]), c0, c1)
    with pytest.raises(ValueError, match=r"event_shape disagree: \(\) vs \(2,\)"):
        dist.MaskedMixture(torch.tensor([True, False, True]), c0,
                           dist.MultivariateNormal(torch.zeros(3, 2), torch.eye(2)))


def test_registered_like_every_pyro_distribution():
    from pyro.plugins import get_registry

    assert "MaskedMixture" in dist.__all__
    assert get_registry("distributions").get("MaskedMixture") is dist.MaskedMixture
    assert dist.MaskedMixture.__module__ == "pyro.distributions.mixture"
