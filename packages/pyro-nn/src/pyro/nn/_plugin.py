"""pyro-nn's plugin: registers its modules, and its flows and flow guides where Pyro users look
for them (the guides only when pyro-infer is installed)."""

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


@hookimpl
def pyro_register_inference(registry: Any) -> None:
    try:
        import pyro.infer  # noqa: F401
    except ModuleNotFoundError as err:
        if err.name == "pyro.infer":
            return  # the flow guides need pyro-infer: ``pip install "pyro-nn[infer]"``
        raise
    from pyro.nn.flow_guides import AutoIAFNormal, AutoNormalizingFlow

    registry.add("AutoIAFNormal", AutoIAFNormal)
    registry.add("AutoNormalizingFlow", AutoNormalizingFlow)


@hookimpl
def pyro_register_settings(registry: Any) -> None:
    from pyro.settings import Setting

    registry.add("module_local_params", Setting(
        "pyro.nn._module_context", "_MODULE_LOCAL_PARAMS", _check_module_local_params))


def _check_module_local_params(value: Any) -> None:
    from pyro.nn._module_context import _validate_module_local_params

    _validate_module_local_params(value)
