"""Bad inputs to the autoguides, init strategies, MCMC helpers, reparameterizers, pyro.ops.stats,
the optimizer wrappers and pyro.infer.inspect answer at the call that was wrong, naming the
function, the argument and what was given."""

import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.optim as optim
import pyro.ops.stats as stats
from pyro import poutine
from pyro.infer import MCMC, NUTS, SVI, TraceEnum_ELBO, TraceGraph_ELBO, Trace_ELBO
from pyro.infer import autoguide as ag
from pyro.infer import reparam
from pyro.infer.autoguide.initialization import (
    init_to_mean,
    init_to_median,
    init_to_uniform,
    init_to_value,
)
from pyro.infer.inspect import get_dependencies, get_model_relations, render_model
from pyro.infer.mcmc.util import initialize_model, summary


def model():
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    pyro.sample("x", dist.Normal(z, 1.0), obs=torch.tensor(0.5))


def model2():
    a = pyro.sample("a", dist.Normal(torch.zeros(3), 1.0).to_event(1))
    b = pyro.sample("b", dist.LogNormal(0.0, 1.0))
    pyro.sample("x", dist.Normal(a.sum() * b, 1.0), obs=torch.tensor(0.5))


def data_model(data):
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    pyro.sample("x", dist.Normal(z, 1.0), obs=data)


def _run(guide, *args):
    guide(*args)
    return guide


def _reparam(r, fn):
    poutine.reparam(lambda: pyro.sample("z", fn), config={"z": r})()


def _duplicate_parts():
    guide = ag.AutoGuideList(model)
    guide.append(ag.AutoDelta(poutine.block(model, expose=["z"])))
    guide.append(ag.AutoNormal(poutine.block(model, expose=["z"])))
    return Trace_ELBO().loss(model, guide)


def _mcmc():
    mcmc = MCMC(NUTS(model), num_samples=4, warmup_steps=2, disable_progbar=True)
    mcmc.run()
    return mcmc


