"""pyro.plugins.testing's goodness-of-fit check: it passes our distributions and fails
distributions whose sampler or normaliser is wrong, naming them."""

import pytest
import torch

import pyro.distributions as dist
from pyro.plugins.testing import check_distribution, check_goodness_of_fit

t = torch.tensor

# A spread of our families over every kind of support the check handles: real lines,
# intervals, positive reals, integers, simplices (through biject_to), the sphere, vectors,
# correlation matrices (LKJ: this check found torch 2.13's LKJCholesky sampler wrong beyond the
# first row; ours replaces it).
OURS = {
    "LKJCholesky": lambda: dist.LKJCholesky(3, 2.0),
    "LKJ": lambda: dist.LKJ(3, t([1.5, 3.0])),
    "AsymmetricLaplace": lambda: dist.AsymmetricLaplace(t([0.0, 1.0]), 1.5, t([0.5, 2.0])),
    "SoftLaplace": lambda: dist.SoftLaplace(t([0.0, 1.0]), 2.0),
    "SkewLogistic": lambda: dist.SkewLogistic(0.0, 1.0, t([0.5, 2.0])),
    "AffineBeta": lambda: dist.AffineBeta(2.0, 3.0, -1.0, 4.0),
    "MultivariateStudentT": lambda: dist.MultivariateStudentT(
        4.0, torch.zeros(2), t([[1.0, 0.0], [0.5, 1.0]])),
    "ProjectedNormal": lambda: dist.ProjectedNormal(t([1.0, 0.5, 0.0])),
    "GammaPoisson": lambda: dist.GammaPoisson(t([2.0, 5.0]), 1.5),
    "BetaBinomial": lambda: dist.BetaBinomial(2.0, 3.0, 10),
    "DirichletMultinomial": lambda: dist.DirichletMultinomial(t([1.0, 2.0, 3.0]), 5),
    "ZeroInflatedPoisson": lambda: dist.ZeroInflatedPoisson(t(3.0), gate=t(0.3)),
    "ExtendedBetaBinomial": lambda: dist.ExtendedBetaBinomial(t(2.0), t(3.0), t(8.0)),
    "OrderedLogistic": lambda: dist.OrderedLogistic(t([0.3, -1.0]), t([-1.0, 0.0, 1.5])),
    "CoalescentTimes": lambda: dist.CoalescentTimes(t([0.0, 0.3, 1.2])),
    "MixtureOfDiagNormals": lambda: dist.MixtureOfDiagNormals(
        t([[0.0, 0.0], [3.0, 1.0]]), t([[1.0, 1.0], [0.5, 2.0]]), t([0.0, 1.0])),
    "Dirichlet": lambda: dist.Dirichlet(t([[1.0, 2.0, 0.5], [3.0, 3.0, 3.0]])),
    "Delta": lambda: dist.Delta(t([1.0, 2.0])),  # a point mass: shapes only, no density
}


@pytest.mark.parametrize("name", sorted(OURS))
def test_our_distributions_pass(name):
    check_distribution(OURS[name](), goodness_of_fit=True)


class ShiftedNormal(dist.Normal):
    def sample(self, sample_shape=torch.Size()):
        return super().sample(sample_shape) + 0.5


class ShiftedMultivariateNormal(dist.MultivariateNormal):
    def sample(self, sample_shape=torch.Size()):
        return super().sample(sample_shape) + 0.5


class ShiftedPoisson(dist.Poisson):
    def sample(self, sample_shape=torch.Size()):
        return super().sample(sample_shape) + 1


class OverNormalisedGamma(dist.Gamma):
    def log_prob(self, value):
        return super().log_prob(value) + 0.1


class UnderNormalisedBinomial(dist.Binomial):
    def log_prob(self, value):
        return super().log_prob(value) - 0.1


class OverNormalisedDirichlet(dist.Dirichlet):
    def log_prob(self, value):
        return super().log_prob(value) + 0.2


WRONG = [
    (lambda: ShiftedNormal(torch.zeros(3), 1.0), "ShiftedNormal"),
    (lambda: ShiftedMultivariateNormal(torch.zeros(2), torch.eye(2)), "ShiftedMultivariateNormal"),
    (lambda: ShiftedPoisson(t(3.0)), "ShiftedPoisson"),
    (lambda: OverNormalisedGamma(2.0, 3.0), "OverNormalisedGamma"),
    (lambda: UnderNormalisedBinomial(10, t(0.3)), "UnderNormalisedBinomial"),
    (lambda: OverNormalisedDirichlet(t([1.0, 2.0, 3.0])), "OverNormalisedDirichlet"),
]


@pytest.mark.parametrize("make,match", WRONG, ids=[m for _, m in WRONG])
def test_wrong_distributions_fail_naming_them(make, match):
    d = make()
    with pytest.raises(AssertionError, match=match + ": samples disagree with log_prob"):
        check_distribution(d)
    # The shape checks alone do not see it.
    check_distribution(d, goodness_of_fit=False)


def test_a_wrong_batch_member_is_named():
    class WrongSecond(dist.Normal):
        def log_prob(self, value):
            return super().log_prob(value) + t([0.0, 0.0, 0.3])

    with pytest.raises(AssertionError, match=r"batch member \(2,\) of batch_shape \(3,\)"):
        check_goodness_of_fit(WrongSecond(torch.zeros(3), 1.0))


def test_the_check_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    check_goodness_of_fit(dist.Normal(0.0, 1.0))
    assert torch.equal(torch.get_rng_state(), state)
