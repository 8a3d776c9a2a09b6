"""Reparameterizers (``pyro.infer.reparam``), applied to a model by :func:`pyro.poutine.reparam`.

Each rewrites a sample site as a function of auxiliary sites without changing the model's
distribution, to give inference an easier geometry. A third-party reparameterizer subclasses
:class:`~pyro.infer.reparam.reparam.Reparam`.

Not here yet: ``StableReparam``, ``LatentStableReparam`` and ``SymmetricStableReparam`` (no
``dist.Stable``), ``LinearHMMReparam`` (no ``dist.LinearHMM``), ``StructuredReparam`` (no
``AutoStructured``) and ``ConjugateReparam`` (no distribution has ``conjugate_update``).
"""

from pyro.infer.reparam.discrete_cosine import DiscreteCosineReparam
from pyro.infer.reparam.haar import HaarReparam
from pyro.infer.reparam.handler import ReparamHandler, ReparamMessenger, reparam
from pyro.infer.reparam.loc_scale import LocScaleReparam
from pyro.infer.reparam.neutra import NeuTraReparam
from pyro.infer.reparam.projected_normal import ProjectedNormalReparam
from pyro.infer.reparam.reparam import Reparam
from pyro.infer.reparam.softmax import GumbelSoftmaxReparam
from pyro.infer.reparam.split import SplitReparam
from pyro.infer.reparam.strategies import AutoReparam, MinimalReparam, Strategy
from pyro.infer.reparam.studentt import StudentTReparam
from pyro.infer.reparam.transform import TransformReparam
from pyro.infer.reparam.unit_jacobian import UnitJacobianReparam

__all__ = [
    "AutoReparam",
    "DiscreteCosineReparam",
    "GumbelSoftmaxReparam",
    "HaarReparam",
    "LocScaleReparam",
    "MinimalReparam",
    "NeuTraReparam",
    "ProjectedNormalReparam",
    "Reparam",
    "ReparamHandler",
    "ReparamMessenger",
    "SplitReparam",
    "Strategy",
    "StudentTReparam",
    "TransformReparam",
    "UnitJacobianReparam",
    "reparam",
]
