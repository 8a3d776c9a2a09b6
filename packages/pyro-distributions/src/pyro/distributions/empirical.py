"""``Empirical``: a weighted set of samples as a distribution."""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions import constraints

from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.validation import check_tensors


class Empirical(TorchDistribution):
    """The discrete distribution that puts weight ``exp(log_weights)`` on each of ``samples``.

    Args:
        samples: a tensor of shape ``batch_shape + (num_samples,) + event_shape``.
        log_weights: unnormalised log-weights of shape ``batch_shape + (num_samples,)``.

    Samples are drawn (with replacement) in proportion to the weights; ``log_prob(x)`` is the
    log of the total normalised weight of the samples equal to ``x``.
    """

    arg_constraints: dict = {}
    support = constraints.real
    has_enumerate_support = True

    def __init__(self, samples: torch.Tensor, log_weights: torch.Tensor,
                 validate_args: Any = None) -> None:
        check_tensors("Empirical", samples=samples, log_weights=log_weights)
        if log_weights.dim() < 1:
            raise ValueError(
                f"Empirical: log_weights must have at least one dim (one weight per sample), "
                f"got shape {tuple(log_weights.shape)} (samples: shape {tuple(samples.shape)})")
        self._samples = samples
        self._log_weights = log_weights
        agg = log_weights.dim() - 1
        if samples.shape[: agg + 1] != log_weights.shape:
            raise ValueError(
                f"Empirical: samples of shape {tuple(samples.shape)} and log_weights of shape "
                f"{tuple(log_weights.shape)}: the leading dims of samples must equal "
                f"log_weights' shape"
            )
        self._aggregation_dim = agg
        self._categorical = torch.distributions.Categorical(logits=log_weights, validate_args=False)
        super().__init__(log_weights.shape[:-1], samples.shape[agg + 1:], validate_args=validate_args)

    @property
    def sample_size(self) -> int:
        """The number of samples."""
        return self._log_weights.shape[-1]

    @property
    def log_weights(self) -> torch.Tensor:
        """The unnormalised log-weights."""
        return self._log_weights

    def _normalized_log_weights(self) -> torch.Tensor:
        return self._log_weights - self._log_weights.logsumexp(-1, keepdim=True)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        idx = self._categorical.sample(sample_shape)  # sample_shape + batch_shape
        samples = self._samples.expand(torch.Size(sample_shape) + self._samples.shape)
        event_dim = len(self.event_shape)
        idx = idx.reshape(idx.shape + (1,) * (1 + event_dim))
        idx = idx.expand(idx.shape[:-1 - event_dim] + (1,) + self.event_shape)
        return samples.gather(len(idx.shape) - 1 - event_dim, idx).squeeze(len(idx.shape) - 1 - event_dim)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        event_dim = len(self.event_shape)
        if self._validate_args:
            self._check_value_shape(value)
        x = value.unsqueeze(value.dim() - event_dim)
        hit = x == self._samples
        if event_dim:
            hit = hit.reshape(hit.shape[: hit.dim() - event_dim] + (-1,)).all(-1)
        logw = self._normalized_log_weights()
        return torch.where(hit, logw, logw.new_tensor(float("-inf"))).logsumexp(-1)

    def _check_value_shape(self, value: torch.Tensor) -> None:
        shape = value.shape
        expected = self.batch_shape + self.event_shape
        tail = shape[len(shape) - len(self.event_shape):] if self.event_shape else torch.Size()
        if len(shape) < len(self.event_shape) or tail != self.event_shape or any(
                i != 1 and j != 1 and i != j for i, j in zip(reversed(shape), reversed(expected))):
            raise ValueError(
                f"Empirical.log_prob: ``value.shape`` must be {expected} (or broadcast with it, "
                f"ending in the event_shape {tuple(self.event_shape)}), got {tuple(shape)}")

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        return self._samples.movedim(self._aggregation_dim, 0)

    @property
    def mean(self) -> torch.Tensor:
        w = self._normalized_log_weights().exp()
        w = w.reshape(w.shape + (1,) * len(self.event_shape))
        return (w * self._samples).sum(self._aggregation_dim)

    @property
    def variance(self) -> torch.Tensor:
        w = self._normalized_log_weights().exp()
        w = w.reshape(w.shape + (1,) * len(self.event_shape))
        mean = (w * self._samples).sum(self._aggregation_dim, keepdim=True)
        return (w * (self._samples - mean) ** 2).sum(self._aggregation_dim)


__all__ = ["Empirical"]
