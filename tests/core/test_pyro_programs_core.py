"""Behaviour of small Pyro programs (traces, handlers, params) that differed from Pyro 1.9.2.

Each expected value below was read from running the same program under pyro-ppl 1.9.2 (with
``pyro.distributions``; here the equivalent ``torch.distributions`` are used, so that the test
needs pyro-core only).
"""

import warnings

import pytest
import torch
from torch.distributions import Independent, MultivariateNormal, Normal

import pyro
import pyro.poutine as poutine
from pyro.poutine.runtime import am_i_wrapped, get_plates

# Trace.format_shapes() of _shapes_model, as Pyro 1.9.2 prints it (trailing spaces included).
PYRO_SHAPES = [
    "Trace Shapes:             ",
    " Param Sites:             ",
    "            w     3  2    ",
    "            s             ",
    "          big 10 11 12    ",
    "Sample Sites:             ",
    "   outer dist        |    ",
    "        value     3  |    ",
    "   inner dist        |    ",
    "        value     2  |    ",
    "       z dist  3  2  |    ",
    "        value  3  2  |    ",
    "      zz dist  3  2  | 3 2",
    "        value        | 3 2",
    "       f dist        | 0  ",
    "        value        | 0  ",
    "     vec dist        |    ",
    "        value     4  |    ",
    "       e dist     4  | 2  ",
    "        value     4  | 2  ",
    "       m dist        | 2  ",
    "        value     5  | 2  ",
    "       o dist        |    ",
    "        value     7  |    ",
]


def _shapes_model():
    pyro.param("w", torch.ones(3, 2))
    pyro.param("s", torch.tensor(2.0))
    pyro.param("big", torch.ones(10, 11, 12))
    with pyro.plate("outer", 3, dim=-2):
        with pyro.plate("inner", 2, dim=-1):
            z = pyro.sample("z", Normal(0.0, 1.0))
            pyro.deterministic("zz", z * 2)
    pyro.factor("f", torch.tensor(-0.5))
    with pyro.plate("vec", 40, subsample_size=4):
        pyro.sample("e", Independent(Normal(torch.zeros(4, 2), 1.0), 1))
    pyro.sample("m", MultivariateNormal(torch.zeros(2), torch.eye(2)), sample_shape=(5,))
    pyro.sample("o", Normal(0.0, 1.0), obs=torch.ones(7))


def _nested_event_model():
    pyro.sample("a_very_long_site_name", Independent(Normal(torch.zeros(12), 1.0), 1))
    with pyro.plate("p", 100, dim=-3):
        pyro.sample("b", Independent(Normal(torch.zeros(1, 1, 11, 3), 1.0), 2))


def test_format_shapes_matches_pyro_table():
    tr = poutine.trace(_shapes_model).get_trace()
    assert tr.format_shapes().split("\n") == PYRO_SHAPES


def test_format_shapes_log_prob_rows_last_site_and_title():
    tr = poutine.trace(_nested_event_model).get_trace()
    tr.compute_log_prob()
    # Pyro 1.9.2's table for the same sites (after compute_log_prob, last_site="b")
    assert tr.format_shapes(last_site="b").split("\n") == [
        "             Trace Shapes:                 ",
        "              Param Sites:                 ",
        "             Sample Sites:                 ",
        "a_very_long_site_name dist           | 12  ",
        "                     value           | 12  ",
        "                  log_prob           |     ",
        "                    p dist           |     ",
        "                     value       100 |     ",
        "                  log_prob           |     ",
        "                    b dist 100 1   1 | 11 3",
        "                     value 100 1   1 | 11 3",
        "                  log_prob 100 1   1 |     ",
    ]
    # the title is right-justified in the name column, like every label (Pyro 1.9.2)
    assert tr.format_shapes(title="Hi").split("\n")[0] == "Hi".rjust(26) + " " * 17


