"""Resampler: importance resampling of a fixed bank of guide draws against Normal models of known
density ratio, the stable (Gumbel-max) variant's reuse of draws, the simulator's banked outputs,
and bad input."""

import math

import pytest
import torch
from scipy import stats

import pyro
import pyro.distributions as dist
from pyro.infer.arg_checks import EngineArgumentError, EngineArgumentTypeError
from pyro.infer.resampler import Resampler

GUIDE_SCALE = 3.0


def wide_guide():
    pyro.sample("x", dist.Normal(0.0, GUIDE_SCALE))


def normal_model(loc, scale):
    def model():
        pyro.sample("x", dist.Normal(loc, scale))

    return model


def _ess_fraction(loc, scale):
    """``ESS / N`` of Normal(loc, scale) targets under the Normal(0, GUIDE_SCALE) proposal:
    ``1 / E_q[w^2]`` in closed form."""
    s2, g2 = scale ** 2, GUIDE_SCALE ** 2
    second_moment = g2 / (scale * math.sqrt(2 * g2 - s2)) * math.exp(
        loc ** 2 / (2 * g2 - s2))
    return 1.0 / second_moment


@pytest.mark.parametrize("loc, scale", [(1.0, 0.5), (2.0, 1.0)])
@pytest.mark.parametrize("stable", [True, False])
def test_resampled_draws_have_the_model_moments(stable, loc, scale):
    bank, n = 10000, 2000
    resampler = Resampler(wide_guide, num_guide_samples=bank)
    x = resampler.sample(normal_model(loc, scale), n, stable=stable)["x"]
    assert x.shape == (n,)
    # Error of the weighted bank (ESS draws) plus that of picking n of them.
    rel = math.sqrt(1.0 / (_ess_fraction(loc, scale) * bank) + 1.0 / n)
    assert abs(x.mean().item() - loc) < 5 * scale * rel
    assert abs(x.var().item() - scale ** 2) < 5 * math.sqrt(2) * scale ** 2 * rel


@pytest.mark.parametrize("stable", [True, False])
def test_each_banked_draw_is_picked_with_its_normalised_importance_weight(stable):
    bank, n, loc, scale = 5, 20000, 0.7, 1.2
    resampler = Resampler(wide_guide, num_guide_samples=bank)
    # every banked draw, recovered through a flat model (equal weights up to the guide's)
    banked = resampler.sample(normal_model(0.0, 1e6), 4000, stable=False)["x"].unique()
    assert banked.numel() == bank
    b = banked.double().numpy()
    log_w = stats.norm(loc, scale).logpdf(b) - stats.norm(0.0, GUIDE_SCALE).logpdf(b)
    expected = torch.softmax(torch.as_tensor(log_w), 0)
    x = resampler.sample(normal_model(loc, scale), n, stable=stable)["x"]
    counts = (x.unsqueeze(-1) == banked).sum(0).double()
    assert counts.sum() == n
    sd = (n * expected * (1 - expected)).sqrt()
    assert ((counts - n * expected).abs() <= 5 * sd + 1).all(), (counts, n * expected)


def test_stable_draws_are_reused_across_calls_and_models():
    resampler = Resampler(wide_guide, num_guide_samples=2000)
    first = resampler.sample(normal_model(1.0, 1.0), 300)["x"]
    assert torch.equal(first, resampler.sample(normal_model(1.0, 1.0), 300)["x"])
    # asking for fewer (or more) keeps the draws already shown
    assert torch.equal(first[:100], resampler.sample(normal_model(1.0, 1.0), 100)["x"])
    assert torch.equal(first, resampler.sample(normal_model(1.0, 1.0), 600)["x"][:300])
    # a small change of the prior changes few of the chosen draws
    nudged = resampler.sample(normal_model(1.02, 1.0), 300)["x"]
    assert (nudged == first).double().mean() > 0.9
    assert not torch.equal(nudged, first)
    # fresh multinomial draws share about as many positions as chance allows
    fresh = resampler.sample(normal_model(1.0, 1.0), 300, stable=False)["x"]
    again = resampler.sample(normal_model(1.0, 1.0), 300, stable=False)["x"]
    assert (fresh == again).double().mean() < 0.2


