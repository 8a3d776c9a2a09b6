"""The message protocol of ``apply_stack`` and the Messenger base class."""

import pytest
import torch
from torch.distributions import Normal

import pyro
import pyro.poutine as poutine
from pyro.poutine.messenger import Messenger, ReentrantMessenger
from pyro.poutine.runtime import _PYRO_STACK, am_i_wrapped, apply_stack, effectful, new_message

MESSAGE_KEYS = {
    "type", "name", "fn", "args", "kwargs", "value", "is_observed", "scale", "mask",
    "cond_indep_stack", "infer", "done", "stop", "continuation",
}


class Recorder(Messenger):
    """Appends ``(label, phase, msg name)`` to a shared log on every sample site."""

    def __init__(self, label, log, stop=False, value=None):
        super().__init__()
        self.label = label
        self.log = log
        self.stop = stop
        self.value = value

    def _pyro_sample(self, msg):
        self.log.append((self.label, "process", msg["name"]))
        if self.value is not None:
            msg["value"] = self.value
        if self.stop:
            msg["stop"] = True

    def _pyro_post_sample(self, msg):
        self.log.append((self.label, "post", msg["name"], float(msg["value"])))


def test_new_message_has_pyro_keys_and_defaults():
    msg = new_message("sample", "x", Normal(0.0, 1.0), (), {})
    assert set(msg) == MESSAGE_KEYS
    assert msg["scale"] == 1.0 and msg["mask"] is None and msg["cond_indep_stack"] == ()
    assert msg["done"] is False and msg["stop"] is False and msg["continuation"] is None
    assert msg["infer"] == {} and msg["kwargs"] == {}


def test_trace_sites_are_plain_dicts_with_pyro_keys():
    tr = poutine.trace(lambda: pyro.sample("x", Normal(0.0, 1.0))).get_trace()
    site = tr.nodes["x"]
    assert type(site) is dict
    assert MESSAGE_KEYS <= set(site)


def test_innermost_processes_first_outermost_postprocesses_first():
    log = []
    with Recorder("outer", log), Recorder("middle", log), Recorder("inner", log):
        pyro.sample("x", Normal(0.0, 1.0), obs=torch.tensor(2.0))
    assert log == [
        ("inner", "process", "x"),
        ("middle", "process", "x"),
        ("outer", "process", "x"),
        ("outer", "post", "x", 2.0),
        ("middle", "post", "x", 2.0),
        ("inner", "post", "x", 2.0),
    ]


def test_stop_hides_message_from_outer_handlers_and_their_postprocessing():
    log = []
    with Recorder("outer", log), Recorder("middle", log, stop=True), Recorder("inner", log):
        pyro.sample("x", Normal(0.0, 1.0), obs=torch.tensor(1.5))
    assert log == [
        ("inner", "process", "x"),
        ("middle", "process", "x"),
        ("middle", "post", "x", 1.5),
        ("inner", "post", "x", 1.5),
    ]


def test_value_set_by_handler_is_not_resampled():
    log = []
    with Recorder("only", log, value=torch.tensor(3.25)):
        x = pyro.sample("x", Normal(0.0, 1.0))
    assert x.item() == 3.25
    assert log[-1] == ("only", "post", "x", 3.25)


def test_default_process_draws_from_fn_with_args_and_kwargs():
    class Spy(Messenger):
        pass

    calls = []

    def fn(a, b=0):
        calls.append((a, b))
        return torch.tensor(float(a + b))

    with Spy():
        value = pyro.sample("s", fn, 2, b=5)
    assert value.item() == 7.0 and calls == [(2, 5)]


def test_continuation_runs_after_postprocessing():
    order = []

    class WithContinuation(Messenger):
        def _pyro_sample(self, msg):
            msg["continuation"] = lambda m: order.append(("continuation", m["done"]))

        def _pyro_post_sample(self, msg):
            order.append(("post", msg["done"]))

    with WithContinuation():
        pyro.sample("x", Normal(0.0, 1.0))
    assert order == [("post", True), ("continuation", True)]


def test_apply_stack_without_handlers_fills_value():
    msg = new_message("sample", "x", lambda: torch.tensor(4.0))
    apply_stack(msg)
    assert msg["value"].item() == 4.0 and msg["done"] is True