def test_format_shapes_of_small_traces():
    empty = poutine.trace(lambda: None).get_trace()
    assert empty.format_shapes() == "Trace Shapes:\n Param Sites:\nSample Sites:"
    one = poutine.trace(lambda: pyro.param("a", torch.ones(2))).get_trace()
    assert one.format_shapes() == "Trace Shapes:  \n Param Sites:  \n            a 2\nSample Sites:  "

    def plate_only():
        with pyro.plate("z", 3):
            pyro.sample("x", Normal(0.0, 1.0))

    tr = poutine.trace(plate_only).get_trace()
    assert tr.format_shapes(last_site="z") == (
        "Trace Shapes:    \n Param Sites:    \nSample Sites:    \n       z dist   |\n        value 3 |"
    )


def test_stochastic_node_views_include_subsample_sites():
    def model():
        mu = pyro.sample("mu", Normal(0.0, 10.0))
        with pyro.plate("outer", 3, dim=-2), pyro.plate("inner", 2, dim=-1):
            pyro.sample("z", Normal(mu, 1.0))
            pyro.sample("x", Normal(0.0, 1.0), obs=torch.zeros(3, 2))

    tr = poutine.trace(model).get_trace()
    # Pyro 1.9.2: subsample sites are unobserved sample sites (prune_subsample_sites drops them)
    assert tr.stochastic_nodes == ["mu", "outer", "inner", "z"]
    assert [name for name, _ in tr.iter_stochastic_nodes()] == ["mu", "outer", "inner", "z"]
    assert sorted(tr.nonreparam_stochastic_nodes) == ["inner", "outer"]
    assert tr.reparameterized_nodes == ["mu", "z"]
    assert tr.observation_nodes == ["x"]
    pruned = poutine.util.prune_subsample_sites(tr)
    assert pruned.stochastic_nodes == ["mu", "z"]


def test_seed_is_not_on_the_handler_stack():
    def model():
        return pyro.sample("o", Normal(0.0, 1.0), obs=torch.tensor(1.0))

    with poutine.seed(rng_seed=3):
        assert not am_i_wrapped()
        a = torch.rand(2)
    with poutine.seed(rng_seed=3):
        assert torch.equal(torch.rand(2), a)
    # as in Pyro, observing under seed alone is "outside of inference"
    with pytest.warns(RuntimeWarning, match="trying to observe a value outside of inference at o"):
        poutine.seed(model, rng_seed=0)()
    with poutine.trace() as t, poutine.seed(rng_seed=0):
        draw = pyro.sample("x", Normal(0.0, 1.0))
    assert t.trace.nodes["x"]["value"] is draw
    pyro.set_rng_seed(5)
    before = torch.rand(1)
    pyro.set_rng_seed(5)
    with poutine.seed(rng_seed=1):
        torch.rand(3)
    assert torch.equal(torch.rand(1), before)  # the outer state is restored


