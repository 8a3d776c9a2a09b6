"""WeighedPredictive, MHResampler, TracePredictive, psis_diagnostic and loss plotting."""

import inspect
import math
import sys
import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import Importance, Predictive
from pyro.infer.plotting import plot_losses, smooth_losses
from pyro.infer.predictive import MHResampler, WeighedPredictive, WeighedPredictiveResults
from pyro.infer.psis import fit_generalized_pareto
from pyro.infer.trace_predictive import TracePredictive
from pyro.infer.importance import psis_diagnostic

X_OBS = torch.tensor([1.0, 0.5])


def model(data=None):
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    with pyro.plate("data", 2):
        pyro.sample("x", dist.Normal(z, 1.0), obs=data)
    return 2 * z


def conditioned():
    return model(X_OBS)


def guide(data=None):
    pyro.sample("z", dist.Normal(0.3, 0.8))


@pytest.fixture(autouse=True)
def clean_store():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


def test_predictive_signature_is_pyros():
    params = inspect.signature(Predictive.__init__).parameters
    assert list(params) == ["self", "model", "posterior_samples", "guide", "num_samples",
                            "return_sites", "parallel"]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params.values())
    out = Predictive(model, None, guide, 4)()  # guide and num_samples positionally
    assert out["z"].shape == (4, 1) and out["x"].shape == (4, 2)


@pytest.mark.parametrize("parallel", [False, True])
def test_weighed_predictive_weights_are_importance_weights(parallel):
    pyro.set_rng_seed(0)
    wp = WeighedPredictive(model, guide=guide, num_samples=6, parallel=parallel,
                           return_sites=["z", "x"])
    res = wp(model_guide=conditioned)
    assert isinstance(res, WeighedPredictiveResults)
    z = res.samples["z"].reshape(6)
    assert res.samples["x"].shape == (6, 2)
    guide_lp = dist.Normal(0.3, 0.8).log_prob(z)
    model_lp = dist.Normal(0.0, 1.0).log_prob(z) + dist.Normal(z[:, None], 1.0).log_prob(
        X_OBS).sum(-1)
    torch.testing.assert_close(res.guide_log_prob, guide_lp)
    torch.testing.assert_close(res.model_log_prob, model_lp)
    torch.testing.assert_close(res.log_weights, model_lp - guide_lp)
    # without model_guide the weights are those of the predictive model's own draws
    res = wp()
    z, x = res.samples["z"].reshape(6), res.samples["x"]
    own = dist.Normal(0.0, 1.0).log_prob(z) + dist.Normal(z[:, None], 1.0).log_prob(x).sum(-1)
    torch.testing.assert_close(res.log_weights, own - dist.Normal(0.3, 0.8).log_prob(z))


def test_weighed_predictive_call_and_missing_guide():
    wp = WeighedPredictive(model, guide=guide, num_samples=3, return_sites=["x", "z"])
    res = wp.call(model_guide=conditioned)
    assert isinstance(res.samples, tuple) and res.samples[0].shape == (3, 2)  # "x" first
    with pytest.raises(TypeError, match="needs a guide"):
        WeighedPredictive(model, num_samples=3)()


class _FixedSampler:
    """Hands out given WeighedPredictiveResults one call at a time."""

    def __init__(self, *results):
        self.results = list(results)

    def __call__(self):
        return self.results.pop(0)


def _results(values, log_weights):
    lw = torch.tensor(log_weights)
    return WeighedPredictiveResults({"z": torch.tensor(values)}, lw, torch.zeros_like(lw), lw)


def test_mh_resampler_accepts_and_rejects_by_weight():
    first = _results([0.0, 1.0, 2.0], [0.0, 0.0, 0.0])
    better = _results([5.0, 6.0, 7.0], [1.0, 0.0, 3.0])  # never worse: always accepted
    hopeless = _results([8.0, 9.0, 10.0], [-math.inf] * 3)  # never accepted
    rs = MHResampler(_FixedSampler(first, better, hopeless), source_samples_slice=slice(None),
                     stored_samples_slice=slice(0, 2))
    out = rs()
    assert out is first and rs.get_total_transition_count() == 0
    out = rs()
    torch.testing.assert_close(out.samples["z"], torch.tensor([5.0, 6.0, 7.0]))
    assert rs.get_total_transition_count() == 3 and rs.get_min_sample_transition_count() == 1
    out = rs()
    torch.testing.assert_close(out.samples["z"], torch.tensor([5.0, 6.0, 7.0]))
    torch.testing.assert_close(out.log_weights, torch.tensor([1.0, 0.0, 3.0]))
    assert rs.get_total_transition_count() == 3
    assert rs.get_source_samples().samples["z"].shape == (9,)
    torch.testing.assert_close(rs.get_stored_samples().samples["z"],
                               torch.tensor([0.0, 1.0, 5.0, 6.0, 5.0, 6.0]))


