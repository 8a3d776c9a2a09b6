"""pyro.ops.stats: diagnostics on synthetic chains with known answers, intervals, scores."""

import math

import pytest
import torch

from pyro.ops import stats


def _ar1_chains(phi, num_chains, n, dim=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(num_chains, n, dim, dtype=torch.float64)
    x[:, 0] = torch.randn(num_chains, dim, generator=g, dtype=torch.float64) / math.sqrt(1 - phi ** 2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + torch.randn(num_chains, dim, generator=g, dtype=torch.float64)
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_ess_of_ar1_matches_its_integrated_autocorrelation_time(phi):
    # For AR(1), rho_k = phi^k and the ESS is N (1 - phi) / (1 + phi).
    x = _ar1_chains(phi, num_chains=4, n=10000, dim=3)
    ess = stats.effective_sample_size(x)
    expected = 4 * 10000 * (1 - phi) / (1 + phi)
    assert ess.shape == (3,)
    # The estimate's relative spread grows with phi (about 5% at 0.8 for this length).
    assert torch.allclose(ess, torch.full_like(ess, expected), rtol=0.2)


def test_ess_moves_dims_and_agrees():
    x = _ar1_chains(0.6, 3, 400, dim=2)
    a = stats.effective_sample_size(x)
    b = stats.effective_sample_size(x.permute(1, 2, 0), chain_dim=2, sample_dim=0)
    assert torch.allclose(a, b)


def test_autocorrelation_against_direct_sums():
    x = torch.randn(2, 37, dtype=torch.float64)
    got = stats.autocorrelation(x, dim=1)
    c = x - x.mean(1, keepdim=True)
    n = x.shape[1]
    direct = torch.stack([(c[:, : n - k] * c[:, k:]).sum(1) / (n - k) for k in range(n)], dim=1)
    assert torch.allclose(got, direct / direct[:, :1])
    acov = stats.autocovariance(x, dim=1)
    assert torch.allclose(acov, got * x.var(1, unbiased=False, keepdim=True))
    assert torch.allclose(acov[:, 0], x.var(1, unbiased=False))


def test_gelman_rubin_by_hand_and_shifted_chains():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 1000, dtype=torch.float64, generator=g)
    n = 1000
    w = x.var(1).mean()
    b = x.mean(1).var()
    expected = ((n - 1) / n * w + b) / w
    assert torch.allclose(stats.gelman_rubin(x), expected.sqrt())
    assert abs(float(stats.gelman_rubin(x)) - 1) < 0.01
    # Chains shifted by +-delta: B ~ delta^2 (4/3), W ~ 1, so R-hat ~ sqrt(1 + 4 delta^2 / 3).
    shifted = x + torch.tensor([-1.0, -1.0, 1.0, 1.0], dtype=torch.float64)[:, None]
    assert abs(float(stats.gelman_rubin(shifted)) - math.sqrt(1 + 4 / 3)) < 0.05


def test_split_gelman_rubin_detects_a_trend_within_chains():
    g = torch.Generator().manual_seed(2)
    flat = torch.randn(2, 500, dtype=torch.float64, generator=g)
    assert abs(float(stats.split_gelman_rubin(flat)) - 1) < 0.02
    trend = flat + torch.linspace(-2, 2, 500, dtype=torch.float64)
    assert float(stats.gelman_rubin(trend)) < 1.01  # the chains agree with each other...
    assert float(stats.split_gelman_rubin(trend)) > 1.3  # ...but their halves do not
    # Odd length: the middle draw is dropped.
    odd = torch.randn(2, 9, dtype=torch.float64, generator=g)
    halves = torch.cat([odd[:, :4], odd[:, 5:]])
    assert torch.allclose(stats.split_gelman_rubin(odd), stats.gelman_rubin(halves))


def test_quantile_pi_hpdi():
    x = torch.arange(11.0)[torch.randperm(11)]
    q = stats.quantile(x, [0.0, 0.25, 0.5, 0.95])
    assert torch.allclose(q, torch.tensor([0.0, 2.5, 5.0, 9.5]))
    y = torch.stack([x, 2 * x], dim=1)
    assert stats.quantile(y, [0.1, 0.9]).shape == (2, 2)
    assert torch.allclose(stats.pi(y, 0.8), torch.tensor([[1.0, 2.0], [9.0, 18.0]]))
    # The narrowest interval with 3 of 6 points is around the cluster.
    # int(0.5 * 6) = 3: intervals [x(i), x(i+3)] of the sorted points; the narrowest wins.
    z = torch.tensor([30.0, 10.0, 0.0, 10.5, 11.0, 11.5])
    assert torch.allclose(stats.hpdi(z, 0.5), torch.tensor([10.0, 11.5]))
    assert torch.allclose(stats.hpdi(torch.stack([z, -z]), 0.5, dim=1),
                          torch.tensor([[10.0, 11.5], [-11.5, -10.0]]))


def test_waic_by_hand():
    g = torch.Generator().manual_seed(3)
    ll = -torch.rand(200, 5, generator=g, dtype=torch.float64) * 3
    lppd = (ll.exp().mean(0)).log()
    p = ll.var(0)
    w, pw = stats.waic(ll, pointwise=True)
    assert torch.allclose(w, -2 * (lppd - p))
    assert torch.allclose(pw, p)
    total, ptotal = stats.waic(ll)
    assert torch.allclose(total, w.sum()) and torch.allclose(ptotal, p.sum())
    # Weights: a weighted mean and an unbiased weighted variance.
    lw = torch.randn(200, generator=g, dtype=torch.float64)
    wts = (lw - lw.logsumexp(0)).exp()[:, None]
    mean = (wts * ll).sum(0)
    var = (wts * (ll - mean) ** 2).sum(0) * 200 / 199
    lppd_w = (wts * ll.exp()).sum(0).log()
    w2, p2 = stats.waic(ll, lw, pointwise=True)
    assert torch.allclose(p2, var) and torch.allclose(w2, -2 * (lppd_w - var))


def test_weighed_quantile():
    x = torch.tensor([3.0, 0.0, 2.0, 1.0])
    assert torch.allclose(stats.weighed_quantile(x, [0.1, 0.5, 0.9], torch.zeros(4)),
                          stats.quantile(x, [0.1, 0.5, 0.9]))
    # Weights 1:2:3:4 on 0,1,2,3: nodes at (cum - w0)/(1 - w0) = 0, 2/9, 5/9, 1.
    lw = torch.tensor([4.0, 1.0, 3.0, 2.0]).log()
    got = stats.weighed_quantile(x, [0.0, 0.1, 2 / 9, 0.5, 1.0], lw)
    expected = torch.tensor([0.0, 0.1 / (2 / 9), 1.0, 1 + (0.5 - 2 / 9) / (1 / 3), 3.0])
    assert torch.allclose(got, expected, atol=1e-6)


def test_crps_and_energy_score_against_pairwise_sums():
    g = torch.Generator().manual_seed(4)
    pred = torch.randn(13, 4, generator=g, dtype=torch.float64)
    truth = torch.randn(4, generator=g, dtype=torch.float64)
    pairs = (pred[:, None] - pred[None]).abs().mean((0, 1))
    expected = (pred - truth).abs().mean(0) - 0.5 * pairs
    assert torch.allclose(stats.crps_empirical(pred, truth), expected)
    with pytest.raises(ValueError, match="one extra sample dim"):
        stats.crps_empirical(pred, torch.zeros(3))
    # Energy score: batch + (samples, dim); in one dimension it is the CRPS.
    mv = torch.randn(3, 11, 2, generator=g, dtype=torch.float64)
    t = torch.randn(3, 2, generator=g, dtype=torch.float64)
    dist = (mv[:, :, None] - mv[:, None]).norm(dim=-1).mean((1, 2))
    err = (mv - t[:, None]).norm(dim=-1).mean(1)
    es = stats.energy_score_empirical(mv, t)
    assert torch.allclose(es, err - 0.5 * dist)
    assert torch.allclose(stats.energy_score_empirical(mv, t, pred_batch_size=4), es)
    several = torch.stack([t, t + 1], dim=1)  # batch + (k, dim)
    out = stats.energy_score_empirical(mv, several)
    assert out.shape == (3, 2) and torch.allclose(out[:, 0], es)
    uni = stats.energy_score_empirical(pred.T[:, :, None], truth[:, None])
    assert torch.allclose(uni, expected)


def test_resample():
    torch.manual_seed(0)
    x = torch.arange(10.0)
    out = stats.resample(x, 10)
    assert sorted(out.tolist()) == x.tolist()  # a permutation without replacement
    counts = torch.stack([stats.resample(x, 3, replacement=True) for _ in range(2000)]).flatten()
    freq = torch.bincount(counts.long(), minlength=10).double() / counts.numel()
    assert torch.allclose(freq, torch.full((10,), 0.1, dtype=torch.float64), atol=0.02)
    with pytest.raises(ValueError):
        stats.resample(x, 11)


def test_all_functions_are_listed():
    expected = {"autocorrelation", "autocovariance", "crps_empirical", "effective_sample_size",
                "energy_score_empirical", "gelman_rubin", "hpdi", "pi", "quantile", "resample",
                "split_gelman_rubin", "waic", "weighed_quantile"}
    assert expected <= set(stats.__all__)
    assert all(callable(getattr(stats, n)) for n in expected)
