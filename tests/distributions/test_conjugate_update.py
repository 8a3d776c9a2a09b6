"""``conjugate_update`` of Beta, Dirichlet, Gamma and the wrappers, and ``ConjugateReparam``.

The defining identity ``f.log_prob(x) + g.log_prob(x) == fg.log_prob(x) + log Z`` is checked
at many ``x`` with broadcast batch shapes; ``log Z`` is checked against numerical integration
(scipy) of ``f * g``; ``ConjugateReparam`` against the analytic posterior and evidence of a
Beta-Bernoulli and a Gamma-Poisson model.
"""

import math

import pytest
import torch
from scipy import integrate

import pyro.distributions as dist

F64 = torch.float64


def _t(x):
    return torch.tensor(x, dtype=F64)


def _pairs():
    """(prior, other) pairs of each family with batch shapes (2, 1) and (3,)."""
    yield (dist.Beta(_t([[2.0], [0.7]]), _t([[3.0], [1.5]])),
           dist.Beta(_t([1.5, 4.0, 0.6]), _t([2.5, 1.0, 3.0])))
    yield (dist.Gamma(_t([[2.0], [0.8]]), _t([[3.0], [0.5]])),
           dist.Gamma(_t([1.5, 4.0, 0.7]), _t([2.5, 0.5, 1.0])))
    yield (dist.Dirichlet(_t([[[1.0, 2.0, 3.0]], [[0.6, 1.5, 0.9]]])),
           dist.Dirichlet(_t([[1.5, 1.0, 2.0], [0.5, 3.0, 1.0], [2.0, 2.0, 0.8]])))


@pytest.mark.parametrize("prior,other", list(_pairs()), ids=["Beta", "Gamma", "Dirichlet"])
def test_identity_at_many_points_with_broadcasting(prior, other):
    torch.manual_seed(0)
    updated, log_z = prior.conjugate_update(other)
    assert type(updated) is type(prior)
    assert updated.batch_shape == (2, 3) and updated.event_shape == prior.event_shape
    assert log_z.shape == (2, 3) and log_z.dtype == F64
    x = updated.sample((5,))  # (5, 2, 3) + event: every batch element at five points
    lhs = prior.log_prob(x) + other.log_prob(x)
    assert torch.allclose(lhs, updated.log_prob(x) + log_z, atol=1e-10)
    # The order of the two factors does not matter.
    updated2, log_z2 = other.conjugate_update(prior)
    assert torch.allclose(log_z2, log_z, atol=1e-12)
    assert torch.allclose(updated2.log_prob(x), updated.log_prob(x), atol=1e-10)


@pytest.mark.parametrize("params", [(2.0, 3.0, 1.5, 2.5), (0.7, 1.2, 3.0, 0.9), (5.0, 1.0, 1.0, 1.0)])
def test_beta_log_normalizer_by_quadrature(params):
    a, b, c, d = params
    f, g = dist.Beta(_t(a), _t(b)), dist.Beta(_t(c), _t(d))
    updated, log_z = f.conjugate_update(g)
    assert torch.allclose(updated.concentration1, _t(a + c - 1))
    assert torch.allclose(updated.concentration0, _t(b + d - 1))
    z, _ = integrate.quad(lambda x: math.exp(f.log_prob(_t(x)) + g.log_prob(_t(x))), 0.0, 1.0,
                          epsabs=1e-12, epsrel=1e-10)
    assert log_z.item() == pytest.approx(math.log(z), abs=1e-7)


@pytest.mark.parametrize("params", [(2.0, 3.0, 1.5, 2.5), (0.8, 0.5, 4.0, 1.0), (1.0, 1.0, 1.0, 1.0)])
def test_gamma_log_normalizer_by_quadrature(params):
    k, r, l_, s = params
    f, g = dist.Gamma(_t(k), _t(r)), dist.Gamma(_t(l_), _t(s))
    updated, log_z = f.conjugate_update(g)
    assert torch.allclose(updated.concentration, _t(k + l_ - 1))
    assert torch.allclose(updated.rate, _t(r + s))
    z, _ = integrate.quad(lambda x: math.exp(f.log_prob(_t(x)) + g.log_prob(_t(x))), 0.0, math.inf,
                          epsabs=1e-12, epsrel=1e-10)
    assert log_z.item() == pytest.approx(math.log(z), abs=1e-7)


