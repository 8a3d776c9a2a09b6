"""pyro-nn's plugin: registers its modules."""

from typing import Any

from pyro.plugins import hookimpl


@hookimpl
def pyro_register_nn(registry: Any) -> None:
    import pyro.nn as nn

    for name in nn.__all__:
        registry.add(name, getattr(nn, name))
