"""Wrong arguments to the rarer distribution families and methods get an error that names the
class, the argument and what was given (shapes included); valid calls are unchanged."""

import math
import warnings

import pytest
import scipy.stats
import torch
from torch.distributions import constraints

import pyro
import pyro.distributions as dist
import pyro.distributions.transforms as transforms
from pyro.distributions.validation import DistributionShapeError

Z, O, E, T = torch.zeros, torch.ones, torch.eye, torch.tensor


def _mvn(n, batch=()):
    return dist.MultivariateNormal(Z(batch + (n,)), E(n))


def _gaussian_hmm_parts(h=3, o=4):
    return [_mvn(h), E(h), _mvn(h), Z(h, o), _mvn(o)]


# ----- arguments of the wrong kind: TypeError naming the argument and the value -------------

KIND_CASES = {
    "DiscreteHMM observation_dist": (
        lambda: dist.DiscreteHMM(Z(3), Z(3, 3), "x"),
        r"^DiscreteHMM: observation_dist must be a distribution instance, got str 'x'$"),
    "DiscreteHMM initial_logits": (
        lambda: dist.DiscreteHMM([0.0, 0.0], Z(2, 2), dist.Categorical(logits=Z(2, 2))),
        r"^DiscreteHMM: initial_logits must be a tensor, got list \[0\.0, 0\.0\]; wrap it"),
    "GaussianHMM transition_dist": (
        lambda: dist.GaussianHMM(_mvn(3), E(3), dist.Normal, Z(3, 4), _mvn(4)),
        r"^GaussianHMM: transition_dist must be a distribution instance, got the class Normal"),
    "LinearHMM observation_matrix": (
        lambda: dist.LinearHMM(_mvn(3), E(3), _mvn(3), [[0.0] * 4] * 3, _mvn(4)),
        r"^LinearHMM: observation_matrix must be a tensor, got list"),
    "GammaGaussianHMM scale_dist": (
        lambda: dist.GammaGaussianHMM(dist.Normal(0.0, 1.0), *_gaussian_hmm_parts()),
        r"^GammaGaussianHMM: scale_dist must be a Gamma, got Normal$"),
    "GaussianMRF initial_dist": (
        lambda: dist.GaussianMRF(None, _mvn(4), _mvn(5)),
        r"^GaussianMRF: initial_dist must be a distribution instance, got NoneType None$"),
    "IndependentHMM base_dist": (
        lambda: dist.IndependentHMM(Z(3)),
        r"^IndependentHMM: base_dist must be a distribution instance, got Tensor"),
    "MaskedMixture component0": (
        lambda: dist.MaskedMixture(T([True, False]), 3, dist.Normal(0.0, 1.0)),
        r"^MaskedMixture: component0 must be a distribution instance, got int 3$"),
    "ZeroInflatedDistribution base_dist": (
        lambda: dist.ZeroInflatedDistribution(3.0, gate=T(0.2)),
        r"^ZeroInflatedDistribution: base_dist must be a distribution instance, got float 3\.0$"),
    "ZeroInflatedDistribution gate": (
        lambda: dist.ZeroInflatedDistribution(dist.Poisson(1.0), gate="a"),
        r"^ZeroInflatedDistribution: parameter 'gate' must be a number or a tensor, got str 'a'$"),
    "ZeroInflatedPoisson gate_logits": (
        lambda: dist.ZeroInflatedPoisson(T(1.0), gate_logits=[0.0]),
        r"^ZeroInflatedPoisson: parameter 'gate_logits' .* got list \[0\.0\]; wrap it"),
    "SineSkewed base_dist": (
        lambda: dist.SineSkewed("x", T([0.1])),
        r"^SineSkewed: base_dist must be a distribution instance, got str 'x'$"),
    "SineSkewed skewness": (
        lambda: dist.SineSkewed(dist.VonMises(Z(1), O(1)).to_event(1), "0.1"),
        r"^SineSkewed: parameter 'skewness' must be a number or a tensor, got str '0\.1'$"),
    "FoldedDistribution base_dist": (
        lambda: dist.FoldedDistribution("normal"),
        r"^FoldedDistribution: base_dist must be a distribution instance, got str 'normal'$"),
    "BetaBinomial total_count": (
        lambda: dist.BetaBinomial(1.0, 1.0, "3"),
        r"^BetaBinomial: parameter 'total_count' must be a number or a tensor, got str '3'$"),
    "ExtendedBetaBinomial concentration1": (
        lambda: dist.ExtendedBetaBinomial(object(), 1.0, 3),
        r"^ExtendedBetaBinomial: parameter 'concentration1' must be a number or a tensor, got object"),
    "GammaPoisson rate": (
        lambda: dist.GammaPoisson(1.0, "r"),
        r"^GammaPoisson: parameter 'rate' must be a number or a tensor, got str 'r'$"),
    "DirichletMultinomial total_count": (
        lambda: dist.DirichletMultinomial(O(3), "a"),
        r"^DirichletMultinomial: parameter 'total_count' must be a number or a tensor, got str"),
    "DirichletMultinomial concentration": (
        lambda: dist.DirichletMultinomial([1.0, 1.0], 3),
        r"^DirichletMultinomial: concentration must be a tensor, got list \[1\.0, 1\.0\]; wrap it"),
    "ExtendedBinomial total_count": (
        lambda: dist.ExtendedBinomial("a", probs=T(0.5)),
        r"^ExtendedBinomial: parameter 'total_count' must be a number or a tensor, got str 'a'$"),
    "Unit log_factor": (
        lambda: dist.Unit("a"),
        r"^Unit: parameter 'log_factor' must be a number or a tensor, got str 'a'$"),
    "Empirical samples": (
        lambda: dist.Empirical([1.0, 2.0], Z(2)),
        r"^Empirical: samples must be a tensor, got list \[1\.0, 2\.0\]; wrap it"),
    "ImproperUniform support": (
        lambda: dist.ImproperUniform("real", (), ()),
        r"^ImproperUniform: support must be a Constraint \(e\.g\. constraints\.real\), got str 'real'$"),
    "ImproperUniform batch_shape": (
        lambda: dist.ImproperUniform(constraints.real, 3, ()),
        r"^ImproperUniform: batch_shape must be a sequence of ints \(e\.g\. \(\) or \(3,\)\), got int 3$"),
    "GroupedNormalNormal prior_loc": (
        lambda: dist.GroupedNormalNormal([0.0, 1.0], 1.0, 1.0, T([0, 1])),
        r"^GroupedNormalNormal: prior_loc must be a tensor, got list"),
    "LKJCholesky dim": (
        lambda: dist.LKJCholesky(2.5, 1.0),
        r"^LKJCholesky: dim must be an int, got 2\.5 of type float$"),
    "Independent reinterpreted_batch_ndims": (
        lambda: dist.Independent(dist.Normal(Z(2), 1.0), 1.0),
        r"^Independent: reinterpreted_batch_ndims must be an int, got float 1\.0$"),
    "to_event n": (
        lambda: dist.Normal(Z(3), 1.0).to_event(1.5),
        r"^Normal\.to_event: reinterpreted_batch_ndims must be an int, got float 1\.5$"),
}


