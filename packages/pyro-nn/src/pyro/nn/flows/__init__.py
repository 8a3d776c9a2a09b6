"""Normalising flows built on pyro-nn's networks, one family (and its conditional variant) per
module.

pyro-nn's plugin registers every public name of these modules in ``pyro.distributions.transforms``
(where Pyro users look for them), except the ``Conditioned*`` classes that ``.condition()``
returns; the seed manual's names go to ``pyro.distributions``:

- :mod:`~pyro.nn.flows.affine_autoregressive`: ``AffineAutoregressive``,
  ``ConditionalAffineAutoregressive`` and their helpers
- :mod:`~pyro.nn.flows.affine_coupling`: ``AffineCoupling``, ``ConditionalAffineCoupling``
- :mod:`~pyro.nn.flows.batchnorm`: ``BatchNorm``
- :mod:`~pyro.nn.flows.block_autoregressive`: ``BlockAutoregressive``
- :mod:`~pyro.nn.flows.generalized_channel_permute`: ``GeneralizedChannelPermute``,
  ``ConditionalGeneralizedChannelPermute``
- :mod:`~pyro.nn.flows.householder`: ``Householder``, ``ConditionalHouseholder``
- :mod:`~pyro.nn.flows.matrix_exponential`: ``MatrixExponential``,
  ``ConditionalMatrixExponential``
- :mod:`~pyro.nn.flows.neural_autoregressive`: ``NeuralAutoregressive``,
  ``ConditionalNeuralAutoregressive``
- :mod:`~pyro.nn.flows.permute`: the helper ``permute`` (of pyro-distributions' ``Permute``)
- :mod:`~pyro.nn.flows.planar`: ``Planar``, ``ConditionalPlanar``
- :mod:`~pyro.nn.flows.polynomial`: ``Polynomial``
- :mod:`~pyro.nn.flows.radial`: ``Radial``, ``ConditionalRadial``
- :mod:`~pyro.nn.flows.seed`: ``Bijector``, ``InverseAutoRegressiveFlow`` (the Pyro 0.1 names)
  -> ``pyro.distributions``
- :mod:`~pyro.nn.flows.spline`: ``Spline``, ``ConditionalSpline`` (and the rational-quadratic
  spline maths the spline flows share)
- :mod:`~pyro.nn.flows.spline_autoregressive`: ``SplineAutoregressive``,
  ``ConditionalSplineAutoregressive``
- :mod:`~pyro.nn.flows.spline_coupling`: ``SplineCoupling``
- :mod:`~pyro.nn.flows.sylvester`: ``Sylvester`` (a ``Householder``)
- :mod:`~pyro.nn.flows.util`: helpers the flows share (not registered)

Each class has its lower-case helper (``affine_autoregressive(input_dim, hidden_dims=None,
**kwargs)`` and so on) beside it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Dict, Tuple

from pyro.nn.flows import (
    affine_autoregressive,
    affine_coupling,
    batchnorm,
    block_autoregressive,
    generalized_channel_permute,
    householder,
    matrix_exponential,
    neural_autoregressive,
    permute,
    planar,
    polynomial,
    radial,
    spline,
    spline_autoregressive,
    spline_coupling,
    sylvester,
)
from pyro.nn.flows.seed import Bijector, InverseAutoRegressiveFlow

_FLOW_MODULES: Tuple[ModuleType, ...] = (
    affine_autoregressive, affine_coupling, batchnorm, block_autoregressive,
    generalized_channel_permute, householder, matrix_exponential, neural_autoregressive, permute,
    planar, polynomial, radial, spline, spline_autoregressive, spline_coupling, sylvester,
)

#: What pyro-nn registers in ``pyro.distributions.transforms``, by name.
FLOW_TRANSFORMS: Dict[str, Any] = {
    name: getattr(module, name)
    for module in _FLOW_MODULES
    for name in module.__all__
    if not name.startswith("Conditioned")
}

#: What pyro-nn registers in ``pyro.distributions`` (the seed manual's names), by name.
SEED_DISTRIBUTIONS: Dict[str, Any] = {
    "Bijector": Bijector,
    "InverseAutoRegressiveFlow": InverseAutoRegressiveFlow,
}

globals().update(FLOW_TRANSFORMS)

__all__ = sorted(["FLOW_TRANSFORMS", "SEED_DISTRIBUTIONS", *FLOW_TRANSFORMS, *SEED_DISTRIBUTIONS])
