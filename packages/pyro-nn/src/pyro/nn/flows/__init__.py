"""Normalising flows built on pyro-nn's networks, one family per module.

pyro-nn's plugin registers them where Pyro users look for them:

- :mod:`~pyro.nn.flows.affine_autoregressive`: ``AffineAutoregressive``,
  ``affine_autoregressive`` -> ``pyro.distributions.transforms``
- :mod:`~pyro.nn.flows.seed`: ``Bijector``, ``InverseAutoRegressiveFlow`` (the Pyro 0.1 names)
  -> ``pyro.distributions``
- :mod:`~pyro.nn.flows.util`: ``clamp_preserve_gradients``
"""

from __future__ import annotations

from typing import Any, Dict

from pyro.nn.flows.affine_autoregressive import AffineAutoregressive, affine_autoregressive
from pyro.nn.flows.seed import Bijector, InverseAutoRegressiveFlow

#: What pyro-nn registers in ``pyro.distributions.transforms``, by name.
FLOW_TRANSFORMS: Dict[str, Any] = {
    "AffineAutoregressive": AffineAutoregressive,
    "affine_autoregressive": affine_autoregressive,
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
    "Bijector",
    "InverseAutoRegressiveFlow",
    "affine_autoregressive",
]