def test_dirichlet_log_normalizer_by_quadrature_over_the_simplex():
    f, g = dist.Dirichlet(_t([1.5, 2.0, 3.0])), dist.Dirichlet(_t([2.0, 1.2, 1.0]))
    updated, log_z = f.conjugate_update(g)
    assert torch.allclose(updated.concentration, _t([2.5, 2.2, 3.0]))

    alpha = [1.5 + 2.0 - 1, 2.0 + 1.2 - 1, 3.0 + 1.0 - 1]
    log_b = sum(math.lgamma(c) for c in (1.5, 2.0, 3.0)) - math.lgamma(6.5)
    log_b += sum(math.lgamma(c) for c in (2.0, 1.2, 1.0)) - math.lgamma(4.2)

    def density(x2, x1):  # the product of the two densities, written out
        x3 = max(1.0 - x1 - x2, 0.0)
        return math.exp(-log_b) * x1 ** (alpha[0] - 1) * x2 ** (alpha[1] - 1) * x3 ** (alpha[2] - 1)

    # The simplex in the coordinates (x1, x2); the Dirichlet density is per d x1 d x2.
    z, _ = integrate.dblquad(density, 0.0, 1.0, 0.0, lambda x1: 1.0 - x1, epsabs=1e-10, epsrel=1e-8)
    assert log_z.item() == pytest.approx(math.log(z), abs=1e-6)


def test_expanded_distribution_updates_its_base_and_broadcasts():
    base = dist.Beta(_t(2.0), _t(3.0))
    expanded = dist.ExpandedDistribution(base, [4])
    other = dist.Beta(torch.linspace(1.0, 3.0, 5, dtype=F64).reshape(5, 1), _t(2.5))
    updated, log_z = expanded.conjugate_update(other)
    assert updated.batch_shape == (5, 4) and log_z.shape == (5, 4)
    x = torch.rand(3, 5, 4, dtype=F64) * 0.98 + 0.01
    assert torch.allclose(expanded.log_prob(x) + other.log_prob(x), updated.log_prob(x) + log_z,
                          atol=1e-10)
    # Each column is the base's own update.
    assert torch.allclose(log_z, base.conjugate_update(other)[1].expand(5, 4))


def test_independent_sums_the_log_normalizer_over_its_event_dims():
    prior = dist.Gamma(_t([[2.0, 0.5, 1.0], [3.0, 1.0, 4.0]]), _t(1.5)).to_event(1)
    other = dist.Gamma(_t([1.5, 4.0, 0.7]), _t([2.5, 0.5, 1.0])).to_event(1)
    updated, log_z = prior.conjugate_update(other)
    assert isinstance(updated, dist.Independent) and isinstance(updated.base_dist, dist.Gamma)
    assert updated.batch_shape == (2,) and updated.event_shape == (3,) and log_z.shape == (2,)
    x = updated.sample((6,))
    assert torch.allclose(prior.log_prob(x) + other.log_prob(x), updated.log_prob(x) + log_z,
                          atol=1e-10)
    per_element = prior.base_dist.conjugate_update(other.base_dist)[1]
    assert torch.allclose(log_z, per_element.sum(-1))
    # An other with more event dims than the prior: the extra ones stay in its event.
    prior2 = dist.Dirichlet(torch.ones(2, 3, 4, dtype=F64)).to_event(1)
    other2 = dist.Dirichlet(torch.rand(2, 3, 4, dtype=F64) + 0.5).to_event(2)
    updated2, log_z2 = prior2.to_event(1).conjugate_update(other2)
    assert updated2.event_shape == (2, 3, 4) and log_z2.shape == ()
    x2 = updated2.sample((4,))
    assert torch.allclose(prior2.to_event(1).log_prob(x2) + other2.log_prob(x2),
                          updated2.log_prob(x2) + log_z2, atol=1e-10)
    updated3, log_z3 = prior2.conjugate_update(other2.to_event(-1))
    assert updated3.batch_shape == (2,) and torch.allclose(log_z3.sum(), log_z2)


