"""Discovery and bookkeeping of pyro plugins (entry-point group ``pyro``).

Nothing here runs at ``import pyro``: the first registry look-up creates the manager
(:func:`get_plugin_manager`), which loads the entry points once and fills each registry the first
time it is asked for.
"""

from __future__ import annotations

import importlib.metadata
import os
import warnings
from typing import Any, Dict, List, Optional

import attrs
import pluggy

from pyro.plugins import hookspecs
from pyro.plugins.registry import HOOKS, Registrar, Registry

ENTRY_POINT_GROUP = "pyro"
FIRST_PARTY = frozenset({"pyro-core", "pyro-distributions", "pyro-infer", "pyro-optim", "pyro-nn"})


class PluginLoadWarning(RuntimeWarning):
    """A plugin could not be loaded or failed to register; it was skipped."""


@attrs.define
class PluginInfo:
    """What the manager knows about one plugin."""

    name: str
    distribution: Optional[str] = None
    version: Optional[str] = None
    module: Optional[str] = None
    first_party: bool = False
    error: Optional[str] = None


def _env_list(var: str) -> frozenset:
    return frozenset(s.strip() for s in os.environ.get(var, "").split(",") if s.strip())


class PyroPluginManager:
    """A pluggy plugin manager for project ``"pyro"`` plus the registries its plugins fill.

    Args:
        load_entry_points: discover and load the plugins installed in the environment.
            ``False`` gives an empty manager (for tests).
    """

    def __init__(self, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: Dict[str, PluginInfo] = {}
        self.failures: List[PluginInfo] = []
        self._registries: Dict[str, Registry] = {}
        if load_entry_points:
            self._load_entry_points()

    @property
    def hook(self) -> Any:
        """The pluggy hook relay, e.g. ``manager.hook.pyro_svi_step(...)``."""
        return self.pm.hook

    # ----- loading ----------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        blocked = _env_list("PYRO_DISABLE_PLUGINS")
        autoload = os.environ.get("PYRO_DISABLE_PLUGIN_AUTOLOAD", "").lower() not in ("1", "true", "yes")
        seen = set()
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            first_party = ep.name in FIRST_PARTY or dist in FIRST_PARTY
            if ep.name in blocked or (dist is not None and dist in blocked):
                continue
            if not first_party and not autoload:
                continue
            info = PluginInfo(ep.name, dist, version, ep.value, first_party)
            try:
                plugin = ep.load()
            except Exception as e:  # a broken plugin must not stop the others
                self._fail(info, f"import of {ep.value} failed: {type(e).__name__}: {e}")
                continue
            self._register(plugin, info)

    def _fail(self, info: PluginInfo, error: str) -> None:
        info.error = error
        self.failures.append(info)
        warnings.warn(
            f"pyro plugin '{info.name}' ({info.distribution or 'unknown distribution'}) is "
            f"skipped: {error}",
            PluginLoadWarning,
            stacklevel=3,
        )

    def _register(self, plugin: Any, info: PluginInfo) -> bool:
        try:
            self.pm.register(plugin, name=info.name)
            self.pm.check_pending()
        except Exception as e:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(info, f"invalid hook implementations: {e}")
            return False
        self.plugins[info.name] = info
        # Registries already built get this plugin's objects now.
        for kind in list(self._registries):
            self._run_registration(kind, only=info.name)
        return True

    def register(self, plugin: Any, name: str, distribution: Optional[str] = None,
                 version: Optional[str] = None) -> bool:
        """Register ``plugin`` (a module or object with hook implementations) by hand.

        Returns:
            Whether it was registered (a plugin with invalid hooks is reported and skipped).
        """
        if name in self.plugins:
            raise ValueError(f"a pyro plugin named '{name}' is already registered")
        info = PluginInfo(name, distribution or name, version, getattr(plugin, "__name__", None))
        return self._register(plugin, info)

    def unregister(self, name: str) -> None:
        """Remove the plugin ``name`` and everything it registered."""
        info = self.plugins.pop(name, None)
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        owner = info.distribution if info is not None and info.distribution else name
        for registry in self._registries.values():
            for obj_name in registry.names_by(owner):
                registry._remove(obj_name)

    # ----- registries -------------------------------------------------------------------------
    def get_registry(self, kind: str) -> Registry:
        """Return the registry of ``kind`` (e.g. ``"distributions"``), filling it on first use."""
        registry = self._registries.get(kind)
        if registry is None:
            if kind not in HOOKS:
                raise KeyError(f"unknown registry kind {kind!r}; known kinds: {sorted(HOOKS)}")
            self._registries[kind] = registry = Registry(kind)
            self._run_registration(kind)
        return registry

    def _run_registration(self, kind: str, only: Optional[str] = None) -> None:
        registry = self._registries[kind]
        caller = getattr(self.pm.hook, HOOKS[kind])
        for impl in caller.get_hookimpls():
            name = self.pm.get_name(impl.plugin)
            if only is not None and name != only:
                continue
            info = self.plugins.get(name)
            owner = info.distribution if info is not None and info.distribution else name
            registrar = Registrar(registry, owner)
            try:
                impl.function(registry=registrar)
            except Exception as e:
                registrar.undo()
                failed = info or PluginInfo(name)
                self._fail(attrs.evolve(failed), f"{HOOKS[kind]} raised {type(e).__name__}: {e}")

    def registered(self) -> Dict[str, Dict[str, List[str]]]:
        """Return ``{plugin distribution: {kind: [names]}}`` over every registry kind."""
        result: Dict[str, Dict[str, List[str]]] = {}
        for kind in HOOKS:
            registry = self.get_registry(kind)
            for name in registry:
                result.setdefault(registry.owner(name), {}).setdefault(kind, []).append(name)
        return result


_MANAGER: Optional[PyroPluginManager] = None


def get_plugin_manager() -> PyroPluginManager:
    """Return the process-wide plugin manager, discovering the installed plugins on first call."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = PyroPluginManager()
    return _MANAGER


def set_plugin_manager(manager: Optional[PyroPluginManager]) -> Optional[PyroPluginManager]:
    """Replace the process-wide manager (``None``: rediscover on next use); return the old one."""
    global _MANAGER
    old, _MANAGER = _MANAGER, manager
    return old


def get_registry(kind: str) -> Registry:
    """Return the registry of ``kind`` of the process-wide plugin manager."""
    return get_plugin_manager().get_registry(kind)
