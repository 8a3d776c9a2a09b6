"""``poutine.broadcast``, ``poutine.unwrap``, the poutine validation switch, the message types,
``pyro.barrier``, ``pyro.log``, the context helpers of ``pyro.util`` and ``pyro.generic``."""

import functools
import importlib
import io
import logging
import time
import typing
import warnings

import pytest
import torch
from torch.distributions import Bernoulli, Normal

import pyro
import pyro.poutine as poutine
import pyro.util
from pyro.poutine.messenger import Messenger
from pyro.poutine.plate_messenger import CondIndepStackFrame
from pyro.poutine.runtime import InferDict, Message, new_message
from pyro.poutine.util import enum_extend, mc_extend

# ---------------------------------------------------------------- broadcast


class _Frames(Messenger):
    """Adds plate frames to each sample site without broadcasting, as a plain handler would."""

    def __init__(self, frames):
        super().__init__()
        self.frames = tuple(frames)

    def _pyro_sample(self, msg):
        msg["cond_indep_stack"] = self.frames + msg["cond_indep_stack"]


_FRAMES = (CondIndepStackFrame("a", -2, 4, 0, 4), CondIndepStackFrame("b", -1, 3, 0, 3))


def _sample_sites(tr):
    return {n: s for n, s in tr.nodes.items() if s["type"] == "sample"}


def _broadcast_model():
    pyro.sample("x", Normal(torch.zeros(3), 1.0))
    pyro.sample("y", Normal(torch.zeros(1, 1), 1.0))
    pyro.sample("w", Normal(torch.zeros(7, 1, 1), 1.0))
    pyro.sample("z", Normal(0.0, 1.0), obs=torch.tensor(0.5))


def test_broadcast_expands_to_the_plate_shapes():
    tr = poutine.trace(poutine.broadcast(_Frames(_FRAMES)(_broadcast_model))).get_trace()
    s = _sample_sites(tr)
    # Pyro 1.9.2: (3,) -> (4, 3); (1, 1) -> (4, 3); (7, 1, 1) -> (7, 4, 3); observed () -> (4, 3).
    assert s["x"]["fn"].batch_shape == (4, 3) and s["x"]["value"].shape == (4, 3)
    assert s["y"]["fn"].batch_shape == (4, 3) and s["y"]["value"].shape == (4, 3)
    assert s["w"]["fn"].batch_shape == (7, 4, 3) and s["w"]["value"].shape == (7, 4, 3)
    assert s["z"]["fn"].batch_shape == (4, 3) and s["z"]["value"].shape == ()
    # The densities are the per-element densities of the original distributions.
    tr.compute_log_prob()
    expected = Normal(0.0, 1.0).log_prob(s["x"]["value"])
    assert torch.allclose(s["x"]["log_prob"], expected, atol=1e-6)
    assert torch.allclose(s["z"]["log_prob"], Normal(0.0, 1.0).log_prob(torch.tensor(0.5)).expand(4, 3))


def test_broadcast_as_a_context_manager():
    with poutine.trace() as tr, poutine.broadcast(), _Frames(_FRAMES):
        pyro.sample("x", Bernoulli(torch.tensor(0.25)))
    assert tr.trace.nodes["x"]["fn"].batch_shape == (4, 3)
    assert tr.trace.nodes["x"]["fn"].probs.unique().tolist() == [0.25]


def test_broadcast_shape_mismatch_names_plate_site_and_sizes():
    def model():
        pyro.sample("x", Normal(torch.zeros(5), 1.0))

    with pytest.raises(ValueError, match=r"Shape mismatch inside plate\('b'\) at site x dim -1, 3 vs 5"):
        poutine.broadcast(_Frames(_FRAMES)(model))()


def test_broadcast_ignores_sequential_and_sizeless_frames():
    frames = (CondIndepStackFrame("a", None, 4, 0, 4), CondIndepStackFrame("b", -1, -1, 0, -1))
    tr = poutine.trace(poutine.broadcast(_Frames(frames)(_broadcast_model))).get_trace()
    shapes = {n: s["fn"].batch_shape for n, s in _sample_sites(tr).items()}
    assert shapes == {"x": (3,), "y": (1, 1), "w": (7, 1, 1), "z": ()}


