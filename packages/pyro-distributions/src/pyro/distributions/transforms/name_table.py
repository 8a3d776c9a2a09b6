"""``PYRO_TRANSFORMS``: the name under which each of Pyro's own transforms, and each of its
lower-case helpers that build one (``elu``, ``leaky_relu``, ``iterated``), is registered.

pyro-distributions's plugin registers these (and torch's transforms, by their own names) in the
``transforms`` registry through ``pyro_register_transforms``.
"""

from __future__ import annotations

from typing import Any, Dict

from pyro.distributions.torch_transform import ComposeTransformModule, TransformModule
from pyro.distributions.transforms.activations import (
    ELUTransform,
    LeakyReLUTransform,
    elu,
    leaky_relu,
)
from pyro.distributions.transforms.cholesky import (
    CholeskyTransform,
    CorrLCholeskyTransform,
    CorrMatrixCholeskyTransform,
    SoftplusLowerCholeskyTransform,
    UnitLowerCholeskyTransform,
)
from pyro.distributions.transforms.compose import iterated
from pyro.distributions.transforms.discrete_cosine import DiscreteCosineTransform
from pyro.distributions.transforms.haar import HaarTransform
from pyro.distributions.transforms.lower_cholesky_affine import LowerCholeskyAffine
from pyro.distributions.transforms.normalize import Normalize
from pyro.distributions.transforms.ordered import OrderedTransform
from pyro.distributions.transforms.permutation import Permute
from pyro.distributions.transforms.power import PositivePowerTransform
from pyro.distributions.transforms.simplex_to_ordered import SimplexToOrderedTransform

#: Pyro's own transforms (classes) and helpers (functions), by registered name (torch's
#: transforms are registered too, by their names).
PYRO_TRANSFORMS: Dict[str, Any] = {
    "CholeskyTransform": CholeskyTransform,
    "ComposeTransformModule": ComposeTransformModule,
    "CorrLCholeskyTransform": CorrLCholeskyTransform,
    "CorrMatrixCholeskyTransform": CorrMatrixCholeskyTransform,
    "DiscreteCosineTransform": DiscreteCosineTransform,
    "ELUTransform": ELUTransform,
    "HaarTransform": HaarTransform,
    "LeakyReLUTransform": LeakyReLUTransform,
    "LowerCholeskyAffine": LowerCholeskyAffine,
    "Normalize": Normalize,
    "OrderedTransform": OrderedTransform,
    "Permute": Permute,
    "PositivePowerTransform": PositivePowerTransform,
    "SimplexToOrderedTransform": SimplexToOrderedTransform,
    "SoftplusLowerCholeskyTransform": SoftplusLowerCholeskyTransform,
    "TransformModule": TransformModule,
    "UnitLowerCholeskyTransform": UnitLowerCholeskyTransform,
    "elu": elu,
    "iterated": iterated,
    "leaky_relu": leaky_relu,
}

__all__ = ["PYRO_TRANSFORMS"]