def test_masked_distribution_keeps_its_mask():
    mask = torch.tensor([True, False, True])
    prior = dist.Beta(_t(2.0), _t(3.0)).mask(mask)
    other = dist.Beta(_t([1.5, 4.0, 0.6]), _t(2.5))
    updated, log_z = prior.conjugate_update(other)
    assert isinstance(updated, dist.MaskedDistribution) and torch.equal(updated._mask, mask)
    unmasked_z = dist.Beta(_t(2.0), _t(3.0)).conjugate_update(other)[1]
    assert torch.allclose(log_z, torch.where(mask, unmasked_z, torch.zeros(3, dtype=F64)))
    x = torch.rand(7, 3, dtype=F64) * 0.98 + 0.01
    # The identity where the mask is True; elsewhere both sides drop the factors (Pyro's way).
    lhs = prior.log_prob(x) + other.log_prob(x)
    rhs = updated.log_prob(x) + log_z
    assert torch.allclose(lhs[:, mask], rhs[:, mask], atol=1e-10)
    assert torch.equal(rhs[:, ~mask], torch.zeros(7, 1, dtype=F64))
    # Bool masks.
    up_true, z_true = dist.Beta(_t(2.0), _t(3.0)).mask(True).conjugate_update(other)
    assert torch.allclose(z_true, unmasked_z)
    assert torch.allclose(up_true.log_prob(x), updated.base_dist.log_prob(x))
    up_false, z_false = dist.Beta(_t(2.0), _t(3.0)).mask(False).conjugate_update(other)
    assert torch.equal(z_false, torch.zeros(3, dtype=F64))
    assert torch.equal(up_false.log_prob(x), torch.zeros(7, 3, dtype=F64))


def test_bad_input_gets_a_clear_error():
    beta = dist.Beta(torch.ones(3), torch.ones(3))
    with pytest.raises(TypeError, match="Beta.conjugate_update: other must be a Beta, got Gamma"):
        beta.conjugate_update(dist.Gamma(1.0, 1.0))
    with pytest.raises(ValueError, match=r"batch_shape \(3,\) does not broadcast with other"):
        beta.conjugate_update(dist.Beta(torch.ones(4), 1.0))
    with pytest.raises(ValueError, match=r"event_shape \(4,\), expected \(3,\)"):
        dist.Dirichlet(torch.ones(3)).conjugate_update(dist.Dirichlet(torch.ones(4)))
    with pytest.raises(ValueError, match="ExpandedDistribution.conjugate_update: batch_shape"):
        dist.ExpandedDistribution(dist.Beta(1.0, 1.0), [3]).conjugate_update(dist.Beta(torch.ones(4), 1.0))
    with pytest.raises(ValueError, match="Independent.conjugate_update: other must be"):
        beta.to_event(1).conjugate_update(beta)
    with pytest.raises(ValueError, match="concentration1"):  # a product that cannot be normalised
        dist.Beta(0.5, 1.0).conjugate_update(dist.Beta(0.4, 1.0))
    with pytest.raises(NotImplementedError, match=r"Normal does not support \.conjugate_update\(\)"):
        dist.ExpandedDistribution(dist.Normal(0.0, 1.0), [3]).conjugate_update(dist.Normal(0.0, 1.0))
    with pytest.raises(NotImplementedError, match=r"Normal does not support \.conjugate_update\(\)"):
        dist.Normal(torch.zeros(3), 1.0).mask(torch.tensor([True, False, True])).conjugate_update(
            dist.Normal(0.0, 1.0))


@pytest.mark.cuda
def test_conjugate_update_follows_the_device():
    prior = dist.Beta(torch.tensor([2.0, 1.0], device="cuda"), 3.0).to_event(1)
    other = dist.Beta(torch.tensor([1.5, 4.0], device="cuda"), 2.5).to_event(1)
    updated, log_z = prior.conjugate_update(other)
    x = updated.sample((3,))
    assert x.is_cuda and log_z.is_cuda
    assert torch.allclose(prior.log_prob(x) + other.log_prob(x), updated.log_prob(x) + log_z,
                          atol=1e-5)


def test_families_without_a_conjugate_update_say_so():
    with pytest.raises(NotImplementedError, match=r"^Normal does not support \.conjugate_update\(\)$"):
        dist.Normal(0.0, 1.0).conjugate_update(dist.Normal(1.0, 2.0))
