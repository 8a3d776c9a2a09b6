"""The Pyro 0.1 handler classes (``TracePoutine(fn)`` ...), kept as thin deprecated aliases."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Union

from pyro.poutine import handlers
from pyro.poutine.plate_messenger import PlateMessenger
from pyro.poutine.trace_struct import Trace
from pyro.util import warn_once


def _deprecated(old: str, new: str) -> None:
    warn_once(old, f"pyro.poutine.{old} is deprecated; use pyro.poutine.{new} instead")


def Poutine(fn: Callable) -> Callable:
    """Pyro 0.1 base poutine: runs ``fn`` unchanged."""
    _deprecated("Poutine", "Messenger")
    return fn


def TracePoutine(fn: Callable, graph_type: Optional[str] = None) -> Any:
    """Pyro 0.1 alias of ``poutine.trace(fn, graph_type=...)``."""
    _deprecated("TracePoutine", "trace")
    return handlers.trace(fn, graph_type=graph_type)


def BlockPoutine(fn: Callable, hide_all: bool = True, expose_all: bool = False, hide: Any = None,
                 expose: Any = None, hide_types: Any = None, expose_types: Any = None) -> Any:
    """Pyro 0.1 alias of ``poutine.block``."""
    _deprecated("BlockPoutine", "block")
    return handlers.block(fn, hide_all=hide_all, expose_all=expose_all, hide=hide, expose=expose,
                          hide_types=hide_types, expose_types=expose_types)


def ConditionPoutine(fn: Callable, data: Any) -> Any:
    """Pyro 0.1 alias of ``poutine.condition``."""
    _deprecated("ConditionPoutine", "condition")
    return handlers.condition(fn, data=data)


def EscapePoutine(fn: Callable, escape_fn: Callable) -> Any:
    """Pyro 0.1 alias of ``poutine.escape``."""
    _deprecated("EscapePoutine", "escape")
    return handlers.escape(fn, escape_fn=escape_fn)


def LiftPoutine(fn: Callable, prior: Any) -> Any:
    """Pyro 0.1 alias of ``poutine.lift``."""
    _deprecated("LiftPoutine", "lift")
    return handlers.lift(fn, prior=prior)


def ScalePoutine(fn: Callable, scale: Any) -> Any:
    """Pyro 0.1 alias of ``poutine.scale``."""
    _deprecated("ScalePoutine", "scale")
    return handlers.scale(fn, scale=scale)


def ReplayPoutine(fn: Callable, guide_trace: Trace, sites: Union[None, list, Dict[str, str]] = None) -> Any:
    """Pyro 0.1 alias of ``poutine.replay``; ``sites`` restricts (or renames) the replayed sites.

    ``sites`` may be a list of site names, or a dict ``model site -> guide site``.
    """
    _deprecated("ReplayPoutine", "replay")
    if sites is not None:
        mapping = sites if isinstance(sites, dict) else {name: name for name in sites}
        selected = Trace(graph_type=guide_trace.graph_type)
        for model_name, guide_name in mapping.items():
            site = dict(guide_trace.nodes[guide_name])
            site["name"] = model_name
            selected.add_node(model_name, **site)
        guide_trace = selected
    return handlers.replay(fn, trace=guide_trace)


def IndepPoutine(fn: Callable, name: str, vectorized: bool) -> Callable:
    """Pyro 0.1 independence poutine: runs ``fn`` inside one (vectorized or sequential) plate frame."""
    _deprecated("IndepPoutine", "plate")

    def run(*args: Any, **kwargs: Any) -> Any:
        frame = PlateMessenger(name)
        if not vectorized:
            frame._vectorized = False
        with frame:
            return fn(*args, **kwargs)

    return run
