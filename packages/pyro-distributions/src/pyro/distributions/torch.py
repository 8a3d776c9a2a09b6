"""Every distribution of :mod:`torch.distributions`, with Pyro's behaviour mixed in.

Each class here is a subclass of the torch class of the same name and of
:class:`~pyro.distributions.torch_distribution.TorchDistributionMixin`; it takes the same
arguments (torch and Pyro share the argument names). Two things are added per class, with no
per-class code (see :mod:`pyro.distributions.torch_wrapper`): an ``expand`` that also works for
subclasses with their own ``__init__`` (and falls back to
:class:`~pyro.distributions.ExpandedDistribution`), and constructor errors that name the
distribution and the shapes of its parameters. A few classes also get faster or more general
methods, defined below. ``Independent`` is wrapped in
:mod:`pyro.distributions.torch_distribution` (``to_event`` returns it) and is public here.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Dict, Sequence

import torch
import torch.distributions as _td

from pyro.distributions.conjugate_updates import (
    beta_conjugate_update,
    dirichlet_conjugate_update,
    gamma_conjugate_update,
)
from pyro.distributions.torch_distribution import (
    ExpandedDistribution,
    Independent,
    TorchDistributionMixin,
)
from pyro.distributions.torch_wrapper import wrap_torch_distribution
from pyro.distributions.validation import _check, construction_error


def _wrap(torch_cls: type, namespace: Dict[str, Any] | None = None) -> type:
    return wrap_torch_distribution(torch_cls, TorchDistributionMixin, ExpandedDistribution, namespace)


def _gpd_standardized(self: Any, value: torch.Tensor) -> tuple:
    # torch's version compares with a float32 CPU scalar, which fails for float64 and CUDA.
    if self._validate_args:
        self._validate_sample(value)
    z = (value - self.loc) / self.scale
    conc = self.concentration
    is_zero = torch.isclose(conc, torch.zeros_like(conc))
    return z, is_zero, torch.where(is_zero, torch.ones_like(conc), conc)


def _gpd_log_prob(self: Any, value: torch.Tensor) -> torch.Tensor:
    z, is_zero, safe = _gpd_standardized(self, value)
    nonzero = (1 / safe + 1) * torch.log1p(safe * z)
    return -self.scale.log() - torch.where(is_zero, z, nonzero)


def _gpd_log_survival_function(self: Any, value: torch.Tensor) -> torch.Tensor:
    z, is_zero, safe = _gpd_standardized(self, value)
    return torch.where(is_zero, -z, -torch.log1p(safe * z) / safe)


def _normal_rsample(self: Any, sample_shape: Sequence[int] = ()) -> torch.Tensor:
    # torch's version builds the shape in Python and then runs three tensor ops; with no sample
    # shape the noise has exactly the shape of loc (loc and scale are broadcast at
    # construction), and one fused addcmul does the rest. The generator is consumed exactly as
    # torch's does, so seeded draws are identical.
    loc = self.loc
    if sample_shape:
        eps = torch.randn(self._extended_shape(sample_shape), dtype=loc.dtype, device=loc.device)
    else:
        eps = torch.randn_like(loc, memory_format=torch.contiguous_format)
    return torch.addcmul(loc, eps, self.scale)


_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _normal_log_prob(self: Any, value: torch.Tensor) -> torch.Tensor:
    # torch's formula, -(x - loc)^2 / (2 scale^2) - log(scale) - log(2 pi)/2, in three ops over
    # the value's shape instead of six (and a shorter backward); equal up to rounding.
    if self._validate_args:
        self._validate_sample(value)
    scale = self.scale
    z = (value - self.loc) / scale
    return torch.addcmul(-_HALF_LOG_2PI - scale.log(), z, z, value=-0.5)


def _lkj_cholesky_sample(self: Any, sample_shape: Sequence[int] = ()) -> torch.Tensor:
    """The onion method (Lewandowski, Kurowicka & Joe 2009, section 3.2) on the Cholesky factor.

    Row ``k`` (``k = 1 .. d-1``) of the factor is ``sqrt(y_k) u_k`` followed by
    ``sqrt(1 - y_k)`` on the diagonal, with ``u_k`` uniform on the unit sphere of ``R^k`` and
    ``y_k ~ Beta(k / 2, eta + (d - 1 - k) / 2)``. torch 2.13's own sampler draws ``y_k`` from
    ``Beta(k - 1/2, ...)``, which is right for ``k = 1`` only: for ``d = 3, eta = 1`` it gives
    ``corr[2, 0]`` a variance of 0.30 instead of the law's 0.25.
    """
    shape = self._extended_shape(sample_shape)
    d = self.dim
    eta = self.concentration.expand(shape[:-2])
    k = torch.arange(1, d, dtype=eta.dtype, device=eta.device)
    y = _td.Beta(k / 2, eta.unsqueeze(-1) + (d - 1 - k) / 2).sample()
    y = torch.cat([torch.zeros_like(y[..., :1]), y], dim=-1)  # row 0 is [1, 0, ...]
    u = torch.randn(shape, dtype=eta.dtype, device=eta.device).tril(-1)
    norm = u.norm(dim=-1, keepdim=True)
    u = torch.where(norm > 0, u / norm.clamp(min=torch.finfo(u.dtype).tiny), u)
    lower = y.sqrt().unsqueeze(-1) * u
    diag = (1 - y).clamp(min=torch.finfo(y.dtype).tiny).sqrt()
    return lower + torch.diag_embed(diag)


Bernoulli = _wrap(_td.Bernoulli)
Beta = _wrap(_td.Beta, {"conjugate_update": beta_conjugate_update})
Binomial = _wrap(_td.Binomial)
Categorical = _wrap(_td.Categorical)
Cauchy = _wrap(_td.Cauchy)
Chi2 = _wrap(_td.Chi2)
ContinuousBernoulli = _wrap(_td.ContinuousBernoulli)
Dirichlet = _wrap(_td.Dirichlet, {"conjugate_update": dirichlet_conjugate_update})
Exponential = _wrap(_td.Exponential)
FisherSnedecor = _wrap(_td.FisherSnedecor)
Gamma = _wrap(_td.Gamma, {"conjugate_update": gamma_conjugate_update})
GeneralizedPareto = _wrap(_td.GeneralizedPareto, {
    "log_prob": _gpd_log_prob,
    "log_survival_function": _gpd_log_survival_function,
})
Geometric = _wrap(_td.Geometric)
Gumbel = _wrap(_td.Gumbel)
HalfCauchy = _wrap(_td.HalfCauchy)
HalfNormal = _wrap(_td.HalfNormal)
InverseGamma = _wrap(_td.InverseGamma)
Kumaraswamy = _wrap(_td.Kumaraswamy)
def check_lkj_arguments(dist_name: str, dim: Any, concentration: Any, validate: Any) -> None:
    """Check an LKJ family's ``dim`` (an int, at least 2: torch's phrase) and, when
    ``validate``, that ``concentration`` is positive, before torch's inner ``Beta`` checks a
    tensor of another shape under another name.

    Raises:
        TypeError: ``dim`` is not an int.
        ValueError: ``dim`` is below 2, or ``concentration`` is not positive.
    """
    try:
        if isinstance(dim, bool):
            raise TypeError
        dim = operator.index(dim)
    except TypeError:
        raise construction_error(f"{dist_name}: dim must be an int, got {dim!r} of type "
                                 f"{type(dim).__name__}", TypeError) from None
    if dim < 2:
        raise construction_error(
            f"{dist_name}: dim must be at least 2, got dim={dim} (Expected dim to be an integer "
            f"greater than or equal to 2. Found dim={dim}.)")
    if validate and _tensor_or_number(concentration):
        conc = torch.as_tensor(concentration)
        if not _check(_td.constraints.positive, conc):
            raise construction_error(
                f"{dist_name}: Expected parameter concentration (Tensor of shape "
                f"{tuple(conc.shape)}) to satisfy the constraint GreaterThan(lower_bound=0.0), "
                f"but found invalid values:\n{conc}")


def _tensor_or_number(value: Any) -> bool:
    return isinstance(value, (int, float, torch.Tensor)) and not isinstance(value, bool)


def _check_lkj_cholesky_arguments(validate: Any, dim: Any = 2, concentration: Any = 1.0,
                                  *args: Any, **kwargs: Any) -> None:
    check_lkj_arguments("LKJCholesky", dim, concentration, validate)


LKJCholesky = _wrap(_td.LKJCholesky, {"sample": _lkj_cholesky_sample,
                                      "_check_arguments": _check_lkj_cholesky_arguments})
Laplace = _wrap(_td.Laplace)
LogNormal = _wrap(_td.LogNormal)
LogisticNormal = _wrap(_td.LogisticNormal)
LowRankMultivariateNormal = _wrap(_td.LowRankMultivariateNormal)
MixtureSameFamily = _wrap(_td.MixtureSameFamily)
Multinomial = _wrap(_td.Multinomial)
def _check_mvn_sizes(self: Any, validate: Any) -> None:
    """torch accepts a ``loc`` and a matrix of different sizes (or a non-square matrix)."""
    for arg in ("scale_tril", "covariance_matrix", "precision_matrix"):
        if arg in self.__dict__:
            break
    matrix = self.__dict__[arg]
    n = self.event_shape[-1]
    if matrix.shape[-1] != matrix.shape[-2] or matrix.shape[-1] != n:
        raise ValueError(
            f"{type(self).__name__}: loc has size {n} in its last dim, but {arg} has shape "
            f"{tuple(matrix.shape)}; expected (..., {n}, {n})")


def _check_temperature(self: Any, validate: Any) -> None:
    """torch puts no constraint on ``temperature``; a non-positive one gives NaN samples."""
    if validate and bool((self.temperature <= 0).any()):
        raise ValueError(
            f"{type(self).__name__}: temperature must be positive, got "
            f"{self.temperature.tolist() if self.temperature.numel() <= 4 else 'non-positive values'}")


MultivariateNormal = _wrap(_td.MultivariateNormal, {"_check_construction": _check_mvn_sizes})
NegativeBinomial = _wrap(_td.NegativeBinomial)
Normal = _wrap(_td.Normal, {"rsample": _normal_rsample, "log_prob": _normal_log_prob})
OneHotCategorical = _wrap(_td.OneHotCategorical)
OneHotCategoricalStraightThrough = _wrap(_td.OneHotCategoricalStraightThrough)
Pareto = _wrap(_td.Pareto)
Poisson = _wrap(_td.Poisson)
RelaxedBernoulli = _wrap(_td.RelaxedBernoulli, {"_check_construction": _check_temperature})
RelaxedOneHotCategorical = _wrap(_td.RelaxedOneHotCategorical,
                                 {"_check_construction": _check_temperature})
StudentT = _wrap(_td.StudentT)
TransformedDistribution = _wrap(_td.TransformedDistribution)
Uniform = _wrap(_td.Uniform)
VonMises = _wrap(_td.VonMises)
Weibull = _wrap(_td.Weibull)
Wishart = _wrap(_td.Wishart)

__all__ = [
    "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "ContinuousBernoulli",
    "Dirichlet", "Exponential", "FisherSnedecor", "Gamma", "GeneralizedPareto", "Geometric",
    "Gumbel", "HalfCauchy", "HalfNormal", "Independent", "InverseGamma", "Kumaraswamy",
    "LKJCholesky", "Laplace", "LogNormal", "LogisticNormal", "LowRankMultivariateNormal",
    "MixtureSameFamily", "Multinomial", "MultivariateNormal", "NegativeBinomial", "Normal",
    "OneHotCategorical", "OneHotCategoricalStraightThrough", "Pareto", "Poisson",
    "RelaxedBernoulli", "RelaxedOneHotCategorical", "StudentT", "TransformedDistribution",
    "Uniform", "VonMises", "Weibull", "Wishart",
]
