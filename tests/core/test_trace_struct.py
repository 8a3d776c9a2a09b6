"""``Trace``: node views, log-densities, score parts, shapes table, copies and graphs."""

import math

import networkx as nx
import pytest
import torch
from torch.distributions import Bernoulli, Normal

import pyro
import pyro.poutine as poutine
from pyro.ops.score_parts import ScoreParts, scale_and_mask
from pyro.poutine import Trace
from pyro.poutine.util import prune_subsample_sites, site_is_factor, site_is_subsample


def normal_lp(x, loc=0.0, scale=1.0):
    return -0.5 * ((x - loc) / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)


def model():
    p = pyro.param("p", torch.tensor(0.3))
    z = pyro.sample("z", Normal(0.0, 2.0))
    k = pyro.sample("k", Bernoulli(p))
    with pyro.plate("data", 3):
        pyro.sample("obs", Normal(z, 1.0), obs=torch.tensor([1.0, 2.0, 3.0]))
    return z, k


def fixed_trace():
    data = {"z": torch.tensor(0.5), "k": torch.tensor(1.0)}
    tr = poutine.trace(poutine.uncondition(poutine.condition(model, data=data))).get_trace()
    return tr


def test_node_views():
    tr = poutine.trace(model).get_trace()
    assert list(tr.nodes) == ["_INPUT", "p", "z", "k", "data", "obs", "_RETURN"]
    assert tr.stochastic_nodes == ["z", "k", "data"]  # subsample sites included, as Pyro's
    assert tr.observation_nodes == ["obs"]
    assert tr.param_nodes == ["p"]
    assert tr.reparameterized_nodes == ["z"]
    assert tr.nonreparam_stochastic_nodes == ["k", "data"]
    assert [name for name, _ in tr.iter_stochastic_nodes()] == ["z", "k", "data"]
    assert "z" in tr and len(tr) == 7 and list(iter(tr)) == list(tr.nodes)
    assert site_is_subsample(tr.nodes["data"]) and not site_is_subsample(tr.nodes["z"])
    pruned = prune_subsample_sites(tr)
    assert "data" not in pruned and "data" in tr


def test_log_prob_sum_matches_hand_computation():
    tr = poutine.trace(model).get_trace()
    z = tr.nodes["z"]["value"].item()
    k = tr.nodes["k"]["value"].item()
    expected = (normal_lp(z, 0.0, 2.0) + (math.log(0.3) if k else math.log(0.7))
                + sum(normal_lp(x, z, 1.0) for x in (1.0, 2.0, 3.0)))
    assert tr.log_prob_sum().item() == pytest.approx(expected, abs=1e-5)
    only_obs = tr.log_prob_sum(site_filter=lambda name, site: name == "obs")
    assert only_obs.item() == pytest.approx(sum(normal_lp(x, z, 1.0) for x in (1.0, 2.0, 3.0)), abs=1e-5)


def test_log_prob_sum_gradient_matches_torch():
    tr = poutine.trace(model).get_trace()
    tr.log_prob_sum().backward()
    p = torch.tensor(0.3, requires_grad=True)
    k = tr.nodes["k"]["value"]
    Bernoulli(p).log_prob(k).backward()
    grad = pyro.get_param_store()["p"].unconstrained().grad
    assert grad.item() == pytest.approx(p.grad.item(), rel=1e-6)


def test_empty_trace_log_prob_sum_is_zero():
    assert Trace().log_prob_sum().item() == 0.0


def test_compute_log_prob_with_scale_and_mask():
    x = torch.tensor([0.0, 1.0, -1.0, 2.0])

    def scaled():
        with poutine.scale(scale=torch.tensor([1.0, 2.0, 3.0, 4.0])):
            with poutine.mask(mask=torch.tensor([True, True, False, True])):
                pyro.sample("x", Normal(torch.zeros(4), 1.0), obs=x)

    tr = poutine.trace(scaled).get_trace()
    tr.compute_log_prob()
    site = tr.nodes["x"]
    unscaled = [normal_lp(v) for v in x.tolist()]
    expected = [unscaled[0], 2 * unscaled[1], 0.0, 4 * unscaled[3]]
    assert site["unscaled_log_prob"].tolist() == pytest.approx(unscaled, abs=1e-6)
    assert site["log_prob"].tolist() == pytest.approx(expected, abs=1e-6)
    assert site["log_prob_sum"].item() == pytest.approx(sum(expected), abs=1e-5)
    # log_prob_sum reuses the cached sums
    site["log_prob_sum"] = torch.tensor(123.0)
    assert tr.log_prob_sum().item() == 123.0


