"""pyro-nn's plugin: registers its modules, and its flows where Pyro users look for them."""

from typing import Any

from pyro.plugins import hookimpl


@hookimpl
def pyro_register_nn(registry: Any) -> None:
    import pyro.nn as nn

    for name in nn.__all__:
        registry.add(name, getattr(nn, name))


@hookimpl
def pyro_register_transforms(registry: Any) -> None:
    from pyro.nn.flows import FLOW_TRANSFORMS

    for name, obj in FLOW_TRANSFORMS.items():
        registry.add(name, obj)


@hookimpl
def pyro_register_distributions(registry: Any) -> None:
    from pyro.nn.flows import SEED_DISTRIBUTIONS

    for name, obj in SEED_DISTRIBUTIONS.items():
        registry.add(name, obj)
