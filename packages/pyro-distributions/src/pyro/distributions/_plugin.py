"""pyro-distributions's plugin: registers what the package provides.

Heavy imports happen inside the hooks, never at module level.
"""

from typing import Any

from pyro.plugins import hookimpl


@hookimpl
def pyro_register_distributions(registry: Any) -> None:
    import pyro.distributions as dist
    from pyro.distributions import _PYRO_DISTRIBUTIONS
    from pyro.distributions.torch import __all__ as torch_names

    for name in list(torch_names) + list(_PYRO_DISTRIBUTIONS):
        registry.add(name, getattr(dist, name))


@hookimpl
def pyro_register_constraints(registry: Any) -> None:
    from pyro.distributions.constraints import PYRO_CONSTRAINTS

    for name, constraint in PYRO_CONSTRAINTS.items():
        registry.add(name, constraint)


@hookimpl
def pyro_register_transforms(registry: Any) -> None:
    from torch.distributions import transforms as torch_transforms

    from pyro.distributions.transforms import PYRO_TRANSFORMS

    for name in torch_transforms.__all__:
        obj = getattr(torch_transforms, name)
        if isinstance(obj, torch_transforms.Transform) or (
            isinstance(obj, type) and issubclass(obj, torch_transforms.Transform)
        ):
            registry.add(name, obj)
    for name, obj in PYRO_TRANSFORMS.items():
        registry.add(name, obj)