def test_model_that_observes_data_resamples_to_its_posterior():
    # x ~ Normal(0, 1), d ~ Normal(x, 1), d = 2: posterior Normal(1, 1/2).
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("d", dist.Normal(x, 1.0), obs=torch.tensor(2.0))

    bank, n = 10000, 2000
    x = Resampler(wide_guide, num_guide_samples=bank).sample(model, n)["x"]
    scale = math.sqrt(0.5)
    rel = math.sqrt(1.0 / (_ess_fraction(1.0, scale) * bank) + 1.0 / n)
    assert abs(x.mean().item() - 1.0) < 5 * scale * rel
    assert abs(x.var().item() - 0.5) < 5 * math.sqrt(2) * 0.5 * rel


def test_simulator_runs_once_on_the_guide_draws_and_its_outputs_come_back_with_them():
    calls = []

    def simulator():
        x = pyro.sample("x", dist.Normal(0.0, GUIDE_SCALE))
        calls.append(x.shape)
        with pyro.plate("obs", 4):
            y = pyro.sample("y", dist.Normal(x, 0.1))
        pyro.deterministic("total", y.sum(-1))

    resampler = Resampler(wide_guide, simulator, num_guide_samples=5000)
    # one unbatched run to find the plate nesting, one batched run on the guide's draws
    assert calls == [torch.Size([]), torch.Size([5000, 1])]
    out = resampler.sample(normal_model(2.0, 0.5), 1000)
    assert calls == [torch.Size([]), torch.Size([5000, 1])]
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "x": (1000, 1), "y": (1000, 4), "total": (1000,)}
    # y was simulated from each returned x: y - x ~ Normal(0, 0.1), independent of the model
    noise = out["y"] - out["x"]
    assert abs(noise.mean().item()) < 0.02
    assert abs(noise.std().item() - 0.1) < 0.01
    assert torch.allclose(out["total"], out["y"].sum(-1))
    assert abs(out["y"].mean().item() - 2.0) < 0.1


def test_simulator_data_that_does_not_vary_comes_back_expanded():
    data = torch.tensor([1.0, 2.0, 3.0])

    def simulator():
        x = pyro.sample("x", dist.Normal(0.0, GUIDE_SCALE))
        with pyro.plate("obs", 3):
            pyro.sample("d", dist.Normal(0.0, 1.0), obs=data)
        pyro.factor("f", torch.tensor(0.0))
        return x

    out = Resampler(wide_guide, simulator, num_guide_samples=100).sample(normal_model(0.0, 1.0),
                                                                         6)
    assert set(out) == {"x", "d"}
    assert out["x"].shape == (6, 1)
    assert torch.equal(out["d"], data.expand(6, 3))


def test_guide_with_a_plate_and_explicit_plate_nesting():
    def guide():
        with pyro.plate("p", 3):
            pyro.sample("x", dist.Normal(0.0, GUIDE_SCALE))

    def model():
        with pyro.plate("p", 3):
            pyro.sample("x", dist.Normal(torch.tensor([-1.0, 0.0, 1.0]), 1.0))

    bank, n = 12000, 1000
    resampler = Resampler(guide, num_guide_samples=bank, max_plate_nesting=2)
    x = resampler.sample(model, n)["x"]
    assert x.shape == (n, 1, 3)
    # the weight is a product over the plate, so the three ESS fractions multiply
    ess = bank * math.prod(_ess_fraction(loc, 1.0) for loc in (-1.0, 0.0, 1.0))
    rel = math.sqrt(1.0 / ess + 1.0 / n)
    assert torch.allclose(x.mean(0).squeeze(0), torch.tensor([-1.0, 0.0, 1.0]), atol=5 * rel)
    assert torch.allclose(x.var(0).squeeze(0), torch.ones(3), atol=5 * math.sqrt(2) * rel)


