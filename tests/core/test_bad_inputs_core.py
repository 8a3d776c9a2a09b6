"""Bad inputs to the core primitives answer with a clear error that names the site."""

import sys
import warnings

import pytest
import torch
from torch.distributions import constraints

import pyro
import pyro.poutine as poutine
from pyro.call_site import sample_site_name


@pytest.mark.parametrize("fn", [1.5, "normal", None, 3, [torch.distributions.Normal(0.0, 1.0)]])
@pytest.mark.parametrize("stack", ["none", "trace", "trace+block+scale"])
def test_sample_fn_neither_distribution_nor_callable(fn, stack):
    def model():
        return pyro.sample("x", fn)

    if stack == "trace":
        run = poutine.trace(model).get_trace
    elif stack == "trace+block+scale":
        run = poutine.trace(poutine.block(poutine.scale(model, 2.0))).get_trace
    else:
        run = model
    with pytest.raises(TypeError, match=r"site 'x'") as info:
        run()
    message = str(info.value)
    assert type(fn).__name__ in message
    assert "distribution or a callable" in message


def test_sample_fn_check_also_with_obs():
    with pytest.raises(TypeError, match=r"site 'y'.*got float 2\.0"):
        poutine.trace(lambda: pyro.sample("y", 2.0, obs=torch.tensor(1.0))).get_trace()


def test_sample_accepts_plain_torch_distributions_and_callables():
    torch.manual_seed(0)
    d = torch.distributions.Normal(torch.tensor(0.5), torch.tensor(1e-6))
    assert pyro.sample("a", d).item() == pytest.approx(0.5, abs=1e-4)
    assert pyro.sample("b", lambda k: k + 1, 2) == 3
    tr = poutine.trace(lambda: pyro.sample("c", d)).get_trace()
    assert tr.nodes["c"]["fn"] is d


def _site_of_here(depth=1):
    return sample_site_name(sys._getframe(depth))


def sample(name, value):
    return value


def test_sample_site_name_literal_variable_fstring_keyword():
    # ``_site_of_here`` runs while the enclosing ``sample(...)`` call's arguments are evaluated
    assert sample("z", _site_of_here()) == "z"
    site = "w"
    assert sample(site, _site_of_here()) == "w"
    i = 3

    class Box:
        tag = "q"

    assert sample(f"loc_{i}_{Box.tag}", _site_of_here()) == "loc_3_q"
    assert sample(name="k", value=_site_of_here()) == "k"
    assert sample(
        "multi",
        _site_of_here(),
    ) == "multi"


def test_sample_site_name_innermost_and_unreadable():
    assert sample("outer", sample("inner", _site_of_here())) == "inner"
    assert sample(str(1), _site_of_here()) is None  # needs a call: not evaluated
    assert _site_of_here() is None  # no sample call around


def test_log_prob_sum_error_names_the_computation_and_the_site():
    def model():
        pyro.sample("x", torch.distributions.Normal(torch.zeros(2), 1.0), obs=torch.zeros(3))

    tr = poutine.trace(model).get_trace()
    with pytest.raises(ValueError, match=r"^Error while computing log_prob_sum at site 'x':"):
        tr.log_prob_sum()
    with pytest.raises(ValueError, match=r"^Error while computing log_prob at site 'x':"):
        tr.compute_log_prob()


# ----- primitives: sample ---------------------------------------------------------------------

Normal = torch.distributions.Normal
Bernoulli = torch.distributions.Bernoulli


@pytest.mark.parametrize("traced", [False, True])
def test_sample_name_must_be_a_string(traced):
    def model():
        return pyro.sample(3, Normal(0.0, 1.0))

    with pytest.raises(TypeError, match=r"site name must be a str, got int 3"):
        (poutine.trace(model).get_trace if traced else model)()


@pytest.mark.parametrize("traced", [False, True])
def test_sample_distribution_class_instead_of_instance(traced):
    def model():
        return pyro.sample("z", Normal)

    with pytest.raises(TypeError, match=r"site 'z': fn is the class Normal, not a distribution"):
        (poutine.trace(model).get_trace if traced else model)()


