"""pyro.distributions (package pyro-distributions)."""

from typing import Any


def __getattr__(name: str) -> Any:
    from pyro.plugins import resolve

    return resolve("distributions", name, __name__)
