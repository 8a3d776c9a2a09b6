"""One table of test cases covering every distribution of pyro.distributions.

Each case builds a batched distribution from float64 parameters on a given device and knows
its log-density independently (scipy.stats or a closed form written here).
"""

import math
from typing import Any, Callable, Dict, Optional

import numpy as np
import scipy.stats as st
import torch
from scipy.special import logsumexp as np_logsumexp

import pyro.distributions as dist
from pyro.distributions import constraints, transforms

T = torch.float64


def t(x):
    return torch.tensor(x, dtype=T)


class Case:
    """A distribution under test.

    Args:
        name: id of the case.
        build: function of the parameters (keyword tensors) returning the distribution.
        params: parameter name -> float64 tensor (on CPU; moved to the device by ``make``).
        ref: function ``(value: np.ndarray, params as numpy) -> log-density np.ndarray``.
        moments: whether sample mean/variance are compared with ``mean``/``variance``.
        value: optional function ``(dist) -> value`` for distributions that cannot sample.
        grad: whether rsample gradients are checked (reparameterised cases with moments).
        pathwise: whether the sample is a smooth function of the parameters for a fixed seed.
    """

    def __init__(self, name: str, build: Callable, params: Dict[str, Any], ref: Optional[Callable],
                 moments: bool = True, value: Optional[Callable] = None, grad: bool = True,
                 pathwise: bool = False, rtol: float = 1e-6):
        self.name = name
        self.build = build
        self.params = params
        self.ref = ref
        self.moments = moments
        self.value = value
        self.grad = grad
        self.pathwise = pathwise
        self.rtol = rtol

    def make(self, device="cpu", **override):
        params = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.params.items()}
        params.update(override)
        return self.build(**params)

    def np_params(self):
        return {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in self.params.items()}

    def __repr__(self):
        return self.name


def _bcast(*arrays):
    return np.broadcast_arrays(*arrays)


def _relaxed_bernoulli_ref(x, temperature, probs):
    a = probs / (1 - probs)
    tt = temperature
    return (np.log(tt) + np.log(a) - (tt + 1) * (np.log(x) + np.log1p(-x))
            - 2 * np.log(a * x ** -tt + (1 - x) ** -tt))


def _relaxed_onehot_ref(x, temperature, probs):
    k = x.shape[-1]
    lp = np.log(probs)
    tt = temperature
    return (math.lgamma(k) + (k - 1) * np.log(tt) + (lp - (tt + 1) * np.log(x)).sum(-1)
            - k * np_logsumexp(lp - tt * np.log(x), axis=-1))


def _cont_bernoulli_ref(x, probs):
    lam = probs
    log_c = np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
    return log_c + x * np.log(lam) + (1 - x) * np.log1p(-lam)


def _logistic_normal_ref(x, loc, scale):
    # torch's LogisticNormal maps a normal vector to the simplex by stick breaking:
    # y_i = z_i * (1 - sum_{j<i} y_j), z_i = sigmoid(u_i - log(K - i)); the Jacobian is
    # triangular with diagonal (1 - sum_{j<i} y_j) * z_i * (1 - z_i).
    k = x.shape[-1] - 1
    y = x[..., :-1]
    rest = 1 - np.concatenate([np.zeros(y.shape[:-1] + (1,)), np.cumsum(y, -1)[..., :-1]], -1)
    z = y / rest
    u = np.log(z) - np.log1p(-z) + np.log(k - np.arange(k))
    log_jac = (np.log(rest) + np.log(z) + np.log1p(-z)).sum(-1)
    return st.norm.logpdf(u, loc, scale).sum(-1) - log_jac


def _mvn_ref(x, loc, cov):
    out = np.empty(x.shape[:-1])
    xb, lb = np.broadcast_arrays(x, np.broadcast_to(loc, x.shape))
    covb = np.broadcast_to(cov, x.shape[:-1] + cov.shape[-2:])
    for idx in np.ndindex(*out.shape):
        out[idx] = st.multivariate_normal.logpdf(xb[idx], lb[idx], covb[idx])
    return out


def _per_batch(fn, x, event_dims, *arrays):
    batch = x.shape[: x.ndim - event_dims]
    out = np.empty(batch)
    for idx in np.ndindex(*batch):
        args = []
        for a, ed in arrays:
            a = np.broadcast_to(a, batch + a.shape[a.ndim - ed:] if ed else batch)
            args.append(a[idx])
        out[idx] = fn(x[idx], *args)
    return out


