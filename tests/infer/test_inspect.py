"""pyro.infer.inspect: dependencies, model relations and the rendered graph.

Every expected dict below was produced by running Pyro 1.9.2 on the same model.
"""

import sys
import types

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer.inspect import (
    build_dot,
    generate_graph_specification,
    get_dependencies,
    get_model_relations,
    render_model,
)
from pyro.infer.provenance import ProvenanceTensor, get_provenance


@pytest.fixture(autouse=True)
def clean_store():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


def collider():
    a = pyro.sample("a", dist.Normal(0, 1))
    b = pyro.sample("b", dist.LogNormal(0, 1))
    c = pyro.sample("c", dist.Normal(a, b))
    pyro.sample("d", dist.Normal(c, 1.0), obs=torch.tensor(0.5))


def plate_sum():
    with pyro.plate("p", 5):
        a = pyro.sample("a", dist.Normal(0, 1))
    pyro.sample("b", dist.Normal(a.sum(), 1), obs=torch.tensor(0.0))


def nested():
    a = pyro.sample("a", dist.Normal(0, 1))
    with pyro.plate("I", 2, dim=-2):
        b = pyro.sample("b", dist.Normal(a, 1))
        with pyro.plate("J", 3, dim=-1):
            c = pyro.sample("c", dist.Normal(0, 1))
            pyro.sample("y", dist.Normal(b + c, 1), obs=torch.zeros(2, 3))


def nested_sum():
    with pyro.plate("I", 2, dim=-2):
        with pyro.plate("J", 3, dim=-1):
            u = pyro.sample("u", dist.Normal(0, 1))
        pyro.sample("o", dist.Normal(u.sum(-1, keepdim=True), 1), obs=torch.zeros(2, 1))


def two_in_plate():
    with pyro.plate("p", 4):
        u = pyro.sample("u", dist.Normal(0, 1))
        v = pyro.sample("v", dist.Normal(0, 1))
    pyro.sample("o", dist.Normal((u + v).sum(), 1), obs=torch.tensor(0.0))


def two_plates():
    with pyro.plate("p", 3):
        u = pyro.sample("u", dist.Normal(0, 1))
    with pyro.plate("q", 2):
        w = pyro.sample("w", dist.Normal(0, 1))
    pyro.sample("o", dist.Normal(u.sum() + w.sum(), 1), obs=torch.tensor(0.0))


def observed_parent():
    a = pyro.sample("a", dist.Normal(0, 1))
    b = pyro.sample("b", dist.Normal(a, 1))
    c = pyro.sample("c", dist.Normal(b, 1), obs=torch.tensor(1.0))
    d = pyro.sample("d", dist.Normal(0, 1))
    pyro.sample("e", dist.Normal(d + c, 1), obs=torch.tensor(1.0))


def with_deterministic():
    a = pyro.sample("a", dist.Normal(0, 1))
    b = pyro.deterministic("b", a + 1)
    c = pyro.sample("c", dist.Normal(b, 1))
    pyro.factor("f", -c ** 2)


def with_delta():
    a = pyro.sample("a", dist.Normal(0, 1))
    b = pyro.sample("b", dist.Delta(a + 1))
    pyro.sample("c", dist.Normal(b, 1), obs=torch.tensor(0.0))


def subsampled():
    with pyro.plate("big", 10, subsample_size=3):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("x", dist.Normal(z, 1.0), obs=torch.zeros(3))


def regression(data):
    loc = pyro.param("loc", torch.tensor(0.0))
    scale = pyro.sample("scale", dist.LogNormal(0, 1))
    with pyro.plate("N", len(data)):
        z = pyro.sample("z", dist.Normal(loc, scale))
        pyro.deterministic("zz", z * 2)
        pyro.sample("x", dist.Normal(z, 1.0), obs=data)


def with_params():
    loc = pyro.param("loc", torch.tensor(0.0))
    sc = pyro.param("sc", torch.tensor(1.0), constraint=dist.constraints.positive)
    a = pyro.sample("a", dist.Normal(loc, sc))
    with pyro.plate("N", 2):
        pyro.sample("x", dist.Normal(a, sc), obs=torch.zeros(2))


E = set()  # an empty plate set, for readability


