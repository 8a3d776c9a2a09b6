"""OrderedLogistic, the straight-through relaxed pair, LKJCorrCholesky, ExponentialFamily, the
corr_cholesky_constraint name and the pyro.distributions.util helpers of issue 16."""

import warnings

import pytest
import scipy.stats as st
import torch

import pyro.distributions as dist
from pyro.distributions import constraints
from pyro.distributions.testing.gof import multinomial_goodness_of_fit
from pyro.distributions.util import logsumexp, scalar_like, sum_leftmost, sum_rightmost

TEST_FAILURE_RATE = 1e-3
T = torch.float64


def t(x, dtype=T):
    return torch.tensor(x, dtype=dtype)


# ----- OrderedLogistic ------------------------------------------------------------------------


def test_ordered_logistic_probs_are_latent_logistic_interval_masses():
    predictor = t([0.0, 1.0, -0.5])
    cutpoints = t([-1.0, 0.5, 2.0])
    d = dist.OrderedLogistic(predictor, cutpoints)
    assert isinstance(d, dist.Categorical)
    assert d.batch_shape == (3,) and d.event_shape == ()
    edges = [-float("inf"), -1.0, 0.5, 2.0, float("inf")]
    for i, eta in enumerate(predictor.tolist()):
        expected = [st.logistic.cdf(edges[k + 1], eta) - st.logistic.cdf(edges[k], eta) for k in range(4)]
        assert torch.allclose(d.probs[i], t(expected), rtol=1e-12)
    support = d.enumerate_support()
    assert support.shape == (4, 3)
    assert torch.allclose(d.log_prob(support).exp().sum(0), torch.ones(3, dtype=T))
    assert d.support.upper_bound == 3
    torch.manual_seed(0)
    x = d.sample((20000,))
    for i in range(3):
        counts = torch.bincount(x[:, i].long(), minlength=4)
        assert multinomial_goodness_of_fit(d.probs[i], counts) > TEST_FAILURE_RATE


def test_ordered_logistic_shapes_expand_and_validation():
    d = dist.OrderedLogistic(torch.zeros(3, 1, dtype=T), t([[-1.0, 1.0], [0.0, 2.0]]))
    assert d.batch_shape == (3, 2) and d.predictor.shape == (3, 2) and d.cutpoints.shape == (3, 2, 2)
    e = d.expand((4, 3, 2))
    assert type(e) is dist.OrderedLogistic and e.predictor.shape == (4, 3, 2)
    assert e.cutpoints.shape == (4, 3, 2, 2) and e.probs.shape == (4, 3, 2, 3)
    assert torch.allclose(e.probs[2], d.probs)
    # a number predictor and a scalar cutpoint (two classes)
    s = dist.OrderedLogistic(0.3, t(0.5))
    assert torch.allclose(s.probs, t([torch.sigmoid(t(0.2)).item(), 1 - torch.sigmoid(t(0.2)).item()]))
    with pytest.raises(ValueError, match="Expected parameter cutpoints .*OrderedLogistic.*OrderedVector"):
        dist.OrderedLogistic(t(0.3), t([1.0, 0.0]), validate_args=True)
    with pytest.raises(ValueError, match=r"predictor of shape \(2,\) does not broadcast with cutpoints of shape \(3, 2\)"):
        dist.OrderedLogistic(torch.zeros(2, dtype=T), torch.zeros(3, 2, dtype=T))
    v = dist.OrderedLogistic(t([0.0, 1.0]), t([-1.0, 0.5, 2.0]), validate_args=True)
    with pytest.raises(ValueError, match="support"):
        v.log_prob(t([0.0, 4.0]))
    assert v.log_prob(t([0.0, 3.0])).shape == (2,)
    m = v.mask(torch.tensor([False, True]))
    assert m.log_prob(t([0.0, 3.0]))[0] == 0
    assert v.to_event(1).log_prob(t([0.0, 3.0])) == v.log_prob(t([0.0, 3.0])).sum()


def test_ordered_logistic_gradients_in_predictor_and_cutpoints():
    predictor = t(0.4).requires_grad_()
    cutpoints = t([-1.0, 0.5, 2.0]).requires_grad_()
    lp = dist.OrderedLogistic(predictor, cutpoints).log_prob(t(1.0))
    g_pred, g_cut = torch.autograd.grad(lp, (predictor, cutpoints))
    # log(sigmoid(c1 - eta) - sigmoid(c0 - eta)) by hand
    s0, s1 = torch.sigmoid(t(-1.0 - 0.4)), torch.sigmoid(t(0.5 - 0.4))
    p = s1 - s0
    assert torch.allclose(g_pred, -(s1 * (1 - s1) - s0 * (1 - s0)) / p)
    assert torch.allclose(g_cut, torch.stack([-s0 * (1 - s0) / p, s1 * (1 - s1) / p, t(0.0)]))


# ----- straight-through relaxed distributions -------------------------------------------------


def test_relaxed_bernoulli_straight_through():
    probs = t([0.2, 0.7]).requires_grad_()
    temp = t(0.5)
    d = dist.RelaxedBernoulliStraightThrough(temp, probs)
    torch.manual_seed(0)
    hard = d.rsample((500,))
    torch.manual_seed(0)
    soft = dist.RelaxedBernoulli(temp, probs).rsample((500,))
    assert torch.equal(hard, soft.round()) and set(hard.unique().tolist()) <= {0.0, 1.0}
    # the relaxed density at the relaxed value
    assert torch.allclose(d.log_prob(hard), dist.RelaxedBernoulli(temp, probs).log_prob(soft))
    x = t([0.3, 0.6])
    assert torch.allclose(d.log_prob(x), dist.RelaxedBernoulli(temp, probs).log_prob(x))
    w = torch.randn(500, 2, dtype=T)
    g_hard = torch.autograd.grad((hard * w).sum(), probs)[0]
    g_soft = torch.autograd.grad((soft * w).sum(), probs)[0]
    assert torch.allclose(g_hard, g_soft)
    # P(hard = 1) = P(soft > 1/2) = probs (the relaxation's median is the Bernoulli threshold)
    with torch.no_grad():
        frac = d.rsample((40000,)).mean(0)
    assert torch.allclose(frac, probs.detach(), atol=0.015)
    e = d.expand((3, 2))
    assert type(e) is dist.RelaxedBernoulliStraightThrough and e.rsample().shape == (3, 2)
    assert d.has_rsample and not d.sample().eq(d.sample().round()).all()


