"""The enumerated ``(model_trace, guide_trace)`` pairs of one particle, shared by the losses
that contract enumerated sites (``TraceEnum_ELBO``, ``TraceTMC_ELBO``)."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from pyro.infer.enum.checks import check_traceenum_requirements
from pyro.infer.enum.factors import compute_log_probs
from pyro.infer.enum.messenger import EnumMessenger
from pyro.infer.enum.sequential import iter_discrete_traces
from pyro.infer.util import (
    check_model_guide_match,
    check_site_shape,
    is_validation_enabled,
    prune_subsample_sites_,
)
from pyro.poutine.handlers import replay, trace


def enumerated_trace_pairs(model: Callable, guide: Callable, args: tuple, kwargs: dict,
                           max_plate_nesting: int,
                           check_model: Optional[Callable[[Any], None]] = None,
                           ) -> List[Tuple[Any, Any]]:
    """Run the guide under parallel enumeration (once per joint value of its sequentially
    enumerated sites) and the model replayed against each guide trace, also enumerated, from
    the next free dim; prune subsample sites and compute log-densities.

    Under validation, the model/guide match, the enumeration dependency warning, the site
    shapes and ``check_model(model_trace)`` (a loss's own extra check) are checked.

    Returns:
        ``[(model_trace, guide_trace), ...]``.
    """
    guide_enum = EnumMessenger(first_available_dim=-1 - int(max_plate_nesting))
    validate = is_validation_enabled()
    pairs = []
    for guide_trace in iter_discrete_traces("flat", guide_enum(guide), *args, **kwargs):
        model_enum = EnumMessenger(first_available_dim=guide_enum.next_available_dim)
        model_trace = trace(model_enum(replay(model, trace=guide_trace))).get_trace(
            *args, **kwargs)
        if validate:
            check_model_guide_match(model_trace, guide_trace, max_plate_nesting)
            check_traceenum_requirements(model_trace, guide_trace)
            if check_model is not None:
                check_model(model_trace)
        prune_subsample_sites_(guide_trace)
        prune_subsample_sites_(model_trace)
        compute_log_probs(model_trace)
        compute_log_probs(guide_trace)
        if validate:
            for tr in (model_trace, guide_trace):
                for site in tr.nodes.values():
                    if site["type"] == "sample":
                        check_site_shape(site, max_plate_nesting)
        pairs.append((model_trace, guide_trace))
    return pairs


__all__ = ["enumerated_trace_pairs"]