@pytest.mark.parametrize("model,expected", [
    (collider, {
        "prior_dependencies": {"a": {"a": E}, "b": {"b": E}, "c": {"c": E, "a": E, "b": E},
                               "d": {"d": E, "c": E}},
        "posterior_dependencies": {"a": {"a": E, "c": E, "b": E}, "b": {"b": E, "c": E},
                                   "c": {"c": E, "d": E}}}),
    (plate_sum, {
        "prior_dependencies": {"a": {"a": E}, "b": {"a": E, "b": E}},
        "posterior_dependencies": {"a": {"a": {"p"}, "b": E}}}),
    (nested, {
        "prior_dependencies": {"a": {"a": E}, "b": {"b": E, "a": E}, "c": {"c": E},
                               "y": {"y": E, "b": E, "c": E}},
        "posterior_dependencies": {"a": {"a": E, "b": E}, "b": {"b": E, "y": E, "c": E},
                                   "c": {"c": E, "y": E}}}),
    (nested_sum, {
        "prior_dependencies": {"u": {"u": E}, "o": {"o": E, "u": E}},
        "posterior_dependencies": {"u": {"u": {"J"}, "o": E}}}),
    (two_in_plate, {
        "prior_dependencies": {"u": {"u": E}, "v": {"v": E}, "o": {"o": E, "u": E, "v": E}},
        "posterior_dependencies": {"u": {"u": {"p"}, "o": E, "v": {"p"}},
                                   "v": {"v": {"p"}, "o": E}}}),
    (two_plates, {
        "prior_dependencies": {"u": {"u": E}, "w": {"w": E}, "o": {"o": E, "u": E, "w": E}},
        "posterior_dependencies": {"u": {"u": {"p"}, "o": E, "w": E},
                                   "w": {"w": {"q"}, "o": E}}}),
    (observed_parent, {
        "prior_dependencies": {"a": {"a": E}, "b": {"b": E, "a": E}, "c": {"c": E, "b": E},
                               "d": {"d": E}, "e": {"e": E, "d": E}},
        "posterior_dependencies": {"a": {"a": E, "b": E}, "b": {"b": E, "c": E},
                                   "d": {"d": E, "e": E}}}),
    (with_deterministic, {
        "prior_dependencies": {"a": {"a": E}, "c": {"c": E, "a": E}, "f": {"f": E, "c": E}},
        "posterior_dependencies": {"a": {"a": E, "c": E}, "c": {"c": E, "f": E}}}),
    (with_delta, {
        "prior_dependencies": {"a": {"a": E}, "c": {"c": E, "a": E}},
        "posterior_dependencies": {"a": {"a": E, "c": E}}}),
    (subsampled, {
        "prior_dependencies": {"z": {"z": E}, "x": {"x": E, "z": E}},
        "posterior_dependencies": {"z": {"z": E, "x": E}}}),
])
def test_get_dependencies_matches_pyro(model, expected):
    assert get_dependencies(model) == expected


@pytest.mark.parametrize("model,expected", [
    # a deterministic (or Delta) site becomes a site of its own: its children lose the
    # dependency on its inputs, and it is not listed itself.
    (with_deterministic, {
        "prior_dependencies": {"a": {"a": E}, "c": {"c": E}, "f": {"f": E, "c": E}},
        "posterior_dependencies": {"a": {"a": E}, "c": {"c": E, "f": E}}}),
    (with_delta, {
        "prior_dependencies": {"a": {"a": E}, "c": {"c": E}},
        "posterior_dependencies": {"a": {"a": E}}}),
])
def test_get_dependencies_include_deterministic(model, expected):
    assert get_dependencies(model, include_deterministic=True) == expected


def test_get_dependencies_passes_args_and_kwargs():
    deps = get_dependencies(regression, model_kwargs={"data": torch.zeros(3)})
    assert deps == {
        "prior_dependencies": {"scale": {"scale": E}, "z": {"z": E, "scale": E},
                               "x": {"x": E, "z": E}},
        "posterior_dependencies": {"scale": {"scale": E, "z": E}, "z": {"z": E, "x": E}}}


