"""Statistics of samples: MCMC diagnostics, credible intervals, scoring rules and WAIC.

Every function takes a tensor of samples and the dimension(s) along which the samples lie;
the other dimensions are batch dimensions and are kept.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, Optional, Sequence, Tuple, Union

import torch

from pyro.util import describe_value as _describe

__all__ = [
    "autocorrelation",
    "autocovariance",
    "crps_empirical",
    "effective_sample_size",
    "energy_score_empirical",
    "fit_generalized_pareto",
    "gelman_rubin",
    "hpdi",
    "pi",
    "quantile",
    "resample",
    "split_gelman_rubin",
    "waic",
    "weighed_quantile",
]

Probs = Union[Sequence[float], torch.Tensor]


class StatsShapeError(ValueError, AssertionError):
    """Samples of the wrong shape for a diagnostic (too few dims, chains or draws).

    A ``ValueError``; an ``AssertionError`` too, the type Pyro's asserts raise for these.
    """


class StatsTypeError(TypeError, ValueError):
    """A statistic was given a wrong kind of value (a string as a probability).

    A ``TypeError``; a ``ValueError`` too, the type Pyro raises for some of these.
    """


class StatsRangeError(ValueError, IndexError):
    """A probability or a dim out of range for a statistic.

    A ``ValueError``; an ``IndexError`` too, the type Pyro raises for these (from indexing).
    """




def check_dim(owner: str, input: torch.Tensor, dim: int, name: str = "dim") -> None:
    """Refuse an ``input`` that is not a tensor with at least one dim, or a ``dim`` that is not
    an int in range for it, naming ``owner`` and the shape."""
    if not isinstance(input, torch.Tensor):
        raise StatsTypeError(f"{owner}: input must be a tensor, got {_describe(input)}")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise StatsTypeError(f"{owner}: {name} must be an int, got {_describe(dim)}")
    if input.dim() == 0:
        raise StatsRangeError(f"{owner}: input must have at least one dim (the samples), got a "
                              f"0-dim tensor")
    if not -input.dim() <= dim < input.dim():
        raise StatsRangeError(f"{owner}: {name}={dim} is out of range for input of shape "
                              f"{tuple(input.shape)}")


def check_probability(owner: str, name: str, value: object, *, open_left: bool = False,
                      open_right: bool = False) -> None:
    """Refuse ``value`` unless it is a number in ``[0, 1]`` (ends excluded where asked)."""
    if isinstance(value, torch.Tensor) and value.dim() == 0 and value.dtype.is_floating_point:
        value = value.item()
    interval = ("(" if open_left else "[") + "0, 1" + (")" if open_right else "]")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise StatsTypeError(f"{owner}: {name} must be a number in {interval}, got {_describe(value)}")
    low_ok = value > 0 if open_left else value >= 0
    high_ok = value < 1 if open_right else value <= 1
    if not (low_ok and high_ok):
        raise StatsRangeError(f"{owner}: {name} must be in {interval}, got {value}")


def _probs_tensor(owner: str, probs: object, like: torch.Tensor) -> torch.Tensor:
    """``probs`` (a number, a sequence of numbers or a tensor) as a tensor like ``like``,
    refusing other kinds and (under validation) values outside ``[0, 1]``."""
    if not isinstance(probs, (torch.Tensor, numbers.Number)) and hasattr(probs, "__array__"):
        probs = torch.as_tensor(probs, dtype=like.dtype)  # a numpy array
    if isinstance(probs, torch.Tensor):
        if not probs.dtype.is_floating_point:
            raise StatsTypeError(f"{owner}: probs must be a floating tensor, got dtype {probs.dtype}")
        tensor = probs.to(dtype=like.dtype, device=like.device)
    else:
        items = [probs] if isinstance(probs, numbers.Number) else probs
        if (isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not all(
                isinstance(p, numbers.Real) and not isinstance(p, bool) for p in items)):
            raise StatsTypeError(f"{owner}: probs must be a number, a sequence of numbers or a "
                                 f"tensor, got {_describe(probs)}")
        bad = [p for p in items if not 0 <= p <= 1]
        if bad:
            raise StatsRangeError(f"{owner}: probs must lie in [0, 1], got {list(items)}")
        return torch.tensor(items, dtype=like.dtype, device=like.device)
    from pyro.util import is_validation_enabled

    if is_validation_enabled() and tensor.numel() and not bool(((tensor >= 0) & (tensor <= 1)).all()):
        raise StatsRangeError(f"{owner}: probs must lie in [0, 1], got {tensor.tolist()}")
    return tensor


def _chains_first(input: torch.Tensor, chain_dim: int, sample_dim: int, owner: str = "",
                  min_chains: int = 1, min_draws: int = 1) -> torch.Tensor:
    """``input`` with its chain dimension first and its sample dimension second."""
    where = f"{owner}: " if owner else ""
    if not isinstance(input, torch.Tensor) or input.dim() < 2:
        shape = tuple(input.shape) if isinstance(input, torch.Tensor) else type(input).__name__
        raise StatsShapeError(f"{where}expected samples with a chain and a sample dimension, "
                              f"got shape {shape}")
    for name, d in (("chain_dim", chain_dim), ("sample_dim", sample_dim)):
        check_dim(owner or "stats", input, d, name)
    chain_dim = chain_dim % input.dim()
    sample_dim = sample_dim % input.dim()
    if chain_dim == sample_dim:
        raise StatsShapeError(f"{where}chain_dim and sample_dim must differ, both are {chain_dim}")
    if input.size(chain_dim) < min_chains:
        raise StatsShapeError(f"{where}needs at least {min_chains} chains along chain_dim="
                              f"{chain_dim}, got input of shape {tuple(input.shape)}")
    if input.size(sample_dim) < min_draws:
        raise StatsShapeError(f"{where}needs at least {min_draws} draws along sample_dim="
                              f"{sample_dim}, got input of shape {tuple(input.shape)}")
    return input.movedim((chain_dim, sample_dim), (0, 1))


def gelman_rubin(input: torch.Tensor, chain_dim: int = 0, sample_dim: int = 1) -> torch.Tensor:
    """Gelman and Rubin's potential scale reduction factor ``R-hat`` of several chains.

    Args:
        input: samples with at least two dimensions: chains and draws.
        chain_dim: the dimension of the chains.
        sample_dim: the dimension of the draws within a chain.

    Returns:
        ``R-hat`` with the chain and sample dimensions removed.
    """
    x = _chains_first(input, chain_dim, sample_dim, "gelman_rubin", min_chains=2, min_draws=2)
    n = x.size(1)
    chain_var = x.var(dim=1)
    var_within = chain_var.mean(dim=0)
    var_between = x.mean(dim=1).var(dim=0) if x.size(0) > 1 else torch.zeros_like(var_within)
    var_estimator = (n - 1) / n * var_within + var_between
    return (var_estimator / var_within).sqrt()


def split_gelman_rubin(input: torch.Tensor, chain_dim: int = 0, sample_dim: int = 1) -> torch.Tensor:
    """``R-hat`` after splitting every chain into its first and second half.

    With an odd number of draws the middle draw is left out. Arguments as in
    :func:`gelman_rubin`.
    """
    x = _chains_first(input, chain_dim, sample_dim, "split_gelman_rubin")
    half = x.size(1) // 2
    if half < 2:
        raise StatsShapeError(f"split_gelman_rubin needs at least 4 draws per chain, got {x.size(1)}")
    halves = torch.cat([x[:, :half], x[:, -half:]], dim=0)
    return gelman_rubin(halves, 0, 1)


def _next_fast_len(size: int) -> int:
    """The smallest integer ``>= size`` whose only prime factors are 2, 3 and 5."""
    n = max(int(size), 1)
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def autocorrelation(input: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The sample autocorrelation of ``input`` along ``dim`` at every lag (lag 0 is 1).

    Computed with an FFT; the lag-``k`` term is the mean of the ``N - k`` centred products,
    divided by the lag-0 term.
    """
    check_dim("autocorrelation", input, dim)
    x = input.movedim(dim, -1)
    n = x.size(-1)
    if n == 0:
        raise StatsShapeError("autocorrelation of an empty sample")
    fast = _next_fast_len(2 * n)
    centred = x - x.mean(dim=-1, keepdim=True)
    freq = torch.fft.rfft(centred, n=fast)
    acov = torch.fft.irfft(freq.real.square() + freq.imag.square(), n=fast)[..., :n]
    acov = acov / torch.arange(n, 0, -1, dtype=acov.dtype, device=acov.device)
    acorr = acov / acov[..., :1]
    return acorr.movedim(-1, dim)


