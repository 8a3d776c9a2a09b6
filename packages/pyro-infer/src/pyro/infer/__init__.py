"""pyro.infer (package pyro-infer)."""

from typing import Any


def __getattr__(name: str) -> Any:
    from pyro.plugins import resolve

    return resolve("inference", name, __name__)
