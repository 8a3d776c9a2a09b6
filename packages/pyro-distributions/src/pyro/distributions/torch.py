"""Every distribution of :mod:`torch.distributions`, with Pyro's behaviour mixed in.

Each class here is a subclass of the torch class of the same name and of
:class:`~pyro.distributions.torch_distribution.TorchDistributionMixin`; it takes the same
arguments (torch and Pyro share the argument names). Two things are added per class, with no
per-class code: an ``expand`` that also works for subclasses with their own ``__init__`` (and
falls back to :class:`~pyro.distributions.ExpandedDistribution`), and constructor errors that
name the distribution and the shapes of its parameters.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any, Dict, Sequence

import torch
import torch.distributions as _td

from pyro.distributions.torch_distribution import ExpandedDistribution, TorchDistributionMixin
from pyro.distributions.util import broadcast_shape, sum_rightmost
from pyro.distributions.validation import validate_args, validate_sample
from pyro.ops.score_parts import ScoreParts

_BASE_EXPAND = _td.Distribution.expand


def _describe_args(init: Any, args: tuple, kwargs: dict) -> str:
    try:
        bound = inspect.signature(init).bind_partial(None, *args, **kwargs)
    except TypeError:
        return ""
    parts = []
    for name, value in list(bound.arguments.items())[1:]:
        if isinstance(value, torch.Tensor):
            parts.append(f"{name}: shape {tuple(value.shape)}")
        elif isinstance(value, (int, float)):
            parts.append(f"{name}: {value!r}")
    return ", ".join(parts)


# Their constructors use the validation flag for more than torch's parameter checks (a check
# before clamping, an extra check after construction): they keep torch's own validation.
_TORCH_VALIDATED = frozenset({"ContinuousBernoulli", "Geometric", "VonMises"})


def _make_init(torch_cls: type, name: str) -> Any:
    base_init = torch_cls.__init__
    params = list(inspect.signature(base_init).parameters)[1:]
    # Position of ``validate_args`` among the positional arguments, or None to leave torch's
    # validation in charge.
    pos = None
    if name not in _TORCH_VALIDATED and "validate_args" in params:
        pos = params.index("validate_args")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        validate = False
        if pos is not None:
            # Build with torch's validation off, then check the parameters once, cheaply
            # (pyro.distributions.validation); inner distributions are not checked again.
            if len(args) > pos:
                validate = args[pos]
                args = args[:pos] + (False,) + args[pos + 1:]
            else:
                validate = kwargs.get("validate_args")
                kwargs["validate_args"] = False
            if validate is None:
                validate = _td.Distribution._validate_args
        try:
            base_init(self, *args, **kwargs)
            if validate:
                self._validate_args = True
                validate_args(self)
        except RuntimeError as e:
            raise ValueError(
                f"{name}: parameters of incompatible shapes ({_describe_args(base_init, args, kwargs)}): {e}"
            ) from e
        except ValueError as e:
            if name in str(e):
                raise
            raise ValueError(f"{name}({_describe_args(base_init, args, kwargs)}): {e}") from e

    functools.update_wrapper(__init__, base_init)
    __init__.__qualname__ = f"{name}.__init__"
    return __init__


def _make_expand(torch_cls: type, name: str) -> Any:
    if torch_cls.expand is _BASE_EXPAND:
        def expand(self: Any, batch_shape: Sequence[int], _instance: Any = None) -> Any:
            batch_shape = torch.Size(batch_shape)
            if batch_shape == self.batch_shape:
                return self
            return ExpandedDistribution(self, batch_shape)
    else:
        torch_expand = torch_cls.expand

        def expand(self: Any, batch_shape: Sequence[int], _instance: Any = None) -> Any:
            if _instance is None:
                _instance = type(self).__new__(type(self))
            try:
                expanded = torch_expand(self, batch_shape, _instance)
            except NotImplementedError:
                return ExpandedDistribution(self, batch_shape)
            except RuntimeError as e:
                raise ValueError(
                    f"{name}: cannot expand batch_shape {tuple(self.batch_shape)} to "
                    f"{tuple(batch_shape)}: {e}"
                ) from e
            if expanded.batch_shape != self.batch_shape:
                # Remember the small parameters: log_prob broadcasts them against the value
                # instead of computing e.g. log(scale) once per element of a plate.
                expanded._unexpanded = self.__dict__.get("_unexpanded", self)
            return expanded

    expand.__doc__ = "Return this distribution broadcast to ``batch_shape``."
    expand.__qualname__ = f"{name}.expand"
    return expand


def _make_log_prob(torch_log_prob: Any) -> Any:

    def log_prob(self: Any, value: torch.Tensor) -> torch.Tensor:
        base = self.__dict__.get("_unexpanded")
        # Only when log_prob is not overridden further down: an override calling super()
        # would otherwise run twice.
        if base is None or type(self).log_prob is not log_prob:
            return torch_log_prob(self, value)
        lp = base.log_prob(value)
        batch_shape = self.batch_shape
        n = len(batch_shape)
        if lp.dim() < n or lp.shape[lp.dim() - n:] != batch_shape:
            try:
                lp = lp.expand(broadcast_shape(lp.shape, batch_shape))
            except ValueError as e:
                raise ValueError(
                    f"{type(self).__name__}.log_prob: value of shape {tuple(value.shape)} does not "
                    f"broadcast with batch_shape {tuple(batch_shape)} and event_shape "
                    f"{tuple(self.event_shape)}"
                ) from e
        return lp

    functools.update_wrapper(log_prob, torch_log_prob)
    return log_prob


def _wrap(torch_cls: type, namespace: Dict[str, Any] | None = None) -> type:
    name = torch_cls.__name__
    ns: Dict[str, Any] = {
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"Pyro's :class:`torch.distributions.{name}` (same arguments), with the "
                   f"methods of :class:`~pyro.distributions.TorchDistributionMixin`.",
        "__init__": _make_init(torch_cls, name),
        "expand": _make_expand(torch_cls, name),
        "_validate_sample": validate_sample,
    }
    namespace = dict(namespace or {})
    if torch_cls.expand is not _BASE_EXPAND:
        ns["log_prob"] = _make_log_prob(namespace.pop("log_prob", torch_cls.log_prob))
    ns.update(namespace)
    return type(name, (torch_cls, TorchDistributionMixin), ns)


def _independent_score_parts(self: Any, value: torch.Tensor, *args: Any, **kwargs: Any) -> ScoreParts:
    n = self.reinterpreted_batch_ndims
    parts = self.base_dist.score_parts(value)
    return ScoreParts(*(sum_rightmost(p, n) for p in parts))


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


_NAMES = [
    "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "ContinuousBernoulli",
    "Dirichlet", "Exponential", "FisherSnedecor", "Gamma", "GeneralizedPareto", "Geometric",
    "Gumbel", "HalfCauchy", "HalfNormal", "Independent", "InverseGamma", "Kumaraswamy",
    "LKJCholesky", "Laplace", "LogNormal", "LogisticNormal", "LowRankMultivariateNormal",
    "MixtureSameFamily", "Multinomial", "MultivariateNormal", "NegativeBinomial", "Normal",
    "OneHotCategorical", "OneHotCategoricalStraightThrough", "Pareto", "Poisson",
    "RelaxedBernoulli", "RelaxedOneHotCategorical", "StudentT", "TransformedDistribution",
    "Uniform", "VonMises", "Weibull", "Wishart",
]
_EXTRA: Dict[str, Dict[str, Any]] = {
    "Independent": {"score_parts": _independent_score_parts},
    "Normal": {"rsample": _normal_rsample, "log_prob": _normal_log_prob},
    "GeneralizedPareto": {"log_prob": _gpd_log_prob,
                          "log_survival_function": _gpd_log_survival_function},
}

for _name in _NAMES:
    _torch_cls = getattr(_td, _name, None)
    if _torch_cls is not None:
        globals()[_name] = _wrap(_torch_cls, _EXTRA.get(_name))

__all__ = [n for n in _NAMES if n in globals()]