def autocovariance(input: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The sample autocovariance of ``input`` along ``dim``: :func:`autocorrelation` times the
    variance (divided by ``N``)."""
    check_dim("autocovariance", input, dim)
    var = input.var(dim=dim, unbiased=False, keepdim=True)
    return autocorrelation(input, dim) * var


def effective_sample_size(input: torch.Tensor, chain_dim: int = 0,
                          sample_dim: int = 1) -> torch.Tensor:
    """The effective sample size of several chains, with Geyer's initial monotone sequence.

    The autocorrelations of the chains are combined with the between-chain variance (as Stan
    does), summed in consecutive pairs up to the first negative pair, and made non-increasing.

    Args:
        input: samples with a chain and a draw dimension.
        chain_dim: the dimension of the chains.
        sample_dim: the dimension of the draws within a chain.

    Returns:
        The effective number of draws, with the chain and sample dimensions removed.
    """
    x = _chains_first(input, chain_dim, sample_dim, "effective_sample_size", min_draws=2)
    num_chains, n = x.size(0), x.size(1)
    acov = autocovariance(x, dim=1)  # (chains, draws, ...)
    var_within = acov[:, 0].mean(dim=0) * n / (n - 1) if n > 1 else acov[:, 0].mean(dim=0)
    var_plus = var_within * (n - 1) / n
    if num_chains > 1:
        var_plus = var_plus + x.mean(dim=1).var(dim=0)
    if num_chains == 1:  # one chain: the plain autocorrelation (as Pyro computes it)
        rho = acov[0] / acov[0, :1]
    else:
        rho = 1 - (var_within - acov.mean(dim=0)) / var_plus  # (draws, ...)
    rho[0] = 1.0
    # Pair sums rho[2k] + rho[2k+1]; an odd last lag is dropped.
    pairs = n // 2
    gamma = rho[: 2 * pairs].reshape((pairs, 2) + rho.shape[1:]).sum(dim=1)
    # Keep the initial positive sequence, then make it non-increasing.
    positive = (gamma > 0).long().cumprod(dim=0).to(gamma.dtype)
    gamma = gamma.clamp(min=0) * positive
    gamma = gamma.cummin(dim=0).values
    tau = -1 + 2 * gamma.sum(dim=0)
    return num_chains * n / tau


def quantile(input: torch.Tensor, probs: Union[float, Probs], dim: int = 0) -> torch.Tensor:
    """Quantiles of ``input`` along ``dim``, interpolating linearly between order statistics.

    Args:
        input: the samples.
        probs: one probability or a sequence of them, in ``[0, 1]``.
        dim: the sample dimension.

    Returns:
        The quantiles stacked along ``dim`` (one entry per probability).
    """
    check_dim("quantile", input, dim)
    scalar = isinstance(probs, numbers.Number) or (isinstance(probs, torch.Tensor) and probs.dim() == 0)
    probs = _probs_tensor("quantile", probs, input).reshape(-1)
    sorted_x = input.sort(dim=dim).values
    n = input.size(dim)
    pos = probs * (n - 1)
    lo = pos.floor().long().clamp(0, n - 1)
    hi = (lo + 1).clamp(max=n - 1)
    frac = (pos - lo.to(pos.dtype))
    below = sorted_x.index_select(dim, lo)
    above = sorted_x.index_select(dim, hi)
    shape = [1] * input.dim()
    shape[dim] = -1
    frac = frac.reshape(shape)
    result = below * (1 - frac) + above * frac
    return result.squeeze(dim) if scalar else result


def pi(input: torch.Tensor, prob: float, dim: int = 0) -> torch.Tensor:
    """The central (percentile) interval of mass ``prob``: the quantiles ``(1 -/+ prob) / 2``,
    stacked along ``dim``."""
    check_probability("pi", "prob", prob)
    return quantile(input, [(1 - prob) / 2, (1 + prob) / 2], dim=dim)


def hpdi(input: torch.Tensor, prob: float, dim: int = 0) -> torch.Tensor:
    """The narrowest interval holding a fraction ``prob`` of the samples along ``dim``.

    Returns:
        Its lower and upper ends, stacked along ``dim``.
    """
    check_probability("hpdi", "prob", prob, open_left=True, open_right=True)
    check_dim("hpdi", input, dim)
    sorted_x = input.sort(dim=dim).values
    n = input.size(dim)
    length = int(prob * n)
    if not 0 < length <= n:
        raise ValueError(f"hpdi: prob={prob} selects {length} of {n} samples")
    left = sorted_x.narrow(dim, 0, n - length)
    right = sorted_x.narrow(dim, length, n - length)
    best = (right - left).argmin(dim=dim, keepdim=True)
    return torch.cat([left.gather(dim, best), right.gather(dim, best)], dim=dim)


def _weighted_mean(input: torch.Tensor, log_weights: torch.Tensor, dim: int = 0,
                   keepdim: bool = False) -> torch.Tensor:
    weights = (log_weights - log_weights.logsumexp(0)).exp()
    shape = [1] * input.dim()
    shape[dim] = -1
    return (input * weights.reshape(shape)).sum(dim=dim, keepdim=keepdim)


def _weighted_variance(input: torch.Tensor, log_weights: torch.Tensor, dim: int = 0,
                       keepdim: bool = False, unbiased: bool = True) -> torch.Tensor:
    mean = _weighted_mean(input, log_weights, dim, keepdim=True)
    var = _weighted_mean((input - mean).square(), log_weights, dim, keepdim=keepdim)
    if unbiased:
        n = input.size(dim)
        var = var * n / (n - 1)
    return var


def waic(input: torch.Tensor, log_weights: Optional[torch.Tensor] = None, pointwise: bool = False,
         dim: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """The widely applicable information criterion from pointwise log-likelihoods.

    Args:
        input: log-likelihoods, draws along ``dim`` and data points along the other dims.
        log_weights: log-weights of the draws (default: equal weights).
        pointwise: return the per-point values instead of their sums.
        dim: the draw dimension.

    Returns:
        ``(waic, p_waic)``: ``-2`` times the estimated log predictive density, and the
        effective number of parameters.
    """
    check_dim("waic", input, dim)
    n = input.size(dim)
    if log_weights is None:
        log_weights = torch.zeros(n, dtype=input.dtype, device=input.device)
    if log_weights.shape != (n,):
        raise ValueError(f"waic: log_weights must have shape ({n},), got {tuple(log_weights.shape)}")
    shape = [1] * input.dim()
    shape[dim] = -1
    lppd = (input + log_weights.reshape(shape)).logsumexp(dim=dim) - log_weights.logsumexp(0)
    p_waic = _weighted_variance(input, log_weights, dim)
    elpd = lppd - p_waic
    w = -2 * elpd
    if pointwise:
        return w, p_waic
    return w.sum(), p_waic.sum()


class StatsCountError(ValueError, RuntimeError):
    """``resample`` asked for no draws: a ``ValueError``, and the ``RuntimeError`` torch raises."""


def resample(input: torch.Tensor, num_samples: int, dim: int = 0,
             replacement: bool = False) -> torch.Tensor:
    """Draw ``num_samples`` entries of ``input`` along ``dim`` uniformly at random."""
    check_dim("resample", input, dim)
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
        raise StatsTypeError(f"resample: num_samples must be an int >= 1, got {_describe(num_samples)}")
    if num_samples < 1:
        raise StatsCountError(f"resample: num_samples must be an int >= 1, got {num_samples}")
    n = input.size(dim)
    if not replacement and num_samples > n:
        raise ValueError(f"resample: cannot draw {num_samples} of {n} samples without replacement")
    weights = torch.ones(n, device=input.device)
    index = torch.multinomial(weights, num_samples, replacement=replacement)
    return input.index_select(dim, index)


def weighed_quantile(input: torch.Tensor, probs: Probs, log_weights: torch.Tensor,
                     dim: int = 0) -> torch.Tensor:
    """Quantiles of weighted samples, interpolating linearly between the sorted samples.

    The ``i``-th smallest sample sits at the cumulative weight of the samples below it,
    rescaled so that the smallest sits at 0 and the largest at 1; with equal weights this is
    :func:`quantile`.

    Args:
        input: the samples.
        probs: a sequence of probabilities in ``[0, 1]``.
        log_weights: log-weights of the samples along ``dim``, shape ``(N,)``.
        dim: the sample dimension.

    Returns:
        The quantiles stacked along ``dim``.
    """
    check_dim("weighed_quantile", input, dim)
    probs = _probs_tensor("weighed_quantile", probs, input).reshape(-1)
    n = input.size(dim)
    if not isinstance(log_weights, torch.Tensor):
        raise StatsTypeError(f"weighed_quantile: log_weights must be a tensor of shape ({n},), got "
                        f"{_describe(log_weights)}")
    if log_weights.shape != (n,):
        raise ValueError(f"weighed_quantile: log_weights must have shape ({n},), got "
                         f"{tuple(log_weights.shape)}")
    x = input.movedim(dim, -1)
    if n == 1:
        return x.expand(x.shape[:-1] + probs.shape).movedim(-1, dim)
    order = x.argsort(dim=-1)
    sorted_x = x.gather(-1, order)
    weights = (log_weights - log_weights.logsumexp(0)).exp().to(input.dtype)[order]
    first = weights[..., :1]
    nodes = ((weights.cumsum(-1) - first) / (1 - first)).contiguous()
    target = probs.expand(nodes.shape[:-1] + probs.shape).contiguous()
    hi = torch.searchsorted(nodes, target, right=True).clamp(1, n - 1)
    lo = hi - 1
    t_lo, t_hi = nodes.gather(-1, lo), nodes.gather(-1, hi)
    frac = ((target - t_lo) / (t_hi - t_lo).clamp(min=torch.finfo(nodes.dtype).tiny)).clamp(0, 1)
    x_lo, x_hi = sorted_x.gather(-1, lo), sorted_x.gather(-1, hi)
    return (x_lo + frac * (x_hi - x_lo)).movedim(-1, dim)


def crps_empirical(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """The continuous ranked probability score of samples ``pred`` (along dim 0) at ``truth``.

    ``E|X - truth| - E|X - X'| / 2`` over the empirical distribution of the samples; lower is
    better.
    """
    if pred.shape[1:] != (1,) * (pred.dim() - truth.dim() - 1) + truth.shape:
        raise ValueError(f"Expected pred to have one extra sample dim on left. Actual shapes: "
                         f"{pred.shape} versus {truth.shape}")
    abs_error = (pred - truth).abs().mean(dim=0)
    n = pred.size(0)
    if n == 1:
        return abs_error
    sorted_pred = pred.sort(dim=0).values
    gaps = sorted_pred[1:] - sorted_pred[:-1]
    k = torch.arange(1, n, dtype=pred.dtype, device=pred.device)
    weight = (k * (n - k)).reshape((-1,) + (1,) * (pred.dim() - 1))
    return abs_error - (gaps * weight).sum(dim=0) / (n * n)


def energy_score_empirical(pred: torch.Tensor, truth: torch.Tensor,
                           pred_batch_size: Optional[int] = None,
                           cdist: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = torch.cdist
                           ) -> torch.Tensor:
    """The energy score, the multivariate CRPS, of samples ``pred`` at ``truth``.

    ``E||X - truth|| - E||X - X'|| / 2`` over the empirical distribution; lower is better.

    Args:
        pred: the samples, shape ``batch + (num_samples, dim)``.
        truth: the observed vector, shape ``batch + (dim,)``, or several of them,
            ``batch + (k, dim)``.
        pred_batch_size: compute the pairwise term this many samples at a time (less memory).
        cdist: the pairwise Euclidean distance function.

    Returns:
        The score, shape ``batch`` (or ``batch + (k,)``).
    """
    single = truth.dim() == pred.dim() - 1
    t = truth.unsqueeze(-2) if single else truth
    if t.dim() != pred.dim() or t.shape[:-2] != pred.shape[:-2] or t.shape[-1] != pred.shape[-1]:
        raise ValueError(f"energy_score_empirical: pred of shape {tuple(pred.shape)} (batch + "
                         f"(num_samples, dim)) does not match truth of shape {tuple(truth.shape)}")
    n = pred.size(-2)
    error = cdist(pred, t).mean(dim=-2)  # batch + (k,)
    if pred_batch_size is None:
        spread = cdist(pred, pred).sum(dim=(-1, -2))
    else:
        spread = 0
        for start in range(0, n, pred_batch_size):
            spread = spread + cdist(pred[..., start:start + pred_batch_size, :], pred).sum(dim=(-1, -2))
    score = error - 0.5 * (spread / (n * n)).unsqueeze(-1)
    return score.squeeze(-1) if single else score


_GPD_PRIOR_B = 3.0  # scale of the grid of candidate b values
_GPD_PRIOR_K = 10.0  # pseudo-observations pulling k towards 0.5


def fit_generalized_pareto(X: torch.Tensor) -> Tuple[float, float]:
    """Fit a generalized Pareto distribution to the positive samples ``X`` (Zhang & Stephens,
    2009, with the weakly informative prior of Vehtari, Gelman & Gabry's PSIS).

    Args:
        X: a 1-D tensor of samples (at least two, all positive).

    Returns:
        ``(k, sigma)``: the shape (tail index; positive for heavy tails) and the scale.
    """
    if not isinstance(X, torch.Tensor) or X.dim() != 1 or X.numel() < 2:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"fit_generalized_pareto: X must be a 1-D tensor of at least 2 samples, "
                         f"got {shape}")
    x = X.detach().double().sort().values
    n = x.numel()
    m = 30 + int(math.sqrt(n))
    j = torch.arange(1, m + 1, dtype=x.dtype, device=x.device)
    quartile = x[int(n / 4 + 0.5) - 1]
    b = 1.0 / x[-1] + (1.0 - torch.sqrt(m / (j - 0.5))) / (_GPD_PRIOR_B * quartile)
    k = torch.log1p(-b[:, None] * x).mean(-1)
    profile = n * (torch.log(-b / k) - k - 1.0)
    weights = torch.softmax(profile, dim=0)
    b_hat = (b * weights).sum()
    k_hat = torch.log1p(-b_hat * x).mean()
    sigma = -k_hat / b_hat
    k_hat = (n * k_hat + _GPD_PRIOR_K * 0.5) / (n + _GPD_PRIOR_K)
    return k_hat.item(), sigma.item()
