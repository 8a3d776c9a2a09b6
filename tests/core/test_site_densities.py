"""Per-site log-densities and score parts, shared by Trace and the ELBOs (core only: plain
torch distributions, which have no ``score_parts`` of their own)."""

import math

import pytest
import torch
import torch.distributions as dist

import pyro
from pyro import poutine
from pyro.poutine.site_densities import site_log_prob, site_score_parts


def _normal_log_density(x, loc, scale):
    return -((x - loc) ** 2) / (2 * scale**2) - math.log(scale) - 0.5 * math.log(2 * math.pi)


def _trace(model):
    return poutine.trace(model).get_trace()


def test_site_log_prob_scales_masks_and_sums():
    x = torch.tensor([0.5, -1.0, 2.0])
    mask = torch.tensor([True, False, True])

    def model():
        with poutine.scale(scale=3.0), poutine.mask(mask=mask):
            pyro.sample("x", dist.Normal(1.0, 2.0).expand([3]), obs=x)

    site = _trace(model).nodes["x"]
    log_p = site_log_prob(site)
    raw = torch.tensor([_normal_log_density(v, 1.0, 2.0) for v in x.tolist()])
    expected = torch.where(mask, 3.0 * raw, torch.zeros(()))
    assert torch.allclose(site["unscaled_log_prob"], raw, atol=1e-6)
    assert torch.allclose(log_p, expected, atol=1e-6)
    assert torch.allclose(site["log_prob_sum"], expected.sum(), atol=1e-6)
    assert site_log_prob(site) is log_p  # stored, not recomputed


def test_log_prob_sum_is_added_later_when_skipped():
    tr = _trace(lambda: pyro.sample("x", dist.Normal(0.0, 1.0).expand([2]), obs=torch.zeros(2)))
    site = tr.nodes["x"]
    site_log_prob(site, with_sum=False)
    assert "log_prob_sum" not in site
    tr.compute_log_prob()
    assert torch.allclose(site["log_prob_sum"], torch.tensor(2 * _normal_log_density(0.0, 0.0, 1.0)))


def test_scalar_log_prob_is_its_own_sum():
    site = _trace(lambda: pyro.sample("x", dist.Normal(0.0, 1.0), obs=torch.tensor(0.3))).nodes["x"]
    assert site_log_prob(site) is site["log_prob_sum"]


def test_reparameterised_entropy_term_is_the_scaled_log_prob():
    def guide():
        with poutine.scale(scale=2.0):
            pyro.sample("z", dist.Normal(torch.tensor(0.0, requires_grad=True), 1.0))

    site = _trace(guide).nodes["z"]
    parts = site_score_parts(site)
    assert parts.entropy_term is parts.log_prob is site["log_prob"]
    z = site["value"].item()
    assert parts.log_prob.item() == pytest.approx(2.0 * _normal_log_density(z, 0.0, 1.0), rel=1e-6)
    assert parts.score_function == 0


def test_plain_torch_distribution_gets_score_function_parts():
    probs = torch.tensor(0.3, requires_grad=True)
    site = _trace(lambda: pyro.sample("b", dist.Bernoulli(probs))).nodes["b"]
    parts = site_score_parts(site)
    expected = math.log(0.3) if site["value"].item() == 1.0 else math.log(0.7)
    assert parts.log_prob.item() == pytest.approx(expected, rel=1e-6)
    assert parts.score_function is parts.log_prob
    assert parts.entropy_term == 0


@pytest.mark.parametrize("compute", [site_log_prob, site_score_parts])
def test_errors_name_the_site_and_shapes(compute):
    site = _trace(lambda: pyro.sample("y", dist.Normal(torch.zeros(3), 1.0),
                                      obs=torch.zeros(4))).nodes["y"]
    with pytest.raises(ValueError, match=r"site 'y'.*\n.*\n.*batch_shape=\(3,\).*value.shape=\(4,\)"):
        compute(site)
