"""``StreamingMCMC`` and ``pyro.ops.streaming``: statistics kept without the draws equal those
computed by hand from the stored draws of the same chains."""

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer.mcmc import HMC, MCMC, StreamingMCMC
from pyro.ops.streaming import (CountMeanStats, CountMeanVarianceStats, CountStats, StackStats,
                                StatsOfDict, StreamingStats)


def model():
    pyro.sample("x", dist.Normal(1.0, 2.0))
    pyro.sample("s", dist.LogNormal(torch.zeros(2), 0.5).to_event(1))


def _kernel():
    return HMC(model, step_size=0.5, num_steps=4)


def test_streaming_statistics_equal_those_of_the_stored_draws():
    pyro.set_rng_seed(3)
    stored = MCMC(_kernel(), num_samples=60, warmup_steps=40, num_chains=2,
                  disable_progbar=True)
    stored.run()
    draws = stored.get_samples(group_by_chain=True)
    pyro.set_rng_seed(3)
    streaming = StreamingMCMC(_kernel(), num_samples=60, warmup_steps=40, num_chains=2,
                              disable_progbar=True)
    streaming.run()
    stats = streaming.get_statistics(group_by_chain=True)
    assert set(stats) == {(0, "x"), (0, "s"), (1, "x"), (1, "s")}
    for c in range(2):
        for name in ("x", "s"):
            got, value = stats[(c, name)], draws[name][c]
            assert got["count"] == 60
            assert torch.allclose(got["mean"], value.mean(0), atol=1e-5)
            assert torch.allclose(got["variance"], value.var(0), atol=1e-5)
    assert bool((stats[(0, "s")]["mean"] > 0).all())  # in the support, not unconstrained
    pooled = streaming.get_statistics(group_by_chain=False)
    for name in ("x", "s"):
        value = draws[name].reshape((-1,) + draws[name].shape[2:])
        assert pooled[name]["count"] == 120
        assert torch.allclose(pooled[name]["mean"], value.mean(0), atol=1e-5)
        assert torch.allclose(pooled[name]["variance"], value.var(0), atol=1e-5)
    diag = streaming.diagnostics()
    x = draws["x"]
    n = x.shape[1]
    within = x.var(1).mean()
    var_hat = (n - 1) / n * within + x.mean(1).var()
    assert torch.allclose(diag["x"]["r_hat"], (var_hat / within).sqrt(), atol=1e-5)
    assert set(diag["divergences"]) == {"chain 0", "chain 1"}
    assert diag["acceptance rate"] == stored.diagnostics()["acceptance rate"]
    with pytest.raises(NotImplementedError, match="get_statistics"):
        streaming.get_samples()


def test_custom_statistics_and_save_params():
    pyro.set_rng_seed(0)
    streaming = StreamingMCMC(_kernel(), num_samples=10, warmup_steps=5, save_params=["x"],
                              statistics=StatsOfDict({"x": StackStats}), disable_progbar=True)
    streaming.run()
    stats = streaming.get_statistics()
    assert list(stats) == [(0, "x")]
    assert stats[(0, "x")]["samples"].shape == (10,)
    assert "x" not in streaming.diagnostics()  # no variance kept, no r_hat
    with pytest.raises(TypeError, match="StreamingStats"):
        StreamingMCMC(_kernel(), num_samples=2, statistics={"x": CountStats})


def test_merge_equals_the_pooled_statistic():
    g = torch.Generator().manual_seed(0)
    a_draws, b_draws = torch.randn(7, 3, generator=g), 5 + torch.randn(4, 3, generator=g)
    a, b = CountMeanVarianceStats(), CountMeanVarianceStats()
    for x in a_draws:
        a.update(x)
    for x in b_draws:
        b.update(x)
    both = torch.cat([a_draws, b_draws])
    merged = a.merge(b).get()
    assert merged["count"] == 11
    assert torch.allclose(merged["mean"], both.mean(0), atol=1e-6)
    assert torch.allclose(merged["variance"], both.var(0), atol=1e-5)
    assert a.get()["count"] == 7  # merge makes a new statistic
    assert a.merge(CountMeanVarianceStats()).get()["count"] == 7
    m = CountMeanStats()
    m.update(torch.tensor([1, 2]))
    assert m.get() == {"count": 1, "mean": m.get()["mean"]} and m.get()["mean"].dtype.is_floating_point
    assert CountMeanStats().get() == {"count": 0}
    with pytest.raises(RuntimeError, match="two"):
        one = CountMeanVarianceStats()
        one.update(torch.tensor(1.0))
        one.get()
    with pytest.raises(AssertionError):
        a.merge(CountMeanStats())


def test_stats_of_dict():
    d1 = StatsOfDict({"x": CountMeanStats})
    d2 = StatsOfDict({"x": CountMeanStats})
    d1.update({"x": torch.tensor(1.0), "y": torch.tensor(0.0)})
    d2.update({"x": torch.tensor(3.0), "y": torch.tensor(0.0)})
    merged = d1.merge(d2).get()
    assert merged["y"] == {"count": 2}
    assert merged["x"]["count"] == 2 and float(merged["x"]["mean"]) == pytest.approx(2.0)
    assert isinstance(d1, StreamingStats)
    s = StackStats()
    assert s.get() == {"count": 0}
