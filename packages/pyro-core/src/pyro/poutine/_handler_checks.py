"""Checks of the handlers' arguments, with errors that name the handler, the argument and,
at a site, the site.

The argument checks run once, when a messenger is built. The shape checks run at a site only
for a handler given a tensor with batch dims (a ``scale`` or ``mask`` tensor, a ``do`` value),
and cost one ``torch.broadcast_shapes``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any, Dict, Optional

import torch

from pyro.util import short_repr as _shown

__all__ = [
    "check_broadcasts",
    "check_mapping",
    "check_observed_value",
    "ObservedValueTypeError",
    "check_predicate",
    "check_prior",
    "check_scale",
    "check_site_names",
    "check_trace",
]




def check_predicate(handler: str, argument: str, fn: Any) -> None:
    """Raise ``TypeError`` unless ``fn`` is None or callable."""
    if fn is not None and not callable(fn):
        raise TypeError(
            f"poutine.{handler}: {argument} must be a function of a site's message, got "
            f"{type(fn).__name__} {_shown(fn)}"
        )


def check_site_names(handler: str, argument: str, names: Any) -> None:
    """Raise ``TypeError`` unless ``names`` is None or a collection of names (not one string,
    which would be read as a collection of one-letter names)."""
    if names is None:
        return
    if isinstance(names, str):
        raise TypeError(
            f"poutine.{handler}: {argument} must be a list of names, got the str {names!r}; "
            f"write {argument}=[{names!r}]"
        )
    if not isinstance(names, Iterable):
        raise TypeError(f"poutine.{handler}: {argument} must be a list of names, got {type(names).__name__} {_shown(names)}")


def check_mapping(handler: str, argument: str, data: Any, expected: str = "a dict") -> None:
    """Raise ``TypeError`` unless ``data`` is None or a mapping."""
    if data is not None and not isinstance(data, Mapping):
        raise TypeError(f"poutine.{handler}: {argument} must be {expected}, got {type(data).__name__} {_shown(data)}")


def check_trace(handler: str, argument: str, trace: Any) -> None:
    """Raise ``TypeError`` unless ``trace`` is None or a Trace (anything with a ``nodes`` dict)."""
    if trace is not None and not isinstance(getattr(trace, "nodes", None), Mapping):
        raise TypeError(
            f"poutine.{handler}: {argument} must be a pyro.poutine.Trace (e.g. from "
            f"poutine.trace(fn).get_trace()), got {type(trace).__name__} {_shown(trace)}"
        )


class ObservedValueTypeError(TypeError, ValueError):
    """An observed value that is neither a tensor nor a number: a ``TypeError``, and a
    ``ValueError`` too, which Pyro raises there (from the distribution's value check)."""


def check_observed_value(where: str, name: str, value: Any) -> None:
    """Raise ``TypeError`` for an observed value of a distribution's site that is neither a
    tensor nor a number (a list, an array, a string): it would fail, or be misread, only when
    the site's density is computed. Call it only for values that are not tensors."""
    if isinstance(value, numbers.Number):
        return
    raise ObservedValueTypeError(
        f"{where}: site '{name}': the observed value must be a torch.Tensor (or a number), got "
        f"{type(value).__name__} {_shown(value)}; wrap it with torch.tensor(...)"
    )


def _is_prior(prior: Any) -> bool:
    return isinstance(prior, torch.distributions.Distribution) or callable(prior)


def check_prior(prior: Any) -> None:
    """Raise ``TypeError`` unless ``prior`` is a distribution, a stochastic function, or a dict
    of those."""
    if isinstance(prior, Mapping):
        for key, value in prior.items():
            if not _is_prior(value):
                raise TypeError(
                    f"poutine.lift: prior['{key}'] must be a distribution or a stochastic "
                    f"function, got {type(value).__name__} {_shown(value)}"
                )
    elif not _is_prior(prior):
        raise TypeError(
            f"poutine.lift: prior must be a distribution, a stochastic function or a dict of "
            f"them by param name, got {type(prior).__name__} {_shown(prior)}"
        )


def check_scale(scale: Any) -> None:
    """Raise ``TypeError`` for a scale that is not a number or tensor and Pyro's ``ValueError``
    for one that is not positive (every element of a tensor is checked, as in Pyro)."""
    if isinstance(scale, torch.Tensor):
        if torch._C._get_tracing_state():
            return
        if scale.numel() and bool((scale <= 0).any()):
            raise ValueError(
                f"Expected scale > 0 but got {scale}. Consider using poutine.mask() instead of "
                f"poutine.scale() (a scale must be positive)."
            )
        return
    if not isinstance(scale, numbers.Real) or isinstance(scale, bool):
        raise TypeError(f"poutine.scale: scale must be a positive number or tensor, got {type(scale).__name__} {_shown(scale)}")
    if not scale > 0:
        raise ValueError(f"Expected scale > 0 but got {scale} (a scale must be positive)")


def check_broadcasts(handler: str, argument: str, shape: torch.Size, msg: Dict[str, Any],
                     event: bool = False) -> None:
    """Raise ``ValueError`` if ``shape`` does not broadcast with the batch shape (with
    ``event``: batch and event shape) of the site ``msg``'s distribution.

    Run before the plates outside the handler have expanded the distribution: a shape that
    does not broadcast with the site's own batch shape cannot broadcast with its expansion.
    """
    fn = msg["fn"]
    target: Optional[torch.Size] = getattr(fn, "batch_shape", None)
    if target is None:
        return
    if event:
        target = target + getattr(fn, "event_shape", torch.Size())
    try:
        torch.broadcast_shapes(shape, target)
    except RuntimeError:
        what = "batch and event shape" if event else "batch shape"
        raise ValueError(
            f"poutine.{handler}: {argument} of shape {tuple(shape)} does not broadcast with the "
            f"{what} {tuple(target)} of site '{msg['name']}'"
        ) from None
