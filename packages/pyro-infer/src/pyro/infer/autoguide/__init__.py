"""Automatic guides (``pyro.infer.autoguide``): guides built from a model's latent sites."""

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
    "AutoDelta",
    "AutoGuide",
    "AutoNormal",
    "InitMessenger",
    "init_to_feasible",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_uniform",
    "init_to_value",
]