def test_outputs_follow_the_guide_dtype_and_carry_no_graph():
    loc = pyro.param("loc", torch.tensor(0.0, dtype=torch.float64))

    def guide():
        pyro.sample("x", dist.Normal(loc, GUIDE_SCALE))

    x = Resampler(guide, num_guide_samples=50).sample(normal_model(1.0, 1.0), 7)["x"]
    assert x.dtype == torch.float64 and not x.requires_grad


@pytest.mark.parametrize("stable", [True, False])
def test_zero_samples_gives_empty_tensors(stable):
    out = Resampler(wide_guide, num_guide_samples=10).sample(normal_model(0.0, 1.0), 0,
                                                              stable=stable)
    assert out["x"].shape == (0,)


@pytest.mark.parametrize("kwargs, error, word", [
    (dict(guide=3, num_guide_samples=10), EngineArgumentTypeError, "guide"),
    (dict(guide=wide_guide, simulator="sim", num_guide_samples=10), EngineArgumentTypeError,
     "simulator"),
    (dict(guide=wide_guide, num_guide_samples=0), EngineArgumentError, "num_guide_samples"),
    (dict(guide=wide_guide, num_guide_samples=-1), EngineArgumentError, "num_guide_samples"),
    (dict(guide=wide_guide, num_guide_samples=2.5), EngineArgumentTypeError,
     "num_guide_samples"),
    (dict(guide=wide_guide, num_guide_samples=10, max_plate_nesting=-1), EngineArgumentError,
     "max_plate_nesting"),
])
def test_bad_constructor_arguments(kwargs, error, word):
    with pytest.raises(error, match=word) as info:
        Resampler(**kwargs)
    # the types Pyro raises for these calls (ValueError for a non-callable, AssertionError for
    # a float count) still catch them
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, (ValueError, AssertionError))


def test_num_guide_samples_is_required_and_keyword_only():
    with pytest.raises(TypeError, match="num_guide_samples"):
        Resampler(wide_guide)
    with pytest.raises(TypeError):
        Resampler(wide_guide, None, 10)


@pytest.mark.parametrize("model, num_samples, error, word", [
    ("model", 5, EngineArgumentTypeError, "model"),
    (normal_model(0.0, 1.0), -1, EngineArgumentError, "num_samples"),
    (normal_model(0.0, 1.0), 2.5, EngineArgumentTypeError, "num_samples"),
])
def test_bad_sample_arguments(model, num_samples, error, word):
    resampler = Resampler(wide_guide, num_guide_samples=10)
    with pytest.raises(error, match=word):
        resampler.sample(model, num_samples)


def test_model_with_a_latent_site_the_guide_lacks_is_refused():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("w", dist.Normal(0.0, 1.0))

    with pytest.raises(ValueError, match="'w'"):
        Resampler(wide_guide, num_guide_samples=10).sample(model, 5)


def test_model_with_no_support_on_the_bank_is_refused():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.factor("nowhere", torch.tensor(-math.inf))

    with pytest.raises(ValueError, match="broader guide"):
        Resampler(wide_guide, num_guide_samples=10).sample(model, 5)


def test_plate_nesting_too_small_for_the_simulator_is_refused():
    def simulator():
        x = pyro.sample("x", dist.Normal(0.0, GUIDE_SCALE))
        with pyro.plate("obs", 4):
            pyro.sample("y", dist.Normal(x, 1.0))

    with pytest.raises(ValueError, match="max_plate_nesting"):
        Resampler(wide_guide, simulator, num_guide_samples=10, max_plate_nesting=0)


@pytest.mark.cuda
def test_cuda_draws_stay_on_the_device():
    def guide():
        pyro.sample("x", dist.Normal(torch.tensor(0.0, device="cuda"), GUIDE_SCALE))

    def model():
        pyro.sample("x", dist.Normal(torch.tensor(1.0, device="cuda"), 0.5))

    resampler = Resampler(guide, num_guide_samples=10000)
    for stable in (True, False):
        x = resampler.sample(model, 2000, stable=stable)["x"]
        assert x.device.type == "cuda"
        assert abs(x.mean().item() - 1.0) < 0.06
