"""Sequential enumeration: run a model or guide once per joint value of its sequential sites."""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Iterator, List

from pyro.poutine.handlers import escape, replay, trace
from pyro.poutine.util import NonlocalExit


def _sequential_escape(partial: Any, msg: Dict[str, Any]) -> bool:
    return (
        msg["type"] == "sample"
        and not msg["is_observed"]
        and msg["name"] not in partial
        and msg["infer"].get("enumerate") == "sequential"
    )


def iter_discrete_traces(graph_type: str, fn: Callable, *args: Any, **kwargs: Any) -> Iterator[Any]:
    """Run ``fn`` once per joint value of its sites marked ``infer={"enumerate": "sequential"}``.

    Yields one full trace per combination of values, depth-first with the last support
    value of each site first (Pyro's order). Sites
    enumerated in parallel, and all other sites, are left to the handlers around ``fn``.

    Args:
        graph_type: ``"flat"`` or ``"dense"``, as for :func:`pyro.poutine.trace`.
        fn: the model or guide; ``args`` and ``kwargs`` are passed to it.
    """
    stack: List[Any] = [None]
    while stack:
        partial = stack.pop()
        run = escape(fn, escape_fn=functools.partial(_sequential_escape, partial or ()))
        if partial is not None:
            run = replay(run, trace=partial)
        tracer = trace(run, graph_type=graph_type)
        try:
            tr = tracer.get_trace(*args, **kwargs)
        except NonlocalExit as e:
            e.reset_stack()
            base = tracer.trace
            site = e.site
            new_traces = []
            expand = bool(site["infer"].get("expand", False))
            for value in site["fn"].enumerate_support(expand=expand):
                ext = base.copy()
                record = dict(site)
                record["value"] = value
                record["done"] = True
                record["stop"] = False
                record["continuation"] = None
                record["infer"] = dict(site["infer"])
                ext.add_node(site["name"], **record)
                new_traces.append(ext)
            # Depth-first; the last support value is explored first, the order Pyro yields.
            stack.extend(new_traces)
            continue
        yield tr

