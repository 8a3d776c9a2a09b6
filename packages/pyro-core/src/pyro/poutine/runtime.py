"""The handler stack and the message protocol every primitive goes through.

A *message* is a plain dict describing one primitive call (a sample or param site). Handlers
(:class:`~pyro.poutine.messenger.Messenger` instances) live on ``_PYRO_STACK``, outermost first.
:func:`apply_stack` hands a message to every handler from the innermost outward until one sets
``msg["stop"]``, computes the default value if nobody supplied one, then lets the handlers that
saw the message post-process it, from the outermost of them to the innermost.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch

from pyro.poutine.message_types import InferDict as InferDict  # noqa: F401  (Pyro's home)
from pyro.poutine.message_types import Message as Message  # noqa: F401

# Outermost handler first, innermost last.
_PYRO_STACK: List[Any] = []


class NonlocalExit(Exception):
    """Raised by :func:`pyro.poutine.escape` to leave a model at a chosen site.

    Also importable as ``pyro.poutine.util.NonlocalExit`` and ``pyro.poutine.NonlocalExit``
    (one class).

    Attributes:
        site: the message of the site where the model was left.
    """

    def __init__(self, site: Dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = site

    def reset_stack(self) -> None:
        """Reset the per-run state of the handlers active when the exit happened, from the
        innermost outward up to the first one that hides the site."""
        for frame in reversed(_PYRO_STACK):
            frame._reset()
            hide_fn = getattr(frame, "hide_fn", None)
            if hide_fn is not None and hide_fn(self.site):
                break


class _DimAllocator:
    """Hands out negative batch dimensions to named plates (or enumerated sites).

    ``allocate(name, None)`` returns the rightmost dim that is free; ``allocate(name, dim)``
    claims ``dim`` and raises if another name holds it.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._owner: Dict[int, str] = {}

    def allocate(self, name: str, dim: Optional[int]) -> int:
        if name in self._owner.values():
            raise ValueError(f"duplicate {self.kind} '{name}': it is already active")
        if dim is None:
            dim = -1
            while dim in self._owner:
                dim -= 1
        elif dim >= 0:
            raise ValueError(f"{self.kind} '{name}': dim must be negative, got dim={dim}")
        holder = self._owner.get(dim)
        if holder is not None:
            raise ValueError(
                f"{self.kind}s '{holder}' and '{name}' collide at dim={dim}; "
                f"give one of them another dim"
            )
        self._owner[dim] = name
        return dim

    def free(self, name: str, dim: int) -> None:
        if self._owner.get(dim) == name:
            del self._owner[dim]

    def used_dims(self) -> Dict[int, str]:
        """Return a copy of the map ``dim -> name`` of currently allocated dims."""
        return dict(self._owner)


_DIM_ALLOCATOR = _DimAllocator("plate")


def am_i_wrapped() -> bool:
    """Return whether any handler is active."""
    return bool(_PYRO_STACK)


def new_message(
    type: str,
    name: Optional[str],
    fn: Any,
    args: tuple = (),
    kwargs: Optional[dict] = None,
    value: Any = None,
    is_observed: bool = False,
    infer: Optional[dict] = None,
    scale: Any = 1.0,
    mask: Any = None,
) -> Dict[str, Any]:
    """Build a message dict with every key of Pyro's message protocol.

    Args:
        type: site type, e.g. ``"sample"`` or ``"param"``.
        name: site name.
        fn: the distribution or callable of the site.
        args, kwargs: arguments ``fn`` is called with when the site is not done.
        value: a value already decided (e.g. an observation).
        is_observed: whether ``value`` is an observation.
        infer: inference configuration of the site.
        scale: multiplier of the site's log-density.
        mask: boolean mask of the site's log-density, or ``None``.

    Returns:
        A fresh message dict.
    """
    return {
        "type": type,
        "name": name,
        "fn": fn,
        "is_observed": is_observed,
        "args": args,
        "kwargs": {} if kwargs is None else kwargs,
        "value": value,
        "infer": {} if infer is None else infer,
        "scale": scale,
        "mask": mask,
        "cond_indep_stack": (),
        "done": False,
        "stop": False,
        "continuation": None,
    }


