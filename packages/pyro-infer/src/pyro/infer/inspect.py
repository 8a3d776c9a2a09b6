"""Look at a model's structure: which sites depend on which, and a picture of it.

:func:`get_model_relations` runs the model once with provenance tracking
(:mod:`pyro.infer.provenance`) and reads the finished trace; :func:`get_dependencies` turns that
into prior and posterior dependencies (a networkx graph, moralised); :func:`render_model` draws
it with Graphviz (the optional extra ``pyro-infer[render]``).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import networkx as nx
import torch

from pyro import poutine
from pyro.infer.arg_checks import (
    EngineArgumentTypeError,
    check_callable,
    check_model_args,
    describe,
)
from pyro.infer.graph_render import (  # noqa: F401  (re-exported)
    DotGraph,
    build_dot,
    generate_graph_specification,
    render_graph,
)
from pyro.infer.provenance import (
    ProvenanceTensor,
    TrackProvenance,
    detach_provenance,
    get_provenance,
    site_is_deterministic,
    unwrap_distribution,
)
from pyro.poutine.util import site_is_subsample

__all__ = [
    "DotGraph",
    "ProvenanceTensor",
    "TrackProvenance",
    "detach_provenance",
    "generate_graph_specification",
    "get_dependencies",
    "get_model_relations",
    "get_provenance",
    "render_graph",
    "render_model",
]


def _upstream(obj: Any, seen: set) -> frozenset:
    """Union of the provenance of every tensor held by a distribution (or transform)."""
    if id(obj) in seen:
        return frozenset()
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return get_provenance(obj)
    if isinstance(obj, (list, tuple)):
        out: frozenset = frozenset()
        for item in obj:
            out = out | _upstream(item, seen)
        return out
    if isinstance(obj, dict):
        return _upstream(list(obj.values()), seen)
    if isinstance(obj, (torch.distributions.Distribution, torch.distributions.Transform)):
        return _upstream(list(vars(obj).values()), seen)
    return frozenset()


def _dist_name(site: dict) -> str:
    if (site.get("infer") or {}).get("_deterministic"):
        return "Deterministic"
    return type(unwrap_distribution(site["fn"])).__name__.lstrip("_")


def _sample_sites(trace: Any) -> List[dict]:
    return [site for site in trace.nodes.values()
            if site["type"] == "sample" and not site_is_subsample(site)]


def _plates(site: dict) -> List[str]:
    return [frame.name for frame in site["cond_indep_stack"] if frame.vectorized]


def _model_inputs(owner: str, model: Any, model_args: Any, model_kwargs: Any) -> Tuple[tuple, dict]:
    """``(args, kwargs)`` of one run, refusing args that are not a tuple (or list) and kwargs
    that are not a dict."""
    model_args = () if model_args is None else model_args
    check_model_args(owner, model, model_args, model_kwargs)
    return tuple(model_args), dict(model_kwargs or {})


def _relations_of_trace(trace: Any) -> Dict[str, Any]:
    from pyro.primitives import get_param_store

    sites = _sample_sites(trace)
    sample_names = [site["name"] for site in sites]
    param_names = [site["name"] for site in trace.nodes.values() if site["type"] == "param"]
    store = get_param_store()
    relations: Dict[str, Any] = {
        "sample_sample": {}, "sample_param": {}, "sample_dist": {}, "param_constraint": {},
        "plate_sample": {}, "observed": [],
    }
    for site in sites:
        name = site["name"]
        upstream = _upstream(site["fn"], set())
        relations["sample_sample"][name] = [u for u in sample_names if u in upstream and u != name]
        relations["sample_param"][name] = [p for p in param_names if p in upstream]
        relations["sample_dist"][name] = _dist_name(site)
        for plate in sorted(_plates(site), key=lambda p: -len(relations["plate_sample"].get(p, ()))):
            relations["plate_sample"].setdefault(plate, []).append(name)
        if site["is_observed"]:
            relations["observed"].append(name)
    for name in param_names:
        constraint = store._constraints.get(name)
        relations["param_constraint"][name] = str(constraint) if constraint is not None else "Real()"
    # Plates in the order of first appearance, outer before inner.
    order = {}
    for site in sites:
        for plate in reversed(_plates(site)):
            order.setdefault(plate, len(order))
    relations["plate_sample"] = {p: relations["plate_sample"][p]
                                 for p in sorted(relations["plate_sample"], key=order.__getitem__)}
    return relations


def _trace(model: Callable, args: tuple, kwargs: dict, include_deterministic: bool) -> Any:
    tracked = TrackProvenance(tag_deterministic=include_deterministic)(model)
    with torch.no_grad():
        return poutine.trace(tracked).get_trace(*args, **kwargs)


def _merge_relations(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    merged = parts[0]
    for part in parts[1:]:
        for key in ("sample_sample", "sample_param", "plate_sample"):
            for name, items in part[key].items():
                target = merged[key].setdefault(name, [])
                target.extend(i for i in items if i not in target)
        for key in ("sample_dist", "param_constraint"):
            for name, value in part[key].items():
                merged[key].setdefault(name, value)
        merged["observed"].extend(n for n in part["observed"] if n not in merged["observed"])
    return merged


def get_model_relations(model: Callable, model_args: Optional[tuple] = None,
                        model_kwargs: Optional[dict] = None,
                        include_deterministic: bool = False) -> Dict[str, Any]:
    """Run ``model`` once and report how its sites and plates relate.

    Returns a dict with ``"sample_sample"`` (each sample site to the sample sites its
    distribution was computed from, in model order), ``"sample_param"`` (each sample site to
    the params it was computed from), ``"sample_dist"`` (each sample site to its distribution's
    class name, ``to_event``/``expand``/``mask`` unwrapped; ``"Deterministic"`` for
    ``pyro.deterministic``), ``"param_constraint"`` (each param to its constraint's string),
    ``"plate_sample"`` (each plate to the sites inside it) and ``"observed"`` (observed sites).

    With ``include_deterministic=True`` deterministic sites count as sites of their own, so a
    site computed from one depends on it rather than on its inputs.
    """
    check_callable("get_model_relations", "model", model)
    args, kwargs = _model_inputs("get_model_relations", model, model_args, model_kwargs)
    trace = _trace(model, args, kwargs, include_deterministic)
    return _relations_of_trace(trace)


def _sample_plates(trace: Any) -> Dict[str, set]:
    return {site["name"]: set(_plates(site)) for site in _sample_sites(trace)}


def get_dependencies(model: Callable, model_args: Optional[tuple] = None,
                     model_kwargs: Optional[dict] = None,
                     include_deterministic: bool = False) -> Dict[str, object]:
    """Infer the prior and posterior dependency structure of a (conditioned) model.

    Returns ``{"prior_dependencies": ..., "posterior_dependencies": ...}``. The prior part maps
    every non-deterministic sample site (latent or observed) to ``{upstream latent site: plates}``
    (the site itself included); the posterior part maps every latent site to the sites it
    depends on given the observations, ordered against the model: its children, and the other
    parents of its children (moralisation). A plate set names the plates along which elements
    become fully coupled: a latent inside plate ``p`` whose child is outside ``p`` depends on
    itself across ``p``. Deterministic and ``Delta`` sites are elided.
    """
    check_callable("get_dependencies", "model", model)
    args, kwargs = _model_inputs("get_dependencies", model, model_args, model_kwargs)
    trace = _trace(model, args, kwargs, include_deterministic)
    relations = _relations_of_trace(trace)
    sites = {site["name"]: site for site in _sample_sites(trace)}
    plates = _sample_plates(trace)
    kept = [n for n, s in sites.items() if not site_is_deterministic(s)]
    latent = [n for n in kept if not sites[n]["is_observed"]]
    order = {name: i for i, name in enumerate(sites)}

    graph = nx.DiGraph()
    graph.add_nodes_from(kept)
    for name in kept:
        graph.add_edges_from((u, name) for u in relations["sample_sample"][name] if u in latent)

    prior: Dict[str, Dict[str, set]] = {}
    for name in kept:
        prior[name] = {name: set()}
        for u in graph.predecessors(name):
            prior[name][u] = set()
    posterior: Dict[str, Dict[str, set]] = {name: {name: set()} for name in latent}
    for name in kept:
        parents = sorted(graph.predecessors(name), key=order.__getitem__)
        for u in parents:
            posterior[u].setdefault(name, set())
        for i, u in enumerate(parents):
            for v in parents[i:]:
                shared = (plates[u] & plates[v]) - plates[name]
                posterior[u].setdefault(v, set()).update(shared)
    return {"prior_dependencies": prior, "posterior_dependencies": posterior}


def render_model(model: Callable, model_args: Union[tuple, List[tuple], None] = None,
                 model_kwargs: Union[dict, List[dict], None] = None, filename: Optional[str] = None,
                 render_distributions: bool = False, render_params: bool = False,
                 render_deterministic: bool = False) -> Any:
    """Draw ``model`` as a ``graphviz.Digraph``: a node per site, edges from dependencies.

    Latent sites are white ellipses, observed ones grey, deterministic ones dashed; each plate
    is a cluster labelled with its name. ``model_args``/``model_kwargs`` may be lists (one entry
    per run, e.g. for semi-supervised models): the runs' relations are merged.

    Args:
        model: the model.
        model_args: positional arguments, or a list of tuples.
        model_kwargs: keyword arguments, or a list of dicts.
        filename: where to write the picture; the suffix (``.png``, ``.svg``, ``.pdf``, ...)
            picks the format.
        render_distributions: add a legend naming each site's distribution (and each param's
            constraint).
        render_params: draw params as nodes with edges to the sites that use them.
        render_deterministic: let deterministic sites be parents of the sites computed from
            them (instead of passing their inputs' dependencies through).

    Returns:
        the ``graphviz.Digraph`` (Jupyter shows it).

    Raises:
        ImportError: when the ``graphviz`` Python package is missing.
        TypeError: ``model_args`` (or an entry of its list) that is not a tuple,
            ``model_kwargs`` (or an entry) that is not a dict, a ``filename`` that is not a
            str or path. These are checked before the model runs.
        ValueError: a ``filename`` whose suffix is not a format Graphviz writes.
    """
    check_callable("render_model", "model", model)
    arg_list = model_args if isinstance(model_args, list) else [model_args]
    kwarg_list = model_kwargs if isinstance(model_kwargs, list) else [model_kwargs]
    for a in arg_list:
        if a is not None and not isinstance(a, tuple):
            raise EngineArgumentTypeError(
                f"render_model: model_args must be a tuple of the model's positional arguments "
                f"(or a list of such tuples, one per run), got {describe(a)}; for one argument "
                f"x pass model_args=(x,)")
    for k in kwarg_list:
        _model_inputs("render_model", model, None, k)
    fmt = None if filename is None else _render_format(filename)
    if len(arg_list) == 1 and len(kwarg_list) > 1:
        arg_list = arg_list * len(kwarg_list)
    if len(kwarg_list) == 1 and len(arg_list) > 1:
        kwarg_list = kwarg_list * len(arg_list)
    if len(arg_list) != len(kwarg_list):
        raise ValueError(f"render_model: model_args has {len(arg_list)} entries but model_kwargs "
                         f"has {len(kwarg_list)}")
    relations = _merge_relations([
        get_model_relations(model, a, k, include_deterministic=render_deterministic)
        for a, k in zip(arg_list, kwarg_list)])
    spec = generate_graph_specification(relations, render_params=render_params)
    graph = render_graph(spec, render_distributions=render_distributions)
    if filename is not None:
        from pathlib import Path

        try:
            graph.render(filename=str(Path(filename).with_suffix("")), format=fmt, cleanup=True)
        except Exception as e:
            # graphviz.ExecutableNotFound (a RuntimeError) when the ``dot`` program is missing
            if type(e).__name__ != "ExecutableNotFound":
                raise
            from pyro.infer.graph_render import _MISSING_GRAPHVIZ

            raise RuntimeError(f"render_model(filename={str(filename)!r}): the Graphviz 'dot' "
                               f"program was not found; {_MISSING_GRAPHVIZ}") from e
    return graph


def _render_format(filename: Any) -> str:
    """The Graphviz output format ``filename``'s suffix names (``pdf`` without a suffix)."""
    from pathlib import Path

    if not isinstance(filename, (str, os.PathLike)):
        raise EngineArgumentTypeError(
            f"render_model: filename must be a str or path, got {describe(filename)}")
    fmt = (Path(filename).suffix[1:] or "pdf").lower()
    try:
        import graphviz
    except ImportError:  # render_graph says what to install
        return fmt
    formats = getattr(graphviz, "FORMATS", None)
    if formats is not None and fmt not in formats:
        common = ", ".join(f".{f}" for f in ("pdf", "png", "svg", "jpg", "dot") if f in formats)
        raise ValueError(
            f"render_model: filename {str(filename)!r} has the suffix '.{fmt}', which is not a "
            f"format Graphviz writes; use one of {common} (all: {sorted(formats)})")
    return fmt
