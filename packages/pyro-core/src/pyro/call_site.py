"""Which ``pyro.sample`` site a line of user code is building, read from its source.

Used only to word error messages: a distribution whose parameters are invalid fails while it is
being constructed, before ``pyro.sample`` runs, so the site's name is known only to the source
text of the call around it (``pyro.sample("z", dist.Normal(loc, 1.0))``). Nothing here runs
unless something has already gone wrong.
"""

from __future__ import annotations

import ast
import linecache
import os
import sys
from types import FrameType
from typing import Any, Dict, Iterable, Optional, Tuple

__all__ = ["pending_sample_site", "sample_site_name"]


def _positions(frame: FrameType) -> Optional[tuple]:
    """``(lineno, end_lineno, col, end_col)`` of the instruction ``frame`` is executing."""
    try:
        positions = list(frame.f_code.co_positions())[frame.f_lasti // 2]
    except (AttributeError, IndexError):  # no position table (Python < 3.11) or a bad index
        return None
    if positions[0] is None or positions[2] is None:
        return None
    return positions


def _contains(node: ast.AST, pos: tuple) -> bool:
    lineno, end_lineno, col, end_col = pos
    start = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
    end = (node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
    return start <= (lineno, col) and (end_lineno or lineno, end_col or col) <= end


def _is_sample_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name == "sample"


def _name_value(node: ast.AST, frame: FrameType) -> Optional[str]:
    """The string ``node`` denotes in ``frame``: a literal, a variable, or an f-string of
    variables and attributes; ``None`` for anything that would need a call to evaluate."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Name):
        scope = {**frame.f_globals, **frame.f_locals}
        value = scope.get(node.id)
        return value if isinstance(value, str) else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
                continue
            inner = getattr(part, "value", None)
            value = _plain_value(inner, frame) if inner is not None else None
            if value is None or getattr(part, "format_spec", None) is not None:
                return None
            parts.append(str(value))
        return "".join(parts)
    return None


def _plain_value(node: ast.AST, frame: FrameType) -> Any:
    """Evaluate a variable or a chain of attributes of one (no calls, no subscripts)."""
    if isinstance(node, ast.Name):
        scope = {**frame.f_globals, **frame.f_locals}
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _plain_value(node.value, frame)
        if base is None:
            return None
        try:  # a property runs code: whatever it raises, the name is just not known
            return getattr(base, node.attr, None)
        except Exception:
            return None
    if isinstance(node, ast.Constant):
        return node.value
    return None


_TREES: Dict[str, Tuple[str, Optional[ast.AST]]] = {}
_MAX_TREES = 8


def _parse(filename: str, module_globals: Dict[str, Any]) -> Optional[ast.AST]:
    """The syntax tree of a source file (kept while its text is unchanged), or ``None``."""
    source = "".join(linecache.getlines(filename, module_globals))
    if not source:
        return None
    cached = _TREES.get(filename)
    if cached is not None and cached[0] == source:
        return cached[1]
    try:
        tree: Optional[ast.AST] = ast.parse(source, filename)
    except (SyntaxError, ValueError):
        tree = None
    if len(_TREES) >= _MAX_TREES:  # a few files at most (notebooks make one per cell)
        _TREES.pop(next(iter(_TREES)))
    _TREES[filename] = (source, tree)
    return tree


def sample_site_name(frame: FrameType) -> Optional[str]:
    """Return the name of the innermost ``sample(...)`` call that encloses the expression
    ``frame`` is evaluating, or ``None`` when there is none or its name cannot be read
    without running code (or the source is not available)."""
    pos = _positions(frame)
    if pos is None:
        return None
    tree = _parse(frame.f_code.co_filename, frame.f_globals)
    if tree is None:
        return None
    best: Optional[ast.Call] = None
    for node in ast.walk(tree):
        if _is_sample_call(node) and _contains(node, pos):
            if best is None or _contains(best, (node.lineno, node.end_lineno,
                                                node.col_offset, node.end_col_offset)):
                best = node  # type: ignore[assignment]
    if best is None:
        return None
    if best.args:
        return _name_value(best.args[0], frame)
    for keyword in best.keywords:
        if keyword.arg == "name":
            return _name_value(keyword.value, frame)
    return None


def pending_sample_site(skip_dirs: Iterable[str], max_frames: int = 8) -> Optional[str]:
    """Return the ``pyro.sample`` site being built by the callers: the innermost of the first
    ``max_frames`` frames outside ``skip_dirs`` (the library's own folders) that is evaluating
    the arguments of a ``sample(...)`` call names it; ``None`` when none does.

    So ``pyro.sample("z", dist.Normal(loc, 1.0))`` names ``z``, and so does
    ``pyro.sample("z", prior())`` when ``prior`` builds the distribution.
    """
    skip = tuple(os.path.join(os.path.abspath(d), "") for d in skip_dirs)
    frame: Optional[FrameType] = sys._getframe(1)
    looked = 0
    while frame is not None and looked < max_frames:
        if not os.path.abspath(frame.f_code.co_filename).startswith(skip):
            looked += 1
            name = sample_site_name(frame)
            if name is not None:
                return name
        frame = frame.f_back
    return None
