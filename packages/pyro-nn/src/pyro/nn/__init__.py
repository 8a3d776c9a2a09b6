"""Neural-network building blocks (``pyro.nn``, package pyro-nn).

Modules registered by plugins through ``pyro_register_nn`` are attributes of this module too.
"""

from typing import Any

from pyro.nn.auto_reg_nn import AutoRegressiveNN, ConditionalAutoRegressiveNN, MaskedLinear, create_mask
from pyro.nn.dense_nn import ConditionalDenseNN, DenseNN
from pyro.nn.module import PyroModule, PyroModuleList, PyroParam, PyroSample, pyro_method

__all__ = [
    "AutoRegressiveNN",
    "ConditionalAutoRegressiveNN",
    "ConditionalDenseNN",
    "DenseNN",
    "MaskedLinear",
    "PyroModule",
    "PyroModuleList",
    "PyroParam",
    "PyroSample",
    "create_mask",
    "pyro_method",
]


def __getattr__(name: str) -> Any:
    from pyro.plugins import resolve

    return resolve("nn", name, __name__)
