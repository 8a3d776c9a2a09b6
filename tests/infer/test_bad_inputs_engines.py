"""Bad inputs to the other engines and helpers (SVGD, SMC, CSIS, RWS, Rényi, importance, search,
posteriors, infer_discrete, inspect, plotting, PSIS, SVI) answer at the call that was wrong."""

import io
import math
import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import (
    CSIS,
    SMCFilter,
    SVGD,
    SVI,
    EmpiricalMarginal,
    EnergyDistance,
    Importance,
    RBFSteinKernel,
    RenyiELBO,
    ReweightedWakeSleep,
    Search,
    TracePredictive,
    Trace_ELBO,
    Trace_MMD,
)
from pyro.infer.abstract_infer import Marginals
from pyro.infer.discrete import infer_discrete
from pyro.infer.importance import psis_diagnostic, vectorized_importance_weights
from pyro.infer.inspect import get_dependencies, get_model_relations, render_model
from pyro.infer.plotting import plot_losses, smooth_losses
from pyro.infer.svgd import IMQSteinKernel
from pyro.optim import Adam


def model():
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    pyro.sample("x", dist.Normal(z, 1.0), obs=torch.tensor(0.5))


def guide():
    pyro.sample("z", dist.Normal(pyro.param("m", torch.tensor(0.0)), 1.0))


def csis_model(observations={"x": torch.tensor(0.0)}):  # noqa: B006 (Pyro's CSIS convention)
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    pyro.sample("x", dist.Normal(z, 1.0), obs=observations["x"])


def csis_guide(observations={"x": torch.tensor(0.0)}):  # noqa: B006
    pyro.sample("z", dist.Normal(pyro.param("a", torch.tensor(0.0)) * observations["x"], 1.0))


def coin():
    return pyro.sample("c", dist.Bernoulli(0.5))


def one_arg(x):
    pyro.sample("a", dist.Normal(x, 1.0))


class Walk:
    def init(self, state):
        state["z"] = pyro.sample("z", dist.Normal(0.0, 1.0))

    def step(self, state, y):
        state["z"] = pyro.sample("z", dist.Normal(state["z"], 1.0))
        pyro.sample("y", dist.Normal(state["z"], 1.0), obs=y)


def _svgd(**kw):
    args = dict(model=model, kernel=RBFSteinKernel(), optim=Adam({"lr": 0.1}), num_particles=4,
                max_plate_nesting=0)
    args.update(kw)
    return SVGD(**args)


def _csis(**kw):
    args = dict(model=csis_model, guide=csis_guide, optim=Adam({"lr": 0.1}))
    args.update(kw)
    return CSIS(**args)


def _ran():
    return Importance(model, guide, num_samples=3).run()


