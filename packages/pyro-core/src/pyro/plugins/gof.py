"""Goodness-of-fit tests: do a distribution's samples agree with its density?

Each test returns a p-value: for samples drawn from the density it is (approximately)
``Uniform(0, 1)`` distributed, and for samples that disagree with it it is close to zero. In a
test suite, fix the rate of spurious failures you accept, below one over the number of such
tests, and assert ``gof > TEST_FAILURE_RATE``::

    TEST_FAILURE_RATE = 1e-3

    def test_my_distribution():
        d = MyDistribution()
        samples = d.sample([10000])
        probs = d.log_prob(samples).exp()
        assert auto_goodness_of_fit(samples, probs) > TEST_FAILURE_RATE

How it works: every test reduces the data to numbers that are ``Uniform(0, 1)`` when the
density is right, bins them, and applies Pearson's chi-squared test to the bin counts.
Univariate samples use spacings: sorted, the probability mass between neighbours,
``n * gap * density``, is close to ``Exponential(1)``. Multivariate samples use nearest-neighbour
distances: the chance that none of ``m`` other samples lies within distance ``r`` of a sample is
about ``exp(-m * density * volume_of_sphere(dim, r))``. Both are approximations that need many
samples (a few thousand); too few raise :class:`InvalidTest`.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch

#: The width, in characters, of the longest bar printed by :func:`print_histogram`.
HISTOGRAM_WIDTH = 60

#: Each bin of the uniform tests expects about this many samples.
_SAMPLES_PER_BIN = 50
_MIN_BINS = 5
_MAX_BINS = 50


class InvalidTest(ValueError):
    """The test cannot give a meaningful answer for these inputs (usually: too few samples)."""


def _as_vector(name: str, value: Any) -> torch.Tensor:
    value = torch.as_tensor(value).detach()
    if value.dim() != 1:
        raise ValueError(f"{name} must be a vector (one dim), got shape {tuple(value.shape)}")
    return value.to(torch.float64)


def chi2sf(x: Any, s: Any) -> Any:
    """The survival function ``P(X > x)`` of a chi-squared variable ``X`` with ``s`` degrees of
    freedom: the regularised upper incomplete gamma function ``Q(s / 2, x / 2)``.

    Returns a float for number inputs and a tensor otherwise.
    """
    numbers = not isinstance(x, torch.Tensor) and not isinstance(s, torch.Tensor)
    x_t = torch.as_tensor(x, dtype=torch.float64)
    s_t = torch.as_tensor(s, dtype=torch.float64)
    result = torch.special.gammaincc(s_t / 2, x_t / 2)
    return float(result) if numbers else result


def print_histogram(probs: Any, counts: Any) -> None:
    """Print the expected probability and the observed count of each bin, with a bar per bin,
    most probable bin first."""
    probs = torch.as_tensor(probs).detach().reshape(-1).tolist()
    counts = torch.as_tensor(counts).detach().reshape(-1).tolist()
    top = max(max(counts), 1)
    print("{: >8} {: >8}".format("Prob", "Count"))
    for prob, count in sorted(zip(probs, counts), key=lambda pc: -pc[0]):
        width = int(round(HISTOGRAM_WIDTH * count / top))
        print("{: >8.3f} {: >8d} {}".format(prob, int(count), "-" * width))


def multinomial_goodness_of_fit(probs: Any, counts: Any, *, total_count: Optional[int] = None,
                                plot: bool = False) -> float:
    """Pearson's chi-squared test of observed ``counts`` against bin probabilities ``probs``.

    Args:
        probs: the probability of each bin (a vector).
        counts: the observed count of each bin (a vector of the same length).
        total_count: the total number of draws when the bins given do not cover everything
            (truncated data): the rest, ``total_count - sum(counts)`` draws of probability
            ``1 - sum(probs)``, is one more bin. ``None`` means ``sum(counts)``.
        plot: print the histogram.

    Returns:
        The p-value of the chi-squared statistic, with one degree of freedom fewer than bins.

    Raises:
        ValueError: the shapes differ.
        InvalidTest: fewer than two bins have positive probability.
    """
    probs = _as_vector("multinomial_goodness_of_fit: probs", probs)
    counts = _as_vector("multinomial_goodness_of_fit: counts", counts)
    if probs.shape != counts.shape:
        raise ValueError(
            f"multinomial_goodness_of_fit: probs of shape {tuple(probs.shape)} and counts of shape "
            f"{tuple(counts.shape)} must have the same shape"
        )
    if plot:
        print_histogram(probs, counts)
    observed = float(counts.sum())
    if total_count is not None:
        rest = total_count - observed
        if rest < 0:
            raise ValueError(
                f"multinomial_goodness_of_fit: total_count={total_count} is smaller than the sum of "
                f"counts, {observed:g}"
            )
        probs = torch.cat([probs, (1 - probs.sum()).clamp(min=0).reshape(1)])
        counts = torch.cat([counts, counts.new_tensor([rest])])
        observed = float(total_count)
    expected = observed * probs
    if bool(((expected == 0) & (counts > 0)).any()):
        return 0.0
    used = expected > 0
    dof = int(used.sum()) - 1
    if dof < 1:
        raise InvalidTest("multinomial_goodness_of_fit: needs at least two bins of positive probability")
    chi2 = float(((counts[used] - expected[used]) ** 2 / expected[used]).sum())
    return chi2sf(chi2, dof)


def unif01_goodness_of_fit(samples: Any, *, plot: bool = False) -> float:
    """Test that ``samples`` (a vector) are ``Uniform(0, 1)``, by binning them into equal bins.

    There are ``len(samples) // 50`` bins, at most 50; fewer than 250 samples raise
    :class:`InvalidTest`.

    Returns:
        The p-value of Pearson's chi-squared test on the bin counts.
    """
    samples = _as_vector("unif01_goodness_of_fit: samples", samples)
    n = samples.numel()
    bins = min(_MAX_BINS, n // _SAMPLES_PER_BIN)
    if bins < _MIN_BINS:
        raise InvalidTest(
            f"imprecise test: {n} samples are too few; use at least "
            f"{_MIN_BINS * _SAMPLES_PER_BIN} samples"
        )
    if bool(((samples < 0) | (samples > 1)).any()):
        return 0.0
    index = (samples * bins).long().clamp(max=bins - 1)
    counts = torch.bincount(index, minlength=bins)
    probs = torch.full((bins,), 1.0 / bins, dtype=torch.float64)
    return multinomial_goodness_of_fit(probs, counts, plot=plot)


def exp_goodness_of_fit(samples: Any, plot: bool = False) -> float:
    """Test that ``samples`` (a vector) are ``Exponential(1)``: ``exp(-samples)`` must be uniform.

    Returns:
        The p-value, as :func:`unif01_goodness_of_fit`.
    """
    samples = _as_vector("exp_goodness_of_fit: samples", samples)
    return unif01_goodness_of_fit(torch.exp(-samples), plot=plot)


def _check_pair(fn: str, samples: torch.Tensor, probs: torch.Tensor) -> None:
    if probs.dim() != 1 or samples.dim() == 0 or probs.shape[0] != samples.shape[0]:
        raise ValueError(
            f"{fn}: probs must be a vector with one density per sample; got samples of shape "
            f"{tuple(samples.shape)} and probs of shape {tuple(probs.shape)}"
        )
    if bool(torch.isnan(probs).any()):
        raise ValueError(f"{fn}: probs contains NaN")


def density_goodness_of_fit(samples: Any, probs: Any, plot: bool = False) -> float:
    """Test univariate continuous ``samples`` against their densities ``probs``.

    The samples are sorted; for each gap between neighbours, ``n * gap * density`` (the density
    averaged over the gap's ends) is close to ``Exponential(1)`` when the densities are right,
    and that is tested with :func:`exp_goodness_of_fit`.

    Args:
        samples: a vector of real samples.
        probs: the density at each sample (not the log-density).
        plot: print the histogram.

    Returns:
        The p-value: near zero when the samples disagree with the densities.
    """
    samples = torch.as_tensor(samples).detach().to(torch.float64)
    probs = torch.as_tensor(probs).detach().to(torch.float64)
    _check_pair("density_goodness_of_fit", samples, probs)
    if samples.dim() != 1:
        raise ValueError(
            f"density_goodness_of_fit: samples must be a vector, got shape {tuple(samples.shape)}; "
            f"use vector_density_goodness_of_fit or auto_goodness_of_fit"
        )
    n = samples.numel()
    order = samples.argsort()
    x, p = samples[order], probs[order]
    gaps = x[1:] - x[:-1]
    mass = gaps * (p[1:] + p[:-1]) / 2
    return exp_goodness_of_fit(n * mass, plot=plot)


def volume_of_sphere(dim: int, radius: Any) -> Any:
    """The volume of the ``dim``-dimensional ball of the given ``radius``:
    ``pi ** (dim / 2) * radius ** dim / Gamma(dim / 2 + 1)``."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"volume_of_sphere: dim must be a positive int, got {dim!r}")
    return math.pi ** (dim / 2) / math.gamma(dim / 2 + 1) * radius ** dim


def _nearest_distances(queries: torch.Tensor, reference: torch.Tensor, same: bool) -> torch.Tensor:
    nearest = []
    for start in range(0, queries.shape[0], 1024):  # bounded memory: 1024 rows at a time
        block = torch.cdist(queries[start:start + 1024], reference)
        if same:
            rows = torch.arange(block.shape[0], device=block.device)
            block[rows, rows + start] = math.inf
        nearest.append(block.min(-1).values)
    return torch.cat(nearest)


def get_nearest_neighbor_distances(samples: Any) -> torch.Tensor:
    """The Euclidean distance from each sample to its nearest other sample.

    Args:
        samples: a tensor of shape ``(n, ...)``; each sample is flattened to a vector.

    Returns:
        A vector of ``n`` distances.
    """
    samples = torch.as_tensor(samples).detach()
    if samples.dim() == 0 or samples.shape[0] < 2:
        raise ValueError(
            f"get_nearest_neighbor_distances: needs at least two samples, got shape {tuple(samples.shape)}"
        )
    flat = samples.reshape(samples.shape[0], -1)
    return _nearest_distances(flat, flat, same=True)


def vector_density_goodness_of_fit(samples: Any, probs: Any, *, dim: Optional[int] = None,
                                   plot: bool = False) -> float:
    """Test multivariate continuous ``samples`` against their densities ``probs``.

    The samples are split in two halves. With ``r`` the distance from a sample of the first
    half to its nearest neighbour in the second half (of ``m`` samples),
    ``exp(-m * density * volume_of_sphere(dim, r))`` is close to ``Uniform(0, 1)`` when the
    densities are right (the nearest-neighbour distribution), which is then tested with
    :func:`unif01_goodness_of_fit`. (Distances within one set would make mutual nearest
    neighbours share a distance; the dependence makes the test reject correct densities far
    more often than its p-value says.) So it needs twice the samples of the univariate test.

    Args:
        samples: a tensor of shape ``(n, d)`` (or ``(n, ...)``, flattened per sample).
        probs: the density at each sample, a vector of ``n``.
        dim: the dimension of the space the samples fill, when they lie on a lower-dimensional
            set (e.g. ``d - 1`` for points on a simplex); defaults to ``d``.
        plot: print the histogram.

    Returns:
        The p-value: near zero when the samples disagree with the densities.
    """
    samples = torch.as_tensor(samples).detach().to(torch.float64)
    probs = torch.as_tensor(probs).detach().to(torch.float64)
    _check_pair("vector_density_goodness_of_fit", samples, probs)
    n = samples.shape[0]
    samples = samples.reshape(n, -1)
    if dim is None:
        dim = samples.shape[-1]
    if n < 4:
        raise InvalidTest(f"imprecise test: {n} samples are too few")
    half = n // 2
    radii = _nearest_distances(samples[:half], samples[half:], same=False)
    mass = (n - half) * probs[:half] * volume_of_sphere(dim, radii)
    return unif01_goodness_of_fit(torch.exp(-mass), plot=plot)


def auto_goodness_of_fit(samples: Any, probs: Any, *, dim: Optional[int] = None,
                         plot: bool = False) -> float:
    """Test ``samples`` against densities ``probs``, choosing the test by the samples' shape.

    One-dimensional samples (a vector, or ``(n, 1)``, with ``dim`` 1 or None) go to
    :func:`density_goodness_of_fit`, the others to :func:`vector_density_goodness_of_fit`.

    Args:
        samples: a tensor of samples stacked along the first dim.
        probs: the density at each sample.
        dim: the dimension of the space the samples fill; defaults to the number of elements of
            one sample.
        plot: print the histogram.

    Returns:
        The p-value of the chosen test.
    """
    samples = torch.as_tensor(samples)
    if samples.dim() == 0:
        raise ValueError("auto_goodness_of_fit: samples must have a leading sample dim, got a scalar")
    if dim is None:
        dim = samples.shape[1:].numel()
    if dim == 1 and samples.shape[1:].numel() == 1:
        return density_goodness_of_fit(samples.reshape(-1), probs, plot=plot)
    return vector_density_goodness_of_fit(samples, probs, dim=dim, plot=plot)


__all__ = [
    "HISTOGRAM_WIDTH",
    "InvalidTest",
    "auto_goodness_of_fit",
    "chi2sf",
    "density_goodness_of_fit",
    "exp_goodness_of_fit",
    "get_nearest_neighbor_distances",
    "multinomial_goodness_of_fit",
    "print_histogram",
    "unif01_goodness_of_fit",
    "vector_density_goodness_of_fit",
    "volume_of_sphere",
]
