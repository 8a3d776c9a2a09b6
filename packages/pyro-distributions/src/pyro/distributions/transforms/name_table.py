"""``PYRO_TRANSFORMS``: the name under which each of Pyro's own transforms is registered.

pyro-distributions's plugin registers these (and torch's transforms, by their own names) in the
``transforms`` registry through ``pyro_register_transforms``.
"""

from __future__ import annotations

from typing import Dict

from pyro.distributions.torch_transform import ComposeTransformModule, TransformModule
from pyro.distributions.transforms.activations import ELUTransform, LeakyReLUTransform
from pyro.distributions.transforms.cholesky import (
    CholeskyTransform,
    CorrMatrixCholeskyTransform,
    SoftplusLowerCholeskyTransform,
    UnitLowerCholeskyTransform,
)
from pyro.distributions.transforms.lower_cholesky_affine import LowerCholeskyAffine
from pyro.distributions.transforms.normalize import Normalize
from pyro.distributions.transforms.ordered import OrderedTransform
from pyro.distributions.transforms.permutation import Permute
from pyro.distributions.transforms.power import PositivePowerTransform

#: Pyro's own transforms, by registered name (torch's are registered too, by their names).
PYRO_TRANSFORMS: Dict[str, type] = {
    "CholeskyTransform": CholeskyTransform,
    "ComposeTransformModule": ComposeTransformModule,
    "CorrMatrixCholeskyTransform": CorrMatrixCholeskyTransform,
    "ELUTransform": ELUTransform,
    "LeakyReLUTransform": LeakyReLUTransform,
    "LowerCholeskyAffine": LowerCholeskyAffine,
    "Normalize": Normalize,
    "OrderedTransform": OrderedTransform,
    "Permute": Permute,
    "PositivePowerTransform": PositivePowerTransform,
    "SoftplusLowerCholeskyTransform": SoftplusLowerCholeskyTransform,
    "TransformModule": TransformModule,
    "UnitLowerCholeskyTransform": UnitLowerCholeskyTransform,
}

__all__ = ["PYRO_TRANSFORMS"]