# (call, exception type, regex on the message); the types are the engine's TypeError or
# ValueError (each an AssertionError too where Pyro asserts).
CASES = {
    # SVGD and its kernels
    "svgd kernel": (lambda: _svgd(kernel=lambda x: x), TypeError,
                    r"^Must provide a valid SteinKernel: SVGD got function .* as kernel; pass e\.g\. "
                    r"RBFSteinKernel\(\)"),
    "svgd optim": (lambda: _svgd(optim=torch.optim.Adam), TypeError,
                   r"^Must provide a valid Pyro optimizer: SVGD got the torch optimizer class "
                   r"torch\.optim\.Adam as optim"),
    "svgd model": (lambda: _svgd(model=3), TypeError, r"^SVGD: model must be a callable, got int 3$"),
    "svgd one particle": (lambda: _svgd(num_particles=1), ValueError,
                          r"^Must use at least two particles: SVGD got num_particles=1$"),
    "svgd float particles": (lambda: _svgd(num_particles=2.5), TypeError,
                             r"^SVGD: num_particles must be an int >= 0, got float 2\.5$"),
    "svgd nesting": (lambda: _svgd(max_plate_nesting=-1), ValueError,
                     r"^SVGD: max_plate_nesting must be an int >= 0, got -1$"),
    "svgd mode": (lambda: _svgd(mode="joint"), ValueError,
                  r"^SVGD: mode must be one of \(univariate, multivariate\), got 'joint'$"),
    "rbf bandwidth": (lambda: RBFSteinKernel(bandwidth_factor=0.0), ValueError,
                      r"^RBFSteinKernel: bandwidth_factor must be positive, got 0\.0$"),
    "imq alpha type": (lambda: IMQSteinKernel(alpha="1"), TypeError,
                       r"^IMQSteinKernel: alpha must be a number, got str '1'$"),
    "imq beta": (lambda: IMQSteinKernel(beta=0.5), ValueError,
                 r"^IMQSteinKernel: beta must lie in \(-1, 0\), got 0\.5$"),
    # SMCFilter
    "smc no particles": (lambda: SMCFilter(Walk(), None, 0, 0), ValueError,
                         r"^SMCFilter: num_particles must be an int >= 1, got 0$"),
    "smc ess": (lambda: SMCFilter(Walk(), None, 10, 0, ess_threshold=1.5), ValueError,
                r"^SMCFilter: ess_threshold must lie in \(0, 1\], got 1\.5$"),
    "smc ess type": (lambda: SMCFilter(Walk(), None, 10, 0, ess_threshold="half"), TypeError,
                     r"^SMCFilter: ess_threshold must be a number, got str 'half'$"),
    "smc model": (lambda: SMCFilter(lambda state: None, None, 10, 0), TypeError,
                  r"^SMCFilter: the model must be an object with init\(state, \.\.\.\) and "
                  r"step\(state, \.\.\.\) methods; function .* has no init\(\)$"),
    "smc step first": (lambda: SMCFilter(Walk(), None, 10, 0).step(torch.tensor(0.0)), RuntimeError,
                       r"^SMCFilter\.step\(\) was called before SMCFilter\.init\(\)"),
    # CSIS
    "csis optim": (lambda: _csis(optim=torch.optim.Adam), TypeError,
                   r"^Optimizer should be an instance of pyro\.optim\.PyroOptim class\. CSIS got the "
                   r"torch optimizer class torch\.optim\.Adam"),
    "csis batch": (lambda: _csis(training_batch_size=0), ValueError,
                   r"^CSIS: training_batch_size must be an int >= 1, got 0$"),
    "csis validation batch": (lambda: _csis(validation_batch_size=2.0), TypeError,
                              r"^CSIS: validation_batch_size must be an int >= 1, got float 2\.0$"),
    "csis guide signature": (lambda: _csis(guide=guide), TypeError,
                             r"^CSIS: the guide must take the keyword argument observations .*; "
                             r"the guide guide has the signature \(\)$"),
    "csis guide without params": (lambda: _csis(guide=lambda observations=None: pyro.sample(
        "z", dist.Normal(0.0, 1.0)), training_batch_size=2).step(), ValueError,
        r"^CSIS\.step: the guide has no params to train"),
    # ReweightedWakeSleep, RenyiELBO
    "rws one particle": (lambda: ReweightedWakeSleep(num_particles=1), ValueError,
                         r"^Reweighted Wake Sleep needs to be run with more than one particle: got "
                         r"num_particles=1$"),
    "rws insomnia type": (lambda: ReweightedWakeSleep(insomnia="1"), TypeError,
                          r"^ReweightedWakeSleep: insomnia must be a number, got str '1'$"),
    "rws sleep particles": (lambda: ReweightedWakeSleep(num_sleep_particles=0), ValueError,
                            r"^ReweightedWakeSleep: num_sleep_particles must be an int >= 1, got 0$"),
    "renyi alpha type": (lambda: RenyiELBO(alpha="0.5"), TypeError,
                         r"^RenyiELBO: alpha must be a number, got str '0\.5'$"),
    "renyi alpha inf": (lambda: RenyiELBO(alpha=-math.inf), ValueError,
                        r"^RenyiELBO: alpha must be a finite number, got -inf$"),
    # Importance, Search, posteriors
    "importance num_samples": (lambda: Importance(model, guide, num_samples=2.5), TypeError,
                               r"^Importance: num_samples must be an int >= 1, got float 2\.5$"),
    "importance zero samples": (lambda: Importance(model, guide, num_samples=0), ValueError,
                                r"^Importance: num_samples must be an int >= 1, got 0$"),
    "importance guide": (lambda: Importance(model, 3, num_samples=2), TypeError,
                         r"^Importance: guide must be a callable or None, got int 3$"),
    "vectorized num_samples": (lambda: vectorized_importance_weights(model, guide, num_samples=0),
                               ValueError, r"^vectorized_importance_weights: num_samples must be an "
                                           r"int >= 1, got 0$"),
    "search model": (lambda: Search(3), TypeError, r"^Search: model must be a callable, got int 3$"),
    "search max_tries": (lambda: Search(coin, max_tries=0), ValueError,
                         r"^Search: max_tries must be a whole number >= 1, got 0$"),
    "marginal not posterior": (lambda: EmpiricalMarginal({"z": 1}, "z"), TypeError,
                               r"^EmpiricalMarginal expects a TracePosterior, got dict$"),
    "marginal sites": (lambda: EmpiricalMarginal(_ran(), 3), TypeError,
                       r"^EmpiricalMarginal: sites must be a site name or a non-empty list of "
                       r"site names, got int 3$"),
    "marginals sites": (lambda: Marginals(_ran(), [3]), TypeError,
                        r"^Marginals: sites must be a site name"),
    "marginal unknown site": (lambda: EmpiricalMarginal(_ran(), "q"), KeyError,
                              r"site 'q' is not in the posterior's traces \(trace 0 of the "
                              r"posterior\); its sites are \['z', 'x', '_RETURN'\]"),
    "marginal before run": (lambda: EmpiricalMarginal(Importance(model, guide, num_samples=2), "z"),
                            ValueError, r"^EmpiricalMarginal: the posterior is empty; call "
                                        r"\.run\(\*args\) first$"),
    "trace predictive samples": (lambda: TracePredictive(model, _ran(), 0), ValueError,
                                 r"^TracePredictive: num_samples must be an int >= 1, got 0$"),
    # infer_discrete
    "infer_discrete fn": (lambda: infer_discrete(3, first_available_dim=-1), TypeError,
                          r"^infer_discrete: fn must be a callable, got int 3$"),
    "infer_discrete dim": (lambda: infer_discrete(coin, first_available_dim=0), ValueError,
                           r"^infer_discrete: first_available_dim must be a negative int, .* got 0$"),
    "infer_discrete dim type": (lambda: infer_discrete(coin), TypeError,
                                r"^infer_discrete: first_available_dim must be a negative int, .* "
                                r"got NoneType None$"),
    "infer_discrete temperature": (lambda: infer_discrete(coin, first_available_dim=-1,
                                                          temperature="1"), TypeError,
                                   r"^temperature must be 0 \(map\) or 1 \(sample\) for now: "
                                   r"infer_discrete got temperature='1'$"),
    # inspect
    "relations args": (lambda: get_model_relations(one_arg, torch.tensor(0.0)), TypeError,
                       r"^get_model_relations: model_args must be a tuple of the model's positional "
                       r"arguments, got Tensor tensor\(0\.\); for one argument x pass "
                       r"model_args=\(x,\)$"),
    "dependencies kwargs": (lambda: get_dependencies(one_arg, (), [1]), TypeError,
                            r"^get_dependencies: model_kwargs must be a dict of the model's keyword "
                            r"arguments, got list \[1\]$"),
    "render args": (lambda: render_model(one_arg, [torch.tensor(0.0)]), TypeError,
                    r"^render_model: model_args must be a tuple .*\(or a list of such tuples, one "
                    r"per run\), got Tensor"),
    "render format": (lambda: render_model(model, filename="/tmp/model.xyz"), ValueError,
                      r"^render_model: filename '/tmp/model\.xyz' has the suffix '\.xyz', which is not "
                      r"a format Graphviz writes; use one of \.pdf, \.png, \.svg"),
    "render filename type": (lambda: render_model(model, filename=3), TypeError,
                             r"^render_model: filename must be a str or path, got int 3$"),
    # plotting, PSIS
    "plot non-numbers": (lambda: plot_losses([1.0, "b"]), TypeError,
                         r"^plot_losses: losses\[1\] must be a number, got str 'b'$"),
    "plot not a sequence": (lambda: plot_losses(None), TypeError,
                            r"^plot_losses: losses must be a sequence of numbers or a 1-D tensor, "
                            r"got NoneType$"),
    "plot empty": (lambda: plot_losses([]), ValueError, r"^plot_losses: losses is empty$"),
    "plot smooth": (lambda: smooth_losses([1.0, 2.0], smooth=1.5), ValueError,
                    r"^plot_losses: smooth must be in \[0, 1\), got 1\.5$"),
    "plot smooth type": (lambda: smooth_losses([1.0], smooth="0.9"), TypeError,
                         r"^plot_losses: smooth must be a number in \[0, 1\) or None, got str"),
    "plot filename": (lambda: plot_losses([1.0], filename=3), TypeError,
                      r"^plot_losses: filename must be a str, a path or a binary file, got int 3$"),
    "psis particles": (lambda: psis_diagnostic(model, guide, num_particles=0), ValueError,
                       r"^psis_diagnostic: num_particles must be an int >= 1, got 0$"),
    "psis simultaneous": (lambda: psis_diagnostic(model, guide, num_particles=10,
                                                  max_simultaneous_particles=2.5), TypeError,
                          r"^psis_diagnostic: max_simultaneous_particles must be an int >= 1, got "
                          r"float 2\.5$"),
    "psis divisible": (lambda: psis_diagnostic(model, guide, num_particles=10,
                                               max_simultaneous_particles=3), ValueError,
                       r"^num_particles must be divisible by max_simultaneous_particles: "
                       r"psis_diagnostic got num_particles=10, max_simultaneous_particles=3$"),
    # SVI, the other losses
    "svi loss class": (lambda: SVI(model, guide, Adam({}), Trace_ELBO), TypeError,
                       r"^SVI: loss is the class Trace_ELBO; pass an instance, e\.g\. "
                       r"loss=Trace_ELBO\(\)$"),
    "svi loss value": (lambda: SVI(model, guide, Adam({}), 3), TypeError,
                       r"^SVI: loss must be an ELBO, a callable or a registered name, got int 3$"),
    "svi loss_and_grads": (lambda: SVI(model, guide, Adam({}), lambda m, g: 0.0, loss_and_grads=1),
                           TypeError, r"^SVI: loss_and_grads must be a callable or None, got int 1$"),
    "svi run steps": (lambda: SVI(model, guide, Adam({}), Trace_ELBO()).run(num_steps=2.5),
                      TypeError, r"^SVI\.run: num_steps must be an int >= 1, got float 2\.5$"),
    "svi run no steps": (lambda: SVI(model, guide, Adam({}), Trace_ELBO()).run(), ValueError,
                         r"^SVI\.run: num_steps must be an int >= 1, got 0$"),
    "mmd scale": (lambda: Trace_MMD(kernel=lambda x, z: x @ z.T, mmd_scale="1"), TypeError,
                  r"^Trace_MMD: mmd_scale must be a number or a dict of them by site name, got str"),
    "mmd kernel entry": (lambda: Trace_MMD(kernel={"w": lambda x, z: x @ z.T}, num_particles=2).loss(
        model, guide), KeyError, r"Trace_MMD: kernel has no entry for the latent site 'z'; it has "
                                 r"\['w'\]"),
    "energy nesting": (lambda: EnergyDistance(max_plate_nesting=-1), ValueError,
                       r"^EnergyDistance: max_plate_nesting must be a non-negative int or inf, got -1$"),
}

