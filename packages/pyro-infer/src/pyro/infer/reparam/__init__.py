"""Reparameterizers (``pyro.infer.reparam``), applied to a model by :func:`pyro.poutine.reparam`.

Each rewrites a sample site as a function of auxiliary sites without changing the model's
distribution, to give inference an easier geometry. A third-party reparameterizer subclasses
:class:`~pyro.infer.reparam.reparam.Reparam`.
"""

from pyro.infer.reparam.conjugate import ConjugateReparam
from pyro.infer.reparam.discrete_cosine import DiscreteCosineReparam
from pyro.infer.reparam.haar import HaarReparam
from pyro.infer.reparam.handler import ReparamHandler, ReparamMessenger, reparam
from pyro.infer.reparam.hmm import LinearHMMReparam
from pyro.infer.reparam.loc_scale import LocScaleReparam
from pyro.infer.reparam.neutra import NeuTraReparam
from pyro.infer.reparam.projected_normal import ProjectedNormalReparam
from pyro.infer.reparam.reparam import Reparam
from pyro.infer.reparam.softmax import GumbelSoftmaxReparam
from pyro.infer.reparam.split import SplitReparam
from pyro.infer.reparam.stable import LatentStableReparam, StableReparam, SymmetricStableReparam
from pyro.infer.reparam.structured import StructuredReparam
from pyro.infer.reparam.strategies import AutoReparam, MinimalReparam, Strategy
from pyro.infer.reparam.studentt import StudentTReparam
from pyro.infer.reparam.transform import TransformReparam
from pyro.infer.reparam.unit_jacobian import UnitJacobianReparam

__all__ = [
    "AutoReparam",
    "ConjugateReparam",
    "DiscreteCosineReparam",
    "GumbelSoftmaxReparam",
    "HaarReparam",
    "LatentStableReparam",
    "LinearHMMReparam",
    "LocScaleReparam",
    "MinimalReparam",
    "NeuTraReparam",
    "ProjectedNormalReparam",
    "Reparam",
    "ReparamHandler",
    "ReparamMessenger",
    "SplitReparam",
    "StableReparam",
    "Strategy",
    "StructuredReparam",
    "StudentTReparam",
    "SymmetricStableReparam",
    "TransformReparam",
    "UnitJacobianReparam",
    "reparam",
]
