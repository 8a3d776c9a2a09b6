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
    # Pyro's rules: naming sites or types to hide turns ``hide_all`` off, naming sites or
    # types to expose turns it on; the arguments are read in the order hide, expose,
    # hide_types, expose_types, and the last one given decides. An observed sample site has
    # the type "observe" for ``hide_types``/``expose_types``.
    if expose_all:
        hide_all = False
    for given, hides in ((hide, True), (expose, False), (hide_types, True), (expose_types, False)):
        if given is not None:
            hide_all = not hides
    hide_set = frozenset(hide or ())
    expose_set = frozenset(expose or ())
    hide_type_set = frozenset(hide_types or ())
    expose_type_set = frozenset(expose_types or ())
    if hide_set & expose_set:
        raise ValueError(f"block: sites {sorted(hide_set & expose_set)} are both hidden and exposed")
    if hide_type_set & expose_type_set:
        raise ValueError(
            f"block: site types {sorted(hide_type_set & expose_type_set)} are both hidden and exposed"
        )

    def hide_fn(msg: Dict[str, Any]) -> bool:
        site_type = msg["type"]
        if site_type == "sample" and msg["is_observed"]:
            site_type = "observe"
        if msg["name"] in hide_set or site_type in hide_type_set:
            return True
        return hide_all and msg["name"] not in expose_set and site_type not in expose_type_set

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
        hide_types: site types to hide, e.g. ``["param"]``; observed sample sites have the
            type ``"observe"`` here.
        expose_types: site types to expose.

    When several of ``hide``, ``expose``, ``hide_types`` and ``expose_types`` are given, the
    named sites and types are hidden or exposed as asked, and the last one given (in that
    order) decides whether the remaining sites are hidden (``expose*``) or not (``hide*``),
    as in Pyro. A name or type both hidden and exposed is an error.
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