# Where Pyro asserts, the error is an AssertionError as well.
PYRO_ASSERTS = ["svgd kernel", "svgd optim", "svgd model", "svgd one particle", "svgd mode",
                "rbf bandwidth", "imq beta", "smc no particles", "smc ess", "rws one particle",
                "marginal not posterior", "marginal sites", "infer_discrete dim"]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_answers_clearly(name):
    call, error, pattern = CASES[name]
    pyro.clear_param_store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TracePredictive's deprecation
        with pytest.raises(error, match=pattern) as info:
            call()
    if name in PYRO_ASSERTS:
        assert isinstance(info.value, AssertionError)


# ----- Pyro's warnings, kept -------------------------------------------------------------------

def test_importance_queries_before_run_warn_as_pyro():
    posterior = Importance(model, guide, num_samples=2)
    with pytest.warns(UserWarning, match=r"^The log_weights list is empty, can not compute "
                                         r"normalizing constant estimate\.$"):
        assert posterior.get_log_normalizer() is None
    with pytest.warns(UserWarning, match=r"^The log_weights list is empty, effective sample size "
                                         r"is zero\.$"):
        assert posterior.get_ESS() == 0
    with pytest.warns(UserWarning, match=r"^The log_weights list is empty\. There is nothing to "
                                         r"normalize\.$"):
        assert posterior.get_normalized_weights() is None


