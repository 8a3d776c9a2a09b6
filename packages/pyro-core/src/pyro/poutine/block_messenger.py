"""``block``: hide chosen sites from the handlers outside the block."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional

from pyro.poutine.messenger import Messenger


def _make_hide_fn(
    hide_all: bool,
    expose_all: bool,
    hide: Optional[Iterable[str]],
    expose: Optional[Iterable[str]],
    hide_types: Optional[Iterable[str]],
    expose_types: Optional[Iterable[str]],
) -> Callable[[Dict[str, Any]], bool]:
    if (hide is not None or hide_types is not None) and (expose is not None or expose_types is not None):
        raise ValueError("block: give either hide/hide_types or expose/expose_types, not both")
    hide_set = frozenset(hide or ())
    hide_type_set = frozenset(hide_types or ())
    expose_set = frozenset(expose or ())
    expose_type_set = frozenset(expose_types or ())
    # Naming what to hide implies everything else is exposed.
    hide_rest = hide_all and not expose_all and hide is None and hide_types is None

    def hide_fn(msg: Dict[str, Any]) -> bool:
        if msg["name"] in hide_set or msg["type"] in hide_type_set:
            return True
        if hide_rest:
            return msg["name"] not in expose_set and msg["type"] not in expose_type_set
        return False

    return hide_fn


class BlockMessenger(Messenger):
    """Stop chosen messages at this handler, so outer handlers never see those sites.

    Args:
        hide_fn: predicate on a message; True hides the site. Overrides the other arguments.
        expose_fn: predicate on a message; True exposes the site (everything else is hidden).
        hide_all: hide every site not named in ``expose``/``expose_types`` (default).
        expose_all: expose every site not named in ``hide``/``hide_types``.
        hide: site names to hide (the rest is exposed).
        expose: site names to expose (the rest is hidden).
        hide_types: site types to hide, e.g. ``["param"]``.
        expose_types: site types to expose.
    """

    def __init__(
        self,
        hide_fn: Optional[Callable[[Dict[str, Any]], bool]] = None,
        expose_fn: Optional[Callable[[Dict[str, Any]], bool]] = None,
        hide_all: bool = True,
        expose_all: bool = False,
        hide: Optional[Iterable[str]] = None,
        expose: Optional[Iterable[str]] = None,
        hide_types: Optional[Iterable[str]] = None,
        expose_types: Optional[Iterable[str]] = None,
    ) -> None:
        super().__init__()
        if hide_fn is not None and expose_fn is not None:
            raise ValueError("block: give hide_fn or expose_fn, not both")
        if hide_fn is not None:
            self.hide_fn = hide_fn
        elif expose_fn is not None:
            self.hide_fn = lambda msg: not expose_fn(msg)
        else:
            self.hide_fn = _make_hide_fn(hide_all, expose_all, hide, expose, hide_types, expose_types)

    def _process_message(self, msg: Dict[str, Any]) -> None:
        if self.hide_fn(msg):
            msg["stop"] = True
