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
from pyro.infer.autoguide.discrete import AutoDiscreteParallel
from pyro.infer.autoguide.effect import (
    AutoHierarchicalNormalMessenger,
    AutoMessenger,
    AutoNormalMessenger,
    AutoRegressiveMessenger,
)
from pyro.infer.autoguide.guide_list import AutoCallable, AutoGuideList
from pyro.infer.autoguide.guides import AutoDelta, AutoGuide, AutoNormal
from pyro.infer.autoguide.initialization import (
    InitMessenger,
    init_to_feasible,
    init_to_generated,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_uniform,
    init_to_value,
)
from pyro.infer.autoguide.gaussian import AutoGaussian
from pyro.infer.autoguide.laplace import AutoLaplaceApproximation
from pyro.infer.autoguide.structured import AutoStructured
from pyro.infer.autoguide.utils import mean_field_entropy

__all__ = [
    "AutoCallable",
    "AutoContinuous",
    "AutoDelta",
    "AutoDiagonalNormal",
    "AutoDiscreteParallel",
    "AutoGaussian",
    "AutoGuide",
    "AutoGuideList",
    "AutoHierarchicalNormalMessenger",
    "AutoLaplaceApproximation",
    "AutoLowRankMultivariateNormal",
    "AutoMessenger",
    "AutoMultivariateNormal",
    "AutoNormal",
    "AutoNormalMessenger",
    "AutoRegressiveMessenger",
    "AutoStructured",
    "InitMessenger",
    "init_to_feasible",
    "init_to_generated",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_uniform",
    "init_to_value",
    "mean_field_entropy",
]


def __getattr__(name: str) -> Any:
    from pyro.infer.autoguide._provided_elsewhere import resolve_guide

    return resolve_guide(name, __name__)
