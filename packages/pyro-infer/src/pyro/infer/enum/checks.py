"""Validation warnings of ``TraceEnum_ELBO`` about how a model and guide use enumeration."""

from __future__ import annotations

import warnings
from typing import Any, Dict, FrozenSet, List

from pyro.poutine.util import site_is_subsample

__all__ = ["check_traceenum_requirements", "warn_multiply_sampled", "warn_no_enumeration"]


def _vectorized_plates(site: Dict[str, Any]) -> FrozenSet[str]:
    return frozenset(f.name for f in site["cond_indep_stack"] if f.vectorized)


def check_traceenum_requirements(model_trace: Any, guide_trace: Any) -> None:
    """Warn (``RuntimeWarning``) where a site comes after a guide-enumerated site whose
    vectorized plates it is not inside: its value may then depend on every element of the
    enumerated site at once, which breaks the independence those plates declare. Moving the
    site before the enumerated one (or into its plates) makes the model obviously valid.
    """
    enumerated = {name for name, site in guide_trace.nodes.items()
                  if site["type"] == "sample" and site["infer"].get("enumerate")}
    if not enumerated:
        return
    for role, trace in (("model", model_trace), ("guide", guide_trace)):
        # The enumerated sites seen so far, grouped by their plates: a site is compared with
        # each distinct plate context once, not with every enumerated site.
        seen: Dict[FrozenSet[str], List[str]] = {}
        for name, site in trace.nodes.items():
            if site["type"] != "sample" or site_is_subsample(site):
                continue
            plates = _vectorized_plates(site)
            outside = [ctx for ctx in seen if not ctx <= plates]
            if outside:
                before = sorted(other for ctx in outside for other in seen[ctx])
                broken = sorted(set().union(*(ctx - plates for ctx in outside)))
                warnings.warn(
                    f'at {role} site "{name}", possibly invalid dependency.\n'
                    f'  Expected site "{name}" to precede sites "{", ".join(before)}"\n'
                    f'  to avoid breaking independence of plates "{", ".join(broken)}"',
                    RuntimeWarning)
            if name in enumerated:
                seen.setdefault(plates, []).append(name)


def warn_no_enumeration() -> None:
    """Warn that ``TraceEnum_ELBO`` found nothing to enumerate (with Pyro's wording)."""
    warnings.warn(
        "TraceEnum_ELBO found no sample sites configured for enumeration. If you want to "
        "enumerate sites, you need to @config_enumerate or set "
        'infer={"enumerate": "sequential"} or infer={"enumerate": "parallel"}? If you do not '
        "want to enumerate, consider using Trace_ELBO instead.", stacklevel=4)


def warn_multiply_sampled(model_trace: Any) -> None:
    """Warn (``RuntimeWarning``, Pyro's wording) for each model site enumerated by Monte Carlo
    draws (``infer["num_samples"]``): its gradient estimates may be wrong."""
    for name, site in model_trace.nodes.items():
        if (site["type"] == "sample" and site["infer"].get("num_samples")
                and "_enumerate_dim" in site["infer"]):
            warnings.warn(
                f"Site {name} is multiply sampled in model,\n"
                "expect incorrect gradient estimates from TraceEnum_ELBO.\n"
                "Consider using exact enumeration or guide sampling if possible.",
                RuntimeWarning)