def test_relaxed_one_hot_categorical_straight_through():
    probs = t([0.2, 0.3, 0.5]).requires_grad_()
    temp = t(0.7)
    d = dist.RelaxedOneHotCategoricalStraightThrough(temp, probs)
    torch.manual_seed(1)
    hard = d.rsample((400,))
    torch.manual_seed(1)
    soft = dist.RelaxedOneHotCategorical(temp, probs).rsample((400,))
    assert torch.equal(hard, torch.nn.functional.one_hot(soft.argmax(-1), 3).to(T))
    assert torch.allclose(d.log_prob(hard), dist.RelaxedOneHotCategorical(temp, probs).log_prob(soft))
    w = torch.randn(400, 3, dtype=T)
    g_hard = torch.autograd.grad((hard * w).sum(), probs)[0]
    g_soft = torch.autograd.grad((soft * w).sum(), probs)[0]
    assert torch.allclose(g_hard, g_soft)
    # the argmax of the Gumbel-softmax relaxation is exactly Categorical(probs)
    with torch.no_grad():
        counts = d.rsample((20000,)).sum(0)
    assert multinomial_goodness_of_fit(probs.detach(), counts) > TEST_FAILURE_RATE
    e = d.expand((4,))
    assert type(e) is dist.RelaxedOneHotCategoricalStraightThrough and e.rsample().shape == (4, 3)


# ----- LKJCorrCholesky, ExponentialFamily, constraint -----------------------------------------


def test_lkj_corr_cholesky_is_deprecated_lkj_cholesky():
    with pytest.warns(FutureWarning, match=r"^class LKJCorrCholesky\(d, eta, validate_args=None\) is "
                      r"deprecated in favor of LKJCholesky\(dim, concentration, validate_args=None\)\.$"):
        d = dist.LKJCorrCholesky(3, t([1.0, 2.5]))
    assert isinstance(d, dist.LKJCholesky)
    assert d.batch_shape == (2,) and d.event_shape == (3, 3) and d.dim == 3
    ref = dist.LKJCholesky(3, t([1.0, 2.5]))
    x = ref.sample((4,))
    assert torch.allclose(d.log_prob(x), ref.log_prob(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = d.expand((5, 2))  # expanding builds no new warning
    assert type(e) is dist.LKJCorrCholesky and e.sample().shape == (5, 2, 3, 3)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="LKJCorrCholesky: Expected parameter eta"):
        dist.LKJCorrCholesky(3, -1.0, validate_args=True)


def test_exponential_family_base_class():
    assert issubclass(dist.ExponentialFamily, torch.distributions.ExponentialFamily)
    assert issubclass(dist.ExponentialFamily, dist.TorchDistributionMixin)

    class Exp(dist.ExponentialFamily):
        # Exponential(rate) in natural form: eta = -rate, A(eta) = -log(-eta).
        arg_constraints = {"rate": constraints.positive}
        support = constraints.positive

        def __init__(self, rate):
            self.rate = rate
            super().__init__(rate.shape)

        @property
        def _natural_params(self):
            return (-self.rate,)

        def _log_normalizer(self, eta):
            return -torch.log(-eta)

        @property
        def _mean_carrier_measure(self):
            return 0

        def log_prob(self, value):
            return self.rate.log() - self.rate * value

    rate = t([0.5, 2.0])
    d = Exp(rate)
    assert torch.allclose(d.entropy(), 1 - rate.log())  # torch's Bregman-divergence entropy
    assert d.to_event(1).event_shape == (2,)


def test_corr_cholesky_constraint():
    assert constraints.corr_cholesky_constraint is torch.distributions.constraints.corr_cholesky
    assert "corr_cholesky_constraint" in constraints.__all__
    L = dist.LKJCholesky(3, 1.0).sample()
    assert constraints.corr_cholesky_constraint.check(L)
    assert not constraints.corr_cholesky_constraint.check(2 * L)


# ----- pyro.distributions.util ----------------------------------------------------------------


def test_util_helpers():
    x = torch.arange(24.0).reshape(2, 3, 4)
    assert torch.equal(sum_leftmost(x, 1), x.sum(0))
    assert torch.equal(sum_leftmost(x, 2), x.sum((0, 1)))
    assert torch.equal(sum_leftmost(x, -1), x.sum((0, 1)))
    assert sum_leftmost(x, 0) is x and sum_leftmost(x, -3) is x
    assert torch.equal(sum_leftmost(x, 3), x.sum()) and torch.equal(sum_leftmost(x, 5), x.sum())
    assert sum_leftmost(3.0, 1) == 3.0
    assert torch.equal(sum_rightmost(x, 1), x.sum(-1))
    s = scalar_like(torch.ones(3, dtype=T), 2.5)
    assert s.shape == () and s.dtype == T and s.item() == 2.5
    assert scalar_like(torch.ones(2, dtype=torch.int64), 2).dtype == torch.int64
    assert logsumexp is torch.logsumexp
