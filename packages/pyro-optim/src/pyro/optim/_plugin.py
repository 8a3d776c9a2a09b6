"""pyro-optim's plugin: registers what the package provides."""

from typing import Any

from pyro.plugins import hookimpl


@hookimpl
def pyro_register_optimizers(registry: Any) -> None:
    import pyro.optim as optim

    for name in optim.__all__:
        obj = getattr(optim, name)
        if not (isinstance(obj, type) and issubclass(obj, BaseException)):
            registry.add(name, obj)