def test_broadcast_leaves_done_sites_alone():
    class _Done(Messenger):
        def _pyro_sample(self, msg):
            msg["value"] = torch.tensor(0.0)
            msg["done"] = True

    tr = poutine.trace(poutine.broadcast(_Done()(_Frames(_FRAMES)(_broadcast_model)))).get_trace()
    assert _sample_sites(tr)["x"]["fn"].batch_shape == (3,)


def test_broadcast_keeps_a_switched_off_rsample():
    d = Normal(0.0, 1.0)
    d.has_rsample = False
    tr = poutine.trace(poutine.broadcast(_Frames(_FRAMES)(lambda: pyro.sample("x", d)))).get_trace()
    fn = tr.nodes["x"]["fn"]
    assert fn.batch_shape == (4, 3) and fn.has_rsample is False


def test_broadcast_outside_plates_changes_nothing_plates_did():
    def model():
        with pyro.plate("outer", 2, dim=-2), pyro.plate("inner", 3):
            return pyro.sample("x", Normal(0.0, 1.0))

    plain = poutine.trace(model).get_trace()
    tr = poutine.trace(poutine.broadcast(model)).get_trace()
    assert tr.nodes["x"]["fn"].batch_shape == plain.nodes["x"]["fn"].batch_shape == (2, 3)


def test_broadcast_rejects_a_non_callable():
    with pytest.raises(ValueError, match="is not callable"):
        poutine.broadcast(2.0)


# ---------------------------------------------------------------- unwrap


def _model(x=1.0):
    return pyro.sample("a", Normal(x, 1.0))


def test_unwrap_removes_every_handler_wrapper():
    wrapped = poutine.scale(poutine.mask(poutine.block(_model), mask=True), scale=2.0)
    assert poutine.unwrap(wrapped) is _model
    assert poutine.unwrap(_model) is _model


def test_unwrap_stops_at_what_is_not_a_handler_wrapper():
    part = functools.partial(_model, 3.0)
    assert poutine.unwrap(part) is part
    assert poutine.unwrap(poutine.scale(part, scale=2.0)) is part
    traced = poutine.trace(_model)  # Pyro 1.9.2 keeps the trace handler too
    assert poutine.unwrap(traced) is traced
    msngr = poutine.scale(scale=2.0)
    assert poutine.unwrap(msngr) is msngr
    assert poutine.unwrap(3) == 3


# ---------------------------------------------------------------- validation, message types


def test_poutine_validation_switch_is_pyros_switch():
    try:
        poutine.enable_validation(False)
        assert not poutine.is_validation_enabled() and not pyro.util.is_validation_enabled()
        assert pyro.settings.get("validate_poutine") is False
        poutine.enable_validation(True)
        assert poutine.is_validation_enabled() and pyro.util.is_validation_enabled()
    finally:
        pyro.enable_validation(True)


def test_message_types_describe_the_message_keys():
    assert Message.__total__ is False and InferDict.__total__ is False
    assert set(new_message("sample", "x", None)) <= set(Message.__annotations__)
    assert set(Message.__annotations__) - set(new_message("sample", "x", None)) == {
        "obs", "log_prob", "log_prob_sum", "unscaled_log_prob", "score_parts", "packed",
        "_intervener_id",
    }
    public = {k for k in InferDict.__annotations__ if not k.startswith("_")}
    assert public == {"enumerate", "expand", "is_auxiliary", "is_observed", "num_samples", "obs",
                      "prior", "tmc", "was_observed"}
    assert typing.get_args(typing.get_type_hints(InferDict)["enumerate"]) == ("sequential", "parallel")


def test_mc_extend_draws_one_extension_by_default():
    tr = poutine.trace(lambda: None).get_trace()
    msg = new_message("sample", "k", Bernoulli(torch.tensor(0.5)))
    assert len(mc_extend(tr, msg)) == 1
    extended = mc_extend(tr, msg, num_samples=3)
    assert [sorted(t.nodes) for t in extended] == [["_INPUT", "_RETURN", "k"]] * 3
    assert {t.nodes["k"]["value"].item() for t in extended} <= {0.0, 1.0}
    values = [t.nodes["k"]["value"].item() for t in enum_extend(tr, msg)]
    assert values == [0.0, 1.0]


# ---------------------------------------------------------------- barrier, log