def test_compute_log_prob_filter_and_idempotence():
    tr = poutine.trace(model).get_trace()
    tr.compute_log_prob(site_filter=lambda name, site: name == "z")
    assert "log_prob" in tr.nodes["z"] and "log_prob" not in tr.nodes["obs"]
    first = tr.nodes["z"]["log_prob"]
    tr.compute_log_prob()
    assert tr.nodes["z"]["log_prob"] is first
    assert tr.nodes["obs"]["log_prob"].shape == (3,)


def test_masked_minus_inf_is_exactly_zero():
    def f():
        with poutine.mask(mask=torch.tensor([False, True])):
            pyro.sample("x", torch.distributions.Uniform(0.0, 1.0, validate_args=False),
                        obs=torch.tensor([5.0, 0.5]))

    tr = poutine.trace(f).get_trace()
    assert tr.log_prob_sum().item() == 0.0


def test_compute_score_parts_for_torch_distributions():
    def f():
        with poutine.scale(scale=3.0):
            pyro.sample("z", Normal(0.0, 1.0))
            pyro.sample("k", Bernoulli(0.25))

    tr = poutine.trace(f).get_trace()
    tr.compute_score_parts()
    z = tr.nodes["z"]["value"].item()
    k = tr.nodes["k"]["value"].item()
    lz = normal_lp(z)
    lk = math.log(0.25) if k else math.log(0.75)
    zparts = tr.nodes["z"]["score_parts"]
    assert isinstance(zparts, ScoreParts)
    assert zparts.log_prob.item() == pytest.approx(3 * lz, abs=1e-5)
    assert zparts.entropy_term.item() == pytest.approx(3 * lz, abs=1e-5)
    assert zparts.score_function == 0
    kparts = tr.nodes["k"]["score_parts"]
    assert kparts.log_prob.item() == pytest.approx(3 * lk, abs=1e-5)
    assert kparts.score_function.item() == pytest.approx(lk, abs=1e-6)  # not scaled
    assert kparts.entropy_term == 0
    assert tr.nodes["k"]["unscaled_log_prob"].item() == pytest.approx(lk, abs=1e-6)
    assert tr.nodes["k"]["log_prob_sum"].item() == pytest.approx(3 * lk, abs=1e-5)


def test_compute_score_parts_uses_distribution_score_parts():
    class WithParts(Normal):
        def score_parts(self, value):
            lp = self.log_prob(value)
            return ScoreParts(lp, lp * 10, lp * 100)

    tr = poutine.trace(lambda: pyro.sample("x", WithParts(0.0, 1.0), obs=torch.tensor(1.0))).get_trace()
    tr.compute_score_parts()
    parts = tr.nodes["x"]["score_parts"]
    assert parts.score_function.item() == pytest.approx(10 * normal_lp(1.0), abs=1e-5)
    assert parts.entropy_term.item() == pytest.approx(100 * normal_lp(1.0), abs=1e-4)


def test_scale_and_mask_helper():
    t = torch.tensor([1.0, -float("inf"), float("nan")])
    out = scale_and_mask(t, 2.0, torch.tensor([True, False, False]))
    assert out.tolist() == [2.0, 0.0, 0.0]
    assert scale_and_mask(0, 5.0, torch.tensor([True])) == 0
    assert scale_and_mask(t, 1.0, None) is t
    assert scale_and_mask(torch.tensor(2.0), 1.0, False).item() == 0.0


def test_log_prob_error_names_site_and_shapes():
    def bad():
        pyro.sample("x", Normal(torch.zeros(2), 1.0, validate_args=True), obs=torch.zeros(3))

    tr = poutine.trace(bad).get_trace()
    with pytest.raises(ValueError) as info:
        tr.log_prob_sum()
    message = str(info.value)
    assert "site 'x'" in message and "batch_shape=(2,)" in message and "value.shape=(3,)" in message


