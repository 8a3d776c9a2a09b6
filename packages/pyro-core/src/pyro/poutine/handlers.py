"""Handler functions: each wraps a function in a messenger, or returns the messenger itself.

``poutine.scale(model, scale=2.0)`` returns ``model`` run under a :class:`ScaleMessenger`;
``poutine.scale(scale=2.0)`` (no function) returns the messenger, usable with ``with`` or as a
decorator.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Iterable, Optional

from pyro.poutine._handler_checks import check_predicate
from pyro.poutine.block_messenger import BlockMessenger
from pyro.poutine.broadcast_messenger import BroadcastMessenger
from pyro.poutine.condition_messenger import ConditionMessenger
from pyro.poutine.do_messenger import DoMessenger
from pyro.poutine.equalize_messenger import EqualizeMessenger
from pyro.poutine.escape_messenger import EscapeMessenger
from pyro.poutine.infer_config_messenger import InferConfigMessenger
from pyro.poutine.lift_messenger import LiftMessenger
from pyro.poutine.markov_messenger import MarkovMessenger
from pyro.poutine.mask_messenger import MaskMessenger
from pyro.poutine.messenger import bind, check_callable
from pyro.poutine.replay_messenger import ReplayMessenger
from pyro.poutine.scale_messenger import ScaleMessenger
from pyro.poutine.seed_messenger import SeedMessenger
from pyro.poutine.substitute_messenger import SubstituteMessenger
from pyro.poutine.trace_messenger import TraceMessenger
from pyro.poutine.uncondition_messenger import UnconditionMessenger
from pyro.poutine.runtime import NonlocalExit
from pyro.poutine.util import discrete_escape, enum_extend


def trace(fn: Optional[Callable] = None, graph_type: Optional[str] = None,
          param_only: Optional[bool] = None) -> Any:
    """Record every site of each run of ``fn``; ``trace(fn).get_trace(*args)`` returns the Trace."""
    check_callable(fn)
    return bind(TraceMessenger(graph_type=graph_type, param_only=param_only), fn)


def replay(fn: Optional[Callable] = None, trace: Any = None, params: Optional[Dict[str, Any]] = None) -> Any:
    """Reuse the sample values recorded in ``trace`` (and param values in ``params``)."""
    check_callable(fn)
    return bind(ReplayMessenger(trace=trace, params=params), fn)


def block(fn: Optional[Callable] = None, hide_fn: Optional[Callable] = None,
          expose_fn: Optional[Callable] = None, hide_all: bool = True, expose_all: bool = False,
          hide: Optional[Iterable[str]] = None, expose: Optional[Iterable[str]] = None,
          hide_types: Optional[Iterable[str]] = None, expose_types: Optional[Iterable[str]] = None) -> Any:
    """Hide chosen sites from handlers outside the block (all sites by default)."""
    check_callable(fn)
    return bind(BlockMessenger(hide_fn=hide_fn, expose_fn=expose_fn, hide_all=hide_all,
                               expose_all=expose_all, hide=hide, expose=expose,
                               hide_types=hide_types, expose_types=expose_types), fn)


def broadcast(fn: Optional[Callable] = None) -> Any:
    """Expand each sample site's distribution to the batch shape of its plates (see
    :class:`~pyro.poutine.broadcast_messenger.BroadcastMessenger`)."""
    check_callable(fn)
    return bind(BroadcastMessenger(), fn)


def condition(fn: Optional[Callable] = None, data: Any = None) -> Any:
    """Observe the sample sites named in ``data`` (a dict or a Trace) at the given values."""
    check_callable(fn)
    return bind(ConditionMessenger(data=data), fn)


def do(fn: Optional[Callable] = None, data: Optional[Dict[str, Any]] = None) -> Any:
    """Intervene on the sites named in ``data``: downstream code sees the given values."""
    check_callable(fn)
    return bind(DoMessenger(data=data), fn)


def escape(fn: Optional[Callable] = None, escape_fn: Optional[Callable] = None) -> Any:
    """Leave the run with NonlocalExit at the first sample site where ``escape_fn(msg)`` holds."""
    check_callable(fn)
    return bind(EscapeMessenger(escape_fn=escape_fn), fn)


def lift(fn: Optional[Callable] = None, prior: Any = None) -> Any:
    """Turn param sites into sample sites drawn from ``prior``."""
    check_callable(fn)
    return bind(LiftMessenger(prior=prior), fn)


def equalize(fn: Optional[Callable] = None, sites: Any = None, type: Optional[str] = "sample",
             keep_dist: Optional[bool] = False) -> Any:
    """Give the sites matching ``sites`` the value of the first of them that runs (see
    :class:`~pyro.poutine.equalize_messenger.EqualizeMessenger`)."""
    check_callable(fn)
    return bind(EqualizeMessenger(sites, type=type, keep_dist=keep_dist), fn)


def scale(fn: Optional[Callable] = None, scale: Any = None) -> Any:
    """Multiply the log-density of every enclosed sample site by ``scale``."""
    check_callable(fn)
    return bind(ScaleMessenger(scale=scale), fn)


def mask(fn: Optional[Callable] = None, mask: Any = None) -> Any:
    """Zero the log-density of enclosed sample sites where ``mask`` is False."""
    check_callable(fn)
    return bind(MaskMessenger(mask=mask), fn)


def seed(fn: Optional[Callable] = None, rng_seed: Optional[int] = None) -> Any:
    """Run with fixed random seeds ``rng_seed``, restoring the generators' state afterwards."""
    check_callable(fn)
    return bind(SeedMessenger(rng_seed=rng_seed), fn)


