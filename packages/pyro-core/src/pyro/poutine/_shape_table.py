"""The text table of a trace's shapes that :meth:`Trace.format_shapes` prints."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

import torch

# A row: its label (column 0), the cells right-aligned to the bar (a param's shape, or a sample
# row's batch dims followed by "|"), and the cells left-aligned after it (event dims).
_Row = Tuple[str, List[str], List[str]]


def _dims(shape: Iterable[int]) -> List[str]:
    return [str(size) for size in shape]


def _shape_of(value: Any) -> Tuple[int, ...]:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else ()


def _sample_rows(name: str, site: Dict[str, Any]) -> List[_Row]:
    fn = site["fn"]
    batch_shape = tuple(getattr(fn, "batch_shape", ()))
    event_shape = tuple(getattr(fn, "event_shape", ()))
    rows: List[_Row] = [(f"{name} dist", _dims(batch_shape) + ["|"], _dims(event_shape))]
    value_shape = _shape_of(site["value"])
    split = max(len(value_shape) - len(event_shape), 0)
    rows.append(("value", _dims(value_shape[:split]) + ["|"], _dims(value_shape[split:])))
    if "log_prob" in site:
        rows.append(("log_prob", _dims(_shape_of(site["log_prob"])) + ["|"], []))
    return rows


def format_trace_shapes(
    nodes: Dict[str, Dict[str, Any]], title: str, last_site: Optional[str]
) -> str:
    """Return the shape table of the sites in ``nodes`` up to and including ``last_site``.

    Every cell is right-justified in its column; the cells before the bar are padded on the
    left so that the bars line up, the event cells after it are padded on the right. Each
    line keeps its trailing spaces, so all lines have the same width.
    """
    params: List[_Row] = []
    samples: List[_Row] = []
    for name, site in nodes.items():
        if site["type"] == "param":
            params.append((name, _dims(_shape_of(site["value"])), []))
        elif site["type"] == "sample":
            samples.extend(_sample_rows(name, site))
        if name == last_site:
            break
    rows: List[_Row] = [(title, [], []), ("Param Sites:", [], [])]
    rows += params
    rows.append(("Sample Sites:", [], []))
    rows += samples
    num_left = max(len(left) for _, left, _ in rows)
    num_right = max(len(right) for _, _, right in rows)
    table = [
        [label] + [""] * (num_left - len(left)) + left + right + [""] * (num_right - len(right))
        for label, left, right in rows
    ]
    widths = [max(len(cells[col]) for cells in table) for col in range(1 + num_left + num_right)]
    return "\n".join(
        " ".join(cell.rjust(width) for cell, width in zip(cells, widths)) for cells in table
    )