@pytest.mark.parametrize("make, words", KIND_CASES.values(), ids=list(KIND_CASES))
def test_argument_of_the_wrong_kind_is_a_type_error_naming_it(make, words):
    with pyro.validation_enabled(True), pytest.raises(TypeError, match=words):
        make()


# ----- wrong values and shapes: ValueError naming the argument and both shapes ---------------

VALUE_CASES = {
    "DiscreteHMM observation_dist without batch dim": (
        lambda: dist.DiscreteHMM(Z(3), Z(3, 3), dist.Normal(0.0, 1.0)),
        r"^DiscreteHMM: expected observation_dist to have at least one batch dim, actual "
        r"\.batch_shape = torch\.Size\(\[\]\)$"),
    "DiscreteHMM 0-d initial_logits": (
        lambda: dist.DiscreteHMM(T(0.0), Z(3, 3), dist.Categorical(logits=Z(3, 2))),
        r"^DiscreteHMM: expected initial_logits to have at least one dim"),
    "GammaGaussianHMM hidden dims": (
        lambda: dist.GammaGaussianHMM(dist.Gamma(1.0, 1.0), _mvn(2), E(3), _mvn(3), Z(3, 4), _mvn(4)),
        r"^GammaGaussianHMM: initial_dist does not fit hidden_dim=3, obs_dim=4 .*initial_dist: "
        r"batch \(\) event \(2,\)"),
    "ZeroInflatedDistribution both gates": (
        lambda: dist.ZeroInflatedDistribution(dist.Poisson(1.0), gate=T(0.2), gate_logits=T(0.0)),
        r"^ZeroInflatedDistribution: give exactly one of gate and gate_logits, got both "
        r"\(Either `gate` or `gate_logits` must be specified, but not both\.\)$"),
    "ZeroInflatedPoisson neither gate": (
        lambda: dist.ZeroInflatedPoisson(T(1.0)),
        r"^ZeroInflatedPoisson: give exactly one of gate and gate_logits, got neither"),
    "ZeroInflatedPoisson negative rate": (
        lambda: dist.ZeroInflatedPoisson(T(-1.0), gate=T(0.1)),
        r"^ZeroInflatedPoisson: Expected parameter rate \(Tensor of shape \(\)\)"),
    "ZeroInflatedNegativeBinomial probs and logits": (
        lambda: dist.ZeroInflatedNegativeBinomial(T(3.0), probs=T(0.2), logits=T(0.0), gate=T(0.1)),
        r"^ZeroInflatedNegativeBinomial\(total_count: shape \(\), probs: shape \(\), logits: shape "
        r"\(\)\): Either `probs` or `logits` must be specified, but not both\.$"),
    "Empirical 0-d log_weights": (
        lambda: dist.Empirical(T(1.0), T(0.0)),
        r"^Empirical: log_weights must have at least one dim \(one weight per sample\), got "
        r"shape \(\) \(samples: shape \(\)\)$"),
    "Empirical.log_prob event shape": (
        lambda: dist.Empirical(Z(5, 2), Z(5)).log_prob(Z(3)),
        r"^Empirical\.log_prob: ``value\.shape`` must be torch\.Size\(\[2\]\) .*got \(3,\)$"),
    "Unit.log_prob shape": (
        lambda: dist.Unit(Z(3)).log_prob(Z(4, 0)),
        r"^Unit\.log_prob: value of shape \(4, 0\) does not broadcast with batch_shape \(3,\) "
        r"and event_shape \(0,\)$"),
    "Stable stability 0": (
        lambda: dist.Stable(T([1.5, 0.0]), T(0.0)),
        r"^Stable: stability must be in \(0, 2\], got 0\.0 \(stability: shape \(2,\)\)$"),
    "LKJCholesky concentration 0": (
        lambda: dist.LKJCholesky(3, T(0.0)),
        r"^LKJCholesky: Expected parameter concentration \(Tensor of shape \(\)\) to satisfy the "
        r"constraint GreaterThan\(lower_bound=0\.0\), but found invalid values:\n0\.0$"),
    "LKJCholesky dim 1": (
        lambda: dist.LKJCholesky(1, 1.0),
        r"^LKJCholesky: dim must be at least 2, got dim=1 \(Expected dim to be an integer "
        r"greater than or equal to 2\. Found dim=1\.\)$"),
    "Independent negative ndims": (
        lambda: dist.Independent(dist.Normal(Z(2), 1.0), -1),
        r"^Independent: reinterpreted_batch_ndims must be >= 0, got -1"),
    "GroupedNormalNormal 0-d prior_loc": (
        lambda: dist.GroupedNormalNormal(T(0.0), 1.0, 1.0, T([0, 0])),
        r"^GroupedNormalNormal: prior_loc must be a vector of shape \(G,\), one mean per group, "
        r"got shape \(\)$"),
    "GroupedNormalNormal float group_idx": (
        lambda: dist.GroupedNormalNormal(Z(3), 1.0, 1.0, T([0.0, 1.0])),
        r"^GroupedNormalNormal: group_idx must be a 1-dimensional tensor of indices \(integers\), "
        r"got shape \(2,\), dtype torch\.float32$"),
    "GroupedNormalNormal group_idx out of range": (
        lambda: dist.GroupedNormalNormal(Z(3), 1.0, 1.0, T([0, 1, 5])),
        r"^GroupedNormalNormal: Each index in group_idx must be an integer in the inclusive range "
        r"\[0, prior_loc\.size\(0\) - 1\] = \[0, 2\], got indices from 0 to 5$"),
    "NanMaskedMultivariateNormal sizes": (
        lambda: dist.NanMaskedMultivariateNormal(Z(3), E(2)),
        r"^NanMaskedMultivariateNormal: loc has size 3 in its last dim, but covariance_matrix has "
        r"shape \(2, 2\); expected \(\.\.\., 3, 3\)$"),
}


