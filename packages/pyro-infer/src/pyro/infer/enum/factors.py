"""What the enumerating losses need of each site: its plates as labels, and its log-density.

A site's log-density becomes a :class:`~pyro.infer.enum.contract.Factor` whose dims are
labelled by the plates and enumerated sites that own them; :func:`site_info` computes those
labels once per plate context, :func:`compute_log_probs` the log-densities of a trace.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet

import torch

from pyro.distributions.util import broadcast_shape
from pyro.infer.enum.contract import plate_label
from pyro.ops.score_parts import scale_and_mask
from pyro.poutine.site_densities import site_log_prob

__all__ = ["SiteInfo", "compute_log_probs", "contraction_log_prob", "site_info"]

_NO_LABELS: Dict[int, str] = {}


class SiteInfo:
    """Per-site bookkeeping shared by the sites of one plate context: cached per call."""

    __slots__ = ("ordinal", "dim_labels", "plate_sizes")

    def __init__(self, ordinal: FrozenSet[Any], dim_labels: Dict[int, Any],
                 plate_sizes: Dict[Any, int]) -> None:
        self.ordinal = ordinal
        self.dim_labels = dim_labels
        self.plate_sizes = plate_sizes


def site_info(site: Dict[str, Any], cache: Dict[Any, SiteInfo]) -> SiteInfo:
    """Return the plates (as labels), dim labels and plate sizes of ``site``, cached in
    ``cache`` per plate stack and enumeration labels; raise where a plate and an enumerated
    site claim the same dim."""
    stack = site["cond_indep_stack"]
    enum_labels = site["infer"].get("_enum_labels", _NO_LABELS)
    key = (stack, id(enum_labels))
    info = cache.get(key)
    if info is not None:
        return info
    ordinal = []
    dim_labels: Dict[int, Any] = {}
    plate_sizes: Dict[Any, int] = {}
    for frame in stack:
        if frame.dim is None:
            continue
        label = plate_label(frame.name)
        if frame.dim in enum_labels:
            raise ValueError(
                f"site '{site['name']}': plate '{frame.name}' uses dim {frame.dim}, which "
                f"enumeration of site '{enum_labels[frame.dim]}' also uses; increase "
                f"max_plate_nesting to at least {-frame.dim}"
            )
        ordinal.append(label)
        dim_labels[frame.dim] = label
        plate_sizes[label] = frame.size
    dim_labels.update(enum_labels)
    info = SiteInfo(frozenset(ordinal), dim_labels, plate_sizes)
    cache[key] = info
    return info


def compute_log_probs(trace: Any) -> None:
    """Fill in ``unscaled_log_prob`` and ``log_prob`` of every sample site (no sums: unused).

    ``Categorical.log_prob`` of the support laid out along an enumeration dim is a gather that
    only rearranges the normalised logits; for those sites the rearrangement is done directly
    (a view of the logits of the distribution before any plate expanded it), skipping the
    gather, the support check and the logits of the expanded parameters.
    """
    for site in trace.nodes.values():
        if site["type"] != "sample" or "log_prob" in site:
            continue
        log_p = _enumerated_categorical_log_prob(site)
        if log_p is None:
            site_log_prob(site, with_sum=False)
        else:
            site["unscaled_log_prob"] = log_p
            site["log_prob"] = scale_and_mask(log_p, site["scale"], site["mask"])


def _enumerated_categorical_log_prob(site: Dict[str, Any]) -> Any:
    infer = site["infer"]
    dim = infer.get("_enumerate_dim")
    if dim is None or infer.get("num_samples") or infer.get("expand"):
        return None
    fn = site["fn"]
    if not isinstance(fn, torch.distributions.Categorical) or site["args"] or site["kwargs"]:
        return None
    logits = fn.__dict__.get("_unexpanded", fn).logits
    value = site["value"]
    k = logits.shape[-1]
    if value.dim() != -dim or value.shape[0] != k:
        return None
    batch = logits.shape[:-1]
    if not batch:  # one set of logits (the usual global weights): a single reshape
        log_p = logits.reshape((k,) + (1,) * (-dim - 1))
    else:
        if len(batch) < -dim:
            logits = logits.reshape((1,) * (-dim - len(batch)) + logits.shape)
        elif batch[dim] != 1:
            return None
        log_p = logits.transpose(dim - 1, -1).squeeze(-1)
    # Broadcast (a view) to what log_prob would return: the value's shape against the batch.
    return log_p.expand(broadcast_shape(log_p.shape, fn.batch_shape))


def contraction_log_prob(site: Dict[str, Any], summed_out: bool) -> Any:
    """The unscaled log-factor a model site brings to the contraction (its plates' scale is
    applied there).

    A mask drops a site's factor, except the factor of a site the model sums out: masking it
    would turn its prior into a constant 1 per value and add ``log K`` for a site of K values.
    Kept, its prior sums to one over the values, so a masked-out element whose children are
    masked too contributes nothing, and an unmasked child sees the right prior (as in Pyro).
    """
    log_p = site["unscaled_log_prob"]
    mask = site["mask"]
    if summed_out or mask is None:
        return log_p
    return scale_and_mask(log_p, 1.0, mask)

