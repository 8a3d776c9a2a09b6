"""``trace``: record every site of a run into a :class:`~pyro.poutine.Trace`."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from pyro.poutine.messenger import Messenger, check_callable
from pyro.poutine.trace_struct import Trace
from pyro.poutine.util import site_is_subsample

_TRACED_TYPES = frozenset({"sample", "param"})


def _independent(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    # Two sites are independent when they sit in different iterations of a sequential plate.
    counters = {f.name: f.counter for f in a["cond_indep_stack"] if not f.vectorized}
    for f in b["cond_indep_stack"]:
        if not f.vectorized and f.name in counters and counters[f.name] != f.counter:
            return True
    return False


def identify_dense_edges(trace: Trace) -> None:
    """Add an edge from every sample site to each later one it is not independent of."""
    sites = [
        (name, site) for name, site in trace.nodes.items()
        if site["type"] == "sample" and not site_is_subsample(site)
    ]
    for i, (name, site) in enumerate(sites):
        for past_name, past in sites[:i]:
            if not _independent(site, past):
                trace.add_edge(past_name, name)


class TraceMessenger(Messenger):
    """Record the sites of each run, in order, into ``self.trace``.

    Args:
        graph_type: ``"flat"`` (no edges) or ``"dense"`` (an edge from each sample site to every
            later sample site it may depend on).
        param_only: record only param sites (a wrapped function's trace then has no
            ``_INPUT`` and ``_RETURN`` sites either).
    """

    def __init__(self, graph_type: Optional[str] = None, param_only: Optional[bool] = None) -> None:
        super().__init__()
        self.graph_type = "flat" if graph_type is None else graph_type
        if self.graph_type not in ("flat", "dense"):
            raise ValueError(f"trace graph_type must be 'flat' or 'dense', got {graph_type!r}")
        self.param_only = bool(param_only)
        self.trace = Trace(graph_type=self.graph_type)

    def __enter__(self) -> "TraceMessenger":
        self.trace = Trace(graph_type=self.graph_type)
        return super().__enter__()

    def __exit__(self, *args: Any) -> None:
        if self.graph_type == "dense" and args[0] is None:
            identify_dense_edges(self.trace)
        return super().__exit__(*args)

    def __call__(self, fn: Callable) -> "TraceHandler":
        check_callable(fn)
        return TraceHandler(self, fn)

    def get_trace(self) -> Trace:
        """Return the trace of the latest run."""
        return self.trace

    def _reset(self) -> None:
        inputs = self.trace.nodes.get("_INPUT")
        self.trace = Trace(graph_type=self.graph_type)
        if inputs is not None:
            self.trace.add_node("_INPUT", **inputs)

    def _postprocess_message(self, msg: Dict[str, Any]) -> None:
        # As in Pyro, only sample and param sites are recorded: queries, pyro.subsample's
        # nameless message and other effectful calls leave no node.
        if msg["type"] not in _TRACED_TYPES or (self.param_only and msg["type"] != "param"):
            return
        self.trace._add_site(msg["name"], msg.copy())


class TraceHandler:
    """A function run under a :class:`TraceMessenger`; also records its inputs and return value.

    Calling it runs the function and returns its value; :meth:`get_trace` runs it and returns the
    trace instead.
    """

    def __init__(self, msngr: TraceMessenger, fn: Callable) -> None:
        self.fn = fn
        self.msngr = msngr
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        record_io = not self.msngr.param_only
        with self.msngr:
            if record_io:
                self.msngr.trace._add_site(
                    "_INPUT", {"name": "_INPUT", "type": "args", "args": args, "kwargs": kwargs}
                )
            try:
                ret = self.fn(*args, **kwargs)
            except (ValueError, RuntimeError) as e:
                if type(e) not in (ValueError, RuntimeError):
                    raise
                shapes = self.msngr.trace.format_shapes()
                raise type(e)(f"{e}\n{shapes}").with_traceback(e.__traceback__) from e
            if record_io:
                self.msngr.trace._add_site("_RETURN", {"name": "_RETURN", "type": "return", "value": ret})
        return ret

    @property
    def trace(self) -> Trace:
        """The trace of the latest run."""
        return self.msngr.trace

    def get_trace(self, *args: Any, **kwargs: Any) -> Trace:
        """Run the function on ``args`` and ``kwargs`` and return the trace of that run."""
        self(*args, **kwargs)
        return self.msngr.get_trace()
