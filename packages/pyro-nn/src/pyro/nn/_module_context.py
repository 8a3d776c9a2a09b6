"""What one call of a tree of ``PyroModule``s shares: the sample cache and the param mode.

Every module of a tree (a root ``PyroModule`` and the ``PyroModule`` attributes below it) holds
the same :class:`_Context`. It is active while any of them runs ``forward`` (or a
``pyro_method``); the draws of ``PyroSample`` attributes are cached in it until the outermost
call returns.

Parameters are global by default: they live in the param store. In local mode
(:func:`module_local_params`) a call of the root module runs inside a private scope of the
param store that holds only that tree's parameters, so the global store never sees them.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Optional

import pyro

#: Whether PyroModule parameters are local to their module (see :func:`module_local_params`).
#: Read when a root module's call begins.
_MODULE_LOCAL_PARAMS = False

_PYRO_PARAM_STORE = pyro.get_param_store()


def _is_module_local_param_enabled() -> bool:
    """Whether PyroModule parameters are currently local to their modules."""
    return _MODULE_LOCAL_PARAMS


def _validate_module_local_params(value: Any) -> None:
    """Refuse anything but a bool as the local-params setting."""
    if not isinstance(value, bool):
        raise TypeError(f"module_local_params must be a bool, got {type(value).__name__} {value!r}")


class module_local_params(contextlib.ContextDecorator):
    """Make PyroModule parameters local to their modules inside a block (or a decorated function).

    In local mode the parameters of a ``PyroModule`` are not kept in the global param store: a
    call of the module sees them (as ``pyro.param`` sites, so SVI and traces still find them)
    and the global store is as it was once the call returns. Train them through the module,
    e.g. ``torch.optim.Adam(Trace_ELBO()(model, guide).parameters())``. Modules should be
    created and used in the same mode. On exit the previous mode is restored.

    Args:
        enabled: True for local parameters, False for the param store (the default mode).

    Example::

        with pyro.nn.module.module_local_params():
            model = Model()
            guide = Guide()
            loss_fn = Trace_ELBO()(model, guide)
            ...
    """

    def __init__(self, enabled: bool = True) -> None:
        _validate_module_local_params(enabled)
        self.enabled = enabled
        self._saved: list = []

    def __enter__(self) -> "module_local_params":
        global _MODULE_LOCAL_PARAMS
        self._saved.append(_MODULE_LOCAL_PARAMS)
        _MODULE_LOCAL_PARAMS = self.enabled
        return self

    def __exit__(self, *exc: Any) -> None:
        global _MODULE_LOCAL_PARAMS
        _MODULE_LOCAL_PARAMS = self._saved.pop()


class _Context:
    """The state one tree of PyroModules shares during a call (see the module docstring).

    Attributes:
        active: how many calls of the tree's modules are running.
        cache: ``{site name: value}`` of the PyroSample draws of the current call.
        used: whether the tree has run in global mode (so that deleting an attribute also
            deletes its param store entry).
        param_state: in local mode, the tree's parameters (a param store state).
    """

    __slots__ = ("active", "cache", "used", "param_state", "_scope")

    def __init__(self) -> None:
        self.active = 0
        self.cache: Dict[str, Any] = {}
        self.used = False
        self.param_state: Optional[Dict[str, Dict[str, Any]]] = None
        self._scope: Any = None

    def __enter__(self) -> "_Context":
        if not self.active:
            if _MODULE_LOCAL_PARAMS:
                if self.param_state is None:
                    self.param_state = {"params": {}, "constraints": {}}
                scope = _PYRO_PARAM_STORE.scope(self.param_state)
                scope.__enter__()
                self._scope = scope
            else:
                self.used = True
        self.active += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.active -= 1
        if not self.active:
            self.cache.clear()
            scope = self._scope
            if scope is not None:
                self._scope = None
                scope.__exit__(exc_type, exc, tb)

    def get(self, name: str) -> Any:
        """Return the cached draw of the site ``name`` in the current call, or None."""
        return self.cache.get(name)

    def set(self, name: str, value: Any) -> None:
        """Cache the draw ``value`` of the site ``name`` until the current call ends."""
        if self.active:
            self.cache[name] = value

    def __getstate__(self) -> Dict[str, Any]:
        return {"used": self.used, "param_state": self.param_state}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
        self.used = state["used"]
        self.param_state = state["param_state"]


__all__ = ["module_local_params"]
