"""Every Pyro-specific distribution family inside a model: one SVI step and Predictive.

Each family in ``pyro.distributions._PYRO_DISTRIBUTIONS`` is built small (batch shape ``()``,
or ``(3,)`` where the family's meaning needs a batch) and sampled at site ``"x"`` inside a
plate of size 3, in one of four roles:

* latent (reparameterised, with a support ``biject_to`` maps onto): ``x`` is latent, an
  observation ``y ~ Normal(sum of x, 1)`` follows, the guide is an ``AutoDelta``; the first SVI
  loss must equal minus the model's log-density at the guide's point, computed here by hand;
* observed (the others): ``x`` is observed with data drawn from the family, beside a global
  latent ``z ~ Normal(0, 1)`` guided by an ``AutoDelta``; the first loss must equal
  ``-(log N(z0; 0, 1) + sum log p(data))``;
* predictive only (a sampler but no ``log_prob``, as in Pyro): only ``Predictive`` runs;
* log-density only (no sampler, as in Pyro): observed, with data made here; the SVI step runs
  and sampling must raise ``NotImplementedError``.

Where there is a sampler, ``Predictive(num_samples=4)`` must give ``x`` the shape
``(4, 3) + event_shape``.
A family added to ``_PYRO_DISTRIBUTIONS`` without an entry here fails
``test_every_family_is_covered``.
"""

import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Predictive, Trace_ELBO
from pyro.infer.autoguide import AutoDelta
from pyro.optim import Adam

t = torch.tensor

# Families not run in the plate test, and why.
EXCLUDED = {
    "CoalescentRateLikelihood": "not a distribution: a likelihood of a rate grid, used with "
                                "pyro.factor (tests/distributions/test_coalescent.py runs it in a plate)",
    "ExponentialFamily": "an abstract base class with no density of its own",
    "GroupedNormalNormal": "no sampler and no expand (as in Pyro): one likelihood of a whole data "
                           "vector, so it cannot sit in a plate; test_grouped_normal_normal_in_svi "
                           "runs it outside one",
    "ImproperUniform": "no sampler and no normalised density by design (an improper prior)",
}

# Predictive only: LinearHMM has a sampler but no log_prob (as in Pyro, models use it through
# poutine.reparam); Stable's log_prob is a numerical integral, too slow for every SVI step here
# (test_reparam_stable.py runs SVI through the stable reparameterizers).
PREDICTIVE_ONLY = {"LinearHMM", "Stable"}


def _tril(*rows):
    return t(rows)


def _mrf():
    return dist.GaussianMRF(dist.MultivariateNormal(torch.zeros(2), torch.eye(2)),
                            dist.MultivariateNormal(torch.zeros(3, 4), torch.eye(4)),
                            dist.MultivariateNormal(torch.zeros(3, 3), torch.eye(3)))


def _coalescent_data():
    return dist.CoalescentTimes(t([0.0, 0.3, 1.2, 2.0])).sample((3,))


def _unit_vectors():
    v = torch.randn(3, 3)
    return v / v.norm(dim=-1, keepdim=True)


# Families with a log-density but no sampler (as in Pyro): observed with this data.
LOG_PROB_ONLY = {
    "CoalescentTimesWithRate": _coalescent_data,
    "GammaGaussianHMM": lambda: torch.randn(3, 3, 1),
    "GaussianMRF": lambda: torch.randn(3, 3, 1),
    "VonMises3D": _unit_vectors,
}


