"""Each core handler, with the values and trace contents it must produce."""

import math
import queue as queue_module

import pytest
import torch
from torch.distributions import Bernoulli, Categorical, Normal

import pyro
import pyro.poutine as poutine
from pyro.poutine.runtime import _PYRO_STACK
from pyro.poutine.util import NonlocalExit, all_escape, discrete_escape, enum_extend, mc_extend


def normal_lp(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)


def chain():
    a = pyro.sample("a", Normal(0.0, 1.0))
    b = pyro.sample("b", Normal(a, 1.0))
    c = pyro.sample("c", Normal(b, 1.0), obs=torch.tensor(0.5))
    return a, b, c


# ----- trace -----------------------------------------------------------------------------


def test_trace_records_sites_in_order_with_inputs_and_return():
    tr = poutine.trace(chain).get_trace()
    assert list(tr.nodes) == ["_INPUT", "a", "b", "c", "_RETURN"]
    assert tr.nodes["_INPUT"]["type"] == "args" and tr.nodes["_INPUT"]["args"] == ()
    assert tr.nodes["_RETURN"]["type"] == "return"
    a, b, c = tr.nodes["_RETURN"]["value"]
    assert tr.nodes["a"]["value"] is a and tr.nodes["b"]["value"] is b
    assert tr.nodes["c"]["is_observed"] and tr.nodes["c"]["value"].item() == 0.5
    assert not tr.nodes["a"]["is_observed"]
    assert tr.nodes["b"]["fn"].loc is a


def test_trace_records_args_and_kwargs():
    def f(x, y=2):
        return pyro.sample("z", Normal(x, y))

    tr = poutine.trace(f).get_trace(1.0, y=3.0)
    assert tr.nodes["_INPUT"]["args"] == (1.0,) and tr.nodes["_INPUT"]["kwargs"] == {"y": 3.0}


def test_trace_context_manager_records_without_input_return():
    with poutine.trace() as tracer:
        chain()
    assert list(tracer.trace.nodes) == ["a", "b", "c"]
    assert tracer.get_trace() is tracer.trace


def test_each_run_gives_a_fresh_trace():
    traced = poutine.trace(chain)
    t1 = traced.get_trace()
    t2 = traced.get_trace()
    assert t1 is not t2
    assert t1.nodes["a"]["value"] != t2.nodes["a"]["value"]


def test_duplicate_sample_site_names_raise():
    def dup():
        pyro.sample("x", Normal(0.0, 1.0))
        pyro.sample("x", Normal(0.0, 1.0))

    with pytest.raises(RuntimeError, match="Multiple sample sites named 'x'"):
        poutine.trace(dup).get_trace()
    assert _PYRO_STACK == []


def test_param_read_twice_is_recorded_once_and_param_only():
    def f():
        p = pyro.param("p", torch.tensor(2.0))
        pyro.param("p")
        return pyro.sample("x", Normal(p, 1.0))

    tr = poutine.trace(f).get_trace()
    assert list(tr.nodes) == ["_INPUT", "p", "x", "_RETURN"]
    assert tr.nodes["p"]["type"] == "param" and tr.nodes["p"]["value"].item() == 2.0
    tr = poutine.trace(f, param_only=True).get_trace()
    assert [n for n in tr.nodes if not n.startswith("_")] == ["p"]


def test_trace_rejects_unknown_graph_type():
    with pytest.raises(ValueError):
        poutine.trace(chain, graph_type="sparse")


def test_trace_error_message_includes_shapes():
    def bad():
        pyro.sample("x", Normal(torch.zeros(2), 1.0))
        raise ValueError("shape trouble")

    with pytest.raises(ValueError, match="shape trouble") as info:
        poutine.trace(bad).get_trace()
    assert "x dist" in str(info.value)


# ----- replay ----------------------------------------------------------------------------


def test_replay_reuses_values_and_infer_but_not_observations():
    guide_tr = poutine.trace(chain).get_trace()
    guide_tr.nodes["a"]["infer"] = {"tag": 1}
    tr = poutine.trace(poutine.replay(chain, trace=guide_tr)).get_trace()
    assert tr.nodes["a"]["value"] is guide_tr.nodes["a"]["value"]
    assert tr.nodes["b"]["value"] is guide_tr.nodes["b"]["value"]
    assert tr.nodes["a"]["infer"] == {"tag": 1}
    assert tr.nodes["c"]["value"].item() == 0.5
    # the model's own distributions are kept
    assert tr.nodes["b"]["fn"].loc is tr.nodes["a"]["value"]


