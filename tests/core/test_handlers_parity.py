"""Handler behaviour matched to pyro-ppl 1.9.2 (each fact observed by running it)."""

import pickle
import warnings

import pytest
import torch
from torch.distributions import Normal, constraints

import pyro
import pyro.poutine as poutine
from pyro.poutine import runtime
from pyro.poutine.plate_messenger import block_plate


@pytest.fixture(autouse=True)
def _clear():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


def two_params():
    a = pyro.param("a", torch.tensor(1.0), constraint=constraints.positive)
    b = pyro.param("b", torch.tensor(2.0), event_dim=0)
    return a, b


# ----- lift -----------------------------------------------------------------------------------
def test_lift_calls_a_callable_prior_with_the_param_arguments_less_the_name():
    calls = []

    def prior(*args, **kwargs):
        calls.append((args, kwargs))
        return torch.tensor(3.0)

    tr = poutine.trace(poutine.lift(two_params, prior=prior)).get_trace()
    assert len(calls) == 2
    (args_a, kwargs_a), (args_b, kwargs_b) = calls
    assert [a.item() for a in args_a] == [1.0] and [b.item() for b in args_b] == [2.0]
    assert kwargs_a == {"constraint": constraints.positive, "event_dim": None}
    assert kwargs_b == {"constraint": constraints.real, "event_dim": 0}
    # A whole-prior stochastic function is hidden from outer handlers, as in Pyro.
    assert list(tr.nodes) == ["_INPUT", "_RETURN"]
    assert [v.item() for v in tr.nodes["_RETURN"]["value"]] == [3.0, 3.0]


def test_lift_dict_callable_is_a_recorded_sample_site_with_the_param_arguments():
    calls = []

    def prior(*args, **kwargs):
        calls.append((args, kwargs))
        return torch.tensor(3.0)

    tr = poutine.trace(poutine.lift(two_params, prior={"a": prior})).get_trace()
    assert len(calls) == 1 and calls[0][1]["constraint"] is constraints.positive
    site = tr.nodes["a"]
    assert site["type"] == "sample" and site["value"].item() == 3.0
    assert [x.item() for x in site["args"]] == [1.0]
    assert tr.nodes["b"]["type"] == "param"


def test_lift_dict_distribution_is_sampled_without_arguments():
    tr = poutine.trace(poutine.lift(two_params, prior={"a": Normal(0.0, 1.0)})).get_trace()
    site = tr.nodes["a"]
    assert site["type"] == "sample" and site["args"] == () and site["kwargs"] == {}
    assert site["infer"] == {}


def test_lift_warns_when_a_prior_key_matches_no_param():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        poutine.lift(two_params, prior={"zzz": Normal(0.0, 1.0), "a": Normal(0.0, 1.0)})()
    assert [(x.category, str(x.message)) for x in w] == [
        (UserWarning, "pyro.module prior did not find params ['zzz']. Did you instead mean one "
                      "of ['b']?")
    ]
    # Module params are matched by their name inside the module.
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with poutine.lift(prior={"weight": Normal(0.0, 1.0), "foo": Normal(0.0, 1.0)}):
            pyro.module("lin", torch.nn.Linear(2, 1))
    assert [str(x.message) for x in w] == [
        "pyro.module prior did not find params ['foo']. Did you instead mean one of ['bias']?"
    ]


def test_lift_does_not_warn_when_every_key_matches_or_the_prior_is_not_a_dict():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        poutine.lift(two_params, prior={"a": Normal(0.0, 1.0), "b": Normal(0.0, 1.0)})()
        poutine.lift(two_params, prior=Normal(0.0, 1.0))()
    assert w == []


# ----- trace(param_only=True) ------------------------------------------------------------------
def test_trace_param_only_records_params_only():
    def model():
        loc = pyro.param("loc", torch.tensor(0.5))
        return pyro.sample("z", Normal(loc, 1.0))

    tr = poutine.trace(model, param_only=True).get_trace()
    assert list(tr.nodes) == ["loc"] and tr.nodes["loc"]["value"].item() == 0.5
    assert list(poutine.trace(model).get_trace().nodes) == ["_INPUT", "loc", "z", "_RETURN"]


# ----- block ----------------------------------------------------------------------------------
def test_block_hiding_and_exposing_one_site_is_an_assertion_error():
    with pytest.raises(AssertionError, match="cannot hide and expose a site"):
        poutine.block(two_params, hide=["a"], expose=["a"])
    with pytest.raises(AssertionError, match="cannot hide and expose a site type"):
        poutine.block(hide_types=["param"], expose_types=["param"])


def test_blocked_and_other_wrapped_functions_pickle():
    def_model = _module_level_model
    wrapped = [
        poutine.block(def_model),
        poutine.block(def_model, hide=["z"]),
        poutine.block(def_model, expose_fn=_expose_z),
        poutine.scale(def_model, scale=2.0),
        poutine.trace(def_model),
        poutine.condition(def_model, data={"z": torch.tensor(1.5)}),
        poutine.mask(def_model, mask=False),
        poutine.seed(def_model, rng_seed=0),
    ]
    for fn in wrapped:
        again = pickle.loads(pickle.dumps(fn))
        assert isinstance(again(), torch.Tensor)
    blocked = pickle.loads(pickle.dumps(poutine.block(def_model, hide=["z"])))
    with poutine.trace() as tr:
        blocked()
    assert "z" not in tr.trace.nodes
    conditioned = pickle.loads(pickle.dumps(poutine.condition(def_model, data={"z": torch.tensor(1.5)})))
    assert conditioned().item() == 1.5


