"""The seed's (Pyro 0.1's) ``ELBO(num_particles, trace_graph, enum_discrete)`` front door.

Calling :class:`~pyro.infer.ELBO` itself picks the estimator its flags ask for. The dispatch
lives here, above the estimators it imports, and is installed into the base class when
``pyro.infer`` is imported; :mod:`pyro.infer.elbo` knows none of its subclasses.
"""

from __future__ import annotations

from typing import Any

from pyro.infer.elbo import ELBO, set_seed_front_door
from pyro.infer.enum.traceenum_elbo import TraceEnum_ELBO
from pyro.infer.trace_elbo import Trace_ELBO
from pyro.infer.tracegraph_elbo import TraceGraph_ELBO

__all__ = ["seed_elbo"]


def seed_elbo(*args: Any, **kwargs: Any) -> ELBO:
    """Return the estimator the seed's flags select.

    Accepts the seed signature ``ELBO(num_particles=1, trace_graph=False, enum_discrete=False)``
    (the flags positionally or by keyword) plus any argument of the chosen estimator:
    :class:`~pyro.infer.TraceEnum_ELBO` summing over every discrete guide site with
    ``enum_discrete=True``, :class:`~pyro.infer.TraceGraph_ELBO` with ``trace_graph=True``, else
    :class:`~pyro.infer.Trace_ELBO`.
    """
    args_list = list(args)
    if len(args_list) >= 2 and isinstance(args_list[1], bool):
        kwargs.setdefault("trace_graph", args_list.pop(1))
        if len(args_list) >= 2 and isinstance(args_list[1], bool):
            kwargs.setdefault("enum_discrete", args_list.pop(1))
    trace_graph = kwargs.pop("trace_graph", False)
    enum_discrete = kwargs.pop("enum_discrete", False)
    if enum_discrete:
        elbo = TraceEnum_ELBO(*args_list, **kwargs)
        elbo.enum_discrete = True  # the seed's meaning: sum over every discrete guide site
        return elbo
    if trace_graph:
        return TraceGraph_ELBO(*args_list, **kwargs)
    return Trace_ELBO(*args_list, **kwargs)


set_seed_front_door(seed_elbo)
