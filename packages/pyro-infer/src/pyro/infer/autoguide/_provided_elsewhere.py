"""Autoguides that another pyro distribution registers into ``pyro.infer.autoguide``.

``AutoIAFNormal`` and ``AutoNormalizingFlow`` need pyro-nn's flows, so pyro-nn registers them
through its ``pyro_register_inference`` hook. Without pyro-nn (or with its plugin blocked),
looking one up names the package to install instead of raising a bare ``AttributeError``. This
module imports nothing from pyro-nn.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

#: Guide name -> (distribution, pip extra of pyro-core) that provides it.
PROVIDED_ELSEWHERE: Dict[str, Tuple[str, str]] = {
    "AutoIAFNormal": ("pyro-nn", "nn"),
    "AutoNormalizingFlow": ("pyro-nn", "nn"),
}


def resolve_guide(name: str, module: str) -> Any:
    """Return the autoguide class a plugin registered as ``name`` in the inference registry.

    Only subclasses of :class:`~pyro.infer.autoguide.AutoGuide` resolve here, so the engines and
    losses of the same registry do not appear as attributes of ``pyro.infer.autoguide``.

    Raises:
        ModuleNotFoundError: ``name`` is a guide another distribution provides and nothing
            registered it; the message names that distribution and how to install it.
        AttributeError: any other unknown name.
    """
    from pyro.infer.autoguide.guides import AutoGuide

    if not name.startswith("_"):
        from pyro.plugins import get_registry

        obj = get_registry("inference").get(name)
        if isinstance(obj, type) and issubclass(obj, AutoGuide):
            return obj
        provider = PROVIDED_ELSEWHERE.get(name)
        if provider is not None:
            dist, extra = provider
            raise ModuleNotFoundError(
                f"{module}.{name} is provided by the {dist} package, which is not installed or "
                f"whose plugin is not loaded (see PYRO_DISABLE_PLUGINS); install it with: "
                f'pip install "pyro-core[{extra}]"',
                name=dist.replace("-", "."),
            )
    raise AttributeError(f"module '{module}' has no attribute '{name}'")


__all__ = ["PROVIDED_ELSEWHERE", "resolve_guide"]
