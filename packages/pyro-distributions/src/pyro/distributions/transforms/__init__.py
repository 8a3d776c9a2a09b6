"""Transforms: torch's (re-exported) and Pyro's own, plus ``biject_to`` / ``transform_to``.

Pyro's transforms here: :class:`OrderedTransform`, :class:`CorrMatrixCholeskyTransform`,
:class:`CholeskyTransform`, :class:`SoftplusLowerCholeskyTransform`,
:class:`UnitLowerCholeskyTransform`, :class:`CorrLCholeskyTransform` (deprecated),
:class:`Permute`, :class:`PositivePowerTransform`, :class:`ELUTransform`,
:class:`LeakyReLUTransform`, :class:`LowerCholeskyAffine`, :class:`Normalize`,
:class:`DiscreteCosineTransform`, :class:`HaarTransform`, :class:`SimplexToOrderedTransform`,
the helpers :func:`elu`, :func:`leaky_relu` and :func:`iterated`, and the learnable bases
:class:`TransformModule` and :class:`ComposeTransformModule`. Names registered by plugins
through ``pyro_register_transforms`` (e.g. normalising flows) resolve as attributes too.

Where each lives:

- :mod:`~pyro.distributions.transforms.ordered`: ``OrderedTransform``
- :mod:`~pyro.distributions.transforms.cholesky`: ``CholeskyTransform``,
  ``CorrMatrixCholeskyTransform``, ``SoftplusLowerCholeskyTransform``,
  ``UnitLowerCholeskyTransform``, ``CorrLCholeskyTransform``
- :mod:`~pyro.distributions.transforms.permutation`: ``Permute``
- :mod:`~pyro.distributions.transforms.power`: ``PositivePowerTransform``
- :mod:`~pyro.distributions.transforms.activations`: ``ELUTransform``, ``LeakyReLUTransform``,
  ``elu``, ``leaky_relu``
- :mod:`~pyro.distributions.transforms.lower_cholesky_affine`: ``LowerCholeskyAffine``
- :mod:`~pyro.distributions.transforms.normalize`: ``Normalize``
- :mod:`~pyro.distributions.transforms.discrete_cosine`: ``DiscreteCosineTransform``
- :mod:`~pyro.distributions.transforms.haar`: ``HaarTransform``
- :mod:`~pyro.distributions.transforms.simplex_to_ordered`: ``SimplexToOrderedTransform``
- :mod:`~pyro.distributions.transforms.compose`: ``iterated``
- :mod:`~pyro.distributions.transforms.constraint_registrations`: ``biject_to`` /
  ``transform_to`` for Pyro's constraints (registered on import)
- :mod:`~pyro.distributions.transforms.name_table`: ``PYRO_TRANSFORMS``, the registered names
- :mod:`pyro.distributions.torch_transform`: ``TransformModule``, ``ComposeTransformModule``
"""

from __future__ import annotations

from typing import Any

from torch.distributions import biject_to, transform_to
from torch.distributions.transforms import *  # noqa: F401,F403  (torch's names)
from torch.distributions.transforms import __all__ as _TORCH_NAMES

from pyro.distributions import constraints  # noqa: F401  (as in Pyro: transforms.constraints)
from pyro.distributions.torch_transform import ComposeTransformModule, TransformModule
from pyro.distributions.transforms import constraint_registrations  # noqa: F401  (registers)
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
from pyro.distributions.transforms.name_table import PYRO_TRANSFORMS
from pyro.distributions.transforms.normalize import Normalize
from pyro.distributions.transforms.ordered import OrderedTransform
from pyro.distributions.transforms.permutation import Permute
from pyro.distributions.transforms.power import PositivePowerTransform
from pyro.distributions.transforms.simplex_to_ordered import SimplexToOrderedTransform

__all__ = sorted(set(_TORCH_NAMES) | set(PYRO_TRANSFORMS) | {"biject_to", "transform_to"})


def __getattr__(name: str) -> Any:
    from pyro.distributions._provided_elsewhere import resolve_or_explain

    return resolve_or_explain("transforms", name, __name__)