def test_replay_of_partial_trace_samples_the_rest():
    partial = poutine.trace(lambda: pyro.sample("a", Normal(0.0, 1.0))).get_trace()
    tr = poutine.trace(poutine.replay(chain, trace=partial)).get_trace()
    assert tr.nodes["a"]["value"] is partial.nodes["a"]["value"]
    assert tr.nodes["b"]["value"] is not None


def test_replay_params():
    def f():
        return pyro.param("p", torch.tensor(1.0)) * 2

    assert poutine.replay(f, params={"p": torch.tensor(5.0)})().item() == 10.0
    assert f().item() == 2.0


def test_replay_needs_something_and_checks_site_types():
    with pytest.raises(ValueError):
        poutine.replay(chain)
    observed = poutine.trace(lambda: pyro.sample("a", Normal(0.0, 1.0), obs=torch.tensor(0.0))).get_trace()
    with pytest.raises(RuntimeError, match="'a'"):
        poutine.replay(chain, trace=observed)()


# ----- condition, do, uncondition ----------------------------------------------------------


def test_condition_observes_sites_and_log_prob_matches():
    data = {"a": torch.tensor(0.3), "b": torch.tensor(-0.2)}
    tr = poutine.trace(poutine.condition(chain, data=data)).get_trace()
    assert tr.nodes["a"]["is_observed"] and tr.nodes["b"]["is_observed"]
    assert tr.nodes["a"]["value"].item() == pytest.approx(0.3)
    expected = normal_lp(0.3, 0.0, 1.0) + normal_lp(-0.2, 0.3, 1.0) + normal_lp(0.5, -0.2, 1.0)
    assert tr.log_prob_sum().item() == pytest.approx(expected, abs=1e-6)


def test_condition_on_a_trace():
    source = poutine.trace(chain).get_trace()
    tr = poutine.trace(poutine.condition(chain, data=source)).get_trace()
    assert tr.nodes["a"]["value"] is source.nodes["a"]["value"]
    assert tr.nodes["a"]["is_observed"]


def test_condition_overrides_obs_and_inner_condition_wins():
    inner = poutine.condition(chain, data={"a": torch.tensor(1.0)})
    outer = poutine.condition(inner, data={"a": torch.tensor(2.0), "c": torch.tensor(9.0)})
    a, _, c = outer()
    # the innermost handler sets the value first; the outer one overwrites it afterwards
    assert a.item() == 2.0 and c.item() == 9.0


def test_condition_rejects_non_mapping():
    with pytest.raises(TypeError):
        poutine.condition(chain, data=3)


def test_do_intervenes_downstream_and_keeps_original_site():
    def model():
        x = pyro.sample("x", Normal(0.0, 1.0))
        y = pyro.sample("y", Normal(10 * x, 0.001))
        return x, y

    intervened = poutine.do(model, data={"x": torch.tensor(1.0)})
    tr = poutine.trace(intervened).get_trace()
    x, y = tr.nodes["_RETURN"]["value"]
    assert x.item() == 1.0
    assert y.item() == pytest.approx(10.0, abs=0.01)
    # the original site is still sampled (not observed) under its own name
    assert not tr.nodes["x"]["is_observed"]
    assert tr.nodes["x"]["value"].item() != 1.0
    assert "x__CF" not in tr.nodes  # hidden from handlers outside do
    with poutine.trace() as inner:
        intervened_inside = poutine.do(data={"x": torch.tensor(1.0)})
        with intervened_inside:
            with poutine.trace() as innermost:
                model()
    assert innermost.trace.nodes["x__CF"]["value"].item() == 1.0
    assert innermost.trace.nodes["x__CF"]["is_observed"]
    assert "x" in inner.trace.nodes


def test_do_rejects_non_tensor_intervention():
    with pytest.raises(TypeError):
        poutine.do(chain, data={"a": "text"})()


def test_uncondition_samples_observed_sites():
    tr = poutine.trace(poutine.uncondition(chain)).get_trace()
    c = tr.nodes["c"]
    assert not c["is_observed"]
    assert c["infer"]["was_observed"] is True and c["infer"]["obs"].item() == 0.5
    assert c["value"].item() != 0.5


# ----- block ------------------------------------------------------------------------------


def test_block_hides_everything_by_default():
    tr = poutine.trace(poutine.block(chain)).get_trace()
    assert list(tr.nodes) == ["_INPUT", "_RETURN"]


# ----- escape -----------------------------------------------------------------------------


