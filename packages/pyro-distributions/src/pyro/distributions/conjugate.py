"""Compound distributions that integrate out a conjugate prior: GammaPoisson, BetaBinomial,
DirichletMultinomial."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.distributions import constraints
from torch.distributions.utils import broadcast_all

from pyro.distributions.torch import Beta, Binomial, Dirichlet, Gamma
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.validation import check_tensor_args, check_tensors
from pyro.ops.special import log_beta as _lbeta, log_binomial as _log_binom


class GammaPoisson(TorchDistribution):
    """A Poisson whose rate is Gamma(``concentration``, ``rate``) distributed, integrated out.

    This is a negative binomial with ``total_count = concentration`` and
    ``probs = 1 / (1 + rate)``.
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative_integer

    def __init__(self, concentration: Any, rate: Any, validate_args: Any = None) -> None:
        try:
            self.concentration, self.rate = broadcast_all(concentration, rate)
        except (RuntimeError, ValueError) as e:
            check_tensor_args("GammaPoisson", concentration=concentration, rate=rate)
            raise ValueError(f"GammaPoisson: concentration and rate shapes do not broadcast: {e}") from e
        super().__init__(self.concentration.shape, torch.Size(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "GammaPoisson":
        new = self._get_checked_instance(GammaPoisson, _instance)
        batch_shape = torch.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        TorchDistribution.__init__(new, batch_shape, torch.Size(), validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            rate = Gamma(self.concentration, self.rate, validate_args=False).sample(sample_shape)
            return torch.poisson(rate)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        c, r = self.concentration, self.rate
        return (torch.lgamma(c + value) - torch.lgamma(c) - torch.lgamma(value + 1)
                + c * torch.log(r) - (c + value) * torch.log1p(r))

    @property
    def mean(self) -> torch.Tensor:
        return self.concentration / self.rate

    @property
    def variance(self) -> torch.Tensor:
        return self.concentration / self.rate ** 2 * (1 + self.rate)


class BetaBinomial(TorchDistribution):
    """A Binomial of ``total_count`` trials whose probability is Beta(``concentration1``,
    ``concentration0``) distributed, integrated out."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive,
                       "total_count": constraints.nonnegative_integer}
    has_enumerate_support = True

    def __init__(self, concentration1: Any, concentration0: Any, total_count: Any = 1,
                 validate_args: Any = None) -> None:
        try:
            self.concentration1, self.concentration0, self.total_count = broadcast_all(
                concentration1, concentration0, total_count)
        except (RuntimeError, ValueError) as e:
            check_tensor_args(type(self).__name__, concentration1=concentration1,
                              concentration0=concentration0, total_count=total_count)
            raise ValueError(
                f"BetaBinomial: concentration1, concentration0 and total_count shapes do not "
                f"broadcast: {e}"
            ) from e
        self.total_count = self.total_count.to(self.concentration1.dtype)
        super().__init__(self.concentration1.shape, torch.Size(), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> Any:
        return constraints.integer_interval(0, self.total_count)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "BetaBinomial":
        new = self._get_checked_instance(BetaBinomial, _instance)
        batch_shape = torch.Size(batch_shape)
        new.concentration1 = self.concentration1.expand(batch_shape)
        new.concentration0 = self.concentration0.expand(batch_shape)
        new.total_count = self.total_count.expand(batch_shape)
        TorchDistribution.__init__(new, batch_shape, torch.Size(), validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            probs = Beta(self.concentration1, self.concentration0, validate_args=False).sample(sample_shape)
            return Binomial(self.total_count, probs, validate_args=False).sample()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        n, a, b = self.total_count, self.concentration1, self.concentration0
        return _log_binom(n, value) + _lbeta(value + a, n - value + b) - _lbeta(a, b)

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        n = self.total_count
        if n.numel() and not torch.all(n == n.reshape(-1)[0]):
            raise NotImplementedError("BetaBinomial.enumerate_support needs a single total_count")
        count = int(n.reshape(-1)[0]) if n.numel() else 0
        values = torch.arange(count + 1, dtype=n.dtype, device=n.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        if expand:
            values = values.expand((-1,) + self.batch_shape)
        return values

    @property
    def mean(self) -> torch.Tensor:
        a, b = self.concentration1, self.concentration0
        return self.total_count * a / (a + b)

    @property
    def variance(self) -> torch.Tensor:
        a, b, n = self.concentration1, self.concentration0, self.total_count
        s = a + b
        return n * a * b * (s + n) / (s ** 2 * (s + 1))


class DirichletMultinomial(TorchDistribution):
    """A Multinomial of ``total_count`` trials whose probabilities are Dirichlet(``concentration``)
    distributed, integrated out.

    Args:
        concentration: positive tensor of shape ``batch_shape + (K,)``.
        total_count: number of trials (number or tensor broadcastable with the batch shape).
        is_sparse: accepted for compatibility; the log-density is computed the same way.
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1),
                       "total_count": constraints.nonnegative_integer}

    def __init__(self, concentration: torch.Tensor, total_count: Any = 1, is_sparse: bool = False,
                 validate_args: Any = None) -> None:
        check_tensors("DirichletMultinomial", concentration=concentration)
        check_tensor_args("DirichletMultinomial", total_count=total_count)
        if concentration.dim() < 1:
            raise ValueError("DirichletMultinomial: concentration must have at least one dim, got a scalar")
        batch_shape = concentration.shape[:-1]
        total_count = torch.as_tensor(total_count, dtype=concentration.dtype, device=concentration.device)
        try:
            batch_shape = torch.broadcast_shapes(batch_shape, total_count.shape)
        except RuntimeError as e:
            raise ValueError(
                f"DirichletMultinomial: total_count of shape {tuple(total_count.shape)} does not "
                f"broadcast with concentration of shape {tuple(concentration.shape)}"
            ) from e
        self.concentration = concentration.expand(batch_shape + concentration.shape[-1:])
        self.total_count = total_count.expand(batch_shape)
        self.is_sparse = is_sparse
        super().__init__(batch_shape, concentration.shape[-1:], validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self) -> Any:
        return constraints.multinomial(int(self.total_count.max()) if self.total_count.numel() else 0)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "DirichletMultinomial":
        new = self._get_checked_instance(DirichletMultinomial, _instance)
        batch_shape = torch.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape + self.event_shape)
        new.total_count = self.total_count.expand(batch_shape)
        new.is_sparse = self.is_sparse
        TorchDistribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            probs = Dirichlet(self.concentration, validate_args=False).sample(sample_shape)
            # Draw the counts one category at a time as conditional binomials.
            remaining = self.total_count.expand(probs.shape[:-1]).clone()
            rest = torch.ones_like(remaining)
            counts = []
            k = probs.shape[-1]
            for i in range(k - 1):
                p = (probs[..., i] / rest).clamp(0, 1)
                c = torch.distributions.Binomial(remaining, p, validate_args=False).sample()
                counts.append(c)
                remaining = remaining - c
                rest = (rest - probs[..., i]).clamp(min=torch.finfo(probs.dtype).tiny)
            counts.append(remaining)
            return torch.stack(counts, -1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        alpha = self.concentration
        n = self.total_count
        a0 = alpha.sum(-1)
        return (torch.lgamma(a0) + torch.lgamma(n + 1) - torch.lgamma(n + a0)
                + (torch.lgamma(value + alpha) - torch.lgamma(alpha) - torch.lgamma(value + 1)).sum(-1))

    @property
    def mean(self) -> torch.Tensor:
        return self.concentration / self.concentration.sum(-1, keepdim=True) * self.total_count.unsqueeze(-1)

    @property
    def variance(self) -> torch.Tensor:
        a0 = self.concentration.sum(-1, keepdim=True)
        p = self.concentration / a0
        n = self.total_count.unsqueeze(-1)
        return n * p * (1 - p) * (n + a0) / (1 + a0)


__all__ = ["BetaBinomial", "DirichletMultinomial", "GammaPoisson"]
