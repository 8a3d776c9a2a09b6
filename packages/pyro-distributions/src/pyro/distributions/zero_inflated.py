"""Zero-inflated distributions: extra mass at zero mixed with a count distribution."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch.distributions import constraints
from torch.distributions.utils import lazy_property

from pyro.distributions.torch import NegativeBinomial, Poisson
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.util import broadcast_shape
from pyro.distributions.validation import check_distribution, check_tensor_args, inner_error


class ZeroInflatedDistribution(TorchDistribution):
    """``base_dist`` with extra probability ``gate`` of the value zero.

    Give exactly one of ``gate`` (a probability) and ``gate_logits`` (its logit).
    ``p(0) = gate + (1 - gate) * base(0)``, ``p(x) = (1 - gate) * base(x)`` otherwise.

    Args:
        base_dist: a univariate distribution whose support contains zero.
        gate: the probability of an extra zero.
        gate_logits: the logit of ``gate``.
    """

    arg_constraints = {"gate": constraints.unit_interval, "gate_logits": constraints.real}

    def __init__(self, base_dist: Any, *, gate: Optional[torch.Tensor] = None,
                 gate_logits: Optional[torch.Tensor] = None, validate_args: Any = None) -> None:
        name = type(self).__name__
        if (gate is None) == (gate_logits is None):
            raise ValueError(
                f"{name}: give exactly one of gate and gate_logits, got "
                f"{'neither' if gate is None else 'both'} (Either `gate` or `gate_logits` must "
                f"be specified, but not both.)")
        check_distribution(name, base_dist=base_dist)
        if gate is not None:
            check_tensor_args(name, gate=gate)
        else:
            check_tensor_args(name, gate_logits=gate_logits)
        if base_dist.event_shape:
            raise ValueError(
                f"{name}: base_dist must be univariate, got event_shape {tuple(base_dist.event_shape)}"
            )
        param = gate if gate is not None else gate_logits
        param = torch.as_tensor(param, dtype=torch.get_default_dtype()) if not isinstance(param, torch.Tensor) else param
        try:
            batch_shape = torch.Size(broadcast_shape(param.shape, base_dist.batch_shape))
        except ValueError:
            raise ValueError(
                f"{name}: {'gate' if gate is not None else 'gate_logits'} of shape "
                f"{tuple(param.shape)} does not broadcast with the batch shape "
                f"{tuple(base_dist.batch_shape)} of the base distribution"
            ) from None
        if gate is not None:
            self.gate = param.expand(batch_shape)
        else:
            self.gate_logits = param.expand(batch_shape)
        if base_dist.batch_shape != batch_shape:
            base_dist = base_dist.expand(batch_shape)
        self.base_dist = base_dist
        super().__init__(batch_shape, torch.Size(), validate_args=validate_args)

    @constraints.dependent_property
    def support(self) -> Any:
        return self.base_dist.support

    @lazy_property
    def gate(self) -> torch.Tensor:
        """The probability of an extra zero."""
        return torch.sigmoid(self.gate_logits)

    @lazy_property
    def gate_logits(self) -> torch.Tensor:
        """The logit of :attr:`gate`."""
        return torch.logit(self.gate)

    def _log_gates(self) -> tuple:
        if "gate_logits" in self.__dict__:
            logits = self.gate_logits
            return -F.softplus(-logits), -F.softplus(logits)
        gate = self.gate
        return gate.log(), (-gate).log1p()

    def _gate(self) -> torch.Tensor:
        return self.gate

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        log_gate, log1m_gate = self._log_gates()
        log_prob = log1m_gate + self.base_dist.log_prob(value)
        return torch.where(value == 0, torch.logaddexp(log_gate, log_prob), log_prob)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            zero = torch.bernoulli(self._gate().expand(shape)).bool()
            x = self.base_dist.sample(sample_shape)
            return torch.where(zero, x.new_zeros(()), x)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "ZeroInflatedDistribution":
        batch_shape = torch.Size(batch_shape)
        new = type(self).__new__(type(self))
        for key in ("gate", "gate_logits"):
            if key in self.__dict__:
                setattr(new, key, self.__dict__[key].expand(batch_shape))
        new.base_dist = self.base_dist.expand(batch_shape)
        TorchDistribution.__init__(new, batch_shape, torch.Size(), validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> torch.Tensor:
        return (1 - self._gate()) * self.base_dist.mean

    @property
    def variance(self) -> torch.Tensor:
        gate = self._gate()
        mean = self.base_dist.mean
        return (1 - gate) * (mean ** 2 + self.base_dist.variance) - ((1 - gate) * mean) ** 2


class ZeroInflatedPoisson(ZeroInflatedDistribution):
    """A Poisson distribution of ``rate`` with extra zeros (``gate`` or ``gate_logits``)."""

    arg_constraints = {"rate": constraints.positive, "gate": constraints.unit_interval,
                       "gate_logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, rate: Any, *, gate: Optional[torch.Tensor] = None,
                 gate_logits: Optional[torch.Tensor] = None, validate_args: Any = None) -> None:
        try:
            base = Poisson(rate, validate_args=validate_args)
        except ValueError as e:
            raise inner_error(e, type(self).__name__, "Poisson") from None
        super().__init__(base, gate=gate, gate_logits=gate_logits, validate_args=validate_args)

    @property
    def rate(self) -> torch.Tensor:
        return self.base_dist.rate


class ZeroInflatedNegativeBinomial(ZeroInflatedDistribution):
    """A negative binomial (``total_count``, ``probs`` or ``logits``) with extra zeros."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real, "gate": constraints.unit_interval,
                       "gate_logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count: Any, *, probs: Optional[torch.Tensor] = None,
                 logits: Optional[torch.Tensor] = None, gate: Optional[torch.Tensor] = None,
                 gate_logits: Optional[torch.Tensor] = None, validate_args: Any = None) -> None:
        try:
            base = NegativeBinomial(total_count=total_count, probs=probs, logits=logits,
                                    validate_args=validate_args)
        except ValueError as e:
            raise inner_error(e, type(self).__name__, "NegativeBinomial") from None
        super().__init__(base, gate=gate, gate_logits=gate_logits, validate_args=validate_args)

    @property
    def total_count(self) -> torch.Tensor:
        return self.base_dist.total_count

    @property
    def probs(self) -> torch.Tensor:
        return self.base_dist.probs

    @property
    def logits(self) -> torch.Tensor:
        return self.base_dist.logits


__all__ = ["ZeroInflatedDistribution", "ZeroInflatedNegativeBinomial", "ZeroInflatedPoisson"]
