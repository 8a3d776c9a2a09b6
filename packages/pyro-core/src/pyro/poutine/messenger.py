"""The base class of every effect handler."""

from __future__ import annotations

import inspect
from types import FunctionType, MethodType
from typing import Any, Callable, Dict, Optional

from pyro.poutine.runtime import _PYRO_STACK

# Site-type dispatch tables, filled on first use: handler class -> site type -> its
# ``_pyro_<type>`` (in _PROCESS) or ``_pyro_post_<type>`` (in _POSTPROCESS) function, or None when
# the class has none. Building the method name and looking it up on each message for each active
# handler is a measurable share of a site's cost; two dict hits are not. Class attributes that
# are not plain functions (static or class methods, other descriptors) are recorded as _BIND and
# looked up on the instance each time.
_BIND = object()
_PROCESS: Dict[type, Dict[str, Any]] = {}
_POSTPROCESS: Dict[type, Dict[str, Any]] = {}


def _lookup(tables: Dict[type, Dict[str, Any]], cls: type, prefix: str, site_type: str) -> Any:
    # The attribute as stored, not as bound: a staticmethod must not be mistaken for a method.
    method = inspect.getattr_static(cls, prefix + site_type, None)
    if method is not None and not isinstance(method, FunctionType):
        method = _BIND
    tables.setdefault(cls, {})[site_type] = method
    return method


def _not_callable(fn: Any) -> None:
    # Pyro's words: a handler's first positional argument is the function to wrap, so a value
    # there is usually a handler argument given without its keyword (``scale(2.0)``).
    raise ValueError(f"{fn} is not callable, did you mean to pass it as a keyword arg?")


def check_callable(fn: Any) -> None:
    """Raise the ``ValueError`` Pyro raises when a handler is given a non-callable ``fn``.

    ``None`` (no function: the handler is used as a context manager) passes.
    """
    if fn is not None and not callable(fn):
        _not_callable(fn)


class Messenger:
    """An effect handler: a context manager that, while active, sees every primitive's message.

    Subclasses handle a site type ``T`` by defining ``_pyro_T(msg)`` (called on the way in,
    innermost handler first) and/or ``_pyro_post_T(msg)`` (called once the value is known).
    These methods are looked up on the class, once per site type; to give a class a handler
    method after it has been used, use :meth:`register`.
    A messenger is also a decorator: ``messenger(fn)`` returns ``fn`` run inside the messenger.
    """

    def __enter__(self) -> "Messenger":
        if self in _PYRO_STACK:
            raise ValueError(f"{type(self).__name__} is already active; it cannot be entered twice")
        _PYRO_STACK.append(self)
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if _PYRO_STACK and _PYRO_STACK[-1] is self:
            _PYRO_STACK.pop()
            return
        # An exception (or a handler left open inside) unwound past us: drop ourselves and
        # everything inside us, so the stack is as it was before we were entered.
        for i in range(len(_PYRO_STACK) - 1, -1, -1):
            if _PYRO_STACK[i] is self:
                del _PYRO_STACK[i:]
                return

    def __call__(self, fn: Callable) -> Callable:
        """Return ``fn`` wrapped so that each call runs inside this messenger."""
        if not callable(fn):
            _not_callable(fn)
        return HandledFunction(self, fn)

    def _process_message(self, msg: Dict[str, Any]) -> None:
        site_type = msg["type"]
        try:
            method = _PROCESS[type(self)][site_type]
        except KeyError:
            method = _lookup(_PROCESS, type(self), "_pyro_", site_type)
        if method is None:
            return
        if method is _BIND:
            getattr(self, "_pyro_" + site_type)(msg)
        else:
            method(self, msg)

    def _postprocess_message(self, msg: Dict[str, Any]) -> None:
        site_type = msg["type"]
        try:
            method = _POSTPROCESS[type(self)][site_type]
        except KeyError:
            method = _lookup(_POSTPROCESS, type(self), "_pyro_post_", site_type)
        if method is None:
            return
        if method is _BIND:
            getattr(self, "_pyro_post_" + site_type)(msg)
        else:
            method(self, msg)

    def _reset(self) -> None:
        """Forget per-run state; called when a run is abandoned by a non-local exit."""

    @classmethod
    def register(cls, fn: Optional[Callable] = None, type: Optional[str] = None,
                 post: Optional[bool] = None) -> Callable:
        """Attach ``fn`` as this class's handler of site type ``type`` (``post`` for after).

        Usable as a decorator: ``@MyMessenger.register(type="sample")``.
        """
        if fn is None:
            return lambda f: cls.register(f, type=type, post=post)
        if type is None:
            raise ValueError("Messenger.register needs the site type it handles")
        setattr(cls, ("_pyro_post_" if post else "_pyro_") + type, fn)
        # Forget every earlier look-up: subclasses may inherit the new method.
        _PROCESS.clear()
        _POSTPROCESS.clear()
        return fn


class HandledFunction:
    """A function run inside a messenger: what ``messenger(fn)`` returns.

    Calling it enters ``msngr``, calls ``fn`` and leaves. It passes for ``fn`` where a wrapper
    usually does (``__wrapped__``, ``__name__``, ``__doc__`` and other attributes are ``fn``'s)
    and binds like a function when stored on a class. A small object instead of
    :func:`functools.wraps`, whose attribute copying costs more than a handled call; inference
    wraps models anew at every step.
    """

    __slots__ = ("msngr", "__wrapped__")

    def __init__(self, msngr: Messenger, fn: Callable) -> None:
        self.msngr = msngr
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.msngr:
            return self.__wrapped__(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name not in ("__name__", "__qualname__"):
            raise AttributeError(name)
        return getattr(self.__wrapped__, name)

    @property
    def __doc__(self) -> Optional[str]:  # type: ignore[override]
        return getattr(self.__wrapped__, "__doc__", None)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else MethodType(self, obj)

    def __repr__(self) -> str:
        return f"<{type(self.msngr).__name__} of {self.__wrapped__!r}>"


class ReentrantMessenger(Messenger):
    """A messenger that may be entered again while already active (entries are counted)."""

    def __init__(self) -> None:
        self._ref_count = 0

    def __enter__(self) -> "ReentrantMessenger":
        self._ref_count += 1
        if self._ref_count == 1:
            super().__enter__()
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self._ref_count -= 1
        if self._ref_count == 0:
            super().__exit__(exc_type, exc_value, traceback)


def bind(msngr: Messenger, fn: Optional[Callable]) -> Any:
    """Return ``msngr`` itself when ``fn`` is None, else ``fn`` wrapped by ``msngr``.

    Handler functions use this so that ``poutine.scale(model, 2.0)`` wraps a model while
    ``with poutine.scale(scale=2.0):`` uses the messenger as a context.
    """
    return msngr if fn is None else msngr(fn)


def unwrap(fn: Callable) -> Callable:
    """Return the function under every handler that ``fn`` was wrapped in.

    ``unwrap(poutine.scale(poutine.mask(model, mask=m), 2.0))`` is ``model``. Only the wrappers
    that ``messenger(fn)`` makes are removed; anything else (``functools.partial``, the object
    ``poutine.trace(fn)`` returns, a messenger) is returned as it is, as in Pyro.
    """
    while type(fn) is HandledFunction:
        fn = fn.__wrapped__
    return fn
