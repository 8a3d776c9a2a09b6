"""The log-density of one sample site: computed once, scaled and masked, stored in the site.

:meth:`pyro.poutine.Trace.compute_log_prob` and :meth:`~pyro.poutine.Trace.compute_score_parts`
call these for every sample site of a trace; the ELBOs call them site by site
(``pyro.infer.util`` re-exports them).
"""

from __future__ import annotations

from typing import Any, Dict

import torch

from pyro.ops.score_parts import ScoreParts, scale_and_mask

__all__ = ["raw_log_prob", "site_log_prob", "site_score_parts"]


def _shape_note(site: Dict[str, Any]) -> str:
    fn = site["fn"]
    value = site["value"]
    batch = tuple(getattr(fn, "batch_shape", ()))
    event = tuple(getattr(fn, "event_shape", ()))
    vshape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
    return f"batch_shape={batch} event_shape={event} value.shape={vshape}"


def _site_error(site: Dict[str, Any], what: str, e: Exception) -> ValueError:
    return ValueError(
        f"Error while computing {what} at site '{site['name']}':\n{e}\n{_shape_note(site)}"
    )


def raw_log_prob(site: Dict[str, Any], what: str = "log_prob") -> Any:
    """Return ``site["fn"].log_prob(site["value"])``, unscaled and unmasked, without storing it.

    Raises:
        ValueError: "Error while computing ``what`` at site '...'", with the shapes involved,
            when ``log_prob`` fails.
    """
    try:
        return site["fn"].log_prob(site["value"], *site["args"], **site["kwargs"])
    except ValueError as e:
        raise _site_error(site, what, e) from e


def _sum(log_p: Any) -> Any:
    # a 0-d log-density is its own sum: no extra autograd node per scalar site
    return log_p.sum() if isinstance(log_p, torch.Tensor) and log_p.dim() else log_p


def site_log_prob(site: Dict[str, Any], with_sum: bool = True) -> Any:
    """Compute, store and return the scaled, masked, batch-shaped log-density of ``site``.

    Stores ``unscaled_log_prob`` and ``log_prob`` in the site dict, and ``log_prob_sum`` unless
    ``with_sum`` is false (for callers that never read it). What the site already has is not
    recomputed.
    """
    log_p = site.get("log_prob")
    if log_p is None:
        raw = raw_log_prob(site)
        site["unscaled_log_prob"] = raw
        log_p = site["log_prob"] = scale_and_mask(raw, site["scale"], site["mask"])
    if with_sum and "log_prob_sum" not in site:
        site["log_prob_sum"] = _sum(log_p)
    return log_p


def site_score_parts(site: Dict[str, Any]) -> ScoreParts:
    """Compute, store and return the scaled, masked :class:`ScoreParts` of a guide ``site``.

    A distribution without ``score_parts`` (a plain torch one) gets the entropy term from its
    log-density when it has ``rsample``, the score function otherwise. Also stores
    ``unscaled_log_prob``, ``log_prob`` and ``log_prob_sum``. When the entropy term is the
    log-density itself (reparameterised sites), the scaled entropy term is the very same tensor
    as ``log_prob``, so callers can recognise it with ``is`` and count it once.
    """
    parts = site.get("score_parts")
    if parts is not None:
        return parts
    fn = site["fn"]
    score_parts = getattr(fn, "score_parts", None)
    try:
        if score_parts is not None:
            raw = score_parts(site["value"], *site["args"], **site["kwargs"])
        else:
            log_p = fn.log_prob(site["value"], *site["args"], **site["kwargs"])
            if getattr(fn, "has_rsample", False):
                raw = ScoreParts(log_prob=log_p, score_function=0, entropy_term=log_p)
            else:
                raw = ScoreParts(log_prob=log_p, score_function=log_p, entropy_term=0)
    except ValueError as e:
        raise _site_error(site, "score_parts", e) from e
    parts = raw.scale_and_mask(site["scale"], site["mask"])
    site["unscaled_log_prob"] = raw.log_prob
    site["score_parts"] = parts
    site["log_prob"] = parts.log_prob
    site["log_prob_sum"] = _sum(parts.log_prob)
    return parts