def test_sample_class_that_is_a_stochastic_function_still_works():
    class Draw:
        def __init__(self, k):
            self.k = k

    assert pyro.sample("c", Draw, 4).k == 4
    tr = poutine.trace(lambda: pyro.sample("c", Draw, 5)).get_trace()
    assert tr.nodes["c"]["value"].k == 5
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'k'"):
        pyro.sample("c", Draw)  # not a distribution class: its own error stands


@pytest.mark.parametrize("traced", [False, True])
def test_sample_infer_must_be_a_dict(traced):
    def model():
        return pyro.sample("x", Normal(0.0, 1.0), infer=["enumerate"])

    with pytest.raises(TypeError, match=r"site 'x': infer must be a dict, got list"):
        (poutine.trace(model).get_trace if traced else model)()


def test_sample_infer_enumerate_value():
    def model(how):
        return pyro.sample("b", Bernoulli(0.5), infer={"enumerate": how})

    with pytest.raises(ValueError, match=r"site 'b': infer\['enumerate'\] must be 'parallel', 'sequential'.*'par'"):
        poutine.trace(model).get_trace("par")
    for how in ("parallel", "sequential", None):
        assert poutine.trace(model).get_trace(how).nodes["b"]["infer"] == {"enumerate": how}


# ----- primitives: plate ----------------------------------------------------------------------

def _enter(*args, **kwargs):
    def model():
        with pyro.plate(*args, **kwargs) as ind:
            return ind

    return poutine.trace(model).get_trace().nodes["_RETURN"]["value"]


@pytest.mark.parametrize("kwargs, error, words", [
    ({"size": 2.5}, TypeError, r"plate 'p': size must be an int, got float 2\.5"),
    ({"size": "3"}, TypeError, r"plate 'p': size must be an int, got str '3'"),
    ({"size": 5, "subsample_size": 2.0}, TypeError, r"plate 'p': subsample_size must be an int, got float"),
    ({"size": 5, "dim": -1.0}, TypeError, r"plate 'p': dim must be a negative int, got float"),
    ({"size": 5, "subsample": torch.tensor([0, 7])}, ValueError,
     r"plate 'p': subsample indices must be in 0\.\.4 \(size=5\), got indices from 0 to 7"),
    ({"size": 5, "subsample": [-1, 2]}, ValueError, r"plate 'p': subsample indices must be in 0\.\.4"),
    ({"size": 5, "subsample": torch.tensor([0.0, 2.0])}, TypeError,
     r"plate 'p': subsample must hold integer indices, got dtype torch\.float32"),
    ({"size": 5, "subsample": torch.tensor([[0, 1]])}, ValueError,
     r"plate 'p': subsample must be a 1-d tensor of indices, got shape \(1, 2\)"),
])
def test_plate_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        _enter("p", **kwargs)


def test_plate_name_must_be_a_string():
    with pytest.raises(TypeError, match=r"pyro.plate: the name must be a str, got int 3"):
        _enter(3, 5)


def test_plate_valid_sizes_and_subsamples():
    assert _enter("p", 4).tolist() == [0, 1, 2, 3]
    assert _enter("p", torch.tensor(3)).tolist() == [0, 1, 2]  # an integer tensor, as in Pyro
    assert _enter("p", 5, subsample=torch.tensor([4, 0])).tolist() == [4, 0]
    assert _enter("p", 5, subsample=[1, 3]) == [1, 3]


# ----- primitives: param ----------------------------------------------------------------------

def _raises():
    raise RuntimeError("no data yet")


