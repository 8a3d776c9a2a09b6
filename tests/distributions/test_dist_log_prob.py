"""Log-densities of every distribution against scipy.stats or closed forms, on batched
parameters, and sample moments against the analytic mean and variance."""

import numpy as np
import pytest
import torch

from dist_cases import CASES, sample_value

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_log_prob_matches_reference(case, device):
    d = case.make(device)
    x = sample_value(case, d, (5,))
    assert x.device.type == device
    actual = d.log_prob(x)
    assert actual.shape == (5,) + d.batch_shape
    expected = case.ref(x.cpu().numpy(), **case.np_params())
    expected = np.broadcast_to(expected, actual.shape)
    np.testing.assert_allclose(actual.detach().cpu().numpy(), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", [c for c in CASES if c.moments], ids=repr)
def test_sample_moments(case):
    n = 20000
    d = case.make()
    x = d.sample((n,)).double()
    mean, var = d.mean, d.variance
    sample_mean = x.mean(0)
    sample_var = x.var(0)
    # Tolerances: 5 standard errors of the estimators (from the sample's own moments).
    mean_se = (var / n).sqrt()
    m4 = ((x - sample_mean) ** 4).mean(0)
    var_se = ((m4 - sample_var ** 2).clamp(min=0) / n).sqrt()
    assert torch.all((sample_mean - mean).abs() <= 5 * mean_se + 1e-9), (sample_mean, mean)
    assert torch.all((sample_var - var).abs() <= 5 * var_se + 1e-9), (sample_var, var)
