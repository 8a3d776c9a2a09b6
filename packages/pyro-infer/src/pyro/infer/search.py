"""Exact inference over a model's discrete choices by systematic search over execution traces."""

from __future__ import annotations

import collections
import math
import numbers
from typing import Any, Callable, Dict, Iterator, List

import torch

from pyro import poutine
from pyro.infer.abstract_infer import TracePosterior
from pyro.infer.arg_checks import EngineArgumentError, EngineArgumentTypeError, check_callable, describe
from pyro.poutine.trace_struct import Trace
from pyro.poutine.util import enum_extend, extend_with_values


class _TraceQueue:
    """A first-in first-out queue of partial traces with the interface ``poutine.queue`` uses."""

    def __init__(self) -> None:
        self._items: collections.deque = collections.deque()

    def put(self, item: Trace) -> None:
        self._items.append(item)

    def get(self) -> Trace:
        return self._items.popleft()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


def joint_enum_extend(trace: Trace, msg: Dict[str, Any], num_samples: Any = None,
                      max_values: int = 100_000) -> List[Trace]:
    """Extend ``trace`` by every joint value of the discrete site ``msg``.

    A site with an empty batch shape is extended by each value of its support. A batched site
    (e.g. inside a plate) is extended by every combination of values of its batch elements, so
    that a search over it stays exact: ``K ** batch_size`` extensions for support size ``K``.

    Args:
        trace: the partial trace to extend.
        msg: the message of the site the run escaped at.
        num_samples: ignored (the whole support is always enumerated).
        max_values: refuse sites with more joint values than this.

    Returns:
        A list of new partial traces.
    """
    fn = msg["fn"]
    batch_shape = tuple(getattr(fn, "batch_shape", ()))
    if not batch_shape or math.prod(batch_shape) == 1:
        return enum_extend(trace, msg)
    support = fn.enumerate_support(expand=True)  # (K,) + batch + event
    k = support.shape[0]
    n = math.prod(batch_shape)
    if k ** n > max_values:
        raise ValueError(
            f"Search: site '{msg['name']}' has batch shape {batch_shape} with {k} values each, "
            f"{k}**{n} joint values in all (more than {max_values}); enumerate fewer elements"
        )
    event_shape = support.shape[1 + len(batch_shape):]
    flat = support.reshape((k, n) + tuple(event_shape))
    choices = torch.cartesian_prod(*[torch.arange(k)] * n).reshape(-1, n)  # (k**n, n)
    joint = flat[choices, torch.arange(n)]  # (k**n, n) + event
    joint = joint.reshape((-1,) + batch_shape + tuple(event_shape))
    return extend_with_values(trace, msg, joint)


def _enumerated_or_observed(name: str, site: Dict[str, Any]) -> bool:
    return bool(site["is_observed"]) or getattr(site["fn"], "has_enumerate_support", False)


class Search(TracePosterior):
    """Exact posterior over the discrete choices of a model, by systematic search.

    Starting from the empty trace, each run of the model replays a partial trace and stops (with
    :func:`pyro.poutine.escape`) at the first discrete latent site it has not decided yet; the
    partial trace is then extended by every value of that site and the extensions are queued
    (:func:`pyro.poutine.queue`). Every run that completes yields one full execution trace, so a
    model whose latent sites are all discrete with finite support gets every execution trace
    exactly once, weighted by its joint log-density: normalising the weights gives the exact
    posterior over traces. Discrete sites inside plates are enumerated jointly over their batch
    elements. Continuous latent sites are drawn from their prior (their density is left out of
    the weights, so for them the search is importance sampling from the prior).

    Args:
        model: the model, a callable.
        max_tries: the most runs from the queue one completed trace may take (a positive
            whole number; ``1e6`` is accepted).

    Raises:
        TypeError: a model that is not callable, a ``max_tries`` that is not a whole number.
        ValueError: ``max_tries < 1``.

    Example::

        posterior = Search(model).run(data)
        EmpiricalMarginal(posterior, "coin").log_prob(torch.tensor(1.0)).exp()  # exact
    """

    def __init__(self, model: Callable, max_tries: int = int(1e6)) -> None:
        super().__init__()
        check_callable("Search", "model", model)
        if (isinstance(max_tries, bool) or not isinstance(max_tries, numbers.Real)
                or not float(max_tries).is_integer()):
            raise EngineArgumentTypeError(
                f"Search: max_tries must be a whole number >= 1, got {describe(max_tries)}")
        if max_tries < 1:
            raise EngineArgumentError(f"Search: max_tries must be a whole number >= 1, got {max_tries}")
        self.model = model
        self.max_tries = int(max_tries)

    def _traces(self, *args: Any, **kwargs: Any) -> Iterator[tuple]:
        q = _TraceQueue()
        q.put(Trace())
        runner = poutine.trace(
            poutine.queue(self.model, queue=q, max_tries=self.max_tries,
                          extend_fn=joint_enum_extend)
        )
        while not q.empty():
            tr = runner.get_trace(*args, **kwargs)
            yield tr, tr.log_prob_sum(_enumerated_or_observed)

    def get_log_normalizer(self) -> torch.Tensor:
        """The log marginal likelihood of the observations (exact for discrete models)."""
        lw = self._nonempty_log_weights()
        return torch.logsumexp(lw, 0)