def test_format_shapes_table():
    def f():
        pyro.param("w", torch.zeros(4, 5))
        with pyro.plate("data", 3):
            pyro.sample("x", torch.distributions.Independent(Normal(torch.zeros(3, 2), 1.0), 1))

    tr = poutine.trace(f).get_trace()
    tr.compute_log_prob()
    lines = tr.format_shapes().splitlines()
    assert lines[0].strip() == "Trace Shapes:"
    assert [line.split() for line in lines[1:]] == [
        ["Param", "Sites:"],
        ["w", "4", "5"],
        ["Sample", "Sites:"],
        ["data", "dist", "|"],
        ["value", "3", "|"],
        ["log_prob", "|"],
        ["x", "dist", "3", "|", "2"],
        ["value", "3", "|", "2"],
        ["log_prob", "3", "|"],
    ]
    short = tr.format_shapes(last_site="w")
    assert "x dist" not in short


def test_copy_is_independent():
    tr = poutine.trace(model, graph_type="dense").get_trace()
    cp = tr.copy()
    assert list(cp.nodes) == list(tr.nodes) and set(cp.edges) == set(tr.edges)
    assert cp.nodes["z"]["value"] is tr.nodes["z"]["value"]
    cp.nodes["z"]["value"] = torch.tensor(99.0)
    cp.remove_node("k")
    assert tr.nodes["z"]["value"].item() != 99.0
    assert "k" in tr and ("k", "obs") in set(tr.edges) and ("k", "obs") not in set(cp.edges)
    assert cp.graph_type == "dense"


def test_dense_edges_and_networkx_view():
    def f():
        a = pyro.sample("a", Normal(0.0, 1.0))
        for i in pyro.plate("seq", 2):
            pyro.sample(f"x_{i}", Normal(a, 1.0))
        pyro.sample("c", Normal(a, 1.0))

    tr = poutine.trace(f, graph_type="dense").get_trace()
    assert set(tr.edges) == {("a", "x_0"), ("a", "x_1"), ("a", "c"), ("x_0", "c"), ("x_1", "c")}
    assert tr.predecessors("c") == {"a", "x_0", "x_1"}
    assert tr.successors("a") == {"x_0", "x_1", "c"}
    assert tr.in_degree("x_1") == 1
    order = tr.topological_sort()
    assert order.index("a") < order.index("x_0") < order.index("c")
    assert tr.topological_sort(reverse=True) == order[::-1]
    g = tr.to_networkx()
    assert isinstance(g, nx.DiGraph)
    assert set(g.edges) == set(tr.edges) and set(g.nodes) == set(tr.nodes)
    assert g.nodes["a"]["value"] is tr.nodes["a"]["value"]
    flat = poutine.trace(f).get_trace()
    assert list(flat.edges) == []


def test_dense_edges_within_vectorized_plate():
    def f():
        with pyro.plate("p", 2):
            a = pyro.sample("a", Normal(0.0, 1.0))
            pyro.sample("b", Normal(a, 1.0))

    tr = poutine.trace(f, graph_type="dense").get_trace()
    assert set(tr.edges) == {("a", "b")}


def test_add_node_conflicts():
    tr = Trace()
    tr.add_node("x", name="x", type="sample", value=1)
    with pytest.raises(RuntimeError, match="Multiple sample sites named 'x'"):
        tr.add_node("x", name="x", type="sample", value=2)
    with pytest.raises(RuntimeError, match="both as a sample site and as a param site"):
        tr.add_node("x", name="x", type="param", value=2)
    tr.add_node("p", name="p", type="param", value=1)
    tr.add_node("p", name="p", type="param", value=2)
    assert tr.nodes["p"]["value"] == 2
    with pytest.raises(ValueError):
        Trace(graph_type="other")


def test_cycle_detection():
    tr = Trace()
    for n in "ab":
        tr.add_node(n, name=n, type="sample")
    tr.add_edge("a", "b")
    tr.add_edge("b", "a")
    with pytest.raises(ValueError, match="cycle"):
        tr.topological_sort()


def test_detach_():
    w = torch.tensor(1.0, requires_grad=True)
    tr = poutine.trace(lambda: pyro.sample("x", Normal(w, 1.0))).get_trace()
    assert tr.nodes["x"]["value"].requires_grad
    tr.detach_()
    assert not tr.nodes["x"]["value"].requires_grad


def test_factor_site_and_helper():
    tr = poutine.trace(lambda: pyro.factor("f", torch.tensor([1.5, -0.5]))).get_trace()
    assert site_is_factor(tr.nodes["f"])
    assert tr.log_prob_sum().item() == pytest.approx(1.0)