def test_barrier_returns_its_input_through_the_stack_and_is_not_traced():
    seen = []

    class _Spy(Messenger):
        def _pyro_barrier(self, msg):
            seen.append((msg["name"], msg["args"]))

    x = torch.randn(3)
    assert pyro.barrier(x) is x
    with poutine.trace() as tr, _Spy():
        assert pyro.barrier(x) is x
    assert len(seen) == 1 and seen[0][0] is None and seen[0][1][0] is x
    assert list(tr.trace.nodes) == []


def test_pyro_log_prints_info_records_in_pyros_format():
    log = pyro.log
    assert log is logging.getLogger("pyro") and log.level == logging.INFO and not log.propagate
    from pyro.logger import default_handler

    assert log.handlers.count(default_handler) == 1
    stream = io.StringIO()
    old = default_handler.setStream(stream)
    try:
        log.info("fitted %d steps", 3)
        log.debug("hidden")
    finally:
        default_handler.setStream(old)
    assert stream.getvalue() == "INFO \t fitted 3 steps\n"


# ---------------------------------------------------------------- pyro.util context helpers


def _messages(record):
    return [str(w.message) for w in record if not str(w.message).startswith("`torch.jit.trace`")]


def test_ignore_experimental_warning_silences_only_that_category():
    assert issubclass(pyro.util.ExperimentalWarning, UserWarning)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pyro.util.ignore_experimental_warning():
            warnings.warn("new", pyro.util.ExperimentalWarning)
            warnings.warn("other", UserWarning)
        warnings.warn("after", pyro.util.ExperimentalWarning)
    assert _messages(record) == ["other", "after"]


def _warner(filter):
    def f(x):
        with pyro.util.ignore_jit_warnings(filter):
            warnings.warn("tracer", torch.jit.TracerWarning)
            warnings.warn("foo bar", UserWarning)
            warnings.warn("baz", UserWarning)
        return x * 2

    return f


@pytest.mark.parametrize("filter, expected", [
    (None, ["foo bar", "baz"]),
    ([("foo", UserWarning)], ["tracer", "baz"]),  # a filter replaces the default
    ([("", torch.jit.TracerWarning), ("foo", UserWarning)], ["baz"]),
    ([UserWarning], ["tracer"]),
])
def test_ignore_jit_warnings_filters_while_tracing(filter, expected):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        torch.jit.trace(_warner(filter), torch.ones(2), check_trace=False)
    assert _messages(record) == expected


def test_ignore_jit_warnings_does_nothing_outside_tracing():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _warner(None)(torch.ones(1))
    assert _messages(record) == ["tracer", "foo bar", "baz"]


@pytest.mark.filterwarnings("ignore:`torch.jit.trace` is deprecated:DeprecationWarning")
def test_ignore_jit_warnings_rejects_a_bad_filter_entry():
    with pytest.raises(TypeError, match="filter entry must be a"):
        torch.jit.trace(_warner(["foo"]), torch.ones(2), check_trace=False)


def test_optional_enters_the_context_only_when_asked():
    msngr = poutine.scale(scale=2.0)
    with pyro.util.optional(msngr, False) as entered:
        assert entered is None and not poutine.am_i_wrapped()
    with poutine.trace() as tr:
        with pyro.util.optional(msngr, True) as entered:
            assert entered is msngr
            pyro.sample("x", Normal(0.0, 1.0))
    tr.trace.compute_log_prob()
    x = tr.trace.nodes["x"]
    assert torch.allclose(x["log_prob"], 2.0 * Normal(0.0, 1.0).log_prob(x["value"]))


def test_timed_measures_the_block():
    before = time.perf_counter()
    with pyro.util.timed() as t:
        time.sleep(0.02)
    after = time.perf_counter()
    assert before <= t.start <= t.end <= after
    assert t.elapsed == t.end - t.start and 0.02 <= t.elapsed <= after - before


# ---------------------------------------------------------------- pyro.generic


def test_generic_forwards_to_this_pyro():
    with pytest.warns(DeprecationWarning, match="pyro.generic has moved to the pyroapi package"):
        generic = importlib.reload(importlib.import_module("pyro.generic"))
    from pyroapi import pyro_backend

    with pyro_backend("pyro"):
        assert generic.pyro.sample is pyro.sample and generic.handlers.trace is poutine.trace
        assert generic.ops.exp is torch.exp

        def model():
            with generic.pyro.plate("n", 2):
                return generic.pyro.sample("x", Normal(0.0, 1.0))

        tr = generic.handlers.trace(model).get_trace()
    assert tr.nodes["x"]["value"].shape == (2,)
