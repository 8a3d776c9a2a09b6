"""Turn model relations into a graph description and a Graphviz picture.

The picture is built first as a plain :class:`DotGraph` (nodes, clusters, edges with their
attributes), whose :meth:`DotGraph.source` is Graphviz DOT text; :func:`render_graph` hands the
same structure to ``graphviz.Digraph`` when the optional ``graphviz`` package is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

_MISSING_GRAPHVIZ = (
    "rendering a model needs the 'graphviz' Python package and the Graphviz 'dot' program: "
    'pip install "pyro-infer[render]" and install Graphviz (https://graphviz.org/download/, '
    "e.g. apt-get install graphviz)"
)


def generate_graph_specification(model_relations: dict, render_params: bool = False) -> dict:
    """Arrange :func:`~pyro.infer.inspect.get_model_relations` output for drawing.

    Returns a dict with ``"plate_groups"`` (``None`` for the sites outside every plate, then
    each plate's sites), ``"plate_data"`` (each plate's enclosing plate or ``None``),
    ``"node_data"`` (per node: ``distribution``, ``is_observed``, and ``constraint`` for
    params) and ``"edge_list"`` (``(upstream, downstream)`` pairs). Params appear only with
    ``render_params=True``.
    """
    plate_sample = model_relations["plate_sample"]
    in_plates = {name for names in plate_sample.values() for name in names}
    sample_names = list(model_relations["sample_dist"])
    groups: Dict[Optional[str], List[str]] = {None: [n for n in sample_names if n not in in_plates]}
    groups.update({plate: list(names) for plate, names in plate_sample.items()})
    plate_data = {plate: {"parent": _parent_plate(plate, plate_sample)} for plate in plate_sample}
    observed = set(model_relations["observed"])
    node_data: Dict[str, dict] = {
        name: {"is_observed": name in observed, "distribution": dist}
        for name, dist in model_relations["sample_dist"].items()}
    edges: List[Tuple[str, str]] = [(u, d) for d, ups in model_relations["sample_sample"].items()
                                    for u in ups]
    if render_params:
        params = list(model_relations["param_constraint"])
        groups[None].extend(params)
        for name in params:
            node_data[name] = {"is_observed": False, "distribution": None,
                               "constraint": model_relations["param_constraint"][name]}
        edges += [(p, d) for d, ps in model_relations["sample_param"].items() for p in ps]
    return {"plate_groups": groups, "plate_data": plate_data, "node_data": node_data,
            "edge_list": edges}


def _parent_plate(plate: str, plate_sample: Dict[str, List[str]]) -> Optional[str]:
    """The smallest plate whose sites include all of ``plate``'s (earlier plates win ties)."""
    names = list(plate_sample)
    mine = set(plate_sample[plate])
    best = None
    for other in names:
        theirs = set(plate_sample[other])
        if other == plate or not mine <= theirs:
            continue
        if theirs == mine and names.index(other) > names.index(plate):
            continue
        if best is None or len(theirs) < len(plate_sample[best]):
            best = other
    return best


def _quote(text: str) -> str:
    if text.isidentifier() and text.lower() not in ("node", "edge", "graph", "digraph",
                                                     "subgraph", "strict"):
        return text
    return '"' + text.replace('"', '\\"') + '"'


def _attrs(attrs: Dict[str, str]) -> str:
    return " ".join(f"{k}={_quote(v)}" for k, v in attrs.items())