def test_importance_without_num_samples_warns_as_pyro():
    with pytest.warns(UserWarning, match=r"^num_samples not provided, defaulting to 10$"):
        assert Importance(model).num_samples == 10


def test_psis_with_too_few_particles_warns_and_returns_inf_as_pyro():
    pyro.set_rng_seed(0)
    with pytest.warns(UserWarning, match=r"^Not enough tail samples to compute PSIS diagnostic; "
                                         r"increase num_particles\.$"):
        assert psis_diagnostic(model, guide, num_particles=45) == math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isfinite(psis_diagnostic(model, guide, num_particles=46))


# ----- valid calls through the same checks are unchanged -------------------------------------

def test_valid_engine_arguments_pass_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _svgd(num_particles=2, max_plate_nesting=1, mode="multivariate")
        IMQSteinKernel(alpha=torch.tensor(0.5), beta=-0.5, bandwidth_factor=2)
        RenyiELBO(alpha=torch.tensor(-0.5))
        ReweightedWakeSleep(num_particles=2, insomnia=0, num_sleep_particles=3)
        assert Search(coin, max_tries=1e6).max_tries == 10 ** 6
        Trace_MMD(kernel={"z": lambda x, z: x @ z.T}, mmd_scale={"z": 2.0})
        EnergyDistance(max_plate_nesting=2)
        Importance(model, None, num_samples=2, max_plate_nesting=0)


