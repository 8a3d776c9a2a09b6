#!/usr/bin/env python
"""Report import cycles among the modules of each package source root.

Usage::

    python scripts/import_cycles.py packages/*/src

Each argument is a source root (a folder holding top-level packages, e.g. ``pyro/``). The
modules under one root form a graph with an edge ``a -> b`` whenever ``a`` imports ``b``; every
``import`` statement counts, wherever it is: at module level, inside a function (a deferred
import still makes the two modules depend on each other) or under ``if TYPE_CHECKING:``. Only
imports between modules of the same root are edges: what a root imports from another package
is that package's business. ``from pkg import name`` is an edge to the submodule ``pkg.name``
when there is one, and to ``pkg`` (its ``__init__``) otherwise; importing a submodule is not
counted as importing its parent package (every submodule would otherwise be in a cycle with an
``__init__`` that re-exports it).

For every strongly connected component of more than one module (or a module importing
itself) it prints the modules, the import statements that close the cycle (file, line, and the
function a deferred import sits in) and a few of the simple cycles through it. Exits 1 when
any root has a cycle, 0 otherwise.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import networkx as nx

#: At most this many simple cycles are listed per component.
MAX_CYCLES = 10


@dataclass(frozen=True)
class ImportSite:
    """One import statement that makes ``source`` depend on ``target``."""

    source: str
    target: str
    path: Path
    line: int
    scope: Optional[str]  # the enclosing function's name, None at module or class level

    def describe(self, root: Path) -> str:
        where = f"{self.path.relative_to(root)}:{self.line}"
        deferred = f" (deferred, in {self.scope}())" if self.scope else ""
        return f"{self.source} -> {self.target}  [{where}{deferred}]"


def find_modules(root: Path) -> Dict[str, Path]:
    """Return ``{dotted module name: file}`` for every ``.py`` file under ``root``."""
    modules: Dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if any(not p.isidentifier() for p in parts):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            modules[".".join(parts)] = path
    return modules


def _walk_with_scope(tree: ast.AST) -> Iterator[Tuple[ast.AST, Optional[str]]]:
    """Yield every node of ``tree`` with the name of the innermost function around it."""
    stack: List[Tuple[ast.AST, Optional[str]]] = [(tree, None)]
    while stack:
        node, scope = stack.pop()
        yield node, scope
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            scope = getattr(node, "name", "<lambda>")
        for child in ast.iter_child_nodes(node):
            stack.append((child, scope))


def _resolve_base(module: str, is_package: bool, node: ast.ImportFrom) -> Optional[str]:
    """The absolute module name that ``from <...> import`` names, relative imports resolved."""
    if node.level == 0:
        return node.module
    package = module.split(".") if is_package else module.split(".")[:-1]
    if node.level - 1 > len(package):
        return None
    base = package[: len(package) - (node.level - 1)]
    if node.module:
        base.append(node.module)
    return ".".join(base)


def _known_prefix(name: str, modules: Dict[str, Path]) -> Optional[str]:
    """The longest module of ``modules`` that ``name`` is or lies within."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in modules:
            return candidate
    return None


def import_sites(module: str, path: Path, modules: Dict[str, Path]) -> List[ImportSite]:
    """Every import in ``module`` (file ``path``) of another module of ``modules``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    sites: List[ImportSite] = []

    def add(target: Optional[str], node: ast.stmt, scope: Optional[str]) -> None:
        site = ImportSite(module, target, path, node.lineno, scope) if target else None
        if site is not None and site not in sites:  # one site per statement and target
            sites.append(site)

    for node, scope in _walk_with_scope(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(_known_prefix(alias.name, modules), node, scope)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_base(module, is_package, node)
            if base is None:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(sub if sub in modules else _known_prefix(base, modules), node, scope)
    return sites


def import_graph(root: Path) -> nx.MultiDiGraph:
    """The import graph of the modules under ``root``; each edge carries its ``site``."""
    modules = find_modules(root)
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        for site in import_sites(module, path, modules):
            graph.add_edge(site.source, site.target, site=site)
    return graph


def cyclic_components(graph: nx.MultiDiGraph) -> List[List[str]]:
    """Strongly connected components that hold a cycle, each sorted, largest first."""
    found = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1 or any(graph.has_edge(m, m) for m in component):
            found.append(sorted(component))
    return sorted(found, key=lambda c: (-len(c), c))


def report(root: Path) -> int:
    """Print the cycles among ``root``'s modules; return how many components have one."""
    graph = import_graph(root)
    components = cyclic_components(graph)
    print(f"{root}: {graph.number_of_nodes()} modules, {graph.number_of_edges()} imports, "
          f"{len(components) or 'no'} cyclic component{'s' if len(components) != 1 else ''}")
    for i, component in enumerate(components, 1):
        sub = graph.subgraph(component)
        print(f"  component {i}: {', '.join(component)}")
        for _, _, data in sorted(sub.edges(data=True), key=lambda e: (e[0], e[1], e[2]["site"].line)):
            print(f"    {data['site'].describe(root)}")
        simple = nx.DiGraph(sub)
        for n, cycle in enumerate(nx.simple_cycles(simple)):
            if n == MAX_CYCLES:
                print(f"    ... (more cycles; listed {MAX_CYCLES})")
                break
            print(f"    cycle: {' -> '.join(cycle + cycle[:1])}")
    return len(components)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point: report each root given; exit status 1 if any has a cycle."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="+", type=Path, help="package source roots, e.g. packages/*/src")
    args = parser.parse_args(argv)
    cyclic = 0
    for root in args.roots:
        if not root.is_dir():
            parser.error(f"not a folder: {root}")
        cyclic += report(root)
    return 1 if cyclic else 0


if __name__ == "__main__":
    sys.exit(main())