def _lkj2_ref(x, concentration):
    # For dim 2 the only free entry is r = L[1, 0]; (r + 1) / 2 ~ Beta(eta, eta).
    r = x[..., 1, 0]
    return st.beta.logpdf((r + 1) / 2, concentration, concentration) - np.log(2)


def _wishart_ref(x, df, cov):
    return _per_batch(lambda xi, d, c: st.wishart.logpdf(xi, d, c), x, 2, (df, 0), (cov, 2))


def _empirical_ref(x, samples, log_weights):
    w = log_weights - np_logsumexp(log_weights, -1, keepdims=True)
    hit = x[..., None] == samples
    return np_logsumexp(np.where(hit, w, -np.inf), axis=-1)


def _zip_ref(x, rate, gate):
    base = np.log1p(-gate) + st.poisson.logpmf(x, rate)
    return np.where(x == 0, np.logaddexp(np.log(gate), base), base)


def _zinb_ref(x, total_count, probs, gate):
    base = np.log1p(-gate) + st.nbinom.logpmf(x, total_count, 1 - probs)
    return np.where(x == 0, np.logaddexp(np.log(gate), base), base)


def _folded_ref(x, loc, scale):
    return np.logaddexp(st.norm.logpdf(x, loc, scale), st.norm.logpdf(-x, loc, scale))


def _dm_ref(x, concentration, total_count):
    return _per_batch(lambda xi, a, n: st.dirichlet_multinomial.logpmf(xi, a, int(n)), x, 1,
                      (concentration, 1), (np.asarray(total_count, dtype=float), 0))


def _mixture_diag_ref(x, locs, coord_scale, component_logits):
    comp = st.norm.logpdf(x[..., None, :], locs, coord_scale).sum(-1)
    w = component_logits - np_logsumexp(component_logits, -1, keepdims=True)
    return np_logsumexp(comp + w, axis=-1)


def _projected_normal3_ref(x, c):
    # Density of x / |x|, x ~ Normal(c, I) in 3 dims, integrated along the ray through x:
    # log[t + (1 + t^2) sqrt(pi / 2) erfcx(-t / sqrt 2)] - |c|^2 / 2 - (3 / 2) log(2 pi).
    from scipy.special import erfcx
    tt = (x * c).sum(-1)
    j3 = tt + (1 + tt ** 2) * np.sqrt(np.pi / 2) * erfcx(-tt / np.sqrt(2))
    return np.log(j3) - (c ** 2).sum(-1) / 2 - 1.5 * np.log(2 * np.pi)


def _mvt_ref(x, df, loc, L):
    return _per_batch(lambda xi, d, m: st.multivariate_t.logpdf(xi, m, L @ L.T, df=d), x, 1,
                      (df, 0), (loc, 1))


def _ordered_logistic_ref(x, predictor, cutpoints):
    edges = np.concatenate([[-np.inf], cutpoints, [np.inf]])
    k = x.astype(int)
    return np.log(st.logistic.cdf(edges[k + 1], predictor) - st.logistic.cdf(edges[k], predictor))


_COV = t([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.5]])
_W = t([[0.5, 0.1], [-0.3, 0.2], [0.1, 0.4]])
_PROBS_34 = t([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1]])