class _ModuleGuide(torch.nn.Module):
    def forward(self, *args, **kwargs):
        loc = pyro.param("a", torch.tensor(0.0))
        return pyro.sample("z", dist.Normal(loc, 1.0))


def test_csis_accepts_guides_taking_observations_and_trains():
    pyro.clear_param_store()
    csis = _csis(guide=_ModuleGuide(), training_batch_size=2)
    assert isinstance(csis.loss_and_grads(True, None), float)
    assert pyro.param("a").unconstrained().grad is not None
    _csis(guide=lambda *args, observations=None: None)


def test_smc_filter_steps_after_init():
    smc = SMCFilter(Walk(), None, num_particles=5, max_plate_nesting=0)
    smc.init()
    smc.step(torch.tensor(0.3))
    assert smc.state["z"].shape == (5,)


def test_marginals_and_inspect_accept_their_valid_forms():
    posterior = _ran()
    assert EmpiricalMarginal(posterior, ["z"]).sample().shape == (1,)
    assert get_model_relations(one_arg, [torch.tensor(0.0)])["sample_dist"] == {"a": "Normal"}
    deps = get_dependencies(one_arg, (torch.tensor(0.0),), {})
    assert deps["prior_dependencies"] == {"a": {"a": set()}}


def test_plot_losses_accepts_tensors_and_files():
    buffer = io.BytesIO()
    plot_losses([torch.tensor(2.0), 1.5, 1], filename=buffer, smooth=None)
    assert buffer.getvalue()
    assert smooth_losses(torch.tensor([1.0, 3.0]), smooth=0.5) == pytest.approx([1.0, 1.0 / 0.75 * 1.75])
