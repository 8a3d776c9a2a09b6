"""pyro-infer's plugin: registers its engines, losses and guides, and its handlers."""

from typing import Any

from pyro.plugins import hookimpl


@hookimpl
def pyro_register_inference(registry: Any) -> None:
    import pyro.infer as infer
    import pyro.infer.autoguide as autoguide

    for name in infer.__all__:
        registry.add(name, getattr(infer, name))
    # The autoguides too (listed by `pyro plugins`; pyro.infer.autoguide is their home).
    for name in autoguide.__all__:
        if name.startswith("Auto") and name not in infer.__all__:
            registry.add(name, getattr(autoguide, name))


@hookimpl
def pyro_register_handlers(registry: Any) -> None:
    from pyro.infer.enum import EnumMessenger, config_enumerate, enum

    registry.add("enum", enum)
    registry.add("EnumMessenger", EnumMessenger)
    registry.add("config_enumerate", config_enumerate)

    from pyro.infer.collapse import CollapseMessenger, collapse

    registry.add("collapse", collapse)
    registry.add("CollapseMessenger", CollapseMessenger)

    from pyro.infer.reparam.handler import ReparamMessenger, reparam

    registry.add("reparam", reparam)
    registry.add("ReparamMessenger", ReparamMessenger)