def test_deprecated_param_store_methods_warn():
    store = pyro.get_param_store()
    store.clear()
    pyro.param("a", torch.tensor([1.0, 2.0]))
    with pytest.warns(DeprecationWarning, match=r"get_all_param_names\(\) is deprecated; use \.keys\(\)"):
        assert list(store.get_all_param_names()) == ["a"]
    with pytest.warns(DeprecationWarning, match=r"replace_param\(\) is deprecated; use \.__setitem__\(\)"):
        store.replace_param("a", torch.tensor([3.0, 4.0]), pyro.param("a"))
    assert pyro.param("a").tolist() == [3.0, 4.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(store.keys()) == ["a"]
    store.clear()


def test_markov_depth_counts_enclosing_markov_contexts():
    def model():
        for t in pyro.markov(range(2)):
            pyro.sample(f"x_{t}", Normal(0.0, 1.0))
            for u in pyro.markov(range(2), history=2):
                pyro.sample(f"y_{t}_{u}", Normal(0.0, 1.0))
        with pyro.markov():
            with pyro.markov():
                pyro.sample("z", Normal(0.0, 1.0))
        pyro.sample("w", Normal(0.0, 1.0))

    tr = poutine.trace(model).get_trace()
    depth = {n: s["infer"].get("_markov_depth") for n, s in tr.nodes.items() if s["type"] == "sample"}
    # Pyro 1.9.2's values
    assert depth == {"x_0": 1, "y_0_0": 2, "y_0_1": 2, "x_1": 1, "y_1_0": 2, "y_1_1": 2, "z": 2,
                     "w": None}


def test_sequential_plate_counter_and_frame_str():
    p = pyro.plate("seq", 2)
    counters = []
    for _ in p:
        counters.append(get_plates()[0].counter)
    for _ in p:
        counters.append(get_plates()[0].counter)
    assert counters == [1, 2, 3, 4]  # Pyro 1.9.2 advances the counter before each iteration

    def model():
        return [pyro.sample(f"q_{i}", Normal(0.0, 1.0)) for i in pyro.plate("s", 3)]

    tr = poutine.trace(model).get_trace()
    assert [tr.nodes[f"q_{i}"]["cond_indep_stack"][0].counter for i in range(3)] == [1, 2, 3]
    with pyro.plate("v", 2):
        (frame,) = get_plates()
    assert frame.counter == 0
    assert str(frame) == "v" and f"{frame}" == "v"
    assert repr(frame) == "CondIndepStackFrame(name='v', dim=-1, size=2, counter=0, full_size=2)"


def test_star_import_exports_settings():
    namespace = {}
    exec("from pyro import *", namespace)
    assert namespace["settings"] is pyro.settings


def test_detach_only_touches_sample_sites():
    def model():
        p = pyro.param("p", torch.tensor(1.0))
        x = pyro.sample("x", Normal(p, 1.0))
        return x * p

    tr = poutine.trace(model).get_trace()
    assert tr.nodes["x"]["value"].requires_grad
    tr.detach_()
    # Pyro 1.9.2: sample values are detached; the param and the return value keep their graph
    assert not tr.nodes["x"]["value"].requires_grad
    assert tr.nodes["p"]["value"].requires_grad and tr.nodes["_RETURN"]["value"].requires_grad


def test_trace_records_only_sample_and_param_sites():
    from pyro.poutine.runtime import effectful

    bump = effectful(lambda x: x + 1, type="my_effect")

    def model(data):
        with pyro.plate("n", 3, subsample_size=2):
            batch = pyro.subsample(data, event_dim=0)
        pyro.barrier(batch)
        bump(torch.tensor(1.0), name="custom")
        return pyro.param("w", torch.ones(1)) * batch

    tr = poutine.trace(model).get_trace(torch.arange(3.0))
    # Pyro 1.9.2 records no node for pyro.subsample, a barrier or a custom effect
    assert [(name, site["type"]) for name, site in tr.nodes.items()] == [
        ("_INPUT", "args"), ("n", "sample"), ("w", "param"), ("_RETURN", "return")]


def test_check_traces_match():
    from torch.distributions import Bernoulli

    def one():
        pyro.sample("a", Bernoulli(0.5))
        pyro.sample("b", Normal(0.0, 1.0))

    def two():
        pyro.sample("a", Bernoulli(torch.full((2,), 0.5)))

    tr1 = poutine.trace(one).get_trace()
    tr2 = poutine.trace(two).get_trace()
    pyro.util.check_traces_match(tr1, tr1)
    # Pyro 1.9.2's warning and error texts (Pyro prints the name sets in set order)
    with pytest.warns(UserWarning, match=r"Model vars changed: \['a', 'b'\] vs \['a'\]"):
        with pytest.raises(ValueError, match=r"Site dims disagree at site 'a': "
                                             r"torch.Size\(\[\]\) vs torch.Size\(\[2\]\)"):
            pyro.util.check_traces_match(tr1, tr2)


def test_iarange_irange_warn_pyros_deprecation_category():
    for key in ("iarange", "irange"):
        pyro.util._WARNED.discard(key)
    # Pyro 1.9.2: DeprecationWarning "pyro.iarange is deprecated; use pyro.plate instead"
    with pytest.warns(DeprecationWarning, match=r"^pyro.iarange is deprecated; use pyro.plate instead$"):
        ia = pyro.iarange("a", 3)
    with ia:
        assert pyro.sample("x", Normal(0.0, 1.0)).shape == (3,)
    with pytest.warns(DeprecationWarning, match=r"^pyro.irange is deprecated; use pyro.plate instead$"):
        assert list(pyro.irange("b", 2)) == [0, 1]
