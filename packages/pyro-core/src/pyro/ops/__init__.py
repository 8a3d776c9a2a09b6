__path__ = __import__("pkgutil").extend_path(__path__, __name__)  # noqa: E402  (must stay first)

__doc__ = """Tensor helpers shared by the packages of the framework.

Several distributions fill this namespace: pyro-core ships this ``__init__`` with its own
modules (``score_parts``, ``jit``, ``tensor_utils``, ``newton``, ``hessian``), pyro-distributions ships ``indexing`` (and the other helpers
distributions need) without an ``__init__``. The first line adds every ``pyro/ops/`` folder
found on ``pyro.__path__`` to this package's search path, so those modules import from a
regular install and from an editable one alike.
"""

from typing import Any, List  # noqa: E402


def _submodule_names() -> List[str]:
    import pkgutil

    return sorted({info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")})


def __getattr__(name: str) -> Any:
    """``pyro.ops.<module>`` after a plain ``import pyro``, as in Pyro, for every ``pyro/ops``
    module any installed package ships (imported on first access)."""
    import importlib
    import importlib.util

    if not name.startswith("_"):
        try:
            found = importlib.util.find_spec(f"{__name__}.{name}") is not None
        except ModuleNotFoundError as missing:  # a module of a package that is not installed
            raise AttributeError(f"module '{__name__}' has no attribute '{name}' ({missing})") from None
        if found:
            return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_submodule_names()))