def _deprecated(cls, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the deprecation is tested elsewhere
        return cls(*args)


def _rejection_gamma():
    # Rejector's own arguments are a proposal and an acceptance function: the kit's Gamma
    # built on it is the smallest complete instance.
    from pyro.distributions.testing.rejection_gamma import RejectionGamma

    return RejectionGamma(t(2.0), t(3.0))


def _hmm_parts():
    init = dist.MultivariateNormal(torch.zeros(2), torch.eye(2))
    trans = dist.MultivariateNormal(torch.zeros(2), 0.5 * torch.eye(2))
    obs = dist.MultivariateNormal(torch.zeros(1), torch.eye(1))
    return init, 0.9 * torch.eye(2), trans, torch.ones(2, 1), obs


BUILDERS = {
    "AVFMultivariateNormal": lambda: dist.AVFMultivariateNormal(
        torch.zeros(2), _tril([1.0, 0.0], [0.3, 0.8]), torch.ones(2, 2, 2) * 0.1),
    "AffineBeta": lambda: dist.AffineBeta(t(2.0), t(3.0), t(-1.0), t(4.0)),
    "AsymmetricLaplace": lambda: dist.AsymmetricLaplace(t(0.0), t(1.5), t(2.0)),
    "BetaBinomial": lambda: dist.BetaBinomial(t(2.0), t(3.0), 10),
    "CoalescentTimes": lambda: dist.CoalescentTimes(t([0.0, 0.3, 1.2, 2.0])),
    "CoalescentTimesWithRate": lambda: dist.CoalescentTimesWithRate(
        t([0.0, 0.3, 1.2, 2.0]), t([0.5, 1.0, 2.0])),
    "GammaGaussianHMM": lambda: dist.GammaGaussianHMM(dist.Gamma(t(3.0), t(2.0)), *_hmm_parts(),
                                                      duration=3),
    "GaussianMRF": _mrf,
    "VonMises3D": lambda: dist.VonMises3D(t([0.0, 1.0, 2.0])),
    "Delta": lambda: dist.Delta(t(1.5)),
    "DirichletMultinomial": lambda: dist.DirichletMultinomial(t([1.0, 2.0, 3.0]), 5),
    "DiscreteHMM": lambda: dist.DiscreteHMM(
        torch.zeros(2), t([[0.0, -1.0], [-2.0, 0.0]]), dist.Normal(t([0.0, 3.0]), 1.0),
        duration=4),
    "Empirical": lambda: dist.Empirical(t([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]), t([0.0, 1.0, -1.0])),
    "ExpandedDistribution": lambda: dist.ExpandedDistribution(dist.Normal(0.0, 1.0), [3]),
    "ExtendedBetaBinomial": lambda: dist.ExtendedBetaBinomial(t(2.0), t(3.0), t(8.0)),
    "ExtendedBinomial": lambda: dist.ExtendedBinomial(t(8.0), t(0.3)),
    "FoldedDistribution": lambda: dist.FoldedDistribution(dist.Normal(1.0, 2.0)),
    "GammaPoisson": lambda: dist.GammaPoisson(t(2.0), t(1.5)),
    "GaussianHMM": lambda: dist.GaussianHMM(*_hmm_parts(), duration=3),
    "GaussianScaleMixture": lambda: dist.GaussianScaleMixture(
        t([1.0, 2.0]), t([0.0, 1.0, -1.0]), t([0.5, 1.0, 2.0])),
    "IndependentHMM": lambda: dist.IndependentHMM(dist.GaussianHMM(  # two series, batch (2,)
        dist.Normal(torch.zeros(2, 1), 1.0).to_event(1), 0.9 * torch.ones(2, 1, 1, 1),
        dist.Normal(torch.zeros(2, 1, 1), 0.5).to_event(1), torch.ones(2, 1, 1, 1),
        dist.Normal(torch.zeros(2, 1, 1), 1.0).to_event(1), duration=3)),
    "LKJ": lambda: dist.LKJ(3, t(2.0)),
    "LKJCorrCholesky": lambda: _deprecated(dist.LKJCorrCholesky, 3, t(2.0)),
    "LinearHMM": lambda: dist.LinearHMM(*_hmm_parts(), duration=3),
    "LogNormalNegativeBinomial": lambda: dist.LogNormalNegativeBinomial(t(3.0), t(0.5), t(0.6)),
    "Logistic": lambda: dist.Logistic(t(1.0), t(0.5)),
    "MaskedDistribution": lambda: dist.MaskedDistribution(
        dist.Normal(torch.zeros(3), 1.0), t([True, False, True])),
    "MaskedMixture": lambda: dist.MaskedMixture(
        t([True, False, True]), dist.Normal(torch.zeros(3), 1.0), dist.Normal(3 * torch.ones(3), 1.0)),
    "MixtureOfDiagNormals": lambda: dist.MixtureOfDiagNormals(
        t([[0.0, 0.0], [3.0, 1.0]]), t([[1.0, 1.0], [0.5, 2.0]]), t([0.0, 1.0])),
    "MixtureOfDiagNormalsSharedCovariance": lambda: dist.MixtureOfDiagNormalsSharedCovariance(
        t([[0.0, 0.0], [3.0, 1.0]]), t([1.0, 0.5]), t([0.0, 1.0])),
    "MultivariateStudentT": lambda: dist.MultivariateStudentT(
        t(4.0), torch.zeros(2), _tril([1.0, 0.0], [0.5, 1.0])),
    "NanMaskedMultivariateNormal": lambda: dist.NanMaskedMultivariateNormal(
        torch.zeros(2), torch.eye(2)),
    "NanMaskedNormal": lambda: dist.NanMaskedNormal(t(0.0), t(1.0)),
    "OMTMultivariateNormal": lambda: dist.OMTMultivariateNormal(
        torch.zeros(2), _tril([1.0, 0.0], [0.3, 0.8])),
    "OneOneMatching": lambda: dist.OneOneMatching(t([[0.0, 1.0, -1.0], [0.5, 0.0, 0.2],
                                                     [-0.3, 0.1, 0.0]])),
    "OneTwoMatching": lambda: dist.OneTwoMatching(t([[0.0, 1.0], [0.5, 0.0], [-0.3, 0.1],
                                                     [0.2, -0.2]])),
    "OrderedLogistic": lambda: dist.OrderedLogistic(t(0.3), t([-1.0, 0.0, 1.5])),
    "ProjectedNormal": lambda: dist.ProjectedNormal(t([1.0, 0.5, 0.0])),
    "Rejector": _rejection_gamma,
    "RelaxedBernoulliStraightThrough": lambda: dist.RelaxedBernoulliStraightThrough(
        t(0.5), probs=t(0.3)),
    "RelaxedOneHotCategoricalStraightThrough": lambda: dist.RelaxedOneHotCategoricalStraightThrough(
        t(0.5), probs=t([0.2, 0.3, 0.5])),
    "SineBivariateVonMises": lambda: dist.SineBivariateVonMises(t(0.0), t(1.0), t(2.0), t(1.5),
                                                                t(0.5)),
    "SineSkewed": lambda: dist.SineSkewed(
        dist.VonMises(t([0.0, 1.0]), t([2.0, 1.0])).to_event(1), t([0.3, -0.2])),
    "SkewLogistic": lambda: dist.SkewLogistic(t(0.0), t(1.0), t(2.0)),
    "SoftAsymmetricLaplace": lambda: dist.SoftAsymmetricLaplace(t(0.0), t(1.0), t(2.0), t(0.5)),
    "SoftLaplace": lambda: dist.SoftLaplace(t(0.0), t(2.0)),
    "SpanningTree": lambda: dist.SpanningTree(t([0.0, 0.5, -0.5, 1.0, 0.2, 0.1])),
    "Stable": lambda: dist.Stable(t(1.5), t(0.3)),
    "StableWithLogProb": lambda: dist.StableWithLogProb(t(1.5), t(0.3)),
    "TruncatedPolyaGamma": lambda: dist.TruncatedPolyaGamma(t(0.0)),
    "Unit": lambda: dist.Unit(t(0.3)),
    "ZeroInflatedDistribution": lambda: dist.ZeroInflatedDistribution(
        dist.Poisson(t(3.0)), gate=t(0.3)),
    "ZeroInflatedNegativeBinomial": lambda: dist.ZeroInflatedNegativeBinomial(
        t(3.0), probs=t(0.4), gate=t(0.2)),
    "ZeroInflatedPoisson": lambda: dist.ZeroInflatedPoisson(t(3.0), gate=t(0.3)),
}

# Observed though a latent would be possible: a point mass (a latent Delta is degenerate),
# and the straight-through relaxations, whose hard samples sit on the support's boundary.
FORCE_OBSERVED = {"Delta", "RelaxedBernoulliStraightThrough",
                  "RelaxedOneHotCategoricalStraightThrough"}


def test_every_family_is_covered():
    names = set(dist._PYRO_DISTRIBUTIONS)
    assert not set(EXCLUDED) & set(BUILDERS)
    assert set(LOG_PROB_ONLY) <= set(BUILDERS) and PREDICTIVE_ONLY <= set(BUILDERS)
    missing = names - set(BUILDERS) - set(EXCLUDED)
    assert not missing, f"families with no model test and no stated exclusion: {sorted(missing)}"
    assert not (set(BUILDERS) | set(EXCLUDED)) - names


def _role(name, d):
    if name in PREDICTIVE_ONLY:
        return "predictive"
    if name in LOG_PROB_ONLY:
        return "log_prob_only"
    if name in FORCE_OBSERVED or not d.has_rsample or d.support.is_discrete:
        return "observed"
    try:
        torch.distributions.biject_to(d.support)
    except NotImplementedError:
        return "observed"
    return "latent"


def _summary(x):
    return x.reshape(3, -1).sum(-1)


def _observed_data(name, d3):
    if name in LOG_PROB_ONLY:
        return LOG_PROB_ONLY[name]()
    data = d3.sample()
    if name.startswith("NanMasked"):
        data = data.clone()
        data.view(-1)[1] = float("nan")
    return data


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_family_in_svi_and_predictive(name):
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    d = BUILDERS[name]()
    d3 = d.expand([3]) if d.batch_shape == () else d
    assert d3.batch_shape == (3,), f"{name}: build it with batch shape () or (3,)"
    role = _role(name, d)
    y = torch.linspace(-1.0, 1.0, 3)

    if role == "latent":
        def model(obs=None):
            with pyro.plate("p", 3):
                x = pyro.sample("x", d3)
                pyro.sample("y", dist.Normal(_summary(x), 1.0), obs=y)
            return x
    else:
        def model(obs=None):
            pyro.sample("z", dist.Normal(0.0, 1.0))
            with pyro.plate("p", 3):
                return pyro.sample("x", d3, obs=obs)

    expected_shape = (4, 3) + tuple(d.event_shape)
    if role != "predictive":
        data = None if role == "latent" else _observed_data(name, d3)
        guide = AutoDelta(model)
        guide(data)  # build the parameters
        point = pyro.poutine.trace(guide).get_trace(data)
        # The point's values are views of the parameters, which the step updates in place.
        x0 = point.nodes["x"]["value"].detach().clone() if role == "latent" else None
        z0 = None if role == "latent" else point.nodes["z"]["value"].detach().clone()
        svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO())
        loss = svi.step(data)
        if role == "latent":
            expected = -(d3.log_prob(x0).sum() + dist.Normal(_summary(x0), 1.0).log_prob(y).sum())
        else:
            expected = -(dist.Normal(0.0, 1.0).log_prob(z0) + d3.log_prob(data).sum())
        assert torch.isfinite(expected), f"{name}: the log-density at the guide's point is not finite"
        assert loss == pytest.approx(expected.item(), rel=1e-5, abs=1e-4)
        predictive = Predictive(model, guide=guide, num_samples=4, return_sites=["x"])
    else:
        predictive = Predictive(model, num_samples=4, return_sites=["x"])
    if role == "log_prob_only":
        with pytest.raises(NotImplementedError):
            d3.sample()
        return
    samples = predictive(None)
    assert samples["x"].shape == expected_shape
    if role == "latent":  # the guide's point after the step, four times
        moved = pyro.poutine.trace(guide).get_trace(None).nodes["x"]["value"]
        assert torch.allclose(samples["x"], moved.expand(expected_shape))
    else:  # draws from the family: inside its support
        assert bool(d3.support.check(samples["x"]).all())


def test_grouped_normal_normal_in_svi():
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    group_idx = t([0, 0, 1, 1, 1])
    data = t([0.3, -0.2, 1.5, 0.9, 1.1])

    def model(obs):
        loc = pyro.sample("loc", dist.Normal(0.0, 1.0))
        pyro.sample("x", dist.GroupedNormalNormal(loc.expand(2), t(1.0), t(0.5), group_idx), obs=obs)

    guide = AutoDelta(model)
    guide(data)
    loc0 = pyro.poutine.trace(guide).get_trace(data).nodes["loc"]["value"].detach().clone()
    loss = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO()).step(data)
    # Integrating each group's mean out by hand: the group's data are jointly Normal.
    expected = dist.Normal(0.0, 1.0).log_prob(loc0)
    for g in range(2):
        y = data[group_idx == g]
        n = y.numel()
        cov = torch.eye(n) * 0.25 + torch.ones(n, n)
        expected = expected + dist.MultivariateNormal(loc0.expand(n), cov).log_prob(y)
    assert loss == pytest.approx(-expected.item(), rel=1e-5)