CASES = [
    Case("Bernoulli", lambda probs: dist.Bernoulli(probs), {"probs": t([0.1, 0.5, 0.8])},
         lambda x, probs: st.bernoulli.logpmf(x, probs)),
    Case("Bernoulli_logits", lambda logits: dist.Bernoulli(logits=logits),
         {"logits": t([[-1.0, 0.0, 2.0]])},
         lambda x, logits: st.bernoulli.logpmf(x, 1 / (1 + np.exp(-logits)))),
    Case("Beta", lambda a, b: dist.Beta(a, b), {"a": t([0.5, 2.0, 3.0]), "b": t([[1.5], [4.0]])},
         lambda x, a, b: st.beta.logpdf(x, a, b)),
    Case("Binomial", lambda n, probs: dist.Binomial(n, probs),
         {"n": t([5.0, 5.0, 5.0]), "probs": t([0.2, 0.5, 0.9])},
         lambda x, n, probs: st.binom.logpmf(x, n, probs)),
    Case("Categorical", lambda probs: dist.Categorical(probs), {"probs": _PROBS_34},
         lambda x, probs: np.log(np.take_along_axis(
             np.broadcast_to(probs, x.shape + probs.shape[-1:]), x[..., None].astype(int), -1)[..., 0]),
         moments=False),
    Case("Cauchy", lambda loc, scale: dist.Cauchy(loc, scale),
         {"loc": t([0.0, 1.0, -2.0]), "scale": t([1.0, 0.5, 2.0])},
         lambda x, loc, scale: st.cauchy.logpdf(x, loc, scale), moments=False, pathwise=True),
    Case("Chi2", lambda df: dist.Chi2(df), {"df": t([1.5, 3.0, 7.0])},
         lambda x, df: st.chi2.logpdf(x, df)),
    Case("ContinuousBernoulli", lambda probs: dist.ContinuousBernoulli(probs),
         {"probs": t([0.2, 0.7, 0.9])}, lambda x, probs: _cont_bernoulli_ref(x, probs)),
    Case("Dirichlet", lambda c: dist.Dirichlet(c), {"c": t([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]])},
         lambda x, c: _per_batch(lambda xi, ci: st.dirichlet.logpdf(xi, ci), x, 1, (c, 1))),
    Case("Exponential", lambda rate: dist.Exponential(rate), {"rate": t([0.5, 1.0, 3.0])},
         lambda x, rate: st.expon.logpdf(x, scale=1 / rate), pathwise=True),
    Case("FisherSnedecor", lambda d1, d2: dist.FisherSnedecor(d1, d2),
         {"d1": t([3.0, 5.0]), "d2": t([10.0, 12.0])},
         lambda x, d1, d2: st.f.logpdf(x, d1, d2), grad=False),
    Case("Gamma", lambda c, r: dist.Gamma(c, r), {"c": t([0.5, 2.0, 5.0]), "r": t([1.0, 2.0, 0.5])},
         lambda x, c, r: st.gamma.logpdf(x, c, scale=1 / r)),
    Case("GeneralizedPareto", lambda loc, scale, c: dist.GeneralizedPareto(loc, scale, c),
         {"loc": t([0.0, 1.0]), "scale": t([1.0, 2.0]), "c": t([0.05, 0.1])},
         lambda x, loc, scale, c: st.genpareto.logpdf(x, c, loc, scale), grad=False),
    Case("Geometric", lambda probs: dist.Geometric(probs), {"probs": t([0.2, 0.5, 0.9])},
         lambda x, probs: st.geom.logpmf(x + 1, probs)),
    Case("Gumbel", lambda loc, scale: dist.Gumbel(loc, scale),
         {"loc": t([0.0, 1.0]), "scale": t([1.0, 2.0])},
         lambda x, loc, scale: st.gumbel_r.logpdf(x, loc, scale), pathwise=True),
    Case("HalfCauchy", lambda scale: dist.HalfCauchy(scale), {"scale": t([1.0, 2.5])},
         lambda x, scale: st.halfcauchy.logpdf(x, scale=scale), moments=False, pathwise=True),
    Case("HalfNormal", lambda scale: dist.HalfNormal(scale), {"scale": t([1.0, 2.5])},
         lambda x, scale: st.halfnorm.logpdf(x, scale=scale), pathwise=True),
    Case("Independent", lambda loc, scale: dist.Independent(dist.Normal(loc, scale), 1),
         {"loc": t([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]), "scale": t([1.0, 2.0, 0.5])},
         lambda x, loc, scale: st.norm.logpdf(x, loc, scale).sum(-1), pathwise=True),
    Case("InverseGamma", lambda c, r: dist.InverseGamma(c, r),
         {"c": t([5.0, 6.0]), "r": t([1.0, 2.0])},
         lambda x, c, r: st.invgamma.logpdf(x, c, scale=r)),
    Case("Kumaraswamy", lambda a, b: dist.Kumaraswamy(a, b),
         {"a": t([0.5, 2.0, 3.0]), "b": t([1.5, 2.0, 4.0])},
         lambda x, a, b: np.log(a * b) + (a - 1) * np.log(x) + (b - 1) * np.log1p(-x ** a),
         grad=False),
    Case("LKJCholesky", lambda c: dist.LKJCholesky(2, c), {"c": t([0.5, 1.0, 3.0])},
         lambda x, c: _lkj2_ref(x, c), moments=False),
    Case("Laplace", lambda loc, scale: dist.Laplace(loc, scale),
         {"loc": t([0.0, 1.0]), "scale": t([1.0, 2.0])},
         lambda x, loc, scale: st.laplace.logpdf(x, loc, scale), pathwise=True),
    Case("LogNormal", lambda loc, scale: dist.LogNormal(loc, scale),
         {"loc": t([0.0, 0.5]), "scale": t([0.3, 0.5])},
         lambda x, loc, scale: st.lognorm.logpdf(x, scale, scale=np.exp(loc)), pathwise=True),
    Case("LogisticNormal", lambda loc, scale: dist.LogisticNormal(loc, scale),
         {"loc": t([[0.0, 1.0], [0.5, -0.5]]), "scale": t([1.0, 0.5])},
         lambda x, loc, scale: _logistic_normal_ref(x, loc, scale), moments=False, pathwise=True),
    Case("LowRankMultivariateNormal",
         lambda loc, W, D: dist.LowRankMultivariateNormal(loc, W, D),
         {"loc": t([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]]), "W": _W, "D": t([1.0, 0.5, 2.0])},
         lambda x, loc, W, D: _mvn_ref(x, loc, W @ W.T + np.diag(D)), pathwise=True),
    Case("MixtureSameFamily",
         lambda logits, loc, scale: dist.MixtureSameFamily(dist.Categorical(logits=logits),
                                                           dist.Normal(loc, scale).expand((2, 2))),
         {"logits": t([[0.0, 1.0], [2.0, -1.0]]), "loc": t([-1.0, 2.0]), "scale": t([0.5, 1.0])},
         lambda x, logits, loc, scale: np_logsumexp(
             st.norm.logpdf(x[..., None], loc, scale)
             + logits - np_logsumexp(logits, -1, keepdims=True), axis=-1), grad=False),
    Case("Multinomial", lambda probs: dist.Multinomial(6, probs), {"probs": _PROBS_34},
         lambda x, probs: _per_batch(lambda xi, p: st.multinomial.logpmf(xi, 6, p), x, 1, (probs, 1))),
    Case("MultivariateNormal", lambda loc, cov: dist.MultivariateNormal(loc, cov),
         {"loc": t([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]]), "cov": _COV},
         lambda x, loc, cov: _mvn_ref(x, loc, cov), pathwise=True),
    Case("MultivariateNormal_tril", lambda loc, L: dist.MultivariateNormal(loc, scale_tril=L.tril()),
         {"loc": t([0.0, 1.0, 2.0]), "L": torch.linalg.cholesky(_COV)},
         lambda x, loc, L: _mvn_ref(x, loc, L @ L.T), pathwise=True),
    Case("NegativeBinomial", lambda n, probs: dist.NegativeBinomial(n, probs),
         {"n": t([2.0, 5.0, 1.5]), "probs": t([0.3, 0.5, 0.2])},
         lambda x, n, probs: st.nbinom.logpmf(x, n, 1 - probs)),
    Case("Normal", lambda loc, scale: dist.Normal(loc, scale),
         {"loc": t([[0.0, 1.0, -1.0], [2.0, 3.0, 4.0]]), "scale": t([1.0, 0.5, 2.0])},
         lambda x, loc, scale: st.norm.logpdf(x, loc, scale), pathwise=True),
    Case("OneHotCategorical", lambda probs: dist.OneHotCategorical(probs), {"probs": _PROBS_34},
         lambda x, probs: (x * np.log(probs)).sum(-1)),
    Case("OneHotCategoricalStraightThrough",
         lambda probs: dist.OneHotCategoricalStraightThrough(probs), {"probs": _PROBS_34},
         lambda x, probs: (x * np.log(probs)).sum(-1), grad=False),
    Case("Pareto", lambda scale, alpha: dist.Pareto(scale, alpha),
         {"scale": t([1.0, 2.0]), "alpha": t([5.0, 6.0])},
         lambda x, scale, alpha: st.pareto.logpdf(x, alpha, scale=scale), pathwise=True),
    Case("Poisson", lambda rate: dist.Poisson(rate), {"rate": t([0.5, 3.0, 10.0])},
         lambda x, rate: st.poisson.logpmf(x, rate)),
    Case("RelaxedBernoulli", lambda temp, probs: dist.RelaxedBernoulli(temp, probs),
         {"temp": t(0.5), "probs": t([0.2, 0.5, 0.7])},
         lambda x, temp, probs: _relaxed_bernoulli_ref(x, temp, probs), moments=False, pathwise=True),
    Case("RelaxedOneHotCategorical",
         lambda temp, probs: dist.RelaxedOneHotCategorical(temp, probs),
         {"temp": t(0.7), "probs": _PROBS_34},
         lambda x, temp, probs: _relaxed_onehot_ref(x, temp, probs), moments=False, pathwise=True),
    Case("StudentT", lambda df, loc, scale: dist.StudentT(df, loc, scale),
         {"df": t([9.0, 12.0]), "loc": t([0.0, 1.0]), "scale": t([1.0, 2.0])},
         lambda x, df, loc, scale: st.t.logpdf(x, df, loc, scale), grad=False),
    Case("TransformedDistribution",
         lambda loc, scale: dist.TransformedDistribution(dist.Normal(loc, scale),
                                                         [transforms.ExpTransform()]),
         {"loc": t([0.0, 0.5]), "scale": t([0.3, 0.5])},
         lambda x, loc, scale: st.lognorm.logpdf(x, scale, scale=np.exp(loc)), moments=False,
         pathwise=True),
    Case("Uniform", lambda low, high: dist.Uniform(low, high),
         {"low": t([0.0, -1.0]), "high": t([1.0, 3.0])},
         lambda x, low, high: st.uniform.logpdf(x, low, high - low), pathwise=True),
    Case("VonMises", lambda loc, k: dist.VonMises(loc, k),
         {"loc": t([0.0, 1.0]), "k": t([0.5, 4.0])},
         lambda x, loc, k: st.vonmises.logpdf(x, k, loc), moments=False),
    Case("Weibull", lambda scale, c: dist.Weibull(scale, c),
         {"scale": t([1.0, 2.0]), "c": t([1.5, 3.0])},
         lambda x, scale, c: st.weibull_min.logpdf(x, c, scale=scale), pathwise=True),
    Case("Wishart", lambda df, cov: dist.Wishart(df, cov),
         {"df": t([6.0, 8.0]), "cov": _COV},
         lambda x, df, cov: _wishart_ref(x, df, cov), grad=False),
    # ----- Pyro's own -----------------------------------------------------------------------
    Case("Delta", lambda v, ld: dist.Delta(v, ld), {"v": t([1.0, 2.0, 3.0]), "ld": t([0.5, -1.0, 0.0])},
         lambda x, v, ld: np.where(x == v, ld, -np.inf), pathwise=True),
    Case("Delta_event", lambda v: dist.Delta(v, event_dim=1), {"v": t([[1.0, 2.0], [3.0, 4.0]])},
         lambda x, v: np.where((x == v).all(-1), 0.0, -np.inf), pathwise=True),
    Case("Unit", lambda f: dist.Unit(f), {"f": t([0.5, -1.5])},
         lambda x, f: np.broadcast_to(f, x.shape[:-1]), moments=False, grad=False),
    Case("Empirical", lambda s, w: dist.Empirical(s, w),
         {"s": t([0.0, 1.0, 2.5, 4.0]), "w": t([0.0, 1.0, -1.0, 0.5])},
         lambda x, s, w: _empirical_ref(x, s, w)),
    Case("ImproperUniform",
         lambda lb: dist.ImproperUniform(constraints.positive, lb.shape, ()),
         {"lb": t([0.0, 0.0, 0.0])}, lambda x, lb: np.zeros(x.shape), moments=False,
         value=lambda d: torch.ones(d.batch_shape, dtype=T)),
    Case("MaskedDistribution",
         lambda loc, m: dist.Normal(loc, 1.0).mask(m),
         {"loc": t([0.0, 1.0, 2.0]), "m": torch.tensor([True, False, True])},
         lambda x, loc, m: np.where(m, st.norm.logpdf(x, loc, 1.0), 0.0), pathwise=True),
    Case("MaskedMixture",
         lambda m, loc0, loc1: dist.MaskedMixture(m, dist.Normal(loc0, 1.0), dist.Normal(loc1, 2.0)),
         {"m": torch.tensor([True, False, True]), "loc0": t([0.0, 1.0, 2.0]), "loc1": t([-1.0, 3.0, 0.5])},
         lambda x, m, loc0, loc1: np.where(m, st.norm.logpdf(x, loc1, 2.0), st.norm.logpdf(x, loc0, 1.0)),
         pathwise=True),
    Case("ExpandedDistribution",
         lambda loc, scale: dist.ExpandedDistribution(dist.Normal(loc, scale), (4, 2, 3)),
         {"loc": t([[0.0, 1.0, 2.0]]), "scale": t([1.0, 0.5, 2.0])},
         lambda x, loc, scale: np.broadcast_to(st.norm.logpdf(x, loc, scale), x.shape[:-3] + (4, 2, 3)),
         pathwise=True),
    Case("FoldedDistribution", lambda loc, scale: dist.FoldedDistribution(dist.Normal(loc, scale)),
         {"loc": t([0.0, 1.0, -2.0]), "scale": t([1.0, 0.5, 2.0])},
         lambda x, loc, scale: _folded_ref(x, loc, scale), moments=False, pathwise=True),
    Case("ZeroInflatedPoisson", lambda rate, gate: dist.ZeroInflatedPoisson(rate, gate=gate),
         {"rate": t([0.5, 3.0, 10.0]), "gate": t([0.2, 0.5, 0.1])},
         lambda x, rate, gate: _zip_ref(x, rate, gate)),
    Case("ZeroInflatedPoisson_logits",
         lambda rate, gl: dist.ZeroInflatedPoisson(rate, gate_logits=gl),
         {"rate": t([0.5, 3.0]), "gl": t([-1.0, 0.5])},
         lambda x, rate, gl: _zip_ref(x, rate, 1 / (1 + np.exp(-gl)))),
    Case("ZeroInflatedNegativeBinomial",
         lambda n, probs, gate: dist.ZeroInflatedNegativeBinomial(n, probs=probs, gate=gate),
         {"n": t([2.0, 5.0]), "probs": t([0.3, 0.5]), "gate": t([0.3, 0.1])},
         lambda x, n, probs, gate: _zinb_ref(x, n, probs, gate)),
    Case("GammaPoisson", lambda c, r: dist.GammaPoisson(c, r),
         {"c": t([0.5, 2.0, 5.0]), "r": t([1.0, 2.0, 0.5])},
         lambda x, c, r: st.nbinom.logpmf(x, c, r / (1 + r))),
    Case("BetaBinomial", lambda a, b: dist.BetaBinomial(a, b, 6),
         {"a": t([0.5, 2.0, 3.0]), "b": t([1.5, 2.0, 0.7])},
         lambda x, a, b: st.betabinom.logpmf(x, 6, a, b)),
    Case("DirichletMultinomial", lambda c, n: dist.DirichletMultinomial(c, n),
         {"c": t([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]]), "n": t([5.0, 8.0])},
         lambda x, c, n: _dm_ref(x, c, n)),
    Case("MixtureOfDiagNormals", lambda locs, scales, logits: dist.MixtureOfDiagNormals(locs, scales, logits),
         {"locs": t([[0.0, 1.0], [3.0, -2.0], [1.0, 1.0]]), "scales": t([[1.0, 0.5], [0.7, 1.2], [2.0, 1.0]]),
          "logits": t([0.0, 1.0, -0.5])},
         lambda x, locs, scales, logits: _mixture_diag_ref(x, locs, scales, logits)),
]

