"""Static types of the message protocol: :class:`Message` and its ``infer`` dict, :class:`InferDict`.

Both are :class:`typing.TypedDict` classes with ``total=False``: at run time a message is a plain
``dict`` (built by :func:`pyro.poutine.runtime.new_message`), and these classes only document and
type-check its keys. Import them from :mod:`pyro.poutine.runtime`, as in Pyro.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Dict, Literal, Optional, Tuple, TypedDict, Union

import torch


class InferDict(TypedDict, total=False):
    """The keys inference algorithms read from (or write to) a site's ``msg["infer"]``.

    Public keys: ``enumerate`` (``"sequential"`` or ``"parallel"``), ``expand``,
    ``is_auxiliary``, ``is_observed``, ``num_samples``, ``obs``, ``prior``, ``tmc``
    (``"diagonal"`` or ``"mixture"``), ``was_observed``. Keys starting with ``_`` are private
    bookkeeping of the enumeration and tracing machinery.
    """

    enumerate: Literal["sequential", "parallel"]
    expand: bool
    is_auxiliary: bool
    is_observed: bool
    num_samples: int
    obs: Optional[torch.Tensor]
    prior: Any
    tmc: Literal["diagonal", "mixture"]
    was_observed: bool
    _deterministic: bool
    _dim_to_symbol: Dict[int, str]
    _do_not_trace: bool
    _enumerate_symbol: str
    _markov_scope: Counter
    _enumerate_dim: int
    _dim_to_id: Dict[int, int]
    _markov_depth: int


class Message(TypedDict, total=False):
    """One primitive call on its way through the handler stack (see :func:`apply_stack`).

    The first fourteen keys are present in every message; ``obs``, ``log_prob``,
    ``log_prob_sum``, ``unscaled_log_prob``, ``score_parts`` and ``packed`` are added to trace
    sites by :class:`~pyro.poutine.trace_struct.Trace` methods, ``_intervener_id`` by ``do``.
    """

    type: str
    name: Optional[str]
    fn: Callable[..., Any]
    is_observed: bool
    args: Tuple
    kwargs: Dict
    value: Any
    scale: Union[torch.Tensor, float]
    mask: Union[bool, torch.Tensor, None]
    # Of pyro.poutine.plate_messenger.CondIndepStackFrame (not imported: the plate module
    # imports this one).
    cond_indep_stack: Tuple[Any, ...]
    done: bool
    stop: bool
    continuation: Optional[Callable[["Message"], None]]
    infer: Optional[InferDict]
    obs: Optional[torch.Tensor]
    log_prob: torch.Tensor
    log_prob_sum: torch.Tensor
    unscaled_log_prob: torch.Tensor
    score_parts: Any
    packed: "Message"
    _intervener_id: Optional[str]


__all__ = ["InferDict", "Message"]
