"""``GaussianScaleMixture``: a mixture of zero-mean diagonal normals that differ only in scale,
with pathwise gradients for every parameter, the mixture weights included."""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch.autograd.function import once_differentiable

from pyro.distributions import constraints
from pyro.distributions.torch_distribution import TorchDistribution

_LOG_2PI = math.log(2 * math.pi)


def _flat_sum(x: torch.Tensor, keep: int) -> torch.Tensor:
    # Sum over every dim but the rightmost ``keep``.
    return x.reshape((-1,) + x.shape[x.dim() - keep:]).sum(0)


class _RadialMixtureSample(torch.autograd.Function):
    """Draw ``coord_scale * component_scale[k] * eps`` and differentiate it along the radial
    velocity field that transports the mixture when its weights or scales change.

    In whitened coordinates ``w = z / coord_scale`` the density is spherical, so the radius
    ``r = |w|`` has the cdf ``F(r) = sum_k p_k P(D/2, r^2 / (2 s_k^2))``. Keeping ``F(r)`` fixed
    while a parameter ``t`` moves gives ``dr/dt = -(dF/dt) / F'(r)``; moving each sample along
    its ray by that amount is an unbiased pathwise derivative even for the discrete weights.
    """

    @staticmethod
    def forward(ctx: Any, coord_scale: torch.Tensor, component_logits: torch.Tensor,
                component_scale: torch.Tensor, sample_shape: torch.Size) -> torch.Tensor:
        which = torch.distributions.Categorical(logits=component_logits).sample(sample_shape)
        white = torch.randn(sample_shape + coord_scale.shape, dtype=coord_scale.dtype,
                            device=coord_scale.device)
        whitened = white * component_scale[which].unsqueeze(-1)
        ctx.save_for_backward(coord_scale, component_logits, component_scale, whitened)
        return whitened * coord_scale

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        coord_scale, logits, scales, whitened = ctx.saved_tensors
        dim = coord_scale.size(-1)
        grad_coord = _flat_sum(grad * whitened, 1)
        w = whitened.reshape(-1, dim)
        g = grad.reshape(-1, dim) * coord_scale
        r = w.norm(dim=-1, keepdim=True)  # (N, 1)
        # The gradient's component along each sample's ray.
        along = (g * w).sum(-1, keepdim=True) / r
        log_weights = logits - logits.logsumexp(-1)
        # log of p_k * chi_D(r / s_k) / s_k, shape (N, K)
        ratio = r / scales
        log_chi = ((dim - 1) * ratio.log() - 0.5 * ratio.pow(2)
                   - (0.5 * dim - 1) * math.log(2) - math.lgamma(0.5 * dim))
        log_terms = log_weights + log_chi - scales.log()
        log_density = log_terms.logsumexp(-1, keepdim=True)
        resp = (log_terms - log_density).exp()
        grad_scales = (along * resp * ratio).sum(0)
        # dF/dlogit_j = p_j (P_j - sum_k p_k P_k); the upper tail Q = 1 - P is used where the
        # cdf is near one, where the difference of the P's would cancel.
        half_sq = 0.5 * ratio.pow(2)
        lower = torch.special.gammainc(torch.full_like(half_sq, 0.5 * dim), half_sq)
        upper = torch.special.gammaincc(torch.full_like(half_sq, 0.5 * dim), half_sq)
        probs = log_weights.exp()
        lower_dev = lower - (probs * lower).sum(-1, keepdim=True)
        upper_dev = (probs * upper).sum(-1, keepdim=True) - upper
        mean_lower = (probs * lower).sum(-1, keepdim=True)
        dev = torch.where(mean_lower < 0.5, lower_dev, upper_dev)
        dr_dlogits = -(log_weights - log_density).exp() * dev
        grad_logits = (along * dr_dlogits).sum(0)
        return grad_coord, grad_logits, grad_scales, None


class GaussianScaleMixture(TorchDistribution):
    """A mixture of ``K`` zero-mean ``D``-dimensional normals with diagonal covariances
    ``diag((component_scale[k] * coord_scale) ** 2)``, chosen with probabilities
    ``softmax(component_logits)``.

    :meth:`rsample` is reparameterised in all three parameters, the mixture logits included,
    by the radial transport construction of Jankowiak & Karaletsos, "Pathwise Derivatives for
    Multivariate Distributions" (arXiv:1806.01856). The parameters are not batched (use
    :meth:`expand` for a batch).

    Args:
        coord_scale: the ``D`` positive per-coordinate scales, shape ``(D,)``.
        component_logits: the ``K`` mixture logits, shape ``(K,)``.
        component_scale: the ``K`` positive per-component scale factors, shape ``(K,)``.
    """

    arg_constraints = {"component_scale": constraints.positive, "coord_scale": constraints.positive,
                       "component_logits": constraints.real}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, coord_scale: torch.Tensor, component_logits: torch.Tensor,
                 component_scale: torch.Tensor) -> None:
        shapes = (f"coord_scale: shape {tuple(coord_scale.shape)}, component_logits: shape "
                  f"{tuple(component_logits.shape)}, component_scale: shape "
                  f"{tuple(component_scale.shape)}")
        if coord_scale.dim() != 1:
            raise ValueError("The coord_scale parameter in GaussianScaleMixture should be D "
                             f"dimensional ({shapes})")
        if component_logits.dim() != 1:
            raise ValueError("The component_logits and component_scale parameters in "
                             f"GaussianScaleMixture should be K dimensional ({shapes})")
        if component_scale.shape != component_logits.shape:
            raise ValueError("The component_scale parameter in GaussianScaleMixture should be K "
                             f"dimensional ({shapes})")
        self.dim = coord_scale.size(0)
        self.coord_scale = coord_scale
        self.component_logits = component_logits
        self.component_scale = component_scale
        super().__init__(torch.Size(), torch.Size((self.dim,)))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``log sum_k p_k Normal(value; 0, component_scale[k] * coord_scale)``, summed over the
        ``D`` coordinates; shape ``value.shape[:-1]``."""
        if self._validate_args:
            self._validate_sample(value)
        scales = self.component_scale
        whitened_sq = (value / self.coord_scale).pow(2).sum(-1, keepdim=True)
        log_weights = self.component_logits - self.component_logits.logsumexp(-1)
        log_terms = (log_weights - self.dim * scales.log() - 0.5 * whitened_sq / scales.pow(2))
        return (log_terms.logsumexp(-1) - self.coord_scale.log().sum(-1)
                - 0.5 * self.dim * _LOG_2PI)

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw a component, then a normal sample with its scales; shape
        ``sample_shape + (D,)``, differentiable in every parameter."""
        return _RadialMixtureSample.apply(self.coord_scale, self.component_logits,
                                          self.component_scale, torch.Size(sample_shape))

    @property
    def mean(self) -> torch.Tensor:
        """Zero, shape ``(D,)``."""
        return torch.zeros_like(self.coord_scale)

    @property
    def variance(self) -> torch.Tensor:
        """``coord_scale ** 2 * sum_k p_k component_scale[k] ** 2``."""
        probs = self.component_logits.softmax(-1)
        return self.coord_scale.pow(2) * (probs * self.component_scale.pow(2)).sum(-1)


__all__ = ["GaussianScaleMixture"]
