"""The execution trace: an ordered record of the sites of one run of a model."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Dict, Iterator, List, Optional, Set

import torch

from pyro.ops.score_parts import scale_and_mask
from pyro.poutine._shape_table import format_trace_shapes
from pyro.poutine.site_densities import raw_log_prob, site_log_prob, site_score_parts


def _all_sites(name: str, site: Dict[str, Any]) -> bool:
    return True


class Trace:
    """An ordered record of the sites of one execution, with optional dependency edges.

    ``trace.nodes`` maps site names to site dicts (the messages the sites produced), in the
    order the sites ran. Edges (``add_edge``) record dependencies for inference algorithms that
    need them; :meth:`to_networkx` builds a :class:`networkx.DiGraph` view on demand.

    Args:
        graph_type: ``"flat"`` (default) or ``"dense"``; kept for compatibility and read by
            algorithms that ask for dense dependency edges.
    """

    def __init__(self, graph_type: str = "flat") -> None:
        if graph_type not in ("flat", "dense"):
            raise ValueError(f"Trace graph_type must be 'flat' or 'dense', got {graph_type!r}")
        self.graph_type = graph_type
        self.nodes: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
        self._succ: Dict[str, Set[str]] = {}
        self._pred: Dict[str, Set[str]] = {}

    # ----- container protocol -------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[str]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"Trace(sites={list(self.nodes)})"

    @property
    def edges(self) -> Iterator[tuple]:
        """Iterate over ``(source, target)`` dependency edges."""
        for site, succ in self._succ.items():
            for other in succ:
                yield site, other

    # ----- building -------------------------------------------------------------------------
    def add_node(self, site_name: str, **kwargs: Any) -> None:
        """Record a site; a second sample site of the same name is an error.

        Param sites may be recorded again (the latest record wins), as a parameter may be read
        several times in one run.
        """
        self._add_site(site_name, kwargs)

    def _add_site(self, site_name: str, site: Dict[str, Any]) -> None:
        # add_node without the keyword-argument copy: ``site`` itself becomes the record.
        old = self.nodes.get(site_name)
        if old is not None:
            if old["type"] != site["type"]:
                raise RuntimeError(
                    f"site '{site_name}' is used both as a {old['type']} site and as a "
                    f"{site['type']} site; give them different names"
                )
            if site["type"] != "param":
                raise RuntimeError(
                    f"Multiple {site['type']} sites named '{site_name}'; every sample site "
                    f"of one run needs a unique name"
                )
        self.nodes[site_name] = site

    # Edges are kept in two dicts of sets, name -> names; a site without edges has no entry,
    # so that recording a site (once per sample statement) allocates no sets.

    def add_edge(self, site1: str, site2: str) -> None:
        """Record that ``site2`` depends on ``site1``."""
        for name in (site1, site2):
            if name not in self.nodes:
                self.nodes[name] = {"name": name}
        self._succ.setdefault(site1, set()).add(site2)
        self._pred.setdefault(site2, set()).add(site1)

    def remove_node(self, site_name: str) -> None:
        """Remove a site and its edges."""
        for p in self._pred.pop(site_name, ()):
            self._succ[p].discard(site_name)
        for s in self._succ.pop(site_name, ()):
            self._pred[s].discard(site_name)
        del self.nodes[site_name]

    def predecessors(self, site_name: str) -> Set[str]:
        """Return the names of sites ``site_name`` depends on directly."""
        self._check_node(site_name)
        return self._pred.get(site_name) or set()

    def successors(self, site_name: str) -> Set[str]:
        """Return the names of sites that depend directly on ``site_name``."""
        self._check_node(site_name)
        return self._succ.get(site_name) or set()

    def in_degree(self, site_name: str) -> int:
        """Return the number of direct dependencies of ``site_name``."""
        self._check_node(site_name)
        return len(self._pred.get(site_name, ()))

    def _check_node(self, site_name: str) -> None:
        if site_name not in self.nodes:
            raise KeyError(site_name)

    def topological_sort(self, reverse: bool = False) -> List[str]:
        """Return site names so that every site comes after the sites it depends on.

        Ties keep execution order. With ``reverse=True`` the order is reversed.
        """
        indegree = {name: len(self._pred.get(name, ())) for name in self.nodes}
        ready = [name for name in self.nodes if indegree[name] == 0]
        order: List[str] = []
        while ready:
            name = ready.pop(0)
            order.append(name)
            for succ in sorted(self._succ.get(name, ()), key=list(self.nodes).index):
                indegree[succ] -= 1
                if indegree[succ] == 0:
                    ready.append(succ)
        if len(order) != len(self.nodes):
            raise ValueError("trace dependency edges contain a cycle")
        return order[::-1] if reverse else order

    def copy(self) -> "Trace":
        """Return a shallow copy: new node and edge containers, the same site dicts' contents."""
        new = Trace(graph_type=self.graph_type)
        new.nodes = OrderedDict((k, dict(v)) for k, v in self.nodes.items())
        new._succ = {k: set(v) for k, v in self._succ.items()}
        new._pred = {k: set(v) for k, v in self._pred.items()}
        return new

    def to_networkx(self) -> Any:
        """Build a :class:`networkx.DiGraph` of the sites (as node attributes) and edges."""
        import networkx as nx

        graph = nx.DiGraph(graph_type=self.graph_type)
        for name, site in self.nodes.items():
            graph.add_node(name, **site)
        graph.add_edges_from(self.edges)
        return graph

    # ----- views --------------------------------------------------------------------------
    def iter_stochastic_nodes(self) -> Iterator[tuple]:
        """Iterate over ``(name, site)`` of the unobserved sample sites.

        As in Pyro, plate subsample sites are included; ``prune_subsample_sites`` drops them.
        """
        for name, site in self.nodes.items():
            if site["type"] == "sample" and not site["is_observed"]:
                yield name, site

    @property
    def stochastic_nodes(self) -> List[str]:
        """Names of the unobserved sample sites."""
        return [name for name, _ in self.iter_stochastic_nodes()]

    @property
    def observation_nodes(self) -> List[str]:
        """Names of the observed sample sites."""
        return [n for n, s in self.nodes.items() if s["type"] == "sample" and s["is_observed"]]

    @property
    def param_nodes(self) -> List[str]:
        """Names of the param sites."""
        return [n for n, s in self.nodes.items() if s["type"] == "param"]

    @property
    def reparameterized_nodes(self) -> List[str]:
        """Names of unobserved sample sites whose distribution has ``rsample``."""
        return [n for n, s in self.iter_stochastic_nodes() if getattr(s["fn"], "has_rsample", False)]

    @property
    def nonreparam_stochastic_nodes(self) -> List[str]:
        """Names of unobserved sample sites whose distribution lacks ``rsample``."""
        return [
            n for n, s in self.iter_stochastic_nodes() if not getattr(s["fn"], "has_rsample", False)
        ]

    # ----- log-densities ------------------------------------------------------------------
    def log_prob_sum(self, site_filter: Callable[[str, Dict], bool] = _all_sites) -> torch.Tensor:
        """Return the sum of the scaled, masked log-densities of all sample sites.

        Sites that already carry a ``log_prob`` (from :meth:`compute_log_prob`) reuse it.
        """
        if not callable(site_filter):
            raise TypeError(f"Trace.log_prob_sum: site_filter must be a function (name, site) -> bool, got {type(site_filter).__name__}")
        total: Any = 0.0
        for name, site in self.nodes.items():
            if site["type"] != "sample" or not site_filter(name, site):
                continue
            if "log_prob_sum" in site:
                total = total + site["log_prob_sum"]
                continue
            try:
                raw = raw_log_prob(site, "log_prob_sum")
            except ValueError as e:
                raise self._with_shapes(e, name) from (e.__cause__ or e)
            log_p = scale_and_mask(raw, site["scale"], site["mask"])
            total = total + (log_p.sum() if isinstance(log_p, torch.Tensor) else log_p)
        return total if isinstance(total, torch.Tensor) else torch.tensor(total)

    def compute_log_prob(self, site_filter: Callable[[str, Dict], bool] = _all_sites) -> None:
        """Store ``log_prob`` (scaled and masked, batch-shaped) and ``log_prob_sum`` at sample sites.

        Also stores ``unscaled_log_prob``. What a site already has is not recomputed.
        """
        for name, site in self.nodes.items():
            if site["type"] == "sample" and site_filter(name, site):
                try:
                    site_log_prob(site)
                except ValueError as e:
                    raise self._with_shapes(e, name) from (e.__cause__ or e)

    def compute_score_parts(self) -> None:
        """Store ``score_parts`` (log_prob, score function, entropy term; scaled and masked).

        Used by the ELBOs to build surrogate losses. Also stores ``log_prob``,
        ``unscaled_log_prob`` and ``log_prob_sum`` at each sample site.
        """
        for name, site in self.nodes.items():
            if site["type"] == "sample":
                try:
                    site_score_parts(site)
                except ValueError as e:
                    raise self._with_shapes(e, name) from (e.__cause__ or e)

    def _with_shapes(self, error: ValueError, name: str) -> ValueError:
        # A site's log-density error, with the shapes of the trace up to that site (as Pyro).
        return ValueError(f"{error}\n{self.format_shapes(last_site=name)}")

    def detach_(self) -> None:
        """Detach the value of every sample site in place (drops its autograd history).

        As in Pyro, param sites and the return value keep theirs.
        """
        for site in self.nodes.values():
            value = site.get("value")
            if site["type"] == "sample" and isinstance(value, torch.Tensor):
                site["value"] = value.detach()

    # ----- debugging ----------------------------------------------------------------------
    def format_shapes(self, title: str = "Trace Shapes:", last_site: Optional[str] = None) -> str:
        """Return a table of every site's shapes, for debugging shape errors (as Pyro prints it).

        Rows: one per param site (its value's shape), then per sample site (plate subsample sites
        included) the distribution's ``batch_shape | event_shape``, the value's shape split the
        same way, and the log_prob's shape when :meth:`compute_log_prob` ran. With
        ``last_site`` the table stops after that site.
        """
        return format_trace_shapes(self.nodes, title, last_site)