@pytest.mark.parametrize("init, error, words", [
    (3, TypeError, r"pyro.param\('a'\): init_tensor must be a tensor or a callable returning one, got int 3"),
    ("x", TypeError, r"pyro.param\('a'\): init_tensor must be .*got str 'x'"),
    (lambda: 3.0, TypeError, r"pyro.param\('a'\): the init_tensor function must return a tensor, got float"),
    (_raises, RuntimeError, r"pyro.param\('a'\): the init_tensor function raised RuntimeError: no data yet"),
])
@pytest.mark.parametrize("traced", [False, True])
def test_param_bad_init(init, error, words, traced):
    pyro.clear_param_store()

    def model():
        return pyro.param("a", init)

    with pytest.raises(error, match=words):
        (poutine.trace(model).get_trace if traced else model)()
    assert "a" not in pyro.get_param_store()


def test_param_bad_name_and_constraint():
    pyro.clear_param_store()
    with pytest.raises(TypeError, match=r"pyro.param: the name must be a str, got int 3"):
        pyro.param(3, torch.ones(2))
    with pytest.raises(TypeError, match=r"pyro.param\('a'\): constraint must be .*Constraint, got str 'positive'"):
        pyro.param("a", torch.ones(2), constraint="positive")


@pytest.mark.parametrize("event_dim, error, words", [
    (2, ValueError, r"pyro.param\('a'\): event_dim=2 must be in 0\.\.1 for a value of shape \(2,\)"),
    (-1, ValueError, r"pyro.param\('a'\): event_dim=-1 must be in 0\.\.1"),
    (1.0, TypeError, r"pyro.param\('a'\): event_dim must be an int, got float"),
])
def test_param_bad_event_dim(event_dim, error, words):
    pyro.clear_param_store()
    with pytest.raises(error, match=words):
        pyro.param("a", torch.ones(2), event_dim=event_dim)
    pyro.clear_param_store()
    assert pyro.param("a", torch.ones(2), event_dim=1).shape == (2,)


def test_param_declared_again_with_another_shape_or_constraint():
    pyro.clear_param_store()
    first = pyro.param("a", torch.ones(2), constraint=constraints.positive)
    with pytest.raises(ValueError, match=r"pyro.param\('a'\) is declared with an initial value of shape "
                                         r"\(3,\), but the param store already holds it with shape \(2,\)"):
        pyro.param("a", torch.ones(3), constraint=constraints.positive)
    with pytest.raises(ValueError, match=r"pyro.param\('a'\) is declared with constraint Interval\(.*\), "
                                         r"but the param store already holds it with constraint GreaterThan"):
        pyro.param("a", torch.ones(2), constraint=constraints.unit_interval)
    # no constraint given: the stored one is read, as Pyro does
    assert pyro.param("a", torch.ones(2)).tolist() == [1.0, 1.0]
    # the same declaration again, an equal constraint object, or a plain read: the stored value
    assert pyro.param("a", torch.full((2,), 5.0), constraint=constraints.positive) is not None
    assert pyro.param("a", torch.ones(2), constraint=constraints.greater_than(0.0)).tolist() == [1.0, 1.0]
    assert torch.equal(pyro.param("a"), first)
    pyro.param("b", torch.full((2,), 0.5), constraint=constraints.interval(0.0, 1.0))
    assert pyro.param("b", torch.ones(2), constraint=constraints.interval(0.0, 1.0)).tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match=r"declared with constraint Interval\(lower_bound=0\.0, upper_bound=2\.0\)"):
        pyro.param("b", torch.ones(2), constraint=constraints.interval(0.0, 2.0))


# ----- primitives: deterministic, factor, module -------------------------------------------

@pytest.mark.parametrize("traced", [False, True])
def test_deterministic_and_factor_need_tensors(traced):
    def run(model):
        return (poutine.trace(model).get_trace if traced else model)()

    with pytest.raises(TypeError, match=r"pyro.deterministic: site 'd': value must be a tensor, got float 3\.0"):
        run(lambda: pyro.deterministic("d", 3.0))
    with pytest.raises(TypeError, match=r"pyro.deterministic: site 'd': value must be a tensor, got list"):
        run(lambda: pyro.deterministic("d", [1.0, 2.0]))
    with pytest.raises(TypeError, match=r"pyro.factor: site 'f': log_factor must be a tensor or a number, got str"):
        run(lambda: pyro.factor("f", "x"))