@dataclass
class DotGraph:
    """A Graphviz digraph as plain data: nodes and clusters (each with attributes) and edges."""

    name: Optional[str] = None
    attrs: Dict[str, str] = field(default_factory=dict)
    nodes: List[Tuple[str, Dict[str, str]]] = field(default_factory=list)
    clusters: List["DotGraph"] = field(default_factory=list)
    edges: List[Tuple[str, str]] = field(default_factory=list)

    def all_nodes(self) -> Dict[str, Dict[str, str]]:
        """Every node of this graph and its clusters, ``{name: attributes}``."""
        out = {name: attrs for name, attrs in self.nodes}
        for cluster in self.clusters:
            out.update(cluster.all_nodes())
        return out

    def source(self, indent: int = 0) -> str:
        """The DOT text of this graph."""
        pad = "\t" * (indent + 1)
        head = "digraph {" if indent == 0 else f"{chr(9) * indent}subgraph {self.name} {{"
        lines = [head]
        if self.attrs:
            lines.append(pad + _attrs(self.attrs))
        lines += [f"{pad}{_quote(n)} [{_attrs(a)}]" for n, a in self.nodes if n != _LEGEND]
        lines += [c.source(indent + 1) for c in self.clusters]
        lines += [f"{pad}{_quote(u)} -> {_quote(d)}" for u, d in self.edges]
        lines += [f"{pad}{_quote(n)} [{_attrs(a)}]" for n, a in self.nodes if n == _LEGEND]
        lines.append("\t" * indent + "}")
        return "\n".join(lines) + ("\n" if indent == 0 else "")


_LEGEND = "distribution_description_node"


def _node_attrs(name: str, data: dict) -> Dict[str, str]:
    is_param = data["distribution"] is None
    dashed = data["distribution"] == "Deterministic"
    return {"label": name, "fillcolor": "gray" if data["is_observed"] else "white",
            "shape": "plain" if is_param else "ellipse",
            "style": "filled,dashed" if dashed else "filled"}


def build_dot(graph_specification: dict, render_distributions: bool = False) -> DotGraph:
    """Build the :class:`DotGraph` of a :func:`generate_graph_specification` result.

    A node sits in the cluster of the innermost plate that holds it; clusters nest as their
    plates do and are labelled with the plate's name.
    """
    groups = graph_specification["plate_groups"]
    parents = {p: d["parent"] for p, d in graph_specification["plate_data"].items()}
    node_data = graph_specification["node_data"]

    def depth(plate: Optional[str]) -> int:
        return 0 if plate is None else 1 + depth(parents[plate])

    home: Dict[str, Optional[str]] = {}
    for plate, names in groups.items():
        for name in names:
            if name not in home or depth(plate) > depth(home[name]):
                home[name] = plate
    graph = DotGraph()
    clusters: Dict[Optional[str], DotGraph] = {None: graph}
    for plate in sorted((p for p in groups if p is not None), key=depth):
        cluster = DotGraph(name=f"cluster_{plate}",
                           attrs={"label": plate, "labeljust": "r", "labelloc": "b"})
        clusters[plate] = cluster
        clusters[parents[plate]].clusters.append(cluster)
    for plate, names in groups.items():
        for name in names:
            if home[name] == plate:
                clusters[plate].nodes.append((name, _node_attrs(name, node_data[name])))
    graph.edges = list(graph_specification["edge_list"])
    if render_distributions:
        lines = [f"{name} ~ {data['distribution']}\\l" for name, data in node_data.items()
                 if data["distribution"] is not None]
        lines += [f"{name} : {data['constraint']}\\l" for name, data in node_data.items()
                  if data["distribution"] is None]
        graph.nodes.append((_LEGEND, {"label": "".join(lines), "shape": "plaintext"}))
    return graph


def _import_graphviz() -> Any:
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(_MISSING_GRAPHVIZ) from e
    return graphviz


def to_graphviz(dot: DotGraph) -> Any:
    """Turn a :class:`DotGraph` into a ``graphviz.Digraph``."""
    graphviz = _import_graphviz()
    graph = graphviz.Digraph()
    _fill(graph, dot, graphviz)
    return graph


def _fill(target: Any, dot: DotGraph, graphviz: Any) -> None:
    for name, attrs in dot.nodes:
        if name != _LEGEND:
            target.node(name, **attrs)
    for cluster in dot.clusters:
        sub = graphviz.Digraph(name=cluster.name)
        sub.attr(**cluster.attrs)
        _fill(sub, cluster, graphviz)
        target.subgraph(sub)
    for u, d in dot.edges:
        target.edge(u, d)
    for name, attrs in dot.nodes:
        if name == _LEGEND:
            target.node(name, **attrs)


def render_graph(graph_specification: dict, render_distributions: bool = False) -> Any:
    """Draw a :func:`generate_graph_specification` result as a ``graphviz.Digraph``."""
    return to_graphviz(build_dot(graph_specification, render_distributions))
