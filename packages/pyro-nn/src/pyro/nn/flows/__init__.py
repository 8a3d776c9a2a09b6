"""Normalising flows built on pyro-nn's networks, one family per module.

pyro-nn's plugin registers them where Pyro users look for them:

- :mod:`~pyro.nn.flows.affine_autoregressive`: ``AffineAutoregressive``,
  ``affine_autoregressive`` -> ``pyro.distributions.transforms``
- :mod:`~pyro.nn.flows.batchnorm`: ``BatchNorm``, ``batchnorm`` -> ``pyro.distributions.transforms``
- :mod:`~pyro.nn.flows.householder`: ``Householder``, ``householder``
  -> ``pyro.distributions.transforms``
- :mod:`~pyro.nn.flows.permute`: the helper ``permute`` (of pyro-distributions' ``Permute``)
  -> ``pyro.distributions.transforms``
- :mod:`~pyro.nn.flows.planar`: ``Planar``, ``planar`` -> ``pyro.distributions.transforms``
- :mod:`~pyro.nn.flows.radial`: ``Radial``, ``radial`` -> ``pyro.distributions.transforms``
- :mod:`~pyro.nn.flows.seed`: ``Bijector``, ``InverseAutoRegressiveFlow`` (the Pyro 0.1 names)
  -> ``pyro.distributions``
- :mod:`~pyro.nn.flows.util`: ``clamp_preserve_gradients``
"""

from __future__ import annotations

from typing import Any, Dict

from pyro.nn.flows.affine_autoregressive import AffineAutoregressive, affine_autoregressive
from pyro.nn.flows.batchnorm import BatchNorm, batchnorm
from pyro.nn.flows.householder import Householder, householder
from pyro.nn.flows.permute import permute
from pyro.nn.flows.planar import Planar, planar
from pyro.nn.flows.radial import Radial, radial
from pyro.nn.flows.seed import Bijector, InverseAutoRegressiveFlow

#: What pyro-nn registers in ``pyro.distributions.transforms``, by name.
FLOW_TRANSFORMS: Dict[str, Any] = {
    "AffineAutoregressive": AffineAutoregressive,
    "affine_autoregressive": affine_autoregressive,
    "BatchNorm": BatchNorm,
    "batchnorm": batchnorm,
    "Householder": Householder,
    "householder": householder,
    "permute": permute,
    "Planar": Planar,
    "planar": planar,
    "Radial": Radial,
    "radial": radial,
}

#: What pyro-nn registers in ``pyro.distributions`` (the seed manual's names), by name.
SEED_DISTRIBUTIONS: Dict[str, Any] = {
    "Bijector": Bijector,
    "InverseAutoRegressiveFlow": InverseAutoRegressiveFlow,
}

__all__ = [
    "FLOW_TRANSFORMS",
    "SEED_DISTRIBUTIONS",
    "AffineAutoregressive",
    "BatchNorm",
    "Bijector",
    "Householder",
    "InverseAutoRegressiveFlow",
    "Planar",
    "Radial",
    "affine_autoregressive",
    "batchnorm",
    "householder",
    "permute",
    "planar",
    "radial",
]