def test_get_model_relations_matches_pyro():
    rel = get_model_relations(regression, (torch.zeros(3),))
    assert rel == {
        "sample_sample": {"scale": [], "z": ["scale"], "zz": ["z"], "x": ["z"]},
        "sample_param": {"scale": [], "z": ["loc"], "zz": [], "x": []},
        "sample_dist": {"scale": "LogNormal", "z": "Normal", "zz": "Deterministic",
                        "x": "Normal"},
        "param_constraint": {"loc": "Real()"},
        "plate_sample": {"N": ["z", "zz", "x"]},
        "observed": ["zz", "x"],
    }
    rel = get_model_relations(with_params)
    assert rel["sample_param"] == {"a": ["loc", "sc"], "x": ["sc"]}
    assert rel["param_constraint"] == {"loc": "Real()", "sc": "GreaterThan(lower_bound=0.0)"}
    rel = get_model_relations(with_deterministic, include_deterministic=True)
    assert rel["sample_sample"] == {"a": [], "b": ["a"], "c": ["b"], "f": ["c"]}
    assert rel["sample_dist"] == {"a": "Normal", "b": "Deterministic", "c": "Normal",
                                  "f": "Unit"}


def test_distribution_names_unwrap_to_event_expand_mask():
    def model():
        pyro.sample("a", dist.Normal(torch.zeros(3), 1).to_event(1))
        pyro.sample("b", dist.Normal(0, 1).expand([3]).mask(False).to_event(1))
        pyro.sample("c", dist.TransformedDistribution(dist.Normal(0.0, 1.0),
                                                      [dist.transforms.ExpTransform()]))
        pyro.sample("d", dist.Gamma(2.0, 1.0).expand([2]).to_event(1))

    assert get_model_relations(model)["sample_dist"] == {
        "a": "Normal", "b": "Normal", "c": "TransformedDistribution", "d": "Gamma"}


def test_graph_specification_matches_pyro():
    spec = generate_graph_specification(get_model_relations(nested))
    assert spec == {
        "plate_groups": {None: ["a"], "I": ["b", "c", "y"], "J": ["c", "y"]},
        "plate_data": {"I": {"parent": None}, "J": {"parent": "I"}},
        "node_data": {"a": {"distribution": "Normal", "is_observed": False},
                      "b": {"distribution": "Normal", "is_observed": False},
                      "c": {"distribution": "Normal", "is_observed": False},
                      "y": {"distribution": "Normal", "is_observed": True}},
        "edge_list": [("a", "b"), ("b", "y"), ("c", "y")],
    }
    spec = generate_graph_specification(get_model_relations(regression, (torch.zeros(3),)),
                                        render_params=True)
    assert spec["plate_groups"] == {None: ["scale", "loc"], "N": ["z", "zz", "x"]}
    assert spec["node_data"]["loc"] == {"distribution": None, "is_observed": False,
                                        "constraint": "Real()"}
    assert spec["edge_list"] == [("scale", "z"), ("z", "zz"), ("z", "x"), ("loc", "z")]


# The DOT text graphviz 0.21 writes for Pyro 1.9.2's render_model(regression, ...,
# render_distributions=True, render_params=True).
REGRESSION_DOT = "\n".join([
    "digraph {",
    "\tscale [label=scale fillcolor=white shape=ellipse style=filled]",
    "\tloc [label=loc fillcolor=white shape=plain style=filled]",
    "\tsubgraph cluster_N {",
    "\t\tlabel=N labeljust=r labelloc=b",
    "\t\tz [label=z fillcolor=white shape=ellipse style=filled]",
    '\t\tzz [label=zz fillcolor=gray shape=ellipse style="filled,dashed"]',
    "\t\tx [label=x fillcolor=gray shape=ellipse style=filled]",
    "\t}",
    "\tscale -> z",
    "\tz -> zz",
    "\tz -> x",
    "\tloc -> z",
    '\tdistribution_description_node [label="scale ~ LogNormal\\lz ~ Normal\\lzz ~ '
    'Deterministic\\lx ~ Normal\\lloc : Real()\\l" shape=plaintext]',
    "}",
]) + "\n"


def test_dot_source_matches_pyro():
    spec = generate_graph_specification(get_model_relations(regression, (torch.zeros(3),)),
                                        render_params=True)
    assert build_dot(spec, render_distributions=True).source() == REGRESSION_DOT


