"""pyro.optim (package pyro-optim)."""

from typing import Any


def __getattr__(name: str) -> Any:
    from pyro.plugins import resolve

    return resolve("optimizers", name, __name__)