def substitute(fn: Optional[Callable] = None, data: Optional[Dict[str, Any]] = None) -> Any:
    """Return ``data[name]`` at param sites named in ``data``."""
    check_callable(fn)
    return bind(SubstituteMessenger(data=data), fn)


def uncondition(fn: Optional[Callable] = None) -> Any:
    """Sample observed sites instead of observing them."""
    check_callable(fn)
    return bind(UnconditionMessenger(), fn)


def infer_config(fn: Optional[Callable] = None, config_fn: Optional[Callable] = None) -> Any:
    """Update each site's ``infer`` dict with ``config_fn(msg)``."""
    check_callable(fn)
    return bind(InferConfigMessenger(config_fn=config_fn), fn)


def markov(fn: Any = None, history: int = 1, keep: bool = False, dim: Optional[int] = None,
           name: Optional[str] = None) -> Any:
    """Declare a Markov chain; see :func:`pyro.markov`."""
    msngr = MarkovMessenger(history=history, keep=keep, dim=dim, name=name)
    if fn is not None and not callable(fn):
        return msngr.generator(iterable=fn)
    return bind(msngr, fn)


def queue(fn: Optional[Callable] = None, queue: Any = None, max_tries: Optional[int] = None,
          extend_fn: Optional[Callable] = None, escape_fn: Optional[Callable] = None,
          num_samples: Optional[int] = None) -> Any:
    """Run ``fn`` on partial traces taken from ``queue`` until one run completes.

    Each try replays a partial trace from the queue and escapes at the first new site chosen by
    ``escape_fn`` (default: unobserved discrete sites); the partial trace is then extended by
    ``extend_fn`` (default: one trace per value of the site's support) and the extensions are
    put back on the queue. This is the search strategy behind :class:`pyro.infer.Search`.

    Args:
        queue: a :class:`queue.Queue`-like object holding partial traces.
        max_tries: how many tries before giving up (default 1,000,000).
        extend_fn, escape_fn, num_samples: see above; ``num_samples`` is passed to ``extend_fn``.
    """
    check_callable(fn)
    if not (callable(getattr(queue, "empty", None)) and callable(getattr(queue, "get", None))
            and callable(getattr(queue, "put", None))):
        raise TypeError(
            f"poutine.queue: queue must be a queue.Queue-like object (with empty, get and put) "
            f"of partial traces, got {type(queue).__name__}"
        )
    check_predicate("queue", "escape_fn", escape_fn)
    if extend_fn is not None and not callable(extend_fn):
        raise TypeError(f"poutine.queue: extend_fn must be a function, got {type(extend_fn).__name__}")
    max_tries = int(1e6) if max_tries is None else max_tries
    extend_fn = enum_extend if extend_fn is None else extend_fn
    escape_fn = discrete_escape if escape_fn is None else escape_fn
    num_samples = -1 if num_samples is None else num_samples

    def wrapper(wrapped: Callable) -> Callable:
        @functools.wraps(wrapped)
        def run(*args: Any, **kwargs: Any) -> Any:
            for _ in range(max_tries):
                if queue.empty():
                    raise ValueError("poutine.queue: the queue of partial traces is empty")
                partial = queue.get()
                tracer = trace(escape(replay(wrapped, trace=partial),
                                      escape_fn=functools.partial(escape_fn, partial)))
                try:
                    return tracer(*args, **kwargs)
                except NonlocalExit as exit_:
                    exit_.reset_stack()
                    for extended in extend_fn(tracer.trace.copy(), exit_.site, num_samples=num_samples):
                        queue.put(extended)
            raise ValueError(f"poutine.queue: max_tries ({max_tries}) exceeded")

        return run

    return wrapper if fn is None else wrapper(fn)


def __getattr__(name: str) -> Any:
    """Handlers that other packages register (``enum``, ``collapse``, ``reparam`` from
    pyro-infer) are attributes here too, as in Pyro's ``pyro.poutine.handlers``."""
    if name.startswith("__"):
        # ``from pyro.poutine.handlers import x`` asks for ``__path__``: no plugin look-up
        # (and no plugin import) for the import machinery's questions.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from pyro.plugins import resolve

    return resolve("handlers", name, __name__)
