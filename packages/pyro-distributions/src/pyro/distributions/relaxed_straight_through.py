"""Straight-through relaxed distributions: discrete samples with the relaxation's gradients.

``rsample`` draws a relaxed (continuous) sample, rounds it to a discrete value on the forward
pass and passes gradients through the rounding unchanged. The relaxed value rides along on the
returned tensor, so that ``log_prob`` of that tensor is the relaxed density at it.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from pyro.distributions.torch import RelaxedBernoulli, RelaxedOneHotCategorical


class _RoundStraightThrough(torch.autograd.Function):
    """``round(x)`` forward, the identity backward."""

    @staticmethod
    def forward(ctx: Any, soft: torch.Tensor) -> torch.Tensor:
        return soft.round()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


class _OneHotStraightThrough(torch.autograd.Function):
    """The one-hot vector of ``argmax(x)`` forward, the identity backward."""

    @staticmethod
    def forward(ctx: Any, soft: torch.Tensor) -> torch.Tensor:
        hard = torch.zeros_like(soft)
        return hard.scatter_(-1, soft.argmax(-1, keepdim=True), 1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


def _relaxed_value(value: torch.Tensor) -> torch.Tensor:
    return getattr(value, "_unquantize", value)


class RelaxedBernoulliStraightThrough(RelaxedBernoulli):
    """A :class:`~pyro.distributions.RelaxedBernoulli` whose ``rsample`` is 0 or 1.

    Same arguments (``temperature``, ``probs`` or ``logits``). ``rsample`` rounds a relaxed
    sample and differentiates as if it had not been rounded (a biased, low-variance gradient
    estimator); ``log_prob`` of such a sample is the relaxed density at the unrounded value.
    ``sample`` returns the relaxed sample, as in Pyro.
    """

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw a 0/1 sample carrying the relaxed sample's gradients."""
        soft = super().rsample(sample_shape)
        hard = _RoundStraightThrough.apply(soft)
        hard._unquantize = soft
        return hard

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The relaxed log-density at ``value`` (at its unrounded value for an ``rsample``)."""
        return super().log_prob(_relaxed_value(value))


class RelaxedOneHotCategoricalStraightThrough(RelaxedOneHotCategorical):
    """A :class:`~pyro.distributions.RelaxedOneHotCategorical` whose ``rsample`` is one-hot.

    Same arguments (``temperature``, ``probs`` or ``logits``). ``rsample`` takes the one-hot
    vector of a relaxed sample's largest entry and differentiates as if it were the relaxed
    sample; ``log_prob`` of such a sample is the relaxed density at the relaxed value.
    ``sample`` returns the relaxed sample, as in Pyro.
    """

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw a one-hot sample carrying the relaxed sample's gradients."""
        soft = super().rsample(sample_shape)
        hard = _OneHotStraightThrough.apply(soft)
        hard._unquantize = soft
        return hard

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The relaxed log-density at ``value`` (at its relaxed value for an ``rsample``)."""
        return super().log_prob(_relaxed_value(value))


__all__ = ["RelaxedBernoulliStraightThrough", "RelaxedOneHotCategoricalStraightThrough"]
