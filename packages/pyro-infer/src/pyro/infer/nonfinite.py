"""Naming the first site of a run whose value, parameters or log-density are not finite.

A NaN loss says nothing of where it came from. When an ELBO finds one it looks, once, through
the traces of that call (guide first, as it ran, then the model) for the first site that is not
finite and names it in the warning. Nothing here runs while the loss is finite.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Optional, Tuple

import torch

__all__ = ["first_nonfinite_site"]


def _kind(x: Any) -> Optional[str]:
    """``"nan"``, ``"inf"``, ``"-inf"`` (or a combination) when ``x`` is a floating tensor or
    number that is not finite; ``None`` otherwise."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        x = torch.tensor(float(x))
    if not isinstance(x, torch.Tensor) or not (x.is_floating_point() or x.is_complex()):
        return None
    x = x.detach()
    kinds = []
    if torch.isnan(x).any():
        kinds.append("nan")
    if (x == float("inf")).any():
        kinds.append("inf")
    if (x == float("-inf")).any():
        kinds.append("-inf")
    return " and ".join(kinds) or None


def _distribution_params(fn: Any) -> Iterator[Tuple[str, Any]]:
    """``(name, tensor)`` of the parameters ``fn`` holds, through wrapping distributions."""
    seen = set()
    while fn is not None and id(fn) not in seen:
        seen.add(id(fn))
        for name in getattr(fn, "arg_constraints", {}) or {}:
            if name in vars(fn):  # computed or given; lazily derived ones are not forced
                yield name, vars(fn)[name]
        fn = getattr(fn, "base_dist", None)


def _site_problem(site: dict) -> Optional[str]:
    """What is not finite at ``site``, in words, or ``None``."""
    if site["type"] == "param":
        kind = _kind(site["value"])
        return f"its value is {kind}" if kind else None
    if site["type"] != "sample":
        return None
    fn = site["fn"]
    for name, value in _distribution_params(fn):
        kind = _kind(value)
        if kind:
            return f"its distribution's parameter '{name}' is {kind} ({type(fn).__name__})"
    kind = _kind(site["value"])
    if kind:
        what = "observed value" if site["is_observed"] else "value"
        return f"its {what} is {kind}"
    for key in ("unscaled_log_prob", "log_prob"):
        kind = _kind(site.get(key))
        if kind:
            return (f"its log_prob is {kind} (the value may lie outside the support of "
                    f"{type(fn).__name__})")
    return None


def _traces(groups: Iterable[Any]) -> Iterator[Tuple[str, Any]]:
    """``("guide", trace)``, ``("model", trace)`` of each recorded ``(model, guide)`` pair; a
    group may be one pair or a list of pairs (one per sequentially enumerated value)."""
    for group in groups:
        pairs = group if isinstance(group, list) else [group]
        for model_trace, guide_trace in pairs:
            yield "guide", guide_trace
            yield "model", model_trace


def first_nonfinite_site(groups: Iterable[Any]) -> Optional[str]:
    """Describe the first site of the recorded traces that is not finite.

    Args:
        groups: ``(model_trace, guide_trace)`` pairs (or lists of them), as an ELBO ran them.

    Returns:
        e.g. ``"site 'x' of the model: its log_prob is nan (...)"``, or ``None`` when every
        param value, distribution parameter, sample value and log-density is finite.
    """
    for role, trace in _traces(groups):
        for name, site in trace.nodes.items():
            problem = _site_problem(site)
            if problem:
                kind = "param" if site["type"] == "param" else "site"
                return f"{kind} '{name}' of the {role}: {problem}"
    return None