def test_factor_accepts_a_number_as_pyro_does():
    tr = poutine.trace(lambda: pyro.factor("f", -1.5)).get_trace()
    assert tr.log_prob_sum().item() == pytest.approx(-1.5)


def test_module_bad_name_and_parameterless_module():
    with pytest.raises(TypeError, match=r"pyro.module: the name must be a str, got int 3"):
        pyro.module(3, torch.nn.Linear(2, 2))
    with pytest.warns(UserWarning, match=r"pyro.module\('act'\): ReLU has no parameters, so nothing is registered"):
        pyro.module("act", torch.nn.ReLU())
    pyro.clear_param_store()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())  # a parameter-less part is fine
        pyro.module("net", net)
    assert sorted(pyro.get_param_store()) == ["net$$$0.bias", "net$$$0.weight"]


# ----- handlers -------------------------------------------------------------------------------

def _two_sites():
    pyro.sample("x", Normal(0.0, 1.0))
    pyro.sample("y", Normal(0.0, 1.0))


@pytest.mark.parametrize("make, words", [
    (lambda: poutine.block(_two_sites, hide_fn=3), r"poutine.block: hide_fn must be a function of a site's message, got int 3"),
    (lambda: poutine.block(_two_sites, expose_fn="x"), r"poutine.block: expose_fn must be a function"),
    (lambda: poutine.block(_two_sites, hide="x"), r"poutine.block: hide must be a list of names, got the str 'x'; write hide=\['x'\]"),
    (lambda: poutine.block(_two_sites, expose="x"), r"poutine.block: expose must be a list of names"),
    (lambda: poutine.block(_two_sites, hide_types="param"), r"poutine.block: hide_types must be a list of names"),
    (lambda: poutine.block(_two_sites, expose_types=3), r"poutine.block: expose_types must be a list of names, got int"),
    (lambda: poutine.infer_config(_two_sites, config_fn=3), r"poutine.infer_config: config_fn must be a function"),
    (lambda: poutine.infer_config(_two_sites), r"poutine.infer_config: config_fn must be a function .*got NoneType"),
    (lambda: poutine.scale(_two_sites, scale="2"), r"poutine.scale: scale must be a positive number or tensor, got str"),
    (lambda: poutine.do(_two_sites, data=[("x", 1.0)]), r"poutine.do: data must be a dict of site name to value, got list"),
    (lambda: poutine.replay(_two_sites, trace=42), r"poutine.replay: trace must be a pyro.poutine.Trace .*got int 42"),
    (lambda: poutine.replay(_two_sites, trace={"x": 1.0}), r"poutine.replay: trace must be a pyro.poutine.Trace .*got dict"),
    (lambda: poutine.replay(_two_sites, params=3), r"poutine.replay: params must be a dict of param name to value"),
    (lambda: poutine.substitute(_two_sites, data=[1]), r"poutine.substitute: data must be a dict of param name to value"),
    (lambda: poutine.lift(_two_sites, prior=3), r"poutine.lift: prior must be a distribution, a stochastic function"),
    (lambda: poutine.lift(_two_sites, prior={"w": 3}), r"poutine.lift: prior\['w'\] must be a distribution"),
])
def test_handler_arguments_are_checked_when_the_handler_is_built(make, words):
    with pytest.raises(TypeError, match=words):
        make()


def test_block_with_lists_and_predicates_still_hides():
    assert list(poutine.trace(poutine.block(_two_sites, hide=["x"])).get_trace().stochastic_nodes) == ["y"]
    hidden = poutine.block(_two_sites, hide_fn=lambda msg: msg["name"] == "y")
    assert list(poutine.trace(hidden).get_trace().stochastic_nodes) == ["x"]


def test_infer_config_result_must_be_a_dict():
    with pytest.raises(TypeError, match=r"poutine.infer_config: config_fn must return a dict, got int at site 'x'"):
        poutine.infer_config(_two_sites, config_fn=lambda msg: 3)()


