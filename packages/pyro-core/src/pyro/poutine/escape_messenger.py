"""``escape``: leave the model with a :class:`~pyro.poutine.runtime.NonlocalExit` at chosen sites."""

from __future__ import annotations

from typing import Any, Callable, Dict

from pyro.poutine.messenger import Messenger
from pyro.poutine.runtime import NonlocalExit


def _exit(msg: Dict[str, Any]) -> None:
    raise NonlocalExit(msg)


class EscapeMessenger(Messenger):
    """At each sample site where ``escape_fn(msg)`` is true, stop the run by raising NonlocalExit.

    Args:
        escape_fn: predicate on a message.
    """

    def __init__(self, escape_fn: Callable[[Dict[str, Any]], bool]) -> None:
        super().__init__()
        if not callable(escape_fn):  # None too: escape needs a predicate
            raise TypeError(f"poutine.escape: escape_fn must be a function of a site's message, "
                            f"got {type(escape_fn).__name__} {escape_fn!r}")
        self.escape_fn = escape_fn

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if self.escape_fn(msg):
            msg["done"] = True
            msg["stop"] = True
            msg["continuation"] = _exit
