"""pyro.distributions (package pyro-distributions): distributions, constraints, transforms.

Every class of :mod:`torch.distributions` is here under its own name with Pyro's behaviour
(calling draws a sample; ``shape``, ``expand``, ``expand_by``, ``to_event``, ``mask``,
``score_parts``), plus Pyro's own distributions. Names registered by plugins through the
``pyro_register_distributions`` hook resolve as attributes of this module.
"""

from typing import Any

from pyro.distributions import constraints, torch_patch, transforms  # noqa: F401  (submodules)
from pyro.distributions.conditional import (
    ConditionalDistribution,
    ConditionalTransform,
    ConditionalTransformedDistribution,
    ConditionalTransformModule,
)
from pyro.distributions.affine_beta import AffineBeta
from pyro.distributions.asymmetric_laplace import AsymmetricLaplace, SoftAsymmetricLaplace
from pyro.distributions.avf_mvn import AVFMultivariateNormal
from pyro.distributions.coalescent import (
    CoalescentRateLikelihood,
    CoalescentTimes,
    CoalescentTimesWithRate,
)
from pyro.distributions.conjugate import BetaBinomial, DirichletMultinomial, GammaPoisson
from pyro.distributions.delta import Delta
from pyro.distributions.diag_normal_mixture import MixtureOfDiagNormals
from pyro.distributions.diag_normal_mixture_shared_cov import MixtureOfDiagNormalsSharedCovariance
from pyro.distributions.distribution import Distribution
from pyro.distributions.empirical import Empirical
from pyro.distributions.exponential_family import ExponentialFamily
from pyro.distributions.extended_beta_binomial import ExtendedBetaBinomial
from pyro.distributions.extended_binomial import ExtendedBinomial
from pyro.distributions.folded import FoldedDistribution
from pyro.distributions.gaussian_scale_mixture import GaussianScaleMixture
from pyro.distributions.grouped_normal_normal import GroupedNormalNormal
from pyro.distributions.hmm import (
    DiscreteHMM,
    GammaGaussianHMM,
    GaussianHMM,
    GaussianMRF,
    IndependentHMM,
    LinearHMM,
)
from pyro.distributions.improper_uniform import ImproperUniform
from pyro.distributions.kl import kl_divergence, register_kl
from pyro.distributions.lkj import LKJ
from pyro.distributions.lkj_corr_cholesky import LKJCorrCholesky
from pyro.distributions.log_normal_negative_binomial import LogNormalNegativeBinomial
from pyro.distributions.logistic import Logistic, SkewLogistic
from pyro.distributions.mixture import MaskedMixture
from pyro.distributions.multivariate_studentt import MultivariateStudentT
from pyro.distributions.nan_masked import NanMaskedMultivariateNormal, NanMaskedNormal
from pyro.distributions.one_one_matching import OneOneMatching
from pyro.distributions.one_two_matching import OneTwoMatching
from pyro.distributions.omt_mvn import OMTMultivariateNormal
from pyro.distributions.ordered_logistic import OrderedLogistic
from pyro.distributions.polya_gamma import TruncatedPolyaGamma
from pyro.distributions.projected_normal import ProjectedNormal
from pyro.distributions.rejector import Rejector
from pyro.distributions.relaxed_straight_through import (
    RelaxedBernoulliStraightThrough,
    RelaxedOneHotCategoricalStraightThrough,
)
from pyro.distributions.score_parts import ScoreParts
from pyro.distributions.sine_bivariate_von_mises import SineBivariateVonMises
from pyro.distributions.sine_skewed import SineSkewed
from pyro.distributions.soft_laplace import SoftLaplace
from pyro.distributions.spanning_tree import SpanningTree
from pyro.distributions.stable import Stable, StableWithLogProb
from pyro.distributions.torch import *  # noqa: F401,F403
from pyro.distributions.torch import __all__ as _TORCH_WRAPPERS
from pyro.distributions.torch_distribution import (
    ExpandedDistribution,
    MaskedDistribution,
    TorchDistribution,
    TorchDistributionMixin,
)
from pyro.distributions.torch_transform import ComposeTransformModule, TransformModule
from pyro.distributions.unit import Unit
from pyro.distributions.von_mises_3d import VonMises3D
from pyro.distributions.util import enable_validation, is_validation_enabled, validation_enabled
from pyro.distributions.zero_inflated import (
    ZeroInflatedDistribution,
    ZeroInflatedNegativeBinomial,
    ZeroInflatedPoisson,
)
from torch.distributions import biject_to, transform_to  # noqa: E402

#: Pyro's own distribution classes (the torch wrappers are listed in ``torch.__all__``).
_PYRO_DISTRIBUTIONS = [
    "BetaBinomial", "Delta", "DirichletMultinomial", "Empirical", "ExpandedDistribution",
    "FoldedDistribution", "GammaPoisson", "ImproperUniform", "MaskedDistribution",
    "MaskedMixture",
    "MixtureOfDiagNormals", "Unit",
    "LKJ", "LogNormalNegativeBinomial", "Rejector",
    "ZeroInflatedDistribution", "ZeroInflatedNegativeBinomial",
    "ZeroInflatedPoisson",
    "AffineBeta", "AsymmetricLaplace", "ExponentialFamily", "LKJCorrCholesky", "Logistic",
    "MultivariateStudentT", "NanMaskedMultivariateNormal", "NanMaskedNormal",
    "OrderedLogistic", "ProjectedNormal", "RelaxedBernoulliStraightThrough",
    "RelaxedOneHotCategoricalStraightThrough", "SkewLogistic", "SoftAsymmetricLaplace",
    "SoftLaplace",
    "ExtendedBetaBinomial", "ExtendedBinomial", "GroupedNormalNormal",
    "DiscreteHMM", "GammaGaussianHMM", "GaussianHMM", "GaussianMRF", "IndependentHMM",
    "LinearHMM",
    "MixtureOfDiagNormalsSharedCovariance", "SineBivariateVonMises", "SineSkewed", "VonMises3D",
    "AVFMultivariateNormal", "GaussianScaleMixture", "OMTMultivariateNormal", "TruncatedPolyaGamma",
    "CoalescentRateLikelihood", "CoalescentTimes", "CoalescentTimesWithRate",
    "OneOneMatching", "OneTwoMatching", "SpanningTree",
    "Stable", "StableWithLogProb",
]

__all__ = sorted(
    set(_TORCH_WRAPPERS) | set(_PYRO_DISTRIBUTIONS) | {
        "ComposeTransformModule", "ConditionalDistribution", "ConditionalTransform",
        "ConditionalTransformModule", "ConditionalTransformedDistribution", "Distribution", "ScoreParts", "TorchDistribution",
        "TorchDistributionMixin", "TransformModule", "biject_to", "constraints",
        "enable_validation", "is_validation_enabled", "kl", "kl_divergence", "register_kl",
        "transform_to", "transforms", "validation_enabled",
    }
)


def __getattr__(name: str) -> Any:
    from pyro.distributions._provided_elsewhere import resolve_or_explain

    return resolve_or_explain("distributions", name, __name__)