def _module_level_model():
    return pyro.sample("z", Normal(0.0, 1.0))


def _expose_z(msg):
    return msg["name"] == "z"


@pytest.mark.parametrize(
    "handler",
    ["trace", "block", "scale", "condition", "lift", "replay", "mask", "seed", "uncondition",
     "substitute", "do", "escape", "infer_config", "queue"],
)
def test_a_non_callable_first_argument_is_a_value_error(handler):
    with pytest.raises(ValueError, match=r"^3 is not callable, did you mean to pass it as a "
                                         r"keyword arg\?$"):
        getattr(poutine, handler)(3)


def test_messenger_call_with_a_non_callable_is_a_value_error():
    with pytest.raises(ValueError, match="2.0 is not callable, did you mean to pass it as a keyword arg"):
        poutine.scale(scale=2.0)(2.0)


# ----- runtime helpers ---------------------------------------------------------------------------
def test_nonlocal_exit_is_one_class_in_runtime_util_and_poutine():
    from pyro.poutine.util import NonlocalExit as from_util

    assert runtime.NonlocalExit is from_util is poutine.NonlocalExit
    exit_ = runtime.NonlocalExit({"name": "x"})
    assert exit_.site == {"name": "x"}
    with pytest.raises(runtime.NonlocalExit):
        poutine.escape(_module_level_model, escape_fn=lambda msg: True)()


def test_get_mask_combines_enclosing_masks():
    assert runtime.get_mask() is None
    assert poutine.get_mask is runtime.get_mask
    with poutine.trace(), poutine.scale(scale=2.0):
        assert runtime.get_mask() is None
    with poutine.mask(mask=torch.tensor([True, False, True])):
        with poutine.mask(mask=torch.tensor([True, True, False])):
            assert poutine.get_mask().tolist() == [True, False, False]
        assert poutine.get_mask().tolist() == [True, False, True]
    with poutine.mask(mask=False):
        assert poutine.get_mask() is False
        with poutine.block():
            assert poutine.get_mask() is None


def test_get_plates_lists_enclosing_plates_outermost_first():
    assert runtime.get_plates() == ()
    with poutine.trace() as tr:
        with pyro.plate("a", 3), pyro.plate("b", 10, subsample_size=2, dim=-2):
            frames = runtime.get_plates()
    assert [(f.name, f.dim, f.size, f.full_size) for f in frames] == [
        ("a", -1, 3, 3), ("b", -2, 2, 10)
    ]
    assert list(tr.trace.nodes) == ["a", "b"]  # the plates' own sites; the query is none
    with pyro.plate("a", 3), poutine.block():
        assert runtime.get_plates() == ()


def test_block_plate_hides_one_plate_by_name_or_dim():
    with pyro.plate("a", 3), pyro.plate("b", 2, dim=-2):
        with block_plate("a"):
            assert [f.name for f in runtime.get_plates()] == ["b"]
            x = pyro.sample("x", Normal(0.0, 1.0))
        with block_plate(dim=-2):
            assert [f.name for f in runtime.get_plates()] == ["a"]
            y = pyro.sample("y", Normal(0.0, 1.0))
        assert [f.name for f in runtime.get_plates()] == ["a", "b"]
        with block_plate("nope", strict=False):
            z = pyro.sample("z", Normal(0.0, 1.0))
    assert x.shape == (2, 1) and y.shape == (3,) and z.shape == (2, 3)
    assert runtime.get_plates() == ()


def test_block_plate_drops_the_plate_scale_and_restores_it_after_an_error():
    with poutine.trace() as tr:
        with pyro.plate("data", 100, subsample_size=10):
            with block_plate("data"):
                pyro.sample("glob", Normal(0.0, 1.0))
            with pytest.raises(KeyError):
                with block_plate("data"):
                    raise KeyError("inside")
            pyro.sample("local", Normal(0.0, 1.0))
    assert tr.trace.nodes["glob"]["scale"] == 1.0
    assert tr.trace.nodes["glob"]["cond_indep_stack"] == ()
    assert tr.trace.nodes["local"]["scale"] == 10.0
    assert tr.trace.nodes["local"]["value"].shape == (10,)


def test_block_plate_errors():
    with pytest.raises(ValueError, match="Exactly one of name,dim must be specified"):
        with block_plate():
            pass
    with pyro.plate("a", 3):
        with pytest.raises(ValueError, match="Exactly one of name,dim must be specified"):
            with block_plate("a", dim=-1):
                pass
        with pytest.raises(ValueError, match="block_plate matched 0 messengers. Try either "
                                             "removing the block_plate or setting strict=False."):
            with block_plate("zz"):
                pass


def test_lift_unmatched_prior_warns_only_under_validation_and_on_a_normal_exit():
    def model():
        return pyro.param("b", torch.tensor(1.0))

    lifted = poutine.lift(model, prior={"zzz": torch.distributions.Normal(0.0, 1.0)})
    for validate in (True, False):
        with pyro.validation_enabled(validate), warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            lifted()
        assert [str(w.message)[:40] for w in record] == (
            ["pyro.module prior did not find params ['"] if validate else [])

    def failing():
        pyro.param("b", torch.tensor(1.0))
        raise RuntimeError("stop")

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="stop"):
            poutine.lift(failing, prior={"zzz": torch.distributions.Normal(0.0, 1.0)})()
    assert record == []