@pytest.mark.parametrize("scale, words", [
    (-1.0, r"^Expected scale > 0 but got -1\.0"),
    (torch.tensor([1.0, -1.0]), r"^Expected scale > 0 but got tensor\(\[ 1\., -1\.\]\)\. Consider using poutine.mask\(\)"),
])
def test_scale_must_be_positive_with_pyros_words(scale, words):
    with pytest.raises(ValueError, match=words):
        poutine.scale(scale=scale)


def _vector_site(n=3):
    return pyro.sample("v", Normal(torch.zeros(n), 1.0))


@pytest.mark.parametrize("wrap, words", [
    (lambda m: poutine.scale(m, scale=torch.ones(2)), r"poutine.scale: scale of shape \(2,\) does not broadcast "
                                                       r"with the batch shape \(3,\) of site 'v'"),
    (lambda m: poutine.mask(m, mask=torch.ones(2, dtype=torch.bool)), r"poutine.mask: mask of shape \(2,\) does "
                                                                      r"not broadcast with the batch shape \(3,\) of site 'v'"),
    (lambda m: poutine.do(m, data={"v": torch.ones(2)}), r"poutine.do: data\['v'\] of shape \(2,\) does not broadcast "
                                                          r"with the batch and event shape \(3,\) of site 'v'"),
])
def test_handler_values_must_broadcast_to_their_sites(wrap, words):
    with pytest.raises(ValueError, match=words):
        poutine.trace(wrap(_vector_site)).get_trace()


def test_handler_values_that_broadcast_give_the_same_densities():
    torch.manual_seed(0)
    scale = torch.tensor([1.0, 2.0, 3.0])
    tr = poutine.trace(poutine.scale(_vector_site, scale=scale)).get_trace()
    v = tr.nodes["v"]["value"]
    expected = (Normal(0.0, 1.0).log_prob(v) * scale).sum()
    assert tr.log_prob_sum().item() == pytest.approx(expected.item(), rel=1e-6)
    mask = torch.tensor([True, False, True])
    tr = poutine.trace(poutine.mask(_vector_site, mask=mask)).get_trace()
    v = tr.nodes["v"]["value"]
    assert tr.log_prob_sum().item() == pytest.approx(Normal(0.0, 1.0).log_prob(v)[mask].sum().item(), rel=1e-6)

    # a scale inside a plate sees the site before the plate expands it: (3,) against () is fine
    def plated():
        with pyro.plate("p", 3):
            with poutine.scale(scale=scale):
                return pyro.sample("w", Normal(0.0, 1.0))

    tr = poutine.trace(plated).get_trace()
    w = tr.nodes["w"]["value"]
    assert tr.log_prob_sum().item() == pytest.approx((Normal(0.0, 1.0).log_prob(w) * scale).sum().item(), rel=1e-6)
    tr = poutine.trace(poutine.do(_vector_site, data={"v": torch.ones(1)})).get_trace()
    assert tr.nodes["_RETURN"]["value"].tolist() == [1.0]


def _one_param():
    return pyro.param("a", torch.ones(1))


@pytest.mark.parametrize("handler, words", [
    (lambda: poutine.substitute(_one_param, data={"b": torch.ones(1)}),
     r"^pyro.module data did not find params \['b'\]\. Did you instead mean one of \['a'\]\?$"),
    (lambda: poutine.lift(_one_param, prior={"b": Normal(0.0, 1.0)}),
     r"^pyro.module prior did not find params \['b'\]\. Did you instead mean one of \['a'\]\?$"),
])
def test_substitute_and_lift_naming_no_site_warn_as_pyro_does(handler, words):
    pyro.clear_param_store()
    with pytest.warns(UserWarning, match=words):
        handler()()
    with pyro.validation_enabled(False), warnings.catch_warnings():
        warnings.simplefilter("error")
        handler()()  # as in Pyro: only under validation


