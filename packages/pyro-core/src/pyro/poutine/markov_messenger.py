"""``markov``: declare that sites only depend on the last few steps of a sequence."""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set

from pyro.poutine.messenger import ReentrantMessenger
from pyro.poutine.util import site_is_subsample


def _whole_or_inf(value: Any) -> bool:
    """Whether ``value`` is a whole number (an int, an integral float or tensor) or infinity."""
    try:
        number = float(value)
        return number == math.inf or number == int(number)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        return False


class MarkovMessenger(ReentrantMessenger):
    """Mark sites of a sequence whose dependence on earlier steps is limited to ``history`` steps.

    Each entry of the context is one step; every sample site records, in
    ``msg["infer"]["_markov_scope"]``, a Counter of the names of the sites visible to it (its own
    step and the ``history`` steps before, in its chain and in every chain enclosing it; unlike
    Pyro, a step of an outer chain does not hold the sites of the inner chains run in it), and in
    ``msg["infer"]["_markov_depth"]`` the number of markov contexts enclosing it.
    Enumeration uses it to recycle tensor dims of sites that left the scope. Without
    enumeration the handler changes nothing.

    Args:
        history: how many previous steps a site may depend on.
        keep: keep the sites of finished steps visible to later sibling steps (for nested
            recursion such as tree-structured models).
        dim: optional dim for a vectorized markov chain (kept for enumeration algorithms).
        name: optional name of a vectorized markov chain.
    """

    def __init__(self, history: int = 1, keep: bool = False, dim: Optional[int] = None,
                 name: Optional[str] = None) -> None:
        if not _whole_or_inf(history):
            raise TypeError(f"markov history must be a non-negative int, got {type(history).__name__} {history!r}")
        if history < 0:
            raise ValueError(f"markov history must be >= 0, got {history}")
        if dim is not None and dim >= 0:
            raise ValueError(f"markov dim must be negative, got {dim}")
        super().__init__()
        self.history = history
        self.keep = keep
        self.dim = dim
        self.name = name
        self._iterable: Optional[Iterable] = None
        self._steps: List[Set[str]] = []
        self._pos = -1

    def generator(self, iterable: Iterable) -> "MarkovMessenger":
        """Set the iterable this messenger steps through when iterated."""
        self._iterable = iterable
        return self

    def __iter__(self) -> Iterator[Any]:
        if self._iterable is None:
            raise TypeError("markov was not given an iterable to step through")
        # Steps nest: step t is entered inside step t-1, so the window of recent steps is the
        # tail of the step stack; all steps are left together when the loop ends.
        with contextlib.ExitStack() as stack:
            for value in self._iterable:
                stack.enter_context(self)
                yield value

    def __enter__(self) -> "MarkovMessenger":
        self._pos += 1
        if len(self._steps) <= self._pos:
            self._steps.append(set())
        return super().__enter__()

    def __exit__(self, *args: Any) -> None:
        if not self.keep:
            self._steps.pop()
        self._pos -= 1
        return super().__exit__(*args)

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if msg["done"] or site_is_subsample(msg):
            return
        # Every enclosing markov context adds the sites of its window to the site's scope, so a
        # site of an inner chain also sees the current steps of the outer chains; only the
        # innermost context records the site in its own step (the outer chains' windows hold
        # their own sites, not those of the inner chains of earlier steps), which is the scope
        # our enumeration reads to give Pyro's dims. ``_markov_depth`` counts the enclosing
        # markov contexts, as in Pyro.
        infer = msg["infer"]
        scope = infer.get("_markov_scope")
        innermost = scope is None
        if innermost:
            scope = infer["_markov_scope"] = Counter()
            infer["_markov_depth"] = 1
        else:
            infer["_markov_depth"] = infer.get("_markov_depth", 0) + 1
        for step in self._steps[max(0, self._pos - self.history): self._pos + 1]:
            scope.update(step)
        if innermost:
            self._steps[self._pos].add(msg["name"])
