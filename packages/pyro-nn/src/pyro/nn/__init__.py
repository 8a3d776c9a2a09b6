"""pyro.nn (package pyro-nn)."""

from typing import Any


def __getattr__(name: str) -> Any:
    from pyro.plugins import resolve

    return resolve("nn", name, __name__)