def test_effectful_goes_through_handlers_only_when_wrapped():
    seen = []

    class See(Messenger):
        def _pyro_custom(self, msg):
            seen.append((msg["name"], msg["args"]))

    double = effectful(lambda x: 2 * x, type="custom")
    assert double(3) == 6 and seen == []
    with See():
        assert double(4, name="d") == 8
    assert seen == [("d", (4,))]


def test_am_i_wrapped():
    assert not am_i_wrapped()
    with poutine.trace():
        assert am_i_wrapped()
    assert not am_i_wrapped()


def test_register_attaches_site_handler():
    class Doubler(Messenger):
        pass

    @Doubler.register(type="sample", post=True)
    def _double(self, msg):
        msg["value"] = msg["value"] * 2

    with Doubler():
        assert pyro.sample("x", Normal(0.0, 1.0), obs=torch.tensor(1.5)).item() == 3.0
    with pytest.raises(ValueError):
        Doubler.register(lambda self, msg: None)


# ----- Messenger as context manager, decorator and handler function ------------------------


def model():
    return pyro.sample("x", Normal(0.0, 1.0))


def test_handler_function_forms_agree():
    data = {"x": torch.tensor(0.75)}
    wrapped = poutine.condition(model, data=data)
    assert wrapped().item() == 0.75
    with poutine.condition(data=data):
        assert model().item() == 0.75
    decorated = poutine.condition(data=data)(model)
    assert decorated().item() == 0.75
    msngr = poutine.condition(data=data)
    assert isinstance(msngr, Messenger)
    assert wrapped.msngr.data is data


def test_messenger_pushes_and_pops_itself():
    msngr = poutine.scale(scale=2.0)
    assert msngr not in _PYRO_STACK
    with msngr as entered:
        assert entered is msngr
        assert _PYRO_STACK[-1] is msngr
    assert msngr not in _PYRO_STACK and _PYRO_STACK == []


def test_messenger_cannot_be_entered_twice():
    msngr = poutine.scale(scale=2.0)
    with msngr:
        with pytest.raises(ValueError, match="already active"):
            msngr.__enter__()
    assert _PYRO_STACK == []


def test_exit_is_exception_safe_and_pops_inner_handlers():
    outer = poutine.trace()
    inner = poutine.scale(scale=3.0)
    with pytest.raises(RuntimeError, match="boom"):
        with outer:
            inner.__enter__()  # left open on purpose: the exception unwinds past it
            raise RuntimeError("boom")
    assert _PYRO_STACK == []


def test_decorated_function_raising_leaves_stack_clean():
    @poutine.scale(scale=2.0)
    def bad():
        pyro.sample("x", Normal(0.0, 1.0))
        raise KeyError("k")

    with pytest.raises(KeyError):
        poutine.trace(bad)()
    assert _PYRO_STACK == []


def test_wrapping_a_non_callable_is_an_error():
    with pytest.raises(ValueError):
        poutine.scale(scale=2.0)(3)


def test_reentrant_messenger_counts_entries():
    msngr = ReentrantMessenger()
    with msngr:
        with msngr:
            assert _PYRO_STACK.count(msngr) == 1
        assert _PYRO_STACK == [msngr]
    assert _PYRO_STACK == []


def test_register_after_use_and_static_or_class_method_handlers():
    class Tagger(poutine.Messenger):
        seen = []

        @staticmethod
        def _pyro_sample(msg):
            Tagger.seen.append(("static", msg["name"]))

        @classmethod
        def _pyro_post_sample(cls, msg):
            cls.seen.append(("class", msg["name"]))

    def model():
        pyro.sample("a", torch.distributions.Normal(0.0, 1.0))

    with Tagger():
        model()
    assert Tagger.seen == [("static", "a"), ("class", "a")]

    # a handler added to a class that has already dispatched must be seen from then on
    values = []
    Tagger.register(lambda self, msg: values.append(msg["value"]), type="param", post=True)
    with Tagger():
        v = pyro.param("p", torch.tensor(2.5))
    assert values == [v] and v.item() == 2.5


def test_util_torch_float_and_jit_iter():
    from pyro.util import jit_iter, torch_float

    assert torch_float(3) == 3.0 and isinstance(torch_float(3), float)
    t = torch_float(torch.tensor([1, 2]))
    assert t.dtype == torch.float32 and t.tolist() == [1.0, 2.0]
    parts = jit_iter(torch.arange(6.0).reshape(3, 2))
    assert isinstance(parts, list) and len(parts) == 3 and parts[2].tolist() == [4.0, 5.0]