@pytest.mark.parametrize("make, words", VALUE_CASES.values(), ids=list(VALUE_CASES))
def test_wrong_value_or_shape_is_a_value_error_naming_it(make, words):
    with pyro.validation_enabled(True), pytest.raises(ValueError, match=words):
        make()


def test_multinomial_total_count_keeps_torchs_error_type():
    with pytest.raises(NotImplementedError, match=r"^Multinomial\(total_count: 2\.5, probs: shape "
                                                  r"\(3,\)\): inhomogeneous total_count is not supported$"):
        dist.Multinomial(2.5, probs=O(3) / 3)


def test_not_enumerable_names_the_distribution():
    for d, name in [(dist.Normal(0.0, 1.0), "Normal"), (dist.Delta(Z(2)), "Delta"),
                    (dist.Normal(Z(2), 1.0).mask(False), "Normal")]:
        with pytest.raises(NotImplementedError, match=rf"^{name} does not implement enumerate_support"):
            d.enumerate_support()


def test_wrong_kind_inside_a_model_names_the_site():
    with pytest.raises(TypeError, match=r"^site 'z': MaskedMixture: component1 must be a distribution"):
        pyro.sample("z", dist.MaskedMixture(T([True]), dist.Normal(0.0, 1.0), "n"))


# ----- expand to a shape the batch shape does not reach -------------------------------------

