"""Automatic guides (``pyro.infer.autoguide``): guides built from a model's latent sites.

Guides registered by plugins through ``pyro_register_inference`` (pyro-nn's ``AutoIAFNormal``
and ``AutoNormalizingFlow``) are attributes of this module too.
"""

from typing import Any

from pyro.infer.autoguide.continuous import (
    AutoContinuous,
    AutoDiagonalNormal,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
)
from pyro.infer.autoguide.guides import AutoDelta, AutoGuide, AutoNormal
from pyro.infer.autoguide.initialization import (
    InitMessenger,
    init_to_feasible,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_uniform,
    init_to_value,
)

__all__ = [
    "AutoContinuous",
    "AutoDelta",
    "AutoDiagonalNormal",
    "AutoGuide",
    "AutoLowRankMultivariateNormal",
    "AutoMultivariateNormal",
    "AutoNormal",
    "InitMessenger",
    "init_to_feasible",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_uniform",
    "init_to_value",
]


def __getattr__(name: str) -> Any:
    from pyro.infer.autoguide._provided_elsewhere import resolve_guide

    return resolve_guide(name, __name__)