def test_escape_raises_nonlocal_exit_at_chosen_site():
    escaped = poutine.escape(chain, escape_fn=lambda msg: msg["name"] == "b")
    tracer = poutine.trace(escaped)
    with pytest.raises(NonlocalExit) as info:
        tracer()
    assert info.value.site["name"] == "b"
    assert list(tracer.trace.nodes) == ["_INPUT", "a"]
    assert _PYRO_STACK == []


def test_nonlocal_exit_reset_stack_resets_handlers():
    resets = []

    class Resettable(poutine.Messenger):
        def _reset(self):
            resets.append(self)

    outer, inner = Resettable(), Resettable()
    with outer, inner:
        exit_ = NonlocalExit({"name": "x", "type": "sample"})
        exit_.reset_stack()
    assert resets == [inner, outer]


def test_escape_predicates():
    tr = poutine.trace(lambda: pyro.sample("k", Bernoulli(0.5))).get_trace()
    msg_new = {"type": "sample", "name": "z", "is_observed": False, "fn": Bernoulli(0.5)}
    msg_known = dict(msg_new, name="k")
    msg_cont = dict(msg_new, fn=Normal(0.0, 1.0))
    assert discrete_escape(tr, msg_new) and not discrete_escape(tr, msg_known)
    assert not discrete_escape(tr, msg_cont)
    assert all_escape(tr, msg_cont) and not all_escape(tr, msg_known)


def test_enum_and_mc_extend():
    tr = poutine.trace(lambda: None).get_trace()
    msg = {"type": "sample", "name": "k", "fn": Categorical(torch.tensor([0.2, 0.3, 0.5])),
           "args": (), "kwargs": {}, "value": None, "is_observed": False}
    extended = enum_extend(tr, msg)
    assert [t.nodes["k"]["value"].item() for t in extended] == [0, 1, 2]
    assert "k" not in tr
    sampled = mc_extend(tr, msg, num_samples=4)
    assert len(sampled) == 4 and all(t.nodes["k"]["value"].item() in (0, 1, 2) for t in sampled)


# ----- queue ------------------------------------------------------------------------------


def two_coins():
    a = pyro.sample("a", Bernoulli(0.5))
    b = pyro.sample("b", Bernoulli(0.5))
    return int(a.item()), int(b.item())


def test_queue_enumerates_every_execution():
    q = queue_module.LifoQueue()
    q.put(poutine.Trace())
    enumerated = poutine.queue(two_coins, queue=q)
    results = []
    while not q.empty():
        results.append(enumerated())
    assert sorted(results) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert _PYRO_STACK == []


def test_queue_raises_when_max_tries_exceeded():
    q = queue_module.Queue()
    q.put(poutine.Trace())
    with pytest.raises(ValueError, match="max_tries"):
        poutine.queue(two_coins, queue=q, max_tries=1)()


# ----- lift -------------------------------------------------------------------------------


def param_model():
    w = pyro.param("w", torch.tensor(2.0))
    w_again = pyro.param("w")
    return w, w_again


def test_lift_turns_params_into_samples_with_one_draw_per_name():
    lifted = poutine.lift(param_model, prior=Normal(10.0, 0.5))
    tr = poutine.trace(lifted).get_trace()
    site = tr.nodes["w"]
    assert site["type"] == "sample" and not site["is_observed"]
    w, w_again = tr.nodes["_RETURN"]["value"]
    assert w is w_again or w.item() == w_again.item()
    assert abs(w.item() - 10.0) < 3.0
    assert tr.log_prob_sum().item() == pytest.approx(normal_lp(w.item(), 10.0, 0.5), abs=1e-5)


def test_lift_with_dict_prior_only_lifts_named_params():
    def f():
        return pyro.param("a", torch.tensor(1.0)), pyro.param("b", torch.tensor(2.0))

    tr = poutine.trace(poutine.lift(f, prior={"a": Normal(-5.0, 0.01)})).get_trace()
    assert tr.nodes["a"]["type"] == "sample" and tr.nodes["b"]["type"] == "param"
    assert tr.nodes["b"]["value"].item() == 2.0
    assert tr.nodes["a"]["value"].item() == pytest.approx(-5.0, abs=0.1)


def test_lift_uses_user_names_of_module_params():
    net = torch.nn.Linear(2, 1)
    prior = {"weight": Normal(torch.zeros(1, 2), 1.0), "bias": Normal(torch.zeros(1), 1.0)}
    tr = poutine.trace(poutine.lift(lambda: pyro.module("net", net), prior=prior)).get_trace()
    assert tr.nodes["net$$$weight"]["type"] == "sample"
    assert tr.nodes["net$$$bias"]["type"] == "sample"