EXPAND_CASES = {
    "BetaBinomial": lambda: dist.BetaBinomial(O(3), O(3), 3),
    "GammaPoisson": lambda: dist.GammaPoisson(O(3), O(3)),
    "DirichletMultinomial": lambda: dist.DirichletMultinomial(O(3, 2), 3),
    "Delta": lambda: dist.Delta(Z(3)),
    "Unit": lambda: dist.Unit(Z(3)),
    "LKJ": lambda: dist.LKJ(2, O(3)),
    "MixtureOfDiagNormals": lambda: dist.MixtureOfDiagNormals(Z(3, 2, 2), O(3, 2, 2), Z(3, 2)),
    "DiscreteHMM": lambda: dist.DiscreteHMM(Z(3, 2), Z(3, 2, 2), dist.Categorical(logits=Z(3, 2, 2))),
    "GaussianHMM": lambda: dist.GaussianHMM(_mvn(2, (3,)), E(2), _mvn(2), Z(2, 1), _mvn(1)),
    "ZeroInflatedPoisson": lambda: dist.ZeroInflatedPoisson(O(3), gate=O(3) / 2),
    "ExtendedBetaBinomial": lambda: dist.ExtendedBetaBinomial(O(3), O(3), 3),
    "ImproperUniform": lambda: dist.ImproperUniform(constraints.real, (3,), ()),
    "AffineBeta": lambda: dist.AffineBeta(O(3), O(3), Z(3), O(3)),
    "FoldedDistribution": lambda: dist.FoldedDistribution(dist.Normal(Z(3), 1.0)),
    "NanMaskedNormal": lambda: dist.NanMaskedNormal(Z(3), 1.0),
    "ExtendedBinomial": lambda: dist.ExtendedBinomial(3, O(3) / 2),
    "Normal": lambda: dist.Normal(Z(3), 1.0),
}


@pytest.mark.parametrize("make", EXPAND_CASES.values(), ids=list(EXPAND_CASES))
def test_impossible_expand_names_the_class_and_both_shapes(make):
    d = make()
    name = type(d).__name__
    with pytest.raises(DistributionShapeError,
                       match=rf"^{name}: cannot expand batch_shape \(3,\) to \(2, 4\); only size-1 "
                             r"dims and new leftmost dims can be expanded$") as info:
        d.expand([2, 4])
    # what torch and Pyro 1.9.2 raise here (RuntimeError), and what a shape error is (ValueError)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)
    assert d.expand([2, 3]).batch_shape == (2, 3)


# ----- valid calls: same results, no warnings ------------------------------------------------