def test_dot_nested_clusters_observed_and_dashed_styles():
    spec = generate_graph_specification(get_model_relations(nested))
    dot = build_dot(spec)
    assert [name for name, _ in dot.nodes] == ["a"]
    (outer,) = dot.clusters
    assert outer.name == "cluster_I" and outer.attrs["label"] == "I"
    assert [name for name, _ in outer.nodes] == ["b"]
    (inner,) = outer.clusters
    assert inner.name == "cluster_J" and inner.attrs["label"] == "J"
    assert [name for name, _ in inner.nodes] == ["c", "y"]
    nodes = dot.all_nodes()
    assert nodes["y"]["fillcolor"] == "gray" and nodes["c"]["fillcolor"] == "white"
    assert dot.edges == [("a", "b"), ("b", "y"), ("c", "y")]
    spec = generate_graph_specification(get_model_relations(with_deterministic))
    nodes = build_dot(spec).all_nodes()
    assert nodes["b"]["style"] == "filled,dashed" and nodes["b"]["fillcolor"] == "gray"
    assert nodes["a"]["style"] == "filled"
    assert "distribution_description_node" not in nodes


class _FakeDigraph:
    """Records what render_graph asks of graphviz.Digraph."""

    def __init__(self, name=None):
        self.name, self.calls = name, []

    def node(self, name, **attrs):
        self.calls.append(("node", name, attrs))

    def edge(self, u, d):
        self.calls.append(("edge", u, d))

    def attr(self, **attrs):
        self.calls.append(("attr", attrs))

    def subgraph(self, sub):
        self.calls.append(("subgraph", sub.name, sub.calls))

    def render(self, **kwargs):
        self.calls.append(("render", kwargs))


@pytest.fixture
def fake_graphviz(monkeypatch):
    module = types.ModuleType("graphviz")
    module.Digraph = _FakeDigraph
    monkeypatch.setitem(sys.modules, "graphviz", module)
    return module


def test_render_model_builds_digraph_and_writes_file(fake_graphviz, tmp_path):
    graph = render_model(with_params, render_params=True, filename=str(tmp_path / "m.svg"))
    assert isinstance(graph, _FakeDigraph)
    kinds = [c[0] for c in graph.calls]
    assert kinds == ["node", "node", "node", "subgraph", "edge", "edge", "edge", "edge", "render"]
    assert graph.calls[1] == ("node", "loc", {"label": "loc", "fillcolor": "white",
                                              "shape": "plain", "style": "filled"})
    sub = graph.calls[3]
    assert sub[1] == "cluster_N"
    assert sub[2][0] == ("attr", {"label": "N", "labeljust": "r", "labelloc": "b"})
    assert sub[2][1][1] == "x" and sub[2][1][2]["fillcolor"] == "gray"
    assert [c[1:] for c in graph.calls if c[0] == "edge"] == [
        ("a", "x"), ("loc", "a"), ("sc", "a"), ("sc", "x")]
    assert graph.calls[-1] == ("render", {"filename": str(tmp_path / "m"), "format": "svg",
                                          "cleanup": True})


def test_render_model_deterministic_edges_and_semisupervised_merge(fake_graphviz):
    edges = [c[1:] for c in render_model(with_deterministic, render_deterministic=True).calls
             if c[0] == "edge"]
    assert edges == [("a", "b"), ("b", "c"), ("c", "f")]

    def semi(y=None):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        y = pyro.sample("y", dist.Normal(z, 1.0), obs=y)
        pyro.sample("x", dist.Normal(y, 1.0), obs=torch.tensor(0.0))

    graph = render_model(semi, model_kwargs=[{"y": torch.tensor(1.0)}, {}])
    assert [c[1:] for c in graph.calls if c[0] == "edge"] == [("z", "y"), ("y", "x")]


def test_render_without_graphviz_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match=r'pip install "pyro-infer\[render\]"') as info:
        render_model(collider)
    assert "dot" in str(info.value)


def test_pyro_render_model_resolves_lazily():
    assert pyro.render_model is render_model


def test_provenance_propagates_without_touching_inputs():
    x = ProvenanceTensor(torch.tensor([1.0, 2.0]), frozenset({"x"}))
    y = ProvenanceTensor(torch.tensor(3.0), frozenset({"y"}))
    z = torch.exp(x) * y + 1.0
    assert get_provenance(z) == {"x", "y"}
    assert get_provenance(x) == {"x"} and get_provenance(y) == {"y"}
    a, b = torch.broadcast_tensors(x, y)
    assert get_provenance(a) == get_provenance(b) == {"x", "y"}
    assert get_provenance(x) == {"x"}
    w = torch.zeros(2)
    assert get_provenance(w + 1) == frozenset()
    torch.testing.assert_close(z.as_subclass(torch.Tensor),
                               torch.exp(torch.tensor([1.0, 2.0])) * 3.0 + 1.0)
