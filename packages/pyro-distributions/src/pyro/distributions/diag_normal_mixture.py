"""``MixtureOfDiagNormals``: a finite mixture of diagonal-covariance normals."""

from __future__ import annotations

from typing import Any, Sequence

import math

import torch
from torch.distributions import constraints

from pyro.distributions.torch_distribution import TorchDistribution


class MixtureOfDiagNormals(TorchDistribution):
    """A mixture of ``K`` normals in ``D`` dims with diagonal covariances.

    Args:
        locs: component means, shape ``batch_shape + (K, D)``.
        coord_scale: component standard deviations, shape ``batch_shape + (K, D)``.
        component_logits: unnormalised log mixture weights, shape ``batch_shape + (K,)``.

    Unlike Pyro's, samples are not reparameterised (``has_rsample`` is False): gradient
    estimators then use the score function, which is unbiased for all three parameters.
    """

    arg_constraints = {"locs": constraints.real, "coord_scale": constraints.positive,
                       "component_logits": constraints.real}
    support = constraints.real_vector

    def __init__(self, locs: torch.Tensor, coord_scale: torch.Tensor,
                 component_logits: torch.Tensor, validate_args: Any = None) -> None:
        if locs.dim() < 2 or coord_scale.shape != locs.shape or component_logits.shape != locs.shape[:-1]:
            raise ValueError(
                f"MixtureOfDiagNormals: expected locs and coord_scale of shape batch + (K, D) and "
                f"component_logits of shape batch + (K,), got locs {tuple(locs.shape)}, "
                f"coord_scale {tuple(coord_scale.shape)}, component_logits "
                f"{tuple(component_logits.shape)}"
            )
        self.locs = locs
        self.coord_scale = coord_scale
        self.component_logits = component_logits
        super().__init__(locs.shape[:-2], locs.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "MixtureOfDiagNormals":
        batch_shape = torch.Size(batch_shape)
        k, d = self.locs.shape[-2:]
        return MixtureOfDiagNormals(self.locs.expand(batch_shape + (k, d)),
                                    self.coord_scale.expand(batch_shape + (k, d)),
                                    self.component_logits.expand(batch_shape + (k,)),
                                    validate_args=False)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        x = value.unsqueeze(-2)
        z = (x - self.locs) / self.coord_scale
        comp = (-0.5 * z ** 2 - self.coord_scale.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        weights = self.component_logits.log_softmax(-1)
        return (comp + weights).logsumexp(-1)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            idx = torch.distributions.Categorical(logits=self.component_logits).sample(sample_shape)
            d = self.locs.shape[-1]
            idx = idx[..., None, None].expand(idx.shape + (1, d))
            shape = torch.Size(sample_shape) + self.locs.shape
            loc = self.locs.expand(shape).gather(-2, idx).squeeze(-2)
            scale = self.coord_scale.expand(shape).gather(-2, idx).squeeze(-2)
            return loc + scale * torch.randn_like(loc)

    @property
    def mean(self) -> torch.Tensor:
        w = self.component_logits.softmax(-1).unsqueeze(-1)
        return (w * self.locs).sum(-2)

    @property
    def variance(self) -> torch.Tensor:
        w = self.component_logits.softmax(-1).unsqueeze(-1)
        second = (w * (self.coord_scale ** 2 + self.locs ** 2)).sum(-2)
        return second - self.mean ** 2


__all__ = ["MixtureOfDiagNormals"]