def test_valid_calls_give_the_same_numbers_and_no_warnings():
    with warnings.catch_warnings(), pyro.validation_enabled(True):
        warnings.simplefilter("error")
        # an expanded Pyro family scores as scipy's
        d = dist.BetaBinomial(T(2.0), T(3.0), 5).expand([4, 1])
        lp = d.log_prob(T(2.0))
        assert lp.shape == (4, 1)
        assert torch.allclose(lp, T(scipy.stats.betabinom.logpmf(2, 5, 2.0, 3.0)).float(), atol=1e-5)
        # Independent of an int-like count sums the reinterpreted dims
        x = torch.linspace(-1, 1, 6).reshape(2, 3)
        base = dist.Normal(Z(2, 3), 1.0)
        for n in (1, torch.tensor(1)):
            ind = dist.Independent(base, n)
            assert ind.event_shape == (3,)
            assert torch.allclose(ind.log_prob(x), base.log_prob(x).sum(-1))
        assert torch.allclose(base.to_event(2).log_prob(x), base.log_prob(x).sum())
        # enumerate_support: ints and numpy-free bools behave as the bools they stand for
        c = dist.Categorical(logits=Z(2, 3))
        assert torch.equal(c.enumerate_support(expand=0), c.enumerate_support(expand=False))
        assert c.enumerate_support(1).shape == c.enumerate_support(True).shape == (3, 2)
        # Empirical keeps scoring batched values
        emp = dist.Empirical(T([[0.0, 1.0], [2.0, 3.0]]), T([0.0, math.log(3.0)]))
        assert torch.allclose(emp.log_prob(T([[2.0, 3.0], [5.0, 5.0]])),
                              T([math.log(0.75), float("-inf")]))
        # Unit, zero-inflation, Stable and LKJCholesky at valid arguments
        assert torch.equal(dist.Unit(T([1.0, -2.0])).log_prob(Z(2, 0)), T([1.0, -2.0]))
        zip_ = dist.ZeroInflatedPoisson(T(2.0), gate=T(0.25))
        assert torch.allclose(zip_.log_prob(T(0.0)), T(math.log(0.25 + 0.75 * math.exp(-2.0))))
        assert torch.isfinite(dist.Stable(T(1.5), T(0.2)).rsample((3,))).all()
        L = dist.LKJCholesky(3, 0.5).sample()
        ref = torch.distributions.LKJCholesky(3, 0.5).log_prob(L)
        assert torch.allclose(dist.LKJCholesky(3, 0.5).log_prob(L), ref)
        assert torch.allclose(dist.LKJ(3, 0.5).log_prob(L @ L.T), dist.LKJ(3, 0.5).log_prob(L @ L.T))
        assert dist.ImproperUniform(constraints.positive, (3,), ()).expand([2, 3]).batch_shape == (2, 3)
        assert dist.DiscreteHMM(Z(2), Z(2, 2), dist.Categorical(logits=Z(2, 2))).batch_shape == ()
        assert dist.MaskedMixture(T([True, False]), dist.Normal(0.0, 1.0),
                                  dist.Normal(1.0, 1.0)).batch_shape == (2,)
    with pyro.validation_enabled(False):  # value checks only run under validation
        assert dist.Stable(T(0.0), T(0.0)).batch_shape == ()


@pytest.mark.parametrize("make, error, words", [
    (lambda: transforms.DiscreteCosineTransform(smooth="x"), TypeError,
     r"^DiscreteCosineTransform: smooth must be a number, got str 'x'"),
    (lambda: transforms.SimplexToOrderedTransform(anchor_point="x"), TypeError,
     r"^SimplexToOrderedTransform: parameter 'anchor_point' must be a number or a tensor, got str 'x'"),
    (lambda: transforms.Normalize(p="x"), TypeError, r"^Normalize: p must be a positive number, got str 'x'"),
    (lambda: transforms.Normalize(p=0), ValueError, r"^Normalize: p must be positive, got 0"),
    (lambda: transforms.PositivePowerTransform("x"), TypeError,
     r"^PositivePowerTransform: parameter 'exponent' must be a number or a tensor, got str 'x'"),
])
def test_fixed_transform_arguments_are_named(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_fixed_transforms_with_valid_arguments_are_unchanged():
    x = torch.tensor([3.0, 4.0])
    torch.testing.assert_close(transforms.Normalize(p=1)(x), x / 7.0)
    torch.testing.assert_close(transforms.PositivePowerTransform(2.0)(x), x ** 2)
    assert transforms.DiscreteCosineTransform(smooth=1).smooth == 1.0
