"""The :class:`Reparam` base class: the protocol every reparameterizer follows."""

from __future__ import annotations

import warnings
from abc import ABC
from typing import Any, Dict, Optional, Tuple

import torch

import pyro.distributions as dist

#: What a reparameterizer is given: the site's ``name``, ``fn``, ``value`` and ``is_observed``.
ReparamMessage = Dict[str, Any]
#: What it gives back: the site's new ``fn``, ``value`` and ``is_observed``.
ReparamResult = Dict[str, Any]


class Reparam(ABC):
    """Base class of reparameterizers, the objects :func:`~pyro.poutine.reparam` applies.

    A reparameterizer rewrites one sample site: :meth:`apply` may draw auxiliary sites with
    :func:`pyro.sample` (they go through every active handler, the reparam handler included)
    and returns the site's replacement distribution and value. Returning a value makes it the
    site's value; marking it observed keeps later handlers from drawing it again. A third-party
    reparameterizer subclasses this and implements :meth:`apply`.

    While applied by a handler that wraps a model, ``self.args_kwargs`` holds the model's
    ``(args, kwargs)`` (``None`` otherwise), for reparameterizers that need them.
    """

    args_kwargs: Optional[Tuple[tuple, dict]] = None

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Rewrite one site; subclasses implement this.

        Args:
            msg: a dict with keys ``name``, ``fn``, ``value`` (``None`` when not yet drawn) and
                ``is_observed``.

        Returns:
            a dict with keys ``fn`` (the new distribution of the site), ``value`` (its value, or
            ``None`` to let the site draw from ``fn``) and ``is_observed``.

        The base implementation serves reparameterizers written for the older protocol, which
        override ``__call__(name, fn, obs) -> (fn, value)`` instead; it warns that the protocol
        is deprecated.
        """
        warnings.warn("Reparam.__call__() is deprecated in favor of .apply(); new subclasses "
                      "should implement .apply().", DeprecationWarning, stacklevel=2)
        fn, value = self(msg["name"], msg["fn"], msg["value"] if msg["is_observed"] else None)
        return {"fn": fn, "value": value, "is_observed": value is not None}

    def __call__(self, name: str, fn: Any, obs: Any) -> Tuple[Any, Any]:
        """The older protocol: return the site's new ``(fn, value)``. Deprecated: implement
        :meth:`apply`."""
        raise NotImplementedError(f"{type(self).__name__} implements neither apply() nor __call__()")

    def _unwrap(self, fn: Any) -> Tuple[Any, int]:
        """Peel ``Independent`` layers off ``fn``; return the inner distribution and the number of
        event dims of ``fn`` as a whole."""
        event_dim = len(fn.event_shape)
        while isinstance(fn, torch.distributions.Independent):
            fn = fn.base_dist
        return fn, event_dim

    def _wrap(self, fn: Any, event_dim: int) -> Any:
        """Declare batch dims of ``fn`` as event dims until it has ``event_dim`` of them."""
        extra = event_dim - len(fn.event_shape)
        if extra < 0:
            raise ValueError(
                f"{type(self).__name__}: a distribution with event shape {tuple(fn.event_shape)} "
                f"cannot have only {event_dim} event dims")
        return fn.to_event(extra) if extra else fn


def _check_type(reparam: Reparam, name: str, fn: Any, expected: Any) -> None:
    """Raise a ``TypeError`` naming the site unless ``fn`` is an ``expected`` distribution."""
    if not isinstance(fn, expected):
        names = (expected.__name__ if isinstance(expected, type)
                 else " or ".join(t.__name__ for t in expected))
        raise TypeError(
            f"{type(reparam).__name__} at sample site '{name}' expects a {names} distribution, "
            f"got {type(fn).__name__}")


def _no_observe(reparam: Reparam, msg: ReparamMessage) -> None:
    """Raise Pyro's ``NotImplementedError`` for reparameterizers that cannot see observations."""
    if msg["is_observed"]:
        raise NotImplementedError(
            f"{type(reparam).__name__} does not support observe statements "
            f"(at sample site '{msg['name']}')")


def deterministic_site(value: torch.Tensor, event_dim: int) -> Dict[str, Any]:
    """The result for a site whose value is a function of auxiliary sites: a ``Delta`` that
    adds nothing to the log-density, marked observed."""
    fn = dist.Delta(value, event_dim=event_dim).mask(False)
    return {"fn": fn, "value": value, "is_observed": True}


__all__ = ["Reparam", "ReparamMessage", "ReparamResult"]
