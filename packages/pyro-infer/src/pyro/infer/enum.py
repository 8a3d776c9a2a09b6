"""Configuring sites for enumeration, and running a guide once per sequentially enumerated value."""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Iterator, List, Optional

from pyro.poutine.handlers import escape, infer_config, replay, trace
from pyro.poutine.util import NonlocalExit

_STRATEGIES = ("parallel", "sequential", "flat", None)


def _enumeration_config(default: Optional[str], expand: bool,
                        num_samples: Optional[int]) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    def config_fn(msg: Dict[str, Any]) -> Dict[str, Any]:
        if msg["type"] != "sample" or msg["is_observed"]:
            return {}
        if type(msg["fn"]).__name__ == "_Subsample" or "enumerate" in msg["infer"]:
            return {}
        if getattr(msg["fn"], "has_enumerate_support", False):
            return {"enumerate": default, "expand": expand}
        if num_samples is not None:
            return {"enumerate": default, "expand": expand, "num_samples": num_samples}
        return {}

    return config_fn


def config_enumerate(guide: Optional[Callable] = None, default: Optional[str] = "parallel",
                     expand: bool = False, num_samples: Optional[int] = None) -> Any:
    """Mark every discrete sample site of ``guide`` (or a model) for enumeration.

    Each unobserved sample site whose distribution has ``has_enumerate_support`` gets
    ``infer={"enumerate": default, "expand": expand}``; with ``num_samples`` the other sites get
    ``"num_samples": num_samples`` too, so that they are enumerated over that many draws. Sites
    that already set ``infer["enumerate"]`` themselves keep their own setting.

    Usable as ``config_enumerate(guide)``, as a bare decorator ``@config_enumerate``, or with
    options ``@config_enumerate(default="sequential")``.

    Args:
        guide: the model or guide to configure.
        default: ``"parallel"`` (one run, support along a fresh tensor dim), ``"sequential"``
            (one run per value), ``"flat"`` or ``None`` (no enumeration).
        expand: whether enumerated values are expanded to the full batch shape rather than
            broadcast from a shape with a single non-trivial dim.
        num_samples: if given, sites without a finite support are enumerated over this many
            independent draws (parallel enumeration only).

    Returns:
        The configured callable, or a decorator when ``guide`` is None.
    """
    if default not in _STRATEGIES:
        raise ValueError(
            f"config_enumerate: default must be one of 'parallel', 'sequential', 'flat' or None, "
            f"got {default!r}"
        )
    if not isinstance(expand, bool):
        raise ValueError(f"config_enumerate: expand must be a bool, got {expand!r}")
    if num_samples is not None:
        if default != "parallel":
            raise ValueError("config_enumerate: num_samples needs default='parallel'")
        if not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"config_enumerate: num_samples must be a positive int, got {num_samples!r}")
    if guide is None:
        return lambda fn: config_enumerate(fn, default=default, expand=expand,
                                           num_samples=num_samples)
    return infer_config(guide, config_fn=_enumeration_config(default, expand, num_samples))


def _sequential_escape(partial: Any, msg: Dict[str, Any]) -> bool:
    return (
        msg["type"] == "sample"
        and not msg["is_observed"]
        and msg["name"] not in partial
        and msg["infer"].get("enumerate") == "sequential"
    )


def iter_discrete_traces(graph_type: str, fn: Callable, *args: Any, **kwargs: Any) -> Iterator[Any]:
    """Run ``fn`` once per joint value of its sites marked ``infer={"enumerate": "sequential"}``.

    Yields one full trace per combination of values (depth-first, in support order). Sites
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
            for value in site["fn"].enumerate_support(expand=False):
                ext = base.copy()
                record = dict(site)
                record["value"] = value
                record["done"] = True
                record["stop"] = False
                record["continuation"] = None
                record["infer"] = dict(site["infer"])
                ext.add_node(site["name"], **record)
                new_traces.append(ext)
            # Depth-first in support order: push in reverse.
            stack.extend(reversed(new_traces))
            continue
        yield tr

