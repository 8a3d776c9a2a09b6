"""Value provenance: tensors that remember which sample sites and params they were computed from.

Used by :mod:`pyro.infer.inspect` only (never on the inference hot path): a model runs once
inside :class:`TrackProvenance`, each site's value is tagged with its name, and every torch
operation propagates the union of its inputs' tags to its outputs.
"""

from __future__ import annotations

from typing import Any, FrozenSet

import torch

from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample

_EMPTY: FrozenSet[str] = frozenset()


def get_provenance(x: Any) -> FrozenSet[str]:
    """Return the union of the provenance tags found in ``x`` (a tensor or a nested container)."""
    if isinstance(x, ProvenanceTensor):
        return x._provenance
    if isinstance(x, (list, tuple)):
        out = _EMPTY
        for item in x:
            out = out | get_provenance(item)
        return out
    if isinstance(x, dict):
        return get_provenance(list(x.values()))
    return _EMPTY


def detach_provenance(x: torch.Tensor) -> torch.Tensor:
    """Return ``x`` as a plain tensor (sharing its data), without provenance."""
    if isinstance(x, ProvenanceTensor):
        return x.as_subclass(torch.Tensor)
    return x


def _tag(x: Any, provenance: FrozenSet[str], in_place: bool = False) -> Any:
    """Add ``provenance`` to the tensors in ``x``: new tensor objects, unless the op was in-place."""
    if isinstance(x, torch.Tensor):
        if in_place and isinstance(x, ProvenanceTensor):
            x._provenance = x._provenance | provenance
            return x
        old = getattr(x, "_provenance", _EMPTY)
        out = x.as_subclass(ProvenanceTensor)
        out._provenance = old | provenance
        return out
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(_tag(item, provenance, in_place) for item in x)
    if isinstance(x, list):
        return [_tag(item, provenance, in_place) for item in x]
    return x


class ProvenanceTensor(torch.Tensor):
    """A tensor carrying a frozenset of names (``_provenance``) through every torch operation."""

    _provenance: FrozenSet[str]

    @staticmethod
    def __new__(cls, data: torch.Tensor, provenance: FrozenSet[str] = _EMPTY) -> "ProvenanceTensor":
        out = detach_provenance(data).as_subclass(cls)
        out._provenance = frozenset(provenance)
        return out

    def __init__(self, data: torch.Tensor, provenance: FrozenSet[str] = _EMPTY) -> None:
        pass

    def __repr__(self) -> str:
        return f"ProvenanceTensor({detach_provenance(self)!r}, {sorted(self._provenance)})"

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: tuple = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        provenance = get_provenance(args) | get_provenance(kwargs)
        with torch._C.DisableTorchFunctionSubclass():
            out = func(*args, **kwargs)
        if not provenance:
            return out
        name = getattr(func, "__name__", "")
        return _tag(out, provenance, in_place=name.endswith("_") and not name.endswith("__"))


class TrackProvenance(Messenger):
    """Tag each sample site's value with the site's name, and each param with its own name.

    Args:
        tag_deterministic: also re-tag deterministic sites (``pyro.deterministic`` and ``Delta``
            sites) with their own name; otherwise their values keep the tags of their inputs.
    """

    def __init__(self, tag_deterministic: bool = False) -> None:
        super().__init__()
        self.tag_deterministic = tag_deterministic

    def _pyro_post_sample(self, msg: dict) -> None:
        if site_is_subsample(msg):
            return
        if site_is_deterministic(msg) and not self.tag_deterministic:
            return
        msg["value"] = ProvenanceTensor(msg["value"], frozenset({msg["name"]}))

    def _pyro_post_param(self, msg: dict) -> None:
        msg["value"] = ProvenanceTensor(msg["value"], frozenset({msg["name"]}))


def site_is_deterministic(site: dict) -> bool:
    """Whether a sample site is a ``pyro.deterministic`` site or has a ``Delta`` distribution."""
    if (site.get("infer") or {}).get("_deterministic"):
        return True
    return type(unwrap_distribution(site["fn"])).__name__ == "Delta"


def unwrap_distribution(fn: Any) -> Any:
    """Strip ``to_event``, ``expand`` and ``mask`` wrappers off a distribution."""
    while True:
        name = type(fn).__name__
        if name in ("Independent", "MaskedDistribution", "ExpandedDistribution") and hasattr(
                fn, "base_dist"):
            fn = fn.base_dist
        else:
            return fn
