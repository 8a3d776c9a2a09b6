"""pyro-infer's plugin: registers its engines, losses and guides, and its handlers."""

from typing import Any

from pyro.plugins import hookimpl


@hookimpl
def pyro_register_inference(registry: Any) -> None:
    import pyro.infer as infer

    for name in infer.__all__:
        registry.add(name, getattr(infer, name))
