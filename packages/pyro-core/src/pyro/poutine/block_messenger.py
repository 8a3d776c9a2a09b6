"""``block``: hide chosen sites from the handlers outside the block."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional

from pyro.poutine._handler_checks import check_predicate, check_site_names
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
    # Pyro raises AssertionError with these words.
    if hide_set & expose_set:
        raise AssertionError(f"cannot hide and expose a site: {sorted(hide_set & expose_set)}")
    if hide_type_set & expose_type_set:
        raise AssertionError(
            f"cannot hide and expose a site type: {sorted(hide_type_set & expose_type_set)}"
        )

    # A closure, not an object with __call__: it runs once per site and is the cheaper call.
    def hide_fn(msg: Dict[str, Any]) -> bool:
        site_type = msg["type"]
        if site_type == "sample" and msg["is_observed"]:
            site_type = "observe"
        if msg["name"] in hide_set or site_type in hide_type_set:
            return True
        return hide_all and msg["name"] not in expose_set and site_type not in expose_type_set

    return hide_fn


class _NotExposed:
    """``hide_fn`` for ``block(expose_fn=...)``: hide what ``expose_fn`` does not expose."""

    def __init__(self, expose_fn: Callable[[Dict[str, Any]], bool]) -> None:
        self.expose_fn = expose_fn

    def __call__(self, msg: Dict[str, Any]) -> bool:
        return not self.expose_fn(msg)


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
    as in Pyro. A name or type both hidden and exposed is an ``AssertionError`` (Pyro's type).
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
        check_predicate("block", "hide_fn", hide_fn)
        check_predicate("block", "expose_fn", expose_fn)
        for argument, names in (("hide", hide), ("expose", expose), ("hide_types", hide_types),
                                ("expose_types", expose_types)):
            check_site_names("block", argument, names)
        if hide_fn is not None and expose_fn is not None:
            raise ValueError("block: give hide_fn or expose_fn, not both")
        # What the site-name and type arguments were, to rebuild the hide_fn closure when
        # unpickled (a closure does not pickle); None when a predicate was given.
        self._rule: Optional[tuple] = None
        if hide_fn is not None:
            self.hide_fn = hide_fn
        elif expose_fn is not None:
            self.hide_fn = _NotExposed(expose_fn)
        else:
            names = tuple(None if x is None else tuple(x) for x in (hide, expose, hide_types, expose_types))
            self._rule = (hide_all, expose_all) + names
            self.hide_fn = _make_hide_fn(*self._rule)

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        if self._rule is not None:
            del state["hide_fn"]
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._rule is not None:
            self.hide_fn = _make_hide_fn(*self._rule)

    def _process_message(self, msg: Dict[str, Any]) -> None:
        if self.hide_fn(msg):
            msg["stop"] = True