# ----- issue 16, first batch ----------------------------------------------------------------
CASES += [
    Case("Logistic", lambda loc, scale: dist.Logistic(loc, scale),
         {"loc": t([0.0, 1.0, -2.0]), "scale": t([1.0, 0.5, 2.0])},
         lambda x, loc, scale: st.logistic.logpdf(x, loc, scale), pathwise=True),
    Case("SkewLogistic", lambda loc, scale, a: dist.SkewLogistic(loc, scale, a),
         {"loc": t([0.0, 1.0]), "scale": t([1.0, 0.5]), "a": t([2.0, 0.5])},
         lambda x, loc, scale, a: st.genlogistic.logpdf(x, a, loc, scale), moments=False,
         pathwise=True),
    Case("AsymmetricLaplace", lambda loc, scale, a: dist.AsymmetricLaplace(loc, scale, a),
         {"loc": t([0.0, 1.0]), "scale": t([1.0, 0.5]), "a": t([2.0, 0.5])},
         lambda x, loc, scale, a: st.laplace_asymmetric.logpdf(x, a, loc, scale), pathwise=True),
    Case("SoftLaplace", lambda loc, scale: dist.SoftLaplace(loc, scale),
         {"loc": t([0.0, 1.0]), "scale": t([1.0, 0.5])},
         lambda x, loc, scale: st.hypsecant.logpdf(x, loc, scale), pathwise=True),
    Case("SoftAsymmetricLaplace_Laplace_limit",
         # With tiny softness the smoothed density is the asymmetric Laplace's.
         lambda loc, scale, a: dist.SoftAsymmetricLaplace(loc, scale, a, 1e-4),
         {"loc": t([0.0, 1.0]), "scale": t([1.0, 0.5]), "a": t([2.0, 0.5])},
         lambda x, loc, scale, a: st.laplace_asymmetric.logpdf(x, a, loc, scale), pathwise=True),
    Case("AffineBeta", lambda a, b, loc, scale: dist.AffineBeta(a, b, loc, scale),
         {"a": t([0.5, 2.0, 3.0]), "b": t([1.5, 2.0, 4.0]), "loc": t([-1.0, 0.0, 2.0]),
          "scale": t([2.0, 0.5, 3.0])},
         lambda x, a, b, loc, scale: st.beta.logpdf(x, a, b, loc, scale)),
    Case("MultivariateStudentT", lambda df, loc: dist.MultivariateStudentT(df, loc, torch.linalg.cholesky(_COV)),
         {"df": t([9.0, 12.0]), "loc": t([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]])},
         lambda x, df, loc: _mvt_ref(x, df, loc, np.linalg.cholesky(_COV.numpy())), grad=False),
    Case("ProjectedNormal", lambda c: dist.ProjectedNormal(c),
         {"c": t([[1.0, 2.0, 0.5], [0.0, -0.5, 0.2]])},
         lambda x, c: _projected_normal3_ref(x, c), moments=False, pathwise=True),
    Case("OrderedLogistic", lambda p, c: dist.OrderedLogistic(p, c),
         {"p": t([0.0, 1.0, -1.5]), "c": t([-1.0, 0.5, 2.0])},
         lambda x, p, c: _ordered_logistic_ref(x, p, c), moments=False),
    Case("NanMaskedNormal", lambda loc, scale: dist.NanMaskedNormal(loc, scale),
         {"loc": t([0.0, 1.0, -1.0]), "scale": t([1.0, 0.5, 2.0])},
         lambda x, loc, scale: st.norm.logpdf(x, loc, scale), pathwise=True),
    Case("NanMaskedMultivariateNormal", lambda loc, cov: dist.NanMaskedMultivariateNormal(loc, cov),
         {"loc": t([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]]), "cov": _COV},
         lambda x, loc, cov: _mvn_ref(x, loc, cov), pathwise=True),
    Case("RelaxedBernoulliStraightThrough",
         lambda temp, probs: dist.RelaxedBernoulliStraightThrough(temp, probs),
         {"temp": t(0.5), "probs": t([0.2, 0.5, 0.7])},
         lambda x, temp, probs: _relaxed_bernoulli_ref(x, temp, probs), moments=False, grad=False),
    Case("RelaxedOneHotCategoricalStraightThrough",
         lambda temp, probs: dist.RelaxedOneHotCategoricalStraightThrough(temp, probs),
         {"temp": t(0.7), "probs": _PROBS_34},
         lambda x, temp, probs: _relaxed_onehot_ref(x, temp, probs), moments=False, grad=False),
    Case("ExtendedBinomial", lambda probs: dist.ExtendedBinomial(6, probs),
         {"probs": t([0.3, 0.6, 0.9])},
         lambda x, probs: st.binom.logpmf(x, 6, probs)),
    Case("ExtendedBetaBinomial", lambda a, b: dist.ExtendedBetaBinomial(a, b, 6),
         {"a": t([0.5, 2.0, 3.0]), "b": t([1.5, 2.0, 0.7])},
         lambda x, a, b: st.betabinom.logpmf(x, 6, a, b)),
]

CASE_IDS = [c.name for c in CASES]


def sample_value(case: Case, d, sample_shape=()):
    """A value of the distribution: a sample, or the case's own value."""
    if case.value is not None:
        v = case.value(d)
        return v.expand(torch.Size(sample_shape) + v.shape)
    return d.sample(torch.Size(sample_shape))