def test_substitute_naming_its_params_says_nothing():
    pyro.clear_param_store()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert poutine.substitute(_one_param, data={"a": torch.full((1,), 4.0)})().item() == 4.0


def _observed_model():
    x = pyro.sample("x", Normal(0.0, 1.0))
    pyro.sample("y", Normal(x, 1.0), obs=torch.tensor(0.5))
    return x


@pytest.mark.parametrize("make, error, words", [
    (lambda: poutine.condition(_observed_model, data=[1.0]), TypeError,
     r"^condition expects a dict or a Trace, got list"),
    (lambda: poutine.markov(_observed_model, history=1.5), TypeError,
     r"^markov history must be a non-negative int, got float 1\.5"),
    (lambda: pyro.markov(range(3), history="x"), TypeError,
     r"^markov history must be a non-negative int, got str 'x'"),
    (lambda: poutine.escape(_observed_model, escape_fn=42), TypeError,
     r"^poutine\.escape: escape_fn must be a function of a site's message, got int 42"),
    (lambda: poutine.queue(_observed_model, queue=42), TypeError,
     r"^poutine\.queue: queue must be a queue\.Queue-like object .*got int"),
    (lambda: pyro.enable_validation("yes"), ValueError,
     r"^pyro\.enable_validation: is_validate must be True or False, got str 'yes'"),
    (lambda: pyro.set_rng_seed("x"), ValueError, r"^pyro\.set_rng_seed: rng_seed must be an int, got str 'x'"),
    (lambda: poutine.trace(_observed_model).get_trace().log_prob_sum(site_filter=42), TypeError,
     r"^Trace\.log_prob_sum: site_filter must be a function \(name, site\) -> bool, got int"),
])
def test_more_core_arguments_are_checked_where_they_are_given(make, error, words):
    with pytest.raises(error, match=words):
        make()


@pytest.mark.parametrize("run, words", [
    (lambda: pyro.sample("o", Normal(0.0, 1.0), obs=[1.0]),
     r"^pyro\.sample: site 'o': the observed value must be a torch\.Tensor \(or a number\), got list \[1\.0\]"),
    (lambda: poutine.condition(_observed_model, data={"x": [0.0, 1.0]})(),
     r"^poutine\.condition: site 'x': the observed value must be a torch\.Tensor \(or a number\), got list"),
])
def test_observed_values_of_the_wrong_kind_name_the_site(run, words):
    with pytest.raises(TypeError, match=words):
        poutine.trace(run).get_trace()


def test_valid_observations_histories_and_seeds_are_unchanged():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = poutine.trace(poutine.condition(_observed_model, data={"x": torch.tensor(0.25)})).get_trace()
        assert tr.nodes["x"]["value"].item() == 0.25 and tr.nodes["x"]["is_observed"]
        expected = Normal(0.0, 1.0).log_prob(torch.tensor(0.25)) + Normal(0.25, 1.0).log_prob(torch.tensor(0.5))
        assert torch.allclose(tr.log_prob_sum(), expected)
        # a number as the observed value of a stochastic function or a distribution is kept
        assert poutine.trace(lambda: pyro.sample("n", Normal(0.0, 1.0), obs=2.0)).get_trace().nodes["n"]["value"] == 2.0
        assert poutine.trace(lambda: pyro.sample("f", lambda: 3, obs=[1])).get_trace().nodes["f"]["value"] == [1]
        assert len(list(pyro.markov(range(3), history=2.0))) == 3
        pyro.set_rng_seed(3)
        a = torch.rand(())
        pyro.set_rng_seed(3)
        assert torch.rand(()) == a


def test_param_store_files_must_be_paths():
    store = pyro.get_param_store()
    with pytest.raises(TypeError, match=r"^cannot save: the filename must be a str or os\.PathLike, got int 42"):
        store.save(42)
    with pytest.raises(TypeError, match=r"^cannot load a pyro-param-store file: the filename must be a str or "
                                        r"os\.PathLike, got NoneType None"):
        store.load(None)