# ----- scale and mask ---------------------------------------------------------------------


def test_scale_multiplies_log_prob_and_composes():
    x = torch.tensor(0.4)
    f = poutine.condition(lambda: pyro.sample("x", Normal(0.0, 1.0)), data={"x": x})
    tr = poutine.trace(poutine.scale(poutine.scale(f, scale=2.0), scale=3.0)).get_trace()
    assert tr.nodes["x"]["scale"] == 6.0
    assert tr.log_prob_sum().item() == pytest.approx(6 * normal_lp(0.4, 0.0, 1.0), abs=1e-6)


@pytest.mark.parametrize("bad", [0.0, -1.0, torch.tensor(-2.0)])
def test_scale_must_be_positive(bad):
    with pytest.raises(ValueError, match="positive"):
        poutine.scale(scale=bad)


def test_mask_zeros_masked_entries_and_ands_masks():
    x = torch.tensor([0.1, 0.2, 0.3])

    def f():
        with poutine.mask(mask=torch.tensor([True, True, False])):
            return pyro.sample("x", Normal(torch.zeros(3), 1.0), obs=x)

    tr = poutine.trace(poutine.mask(f, mask=torch.tensor([True, False, True]))).get_trace()
    assert tr.nodes["x"]["mask"].tolist() == [True, False, False]
    tr.compute_log_prob()
    assert tr.nodes["x"]["log_prob"].tolist() == pytest.approx([normal_lp(0.1, 0, 1), 0.0, 0.0], abs=1e-6)
    assert tr.log_prob_sum().item() == pytest.approx(normal_lp(0.1, 0, 1), abs=1e-6)


def test_mask_false_and_bad_types():
    f = lambda: pyro.sample("x", Normal(0.0, 1.0), obs=torch.tensor(1.0))  # noqa: E731
    assert poutine.trace(poutine.mask(f, mask=False)).get_trace().log_prob_sum().item() == 0.0
    with pytest.raises(ValueError):
        poutine.mask(mask=torch.tensor([1, 0]))
    with pytest.raises(TypeError):
        poutine.mask(mask=1)


# ----- seed -------------------------------------------------------------------------------


def test_seed_is_reproducible_and_restores_rng_state():
    f = lambda: pyro.sample("x", Normal(0.0, 1.0))  # noqa: E731
    before = torch.get_rng_state()
    v1 = poutine.seed(f, rng_seed=7)()
    assert torch.equal(torch.get_rng_state(), before)
    v2 = poutine.seed(f, rng_seed=7)()
    torch.manual_seed(7)
    assert v1.item() == v2.item() == torch.randn(()).item()
    with pytest.raises(TypeError):
        poutine.seed(rng_seed=1.5)


# ----- substitute -------------------------------------------------------------------------


def test_substitute_replaces_params_only():
    def f():
        p = pyro.param("p", torch.tensor(1.0))
        return p, pyro.sample("x", Normal(0.0, 1.0), obs=torch.tensor(0.0))

    with pytest.warns(UserWarning, match="did not find params"):  # "x" is a sample site
        tr = poutine.trace(poutine.substitute(f, data={"p": torch.tensor(7.0), "x": torch.tensor(3.0)})).get_trace()
    assert tr.nodes["p"]["value"].item() == 7.0
    assert tr.nodes["x"]["value"].item() == 0.0
    assert "p" not in pyro.get_param_store()  # the substituted param never reached the store


def test_substitute_matches_module_params_by_user_name():
    net = torch.nn.Linear(1, 1)

    def f():
        return pyro.param("net$$$bias", torch.tensor([0.5]))

    assert poutine.substitute(f, data={"bias": torch.tensor([4.0])})().tolist() == [4.0]
    del net


# ----- infer_config -----------------------------------------------------------------------


def test_infer_config_updates_sample_and_param_sites():
    def f():
        pyro.param("p", torch.tensor(1.0))
        pyro.sample("x", Normal(0.0, 1.0), infer={"keep": 1})

    config = lambda msg: {"seen": msg["name"]}  # noqa: E731
    tr = poutine.trace(poutine.infer_config(f, config_fn=config)).get_trace()
    assert tr.nodes["x"]["infer"] == {"keep": 1, "seen": "x"}
    assert tr.nodes["p"]["infer"] == {"seen": "p"}


