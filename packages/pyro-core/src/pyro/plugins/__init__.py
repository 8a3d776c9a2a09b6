"""The plugin system: hook specs, the ``hookimpl`` marker, the manager and the registries.

A plugin is a module of ``@hookimpl`` functions named in the ``pyro`` entry-point group::

    [project.entry-points.pyro]
    my-dist = "my_package._pyro_plugin"

and, in ``my_package/_pyro_plugin.py``::

    from pyro.plugins import hookimpl

    @hookimpl
    def pyro_register_distributions(registry):
        from my_package.dists import MyDist
        registry.add("MyDist", MyDist)   # now pyro.distributions.MyDist
"""

from typing import Any

import pluggy

from pyro.plugins.hookspecs import PROJECT_NAME
from pyro.plugins.manager import (
    PluginInfo,
    PluginLoadWarning,
    PyroPluginManager,
    get_plugin_manager,
    get_registry,
    set_plugin_manager,
)
from pyro.plugins.registry import NAMESPACES, Registrar, RegistrationError, Registry

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


def resolve(kind: str, name: str, module: str) -> Any:
    """Return the object registered as ``name`` in the registry ``kind``.

    Namespaces call this from their module ``__getattr__``, so that registered names are
    attributes: ``pyro.distributions.MyDist``.

    Raises:
        AttributeError: nothing is registered under ``name``.
    """
    if not name.startswith("_"):
        obj = get_registry(kind).get(name)
        if obj is not None:
            return obj
    raise AttributeError(f"module '{module}' has no attribute '{name}'")


__all__ = [
    "NAMESPACES",
    "PluginInfo",
    "PluginLoadWarning",
    "PyroPluginManager",
    "Registrar",
    "RegistrationError",
    "Registry",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "resolve",
    "set_plugin_manager",
]