SCHED = {"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}}
X = torch.arange(10.0)

# (call, exception type, regex on the message)
CASES = {
    # autoguide constructors
    "diag init_scale": (lambda: ag.AutoDiagonalNormal(model, init_scale=0.0), ValueError,
                        r"^AutoDiagonalNormal: Expected init_scale > 0\. but got 0\.0$"),
    "mvn init_scale tensor": (lambda: ag.AutoMultivariateNormal(model, init_scale=torch.ones(7)),
                              TypeError, r"^AutoMultivariateNormal: Expected init_scale > 0\. but got "
                                         r"Tensor .* of shape \(7,\); init_scale must be a positive float"),
    "normal init_scale str": (lambda: ag.AutoNormal(model, init_scale="a"), TypeError,
                              r"^AutoNormal: Expected init_scale > 0\. but got str 'a'"),
    "messenger init_scale": (lambda: ag.AutoNormalMessenger(model, init_scale=-1), ValueError,
                             r"^AutoNormalMessenger: Expected init_scale > 0\. but got -1$"),
    "init_loc_fn not callable": (lambda: ag.AutoDelta(model, init_loc_fn=3), TypeError,
                                 r"^AutoDelta: init_loc_fn must be a callable, got int 3$"),
    "continuous init_loc_fn": (lambda: ag.AutoDiagonalNormal(model, init_loc_fn="median"), TypeError,
                               r"^AutoDiagonalNormal: init_loc_fn must be a callable, got str 'median'$"),
    "create_plates not callable": (lambda: ag.AutoNormal(model, create_plates=3), TypeError,
                                   r"^AutoNormal: create_plates must be a callable or None, got int 3$"),
    "model not callable": (lambda: ag.AutoDelta(3), TypeError,
                           r"^AutoDelta: model must be a callable, got int 3$"),
    "guide list model": (lambda: ag.AutoGuideList("m"), TypeError,
                         r"^AutoGuideList: model must be a callable, got str 'm'$"),
    "rank zero": (lambda: ag.AutoLowRankMultivariateNormal(model, rank=0), ValueError,
                  r"^AutoLowRankMultivariateNormal: Expected rank > 0 but got 0$"),
    "rank float": (lambda: ag.AutoLowRankMultivariateNormal(model, rank=1.5), TypeError,
                   r"^AutoLowRankMultivariateNormal: Expected rank > 0 but got float 1\.5; rank must "
                   r"be a positive int or None$"),
    # autoguide calls
    "init value shape": (lambda: _run(ag.AutoNormal(model2, init_loc_fn=lambda s: torch.zeros(2))),
                         ValueError, r"initial value of site 'a' has shape \(2,\), expected \(3,\)"),
    "init value outside support": (
        lambda: _run(ag.AutoNormal(model2, init_loc_fn=init_to_value(values={"b": torch.tensor(-1.0)}))),
        ValueError, r"^AutoNormal: init_loc_fn \(init_to_value\) gave site 'b' an initial value "
                    r"outside its support GreaterThan\(lower_bound=0\.0\): tensor\(-1\.\)$"),
    "init value not a tensor": (lambda: _run(ag.AutoDelta(model, init_loc_fn=lambda site: None)),
                                TypeError, r"^the init strategy <lambda> returned NoneType None for "
                                           r"site 'z'; an init strategy must return a tensor"),
    "median before run": (lambda: ag.AutoNormal(data_model).median(), TypeError,
                          r"^AutoNormal has not seen the model yet, .* the model\(data\) cannot "
                          r"take \(missing a required argument: 'data'\); call the guide"),
    "quantiles out of range": (lambda: _run(ag.AutoNormal(model)).quantiles([0.5, 1.5]), ValueError,
                               r"^AutoNormal\.quantiles: quantiles\[1\] must be in \(0, 1\), got 1\.5$"),
    "quantiles not numbers": (lambda: _run(ag.AutoDiagonalNormal(model)).quantiles(["a"]), TypeError,
                              r"^AutoDiagonalNormal\.quantiles: quantiles\[0\] must be a number in "
                              r"\(0, 1\), got str 'a'$"),
    "quantiles not a list": (lambda: _run(ag.AutoDiagonalNormal(model)).quantiles("a"), TypeError,
                             r"^AutoDiagonalNormal\.quantiles: quantiles must be a list of levels in "
                             r"\(0, 1\), got str 'a'$"),
    "guide list duplicate site": (_duplicate_parts, ValueError,
                                  r"^AutoGuideList: Multiple sample sites named 'z': part 0 "
                                  r"\(AutoDelta\) and part 1 \(AutoNormal\) both guide it"),
    # init strategies
    "init_to_value values": (lambda: init_to_value(values=42), TypeError,
                             r"^init_to_value: values must be a dict of site name to initial value, "
                             r"got int 42$"),
    "init_to_value fallback": (lambda: init_to_value(values={}, fallback=3), TypeError,
                               r"^init_to_value: fallback must be a callable or None, got int 3$"),
    "init_to_uniform radius": (lambda: init_to_uniform(radius=-1), ValueError,
                               r"^init_to_uniform: radius must be a non-negative number, got -1$"),
    "init_to_uniform radius type": (lambda: init_to_uniform(radius="2"), TypeError,
                                    r"^init_to_uniform: radius must be a non-negative number, got "
                                    r"str '2'$"),
    "init_to_median num_samples": (lambda: init_to_median(num_samples=0), ValueError,
                                   r"^init_to_median: num_samples must be an int >= 1, got 0$"),
    "init_to_mean fallback": (lambda: init_to_mean(fallback="x"), TypeError,
                              r"^init_to_mean: fallback must be a callable or None, got str 'x'$"),
    # ELBO flags
    "strict_enumeration_warning": (lambda: TraceEnum_ELBO(strict_enumeration_warning="no"),
                                   TypeError, r"^TraceEnum_ELBO: strict_enumeration_warning must be "
                                              r"a bool, got str 'no'$"),
    "vectorize_particles": (lambda: TraceGraph_ELBO(vectorize_particles="yes"), TypeError,
                            r"^TraceGraph_ELBO: vectorize_particles must be a bool, got str 'yes'$"),
    # MCMC helpers
    "hmc init_strategy": (lambda: NUTS(model, init_strategy="median"), TypeError,
                          r"^NUTS: init_strategy must be a callable, got str 'median'$"),
    "mcmc summary prob": (lambda: _mcmc().summary(prob=1.5), ValueError,
                          r"^MCMC\.summary: prob must be in \(0, 1\), got 1\.5$"),
    "mcmc get_samples count": (lambda: _mcmc().get_samples(num_samples="2"), TypeError,
                               r"^MCMC\.get_samples: num_samples must be an int >= 1, got str '2'$"),
    "summary not a dict": (lambda: summary(torch.zeros(2, 10)), TypeError,
                           r"^summary: samples must be a dict of site name to tensor of draws"),
    "summary prob": (lambda: summary({"z": torch.randn(2, 10)}, prob=0.0), ValueError,
                     r"^summary: prob must be in \(0, 1\), got 0\.0$"),
    "initialize_model init_strategy": (lambda: initialize_model(model, init_strategy=3), TypeError,
                                       r"^initialize_model: init_strategy must be a callable, got "
                                       r"int 3$"),
    "initialize_model model_args": (lambda: initialize_model(data_model, model_args=torch.tensor(1.0)),
                                    TypeError, r"^initialize_model: model_args must be a tuple of "
                                               r"the model's positional arguments, got Tensor "
                                               r"tensor\(1\.\); for one argument data pass "
                                               r"model_args=\(data,\)$"),
    "initialize_model num_chains": (lambda: initialize_model(model, num_chains=0), ValueError,
                                    r"^initialize_model: num_chains must be an int >= 1, got 0$"),
    # reparameterizers
    "haar dim": (lambda: reparam.HaarReparam(dim=1), ValueError,
                 r"^HaarReparam: dim must be a negative int .*, got 1$"),
    "dct dim type": (lambda: reparam.DiscreteCosineReparam(dim="a"), TypeError,
                     r"^DiscreteCosineReparam: dim must be a negative int, got str 'a'$"),
    "dct smooth": (lambda: reparam.DiscreteCosineReparam(smooth="a"), TypeError,
                   r"^DiscreteCosineReparam: smooth must be a number, got str 'a'$"),
    "haar on a batch dim": (lambda: _reparam(reparam.HaarReparam(), dist.Normal(torch.zeros(4), 1.0)),
                            ValueError, r"^Cannot transform along batch dimension; .* \(HaarReparam "
                                        r"at sample site 'z' transforms the 1 rightmost dims, but "
                                        r"the site's event shape is \(\) within shape \(4,\)\)$"),
    "split sections": (lambda: reparam.SplitReparam("ab", -1), TypeError,
                       r"^SplitReparam: sections must be a list of positive ints, got str 'ab'$"),
    # pyro.ops.stats
    "hpdi prob": (lambda: stats.hpdi(X, prob=1.5), ValueError,
                  r"^hpdi: prob must be in \(0, 1\), got 1\.5$"),
    "hpdi prob type": (lambda: stats.hpdi(X, prob="0.9"), TypeError,
                       r"^hpdi: prob must be a number in \(0, 1\), got str '0\.9'$"),
    "hpdi dim": (lambda: stats.hpdi(X, 0.9, dim=2), ValueError,
                 r"^hpdi: dim=2 is out of range for input of shape \(10,\)$"),
    "quantile probs": (lambda: stats.quantile(X, [2]), ValueError,
                       r"^quantile: probs must lie in \[0, 1\], got \[2\]$"),
    "quantile probs tensor": (lambda: stats.quantile(X, torch.tensor([0.5, -0.1])), ValueError,
                              r"^quantile: probs must lie in \[0, 1\], got \[0\.5, -0\.1"),
    "quantile probs type": (lambda: stats.quantile(X, "a"), TypeError,
                            r"^quantile: probs must be a number, a sequence of numbers or a tensor, "
                            r"got str 'a'$"),
    "pi prob": (lambda: stats.pi(X, 1.5), ValueError, r"^pi: prob must be in \[0, 1\], got 1\.5$"),
    "weighed_quantile probs": (lambda: stats.weighed_quantile(X, [2.0], torch.zeros(10)), ValueError,
                               r"^weighed_quantile: probs must lie in \[0, 1\], got \[2\.0\]$"),
    "weighed_quantile weights": (lambda: stats.weighed_quantile(X, [0.5], torch.zeros(7)), ValueError,
                                 r"^weighed_quantile: log_weights must have shape \(10,\), got \(7,\)$"),
    "ess one dim": (lambda: stats.effective_sample_size(X), ValueError,
                    r"^effective_sample_size: expected samples with a chain and a sample dimension, "
                    r"got shape \(10,\)$"),
    "ess one draw": (lambda: stats.effective_sample_size(torch.zeros(2, 1)), ValueError,
                     r"^effective_sample_size: needs at least 2 draws along sample_dim=1, got input "
                     r"of shape \(2, 1\)$"),
    "gelman_rubin one chain": (lambda: stats.gelman_rubin(torch.zeros(1, 50)), ValueError,
                               r"^gelman_rubin: needs at least 2 chains along chain_dim=0, got input "
                               r"of shape \(1, 50\)$"),
    "split_gelman_rubin draws": (lambda: stats.split_gelman_rubin(torch.zeros(3, 2)), ValueError,
                                 r"^split_gelman_rubin needs at least 4 draws per chain, got 2$"),
    "autocorrelation 0-dim": (lambda: stats.autocorrelation(torch.tensor(1.0)), ValueError,
                              r"^autocorrelation: input must have at least one dim \(the samples\), "
                              r"got a 0-dim tensor$"),
    "waic 0-dim": (lambda: stats.waic(torch.tensor(1.0)), ValueError,
                   r"^waic: input must have at least one dim"),
    "resample count": (lambda: stats.resample(X, 0), ValueError,
                       r"^resample: num_samples must be an int >= 1, got 0$"),
    "resample count type": (lambda: stats.resample(X, 2.5), TypeError,
                            r"^resample: num_samples must be an int >= 1, got float 2\.5$"),
    # optimizers
    "optim_args not a dict": (lambda: optim.PyroOptim(torch.optim.Adam, optim_args=42), TypeError,
                              r"^Adam: optim_args must be a dict or a callable, got int 42$"),
    "adam betas": (lambda: optim.Adam({"lr": 0.1, "betas": (2, 0)}), ValueError,
                   r"^Adam: Invalid beta parameter at index 0: 2$"),
    "clipped adam betas": (lambda: optim.ClippedAdam({"lr": 0.1, "betas": (0.9, 1.0)}), ValueError,
                           r"^ClippedAdam: Invalid beta parameter at index 1: 1\.0$"),
    "clipped adam clip_norm": (lambda: optim.ClippedAdam({"lr": 0.1, "clip_norm": 0.0}), ValueError,
                               r"^ClippedAdam: clip_norm must be positive, got 0\.0$"),
    "dct adam lr": (lambda: optim.DCTAdam({"lr": -1.0}), ValueError,
                    r"^DCTAdam: Invalid learning rate: -1\.0$"),
    "unknown setting": (lambda: optim.SGD({"lr": 0.1, "lrr": 2}), TypeError,
                        r"^SGD: optim_args\['lrr'\] is not a setting of SGD \(got an unexpected "
                        r"keyword argument 'lrr'\); its settings are .*\blr\b.*momentum"),
    "scheduler missing setting": (lambda: optim.MultiStepLR(dict(SCHED)), TypeError,
                                  r"^MultiStepLR: optim_args is missing the scheduler setting "
                                  r"'milestones'"),
    "scheduler unknown setting": (lambda: optim.ExponentialLR(dict(SCHED, gamma=0.9, gama=1)),
                                  TypeError, r"^ExponentialLR: optim_args\['gama'\] is not a setting "
                                             r"of ExponentialLR"),
    "scheduler without optimizer": (lambda: optim.ExponentialLR({"optim_args": {}, "gamma": 0.9}),
                                    ValueError, r"^PyroLRScheduler \(ExponentialLR\) needs optim_args "
                                                r"= .*; optim_args has no 'optimizer' \(its keys: "
                                                r"\['gamma', 'optim_args'\]\)$"),
    "scheduler not a dict": (lambda: optim.ExponentialLR(3), TypeError,
                             r"^PyroLRScheduler \(ExponentialLR\) needs optim_args = .*; got int 3$"),
    "scheduler inner args": (lambda: optim.ExponentialLR({"optimizer": torch.optim.SGD,
                                                          "optim_args": 3, "gamma": 0.9}), TypeError,
                             r"^ExponentialLR: optim_args\['optim_args'\] \(the optimizer's settings\) "
                             r"must be a dict or a callable, got int 3$"),
    # inspect
    "render model": (lambda: render_model(3), TypeError,
                     r"^render_model: model must be a callable, got int 3$"),
    "relations model": (lambda: get_model_relations("m"), TypeError,
                        r"^get_model_relations: model must be a callable, got str 'm'$"),
    "dependencies args": (lambda: get_dependencies(data_model, torch.tensor(1.0)), TypeError,
                          r"^get_dependencies: model_args must be a tuple .*; for one argument data "
                          r"pass model_args=\(data,\)$"),
}

# The type Pyro 1.9.2 raises for the same call, kept as an extra base of ours.
PYRO_TYPES = {
    "diag init_scale": ValueError, "mvn init_scale tensor": ValueError,
    "normal init_scale str": ValueError, "model not callable": ValueError,
    "rank float": ValueError, "init_to_value values": TypeError, "haar dim": AssertionError,
    "dct dim type": AssertionError, "quantiles not numbers": ValueError, "hpdi prob type": ValueError, "dct smooth": ValueError, "split sections": AssertionError,
    "hpdi prob": IndexError, "hpdi dim": IndexError, "quantile probs": IndexError,
    "pi prob": IndexError, "ess one dim": AssertionError, "ess one draw": AssertionError,
    "gelman_rubin one chain": AssertionError, "split_gelman_rubin draws": AssertionError,
    "autocorrelation 0-dim": IndexError, "waic 0-dim": IndexError, "resample count": RuntimeError,
    "guide list duplicate site": RuntimeError, "scheduler without optimizer": KeyError,
    "render model": ValueError, "relations model": ValueError,
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_answers_clearly(name):
    call, error, words = CASES[name]
    pyro.clear_param_store()
    with pytest.raises(error, match=words) as info:
        call()
    if name in PYRO_TYPES:
        assert isinstance(info.value, PYRO_TYPES[name])


def test_valid_calls_work_and_warn_nothing():
    pyro.clear_param_store()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # autoguides with their documented argument forms
        guide = ag.AutoNormal(data_model, init_scale=1, init_loc_fn=init_to_median(num_samples=5))
        assert guide.median(torch.tensor(0.5))["z"].shape == ()
        q = guide.quantiles([0.25, 0.75], torch.tensor(0.5))["z"]
        assert q.shape == (2,) and q[0] < q[1]
        assert guide.quantiles(0.5)["z"].shape == (1,)
        lowrank = _run(ag.AutoLowRankMultivariateNormal(model2, init_scale=0.2, rank=None))
        assert lowrank.quantiles(torch.tensor([0.1, 0.9]))["a"].shape == (2, 3)
        ag.AutoDelta(model2, init_loc_fn=init_to_value(values={"a": torch.ones(3), "b": 2.0},
                                                         fallback=None))()
        assert pyro.param("AutoDelta.b").item() == 2.0
        ag.AutoDiagonalNormal(model, init_loc_fn=init_to_uniform(radius=0.0))()
        parts = ag.AutoGuideList(model2)
        parts.append(ag.AutoDelta(poutine.block(model2, expose=["a"])))
        parts.append(ag.AutoNormal(poutine.block(model2, expose=["b"])))
        svi = SVI(model2, parts, optim.ClippedAdam({"lr": 0.01, "betas": (0.9, 0.99),
                                                    "clip_norm": 5.0, "lrd": 0.999}),
                  Trace_ELBO(strict_enumeration_warning=False, vectorize_particles=1))
        svi.step()
        svi.step()
        assert set(parts()) == {"a", "b"}
        # optimizers and schedulers
        optim.SGD({"lr": 0.1, "momentum": 0.9, "nesterov": True})
        optim.MultiStepLR(dict(SCHED, milestones=[2, 4], gamma=0.5))
        optim.PyroOptim(lambda params, **kw: torch.optim.Adam(params, **kw), {"lr": 0.1, "x": 1})
        # stats: the calls Pyro accepts
        x = torch.randn(20, 3)
        assert stats.quantile(x, 0.5).shape == (3,)  # a scalar prob drops the dim, as in Pyro
        assert stats.quantile(x[:, 0], torch.tensor(0.5)).shape == ()
        assert stats.quantile(x, [0.5]).shape == (1, 3)
        assert stats.hpdi(x, 0.9, dim=-2).shape == (2, 3)
        assert stats.pi(x, 0.0).shape == (2, 3)
        assert stats.effective_sample_size(torch.randn(1, 10)).shape == ()
        assert stats.split_gelman_rubin(torch.randn(1, 10)).shape == ()
        assert stats.resample(x, 25, replacement=True).shape == (25, 3)
        # MCMC helpers, inspect
        summary({"z": torch.randn(2, 10)}, prob=0.5)
        params, _, _, _ = initialize_model(data_model, model_args=[torch.tensor(0.5)], num_chains=2)
        assert params["z"].shape == (2,)
        assert get_dependencies(data_model, (torch.tensor(0.5),))["prior_dependencies"]["x"] == {
            "x": set(), "z": set()}


def test_quantile_of_a_scalar_prob_matches_the_list_form():
    x = torch.randn(30, 2)
    assert torch.equal(stats.quantile(x, 0.3), stats.quantile(x, [0.3])[0])
    expected = torch.quantile(x, 0.3, dim=0)  # torch's linear interpolation, the same definition
    assert torch.allclose(stats.quantile(x, 0.3), expected, atol=1e-6)


def test_arrowhead_and_streaming_arguments_are_named():
    import pyro.ops.arrowhead as arrowhead
    import pyro.ops.streaming as streaming

    with pytest.raises(TypeError, match=r"^arrowhead\.sqrt: expected a SymmArrowhead\(top, bottom_diag\), got int"):
        arrowhead.sqrt(42)
    with pytest.raises(ValueError, match=r"^arrowhead\.triu_inverse: top of shape \(2, 5\) \(h x n\) and "
                                         r"bottom_diag of shape \(4,\) \(n - h\) do not make"):
        arrowhead.triu_inverse(arrowhead.TriuArrowhead(torch.eye(2, 5), torch.ones(4)))
    with pytest.raises(TypeError, match=r"^StatsOfDict: types must be a dict of key -> statistic factory, got int"):
        streaming.StatsOfDict(types=42)
    with pytest.raises(TypeError, match=r"^StatsOfDict: the statistic factory for 'x' must be callable"):
        streaming.StatsOfDict(types={"x": 3})
    with pytest.raises(TypeError, match=r"^StatsOfDict\.update: sample must be a dict, got Tensor"):
        streaming.StatsOfDict().update(torch.ones(2))
    # valid: the square root of a symmetric arrowhead reproduces it
    top = torch.tensor([[4.0, 1.0, 0.5], [0.0, 0.0, 0.0]])[:1]
    u = arrowhead.sqrt(arrowhead.SymmArrowhead(top, torch.tensor([2.0, 3.0])))
    dense = torch.zeros(3, 3)
    dense[0] = u.top[0]
    dense[1, 1], dense[2, 2] = u.bottom_diag
    expected = torch.tensor([[4.0, 1.0, 0.5], [1.0, 2.0, 0.0], [0.5, 0.0, 3.0]])
    torch.testing.assert_close(dense @ dense.T, expected)