def test_mh_resampler_reaches_the_target():
    # proposal q = N(0, 2), target p = N(1, 1): the log weight is log p - log q
    def sampler():
        z = dist.Normal(0.0, 2.0).sample((4000,))
        lw = dist.Normal(1.0, 1.0).log_prob(z) - dist.Normal(0.0, 2.0).log_prob(z)
        return WeighedPredictiveResults({"z": z}, lw, dist.Normal(0.0, 2.0).log_prob(z),
                                        dist.Normal(1.0, 1.0).log_prob(z))

    pyro.set_rng_seed(1)
    rs = MHResampler(sampler)
    for _ in range(25):
        out = rs()
    z = out.samples["z"]
    assert abs(z.mean().item() - 1.0) < 0.1
    assert abs(z.var().item() - 1.0) < 0.15
    assert rs.get_stored_samples().samples["z"].shape == (0,)  # default slices keep nothing
    with pytest.raises(ValueError, match="no samples stored"):
        MHResampler(sampler).get_stored_samples()


def test_trace_predictive_deprecated_and_draws_posterior_predictive():
    def m():
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("x", dist.Normal(z, 1.0), obs=torch.tensor(1.0))
        return z

    pyro.set_rng_seed(0)
    posterior = Importance(m, num_samples=2000).run()
    with pytest.warns(FutureWarning, match="TracePredictive"):
        tp = TracePredictive(m, posterior, num_samples=600)
    tp.run()
    assert len(tp.exec_traces) == 600
    assert all(float(w) == 0.0 for w in tp.log_weights)
    ret = torch.stack([tr.nodes["_RETURN"]["value"] for tr in tp.exec_traces])
    assert abs(ret.mean().item() - 0.5) < 0.1  # posterior N(0.5, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        prior = TracePredictive(m, posterior, num_samples=600, keep_sites=[]).run()
    ret = torch.stack([tr.nodes["_RETURN"]["value"] for tr in prior.exec_traces])
    assert abs(ret.mean().item()) < 0.12 and abs(ret.var().item() - 1.0) < 0.15


# (k, sigma) that Pyro 1.9.2's fit_generalized_pareto gives on the same float64 data.
_U = (torch.arange(1, 201, dtype=torch.float64) - 0.5) / 200


@pytest.mark.parametrize("data,expected", [
    (-torch.log1p(-_U), (0.03437334540487351, 0.9874132580566838)),
    ((1 - _U) ** (-1 / 2.0) - 1, (0.5021985369632902, 0.4975585589680375)),
    (_U, (-0.8966065871791443, 0.9728710870778412)),
    (torch.tensor([0.1, 0.5, 0.2, 3.0, 1.0, 0.7, 0.05, 2.2, 0.4, 0.3], dtype=torch.float64),
     (0.43127870496804716, 0.584387190343187)),
])
def test_fit_generalized_pareto_matches_pyro(data, expected):
    k, sigma = fit_generalized_pareto(data)
    assert k == pytest.approx(expected[0], abs=1e-10)
    assert sigma == pytest.approx(expected[1], abs=1e-10)


def test_fit_generalized_pareto_recovers_a_pareto_tail():
    # Lomax (Pareto II) with shape 2: a generalized Pareto with k = 1/2, sigma = 1/2
    pyro.set_rng_seed(0)
    data = dist.Pareto(1.0, 2.0).sample((20000,)).double() - 1
    k, sigma = fit_generalized_pareto(data)
    assert k == pytest.approx(0.5, abs=0.05) and sigma == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="1-D tensor"):
        fit_generalized_pareto(torch.ones(2, 2))


def test_psis_diagnostic_known_cases():
    def m():
        pyro.sample("z", dist.Normal(0.0, 1.0))

    def narrow():  # ratios p/q have a tail with index k = 1 - 0.5 = 0.5
        pyro.sample("z", dist.Normal(0.0, 0.5 ** 0.5))

    def wide():  # bounded ratios: k < 0
        pyro.sample("z", dist.Normal(0.0, 2.0))

    pyro.set_rng_seed(2)
    k = psis_diagnostic(m, narrow, num_particles=4000, max_simultaneous_particles=2000)
    assert 0.3 < k < 0.75
    assert psis_diagnostic(m, wide, num_particles=2000) < 0.0
    with pytest.raises(ValueError, match="divisible"):
        psis_diagnostic(m, wide, num_particles=1000, max_simultaneous_particles=300)


def test_smooth_losses_is_a_debiased_moving_average():
    losses = [4.0, 2.0, 3.0, 1.0]
    s1 = 0.5 * 4.0
    s2 = 0.5 * s1 + 0.5 * 2.0
    s3 = 0.5 * s2 + 0.5 * 3.0
    s4 = 0.5 * s3 + 0.5 * 1.0
    expected = [s1 / 0.5, s2 / 0.75, s3 / 0.875, s4 / 0.9375]
    assert smooth_losses(losses, 0.5) == pytest.approx(expected)
    assert smooth_losses(torch.tensor(losses), 0.5) == pytest.approx(expected)
    assert smooth_losses(losses, 0) == losses
    assert smooth_losses([7.0] * 5, 0.9) == pytest.approx([7.0] * 5)
    with pytest.raises(ValueError, match="smooth"):
        smooth_losses(losses, 1.0)
    with pytest.raises(ValueError, match="empty"):
        smooth_losses([], 0.5)
    with pytest.raises(ValueError, match="1-D"):
        smooth_losses(torch.ones(2, 2), 0.5)


def test_plot_losses_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "pyro-infer\[plot\]"'):
        plot_losses([3.0, 2.0, 1.0])