def test_sample_copies_user_infer_dict():
    user_infer = {"enumerate": "parallel"}
    f = lambda: pyro.sample("x", Bernoulli(0.5), infer=user_infer)  # noqa: E731
    poutine.trace(poutine.infer_config(f, config_fn=lambda m: {"x": 1})).get_trace()
    assert user_infer == {"enumerate": "parallel"}


# ----- markov -----------------------------------------------------------------------------


def hmm(T, history=1):
    z = torch.tensor(0.0)
    for t in pyro.markov(range(T), history=history):
        z = pyro.sample(f"z_{t}", Normal(z, 1.0))
    return z


@pytest.mark.parametrize("history", [1, 2])
def test_markov_scope_holds_previous_steps(history):
    tr = poutine.trace(hmm).get_trace(4, history)
    scopes = {t: set(tr.nodes[f"z_{t}"]["infer"]["_markov_scope"]) for t in range(4)}
    for t in range(4):
        assert scopes[t] == {f"z_{s}" for s in range(max(0, t - history), t)}


def test_markov_context_decorator_and_keep():
    @pyro.markov
    def step(t):
        return pyro.sample(f"x_{t}", Normal(0.0, 1.0))

    tr = poutine.trace(lambda: [step(t) for t in range(3)]).get_trace()
    assert list(tr.nodes)[1:4] == ["x_0", "x_1", "x_2"]
    with pytest.raises(ValueError):
        pyro.markov(history=-1)
    with pytest.raises(ValueError):
        pyro.markov(dim=0)


def test_markov_leaves_values_unchanged():
    pyro.set_rng_seed(3)
    plain = []
    z = torch.tensor(0.0)
    for t in range(3):
        z = torch.distributions.Normal(z, 1.0).sample()
        plain.append(z.item())
    pyro.set_rng_seed(3)
    tr = poutine.trace(hmm).get_trace(3)
    assert [tr.nodes[f"z_{t}"]["value"].item() for t in range(3)] == plain


# ----- 0.1 class aliases ------------------------------------------------------------------


def test_poutine_class_aliases_warn_once_and_behave():
    import pyro.util

    for key in ("TracePoutine", "ConditionPoutine", "BlockPoutine", "ReplayPoutine", "ScalePoutine",
                "LiftPoutine", "EscapePoutine", "IndepPoutine", "Poutine"):
        pyro.util._WARNED.discard(key)
    with pytest.warns(FutureWarning, match="TracePoutine is deprecated"):
        tr = poutine.TracePoutine(chain).get_trace()
    assert list(tr.nodes) == ["_INPUT", "a", "b", "c", "_RETURN"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        poutine.TracePoutine(chain).get_trace()  # second use: silent
    with pytest.warns(FutureWarning):
        conditioned = poutine.ConditionPoutine(chain, data={"a": torch.tensor(1.0)})
    assert conditioned()[0].item() == 1.0
    with pytest.warns(FutureWarning):
        blocked = poutine.BlockPoutine(chain, hide=["a"])
    assert list(poutine.trace(blocked).get_trace().nodes) == ["_INPUT", "b", "c", "_RETURN"]
    with pytest.warns(FutureWarning):
        scaled = poutine.ScalePoutine(chain, scale=2.0)
    assert poutine.trace(scaled).get_trace().nodes["a"]["scale"] == 2.0
    with pytest.warns(FutureWarning):
        lifted = poutine.LiftPoutine(param_model, prior=Normal(0.0, 1.0))
    assert poutine.trace(lifted).get_trace().nodes["w"]["type"] == "sample"
    with pytest.warns(FutureWarning):
        escaped = poutine.EscapePoutine(chain, escape_fn=lambda m: True)
    with pytest.raises(NonlocalExit):
        escaped()
    guide_tr = poutine.trace(chain).get_trace()
    with pytest.warns(FutureWarning):
        replayed = poutine.ReplayPoutine(chain, guide_tr, sites=["a"])
    tr = poutine.trace(replayed).get_trace()
    assert tr.nodes["a"]["value"] is guide_tr.nodes["a"]["value"]
    assert tr.nodes["b"]["value"] is not guide_tr.nodes["b"]["value"]
    renamed = poutine.ReplayPoutine(lambda: pyro.sample("m", Normal(0.0, 1.0)), guide_tr, sites={"m": "b"})
    assert renamed().item() == guide_tr.nodes["b"]["value"].item()
    with pytest.warns(FutureWarning):
        indep = poutine.IndepPoutine(chain, "data", vectorized=False)
    tr = poutine.trace(indep).get_trace()
    frame = tr.nodes["a"]["cond_indep_stack"][0]
    assert frame.name == "data" and frame.dim is None
