"""pyro.infer.summary / print_summary / MCMC.summary, and format_shapes() in site-shape errors."""

import re

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
from pyro.infer import MCMC, NUTS, Predictive, Trace_ELBO
from pyro.infer.mcmc.util import print_summary
from pyro.infer.mcmc.util import summary as mcmc_summary
from pyro.ops import stats

COLUMNS = ["mean", "std", "median", "5.0%", "95.0%", "n_eff", "r_hat"]


def _table(text):
    """``row label -> list of floats`` of a printed summary table, and its header."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0].split()
    return header, {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[1:]}


def test_summary_is_the_mcmc_function():
    assert pyro.infer.summary is mcmc_summary
    assert "summary" in pyro.infer.__all__


def test_hand_computed_statistics_of_a_tiny_sample():
    # flattened draws 3 1 2 5 4 0 7 6: mean 3.5, unbiased std sqrt(6), lower median 3; with
    # prob=0.5 every window of 4 steps has width 4, the first one [0, 4] is kept.
    y = torch.tensor([[3.0, 1.0, 2.0, 5.0], [4.0, 0.0, 7.0, 6.0]], dtype=torch.float64)
    out = pyro.infer.summary({"y": y}, prob=0.5)
    assert list(out["y"]) == ["mean", "std", "median", "25.0%", "75.0%", "n_eff", "r_hat"]
    expected = {"mean": 3.5, "std": 6 ** 0.5, "median": 3.0, "25.0%": 0.0, "75.0%": 4.0}
    for key, value in expected.items():
        assert out["y"][key].item() == pytest.approx(value, abs=1e-12), key
    # an outlier moves the mean but not the narrowest half-interval
    x = torch.cat([torch.arange(19.0), torch.tensor([100.0])])
    x = x[torch.randperm(20, generator=torch.Generator().manual_seed(0))]
    one = pyro.infer.summary({"x": x}, prob=0.5, group_by_chain=False)["x"]
    assert one["mean"].item() == pytest.approx((171 + 100) / 20)
    assert one["median"].item() == 9.0
    assert (one["25.0%"].item(), one["75.0%"].item()) == (0.0, 10.0)


def test_values_agree_with_pyro_ops_stats_per_element():
    g = torch.Generator().manual_seed(1)
    samples = {"a": torch.randn(3, 200, generator=g), "b": 2 + torch.randn(3, 200, 2, 3, generator=g)}
    out = pyro.infer.summary(samples, prob=0.8)
    for name, value in samples.items():
        flat = value.reshape((-1,) + value.shape[2:])
        interval = stats.hpdi(flat, 0.8)
        expected = {"mean": flat.mean(0), "std": flat.std(0), "median": flat.median(0).values,
                    "10.0%": interval[0], "90.0%": interval[1],
                    "n_eff": stats.effective_sample_size(value),
                    "r_hat": stats.split_gelman_rubin(value)}
        assert list(out[name]) == list(expected)
        for key, ref in expected.items():
            assert out[name][key].shape == value.shape[2:]
            assert torch.allclose(out[name][key], ref, rtol=1e-5, atol=1e-6), (name, key)
    # without a chain dim the draws are one chain
    flat = pyro.infer.summary({"a": samples["a"][0]}, group_by_chain=False)["a"]
    assert torch.allclose(flat["n_eff"], stats.effective_sample_size(samples["a"][:1]))
    assert torch.allclose(flat["mean"], samples["a"][0].mean())


def test_printed_table_rows_and_numbers(capsys):
    g = torch.Generator().manual_seed(2)
    samples = {"loc": torch.randn(2, 100, generator=g), "w": torch.randn(2, 100, 2, generator=g)}
    print_summary(samples, prob=0.9)
    header, rows = _table(capsys.readouterr().out)
    assert header == COLUMNS
    assert list(rows) == ["loc", "w[0]", "w[1]"]
    ref = mcmc_summary(samples, prob=0.9)
    for label, (name, index) in {"loc": ("loc", ()), "w[0]": ("w", (0,)), "w[1]": ("w", (1,))}.items():
        expected = [float(ref[name][c][index]) for c in COLUMNS]
        assert rows[label] == pytest.approx(expected, abs=0.0051)


def test_mcmc_summary_prints_the_same_table(capsys):
    def model():
        pyro.sample("x", dist.Normal(torch.zeros(2), 1.0).to_event(1))

    pyro.set_rng_seed(0)
    mcmc = MCMC(NUTS(model), num_samples=30, warmup_steps=20, num_chains=1, disable_progbar=True)
    mcmc.run()
    mcmc.summary(prob=0.8)
    from_mcmc = capsys.readouterr().out
    print_summary(mcmc.get_samples(group_by_chain=True), prob=0.8)
    table = capsys.readouterr().out
    divergences = len(mcmc.diagnostics()["divergences"]["chain 0"])
    assert from_mcmc == table + f"Number of divergences: {divergences}\n"
    assert _table(table)[0][3:5] == ["10.0%", "90.0%"]


def test_predictive_samples_without_chains():
    def model():
        with pyro.plate("data", 3):
            pyro.sample("z", dist.Normal(5.0, 0.1))

    pyro.set_rng_seed(0)
    draws = Predictive(model, num_samples=400)()
    out = pyro.infer.summary(draws, group_by_chain=False)
    assert out["z"]["mean"].shape == (3,)
    assert torch.allclose(out["z"]["mean"], torch.full((3,), 5.0), atol=0.03)


def test_bad_sample_shapes_name_the_site():
    with pytest.raises(ValueError, match=r"samples\['a'\] has shape \(5,\).*\(chains, draws"):
        pyro.infer.summary({"a": torch.zeros(5)})
    with pytest.raises(ValueError, match=r"samples\['a'\] has shape \(\)"):
        pyro.infer.summary({"a": torch.tensor(1.0)}, group_by_chain=False)


# ----- format_shapes() in shape errors ---------------------------------------------------------

def _model_with_bad_obs():
    pyro.param("w", torch.ones(2))
    pyro.sample("y", dist.Normal(0.0, 1.0))
    pyro.sample("x", dist.Normal(torch.zeros(4), 1.0), obs=torch.zeros(3))
    pyro.sample("after", dist.Normal(0.0, 1.0))


def _table_lines(text):
    start = text.index("Trace Shapes:")
    return [line.split() for line in text[start:].splitlines()]


def test_plate_mismatch_error_carries_the_table():
    def model():
        pyro.param("w", torch.ones(2))
        with pyro.plate("p", 3):
            pyro.sample("x", dist.Normal(torch.zeros(4), 1.0))

    with pytest.raises(ValueError, match=r"^Shape mismatch inside plate\('p'\) at site x") as info:
        poutine.trace(model).get_trace()
    lines = _table_lines(str(info.value))
    assert lines[:4] == [["Trace", "Shapes:"], ["Param", "Sites:"], ["w", "2"], ["Sample", "Sites:"]]


@pytest.mark.parametrize("method", ["compute_log_prob", "compute_score_parts", "log_prob_sum"])
def test_log_prob_error_carries_the_table_up_to_the_site(method):
    tr = poutine.trace(_model_with_bad_obs).get_trace()
    what = "log_prob" if method == "compute_log_prob" else method.replace("compute_", "")
    with pytest.raises(ValueError, match=rf"^Error while computing {what} at site 'x':") as info:
        getattr(tr, method)()
    message = str(info.value)
    assert message.endswith(tr.format_shapes(last_site="x"))
    lines = _table_lines(message)
    assert ["x", "dist", "4", "|"] in lines and ["value", "3", "|"] in lines
    assert not any(line[0] == "after" for line in lines)
    # the original error is the cause
    assert "not broadcastable" in str(info.value.__cause__)
    assert "Trace Shapes" not in str(info.value.__cause__)


def test_elbo_log_prob_error_carries_the_table():
    def model():
        with pyro.plate("p", 3):
            pyro.sample("x", dist.Normal(torch.zeros(3), 1.0), obs=torch.zeros(4))

    with pytest.raises(ValueError, match=r"^Error while computing log_prob at site 'x':") as info:
        Trace_ELBO().loss(model, lambda: None)
    lines = _table_lines(str(info.value))
    assert ["x", "dist", "3", "|"] in lines and ["value", "4", "|"] in lines
    assert re.search(r"\n\s*Sample Sites:", str(info.value))