def _draw(fn: Any, args: tuple, kwargs: dict) -> Any:
    """Call ``fn``; a plain ``torch.distributions`` object (not callable) is sampled."""
    if callable(fn):
        return fn(*args, **kwargs)
    if fn.has_rsample:
        return fn.rsample(*args, **kwargs)
    return fn.sample(*args, **kwargs)


def default_process_message(msg: Dict[str, Any]) -> None:
    """Compute ``msg["value"]`` by calling ``msg["fn"]`` unless the site already has one."""
    if msg["done"] or msg["is_observed"] or msg["value"] is not None:
        msg["done"] = True
        return
    msg["value"] = _draw(msg["fn"], msg["args"], msg["kwargs"])
    msg["done"] = True


def apply_stack(msg: Dict[str, Any]) -> None:
    """Run ``msg`` through the active handlers and fill in its value.

    Handlers process the message from the innermost to the outermost, stopping after the first
    one that sets ``msg["stop"]``; then :func:`default_process_message` fills in
    ``msg["value"]``; then the handlers that processed the message post-process it, outermost of
    them first; last, ``msg["continuation"]`` is called if set.
    """
    stack = _PYRO_STACK
    # This runs once per site: it is written as a plain index loop, with the default
    # processing inlined, because every call and iterator object here shows up in profiles.
    i = len(stack)
    while i:
        i -= 1
        stack[i]._process_message(msg)
        if msg["stop"]:
            break
    # stack[i:] are the handlers that processed the message (all of them unless one stopped it).
    if not (msg["done"] or msg["is_observed"] or msg["value"] is not None):
        msg["value"] = _draw(msg["fn"], msg["args"], msg["kwargs"])
    msg["done"] = True
    for frame in stack[i:]:
        frame._postprocess_message(msg)
    cont = msg["continuation"]
    if cont is not None:
        cont(msg)


def _no_value() -> None:
    return None


#: Message types that traces never record: questions to the stack (``get_mask``,
#: ``get_plates``) and :func:`pyro.barrier`, which only marks a point in the program.
QUERY_TYPES = frozenset({"get_mask", "get_plates", "barrier"})


def _query_stack(site_type: str) -> Dict[str, Any]:
    # A message of ``site_type`` named ``_pyro_<type>``: the handlers that know the type fill it
    # in, traces skip it (QUERY_TYPES) and ``block`` hides it like any other site.
    msg = new_message(site_type, f"_pyro_{site_type}", _no_value)
    if _PYRO_STACK:
        apply_stack(msg)
    return msg


def get_mask() -> Union[bool, torch.Tensor, None]:
    """Return the mask that the active ``poutine.mask`` handlers would put on a sample site here.

    ``None`` when no mask handler is active (or a ``block`` hides this query from them);
    otherwise the logical and of their masks, a bool or a bool tensor. A model can skip an
    expensive :func:`pyro.factor` computation when this is ``False``.
    """
    return _query_stack("get_mask")["mask"]


def get_plates() -> Tuple[Any, ...]:
    """Return the enclosing plates as a sample site here would see them.

    Returns:
        A tuple of :class:`~pyro.poutine.plate_messenger.CondIndepStackFrame`, outermost plate
        first (the order of a site's ``cond_indep_stack``); empty outside any plate.
    """
    return _query_stack("get_plates")["cond_indep_stack"]


def effectful(fn: Optional[Callable] = None, type: Optional[str] = None) -> Callable:
    """Turn ``fn`` into a primitive whose calls go through the handler stack as ``type`` sites.

    The wrapped function takes the site name through the ``name`` keyword (or as ``None``), and an
    optional ``obs`` keyword that becomes the message's value.

    Returns:
        A function with the same signature that sends a message when a handler is active and
        calls ``fn`` directly otherwise.
    """
    if fn is None:
        return functools.partial(effectful, type=type)

    @functools.wraps(fn)
    def _fn(*args: Any, name: Optional[str] = None, infer: Optional[dict] = None,
            obs: Any = None, **kwargs: Any) -> Any:
        if not _PYRO_STACK:
            return fn(*args, **kwargs)
        msg = new_message(type, name, fn, args, kwargs, value=obs, is_observed=obs is not None,
                          infer=infer)
        apply_stack(msg)
        return msg["value"]

    return _fn
