"""``MixtureOfDiagNormals``: a finite mixture of diagonal-covariance normals."""

from __future__ import annotations

from typing import Any, Sequence

import math

import torch
from torch.distributions import constraints

from pyro.distributions.torch_distribution import TorchDistribution


_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_INV_SQRT2 = 1 / math.sqrt(2)


def _component_log_probs(x: torch.Tensor, locs: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    # Per coordinate log N(x_d; locs[k, d], scales[k, d]) for x of shape ... + (D,); the result
    # has shape ... + (K, D). ``scales`` broadcasts against ``locs``.
    z = (x.unsqueeze(-2) - locs) / scales
    return -0.5 * z ** 2 - scales.log() - _HALF_LOG_2PI


def mixture_log_prob(x: torch.Tensor, locs: torch.Tensor, scales: torch.Tensor,
                     logits: torch.Tensor) -> torch.Tensor:
    """``log sum_k softmax(logits)[k] prod_d N(x_d; locs[k, d], scales[k, d])``.

    Args:
        x: points of shape ``... + (D,)``.
        locs: component means, ``batch + (K, D)``.
        scales: component standard deviations, broadcastable to ``locs``.
        logits: unnormalised log weights, ``batch + (K,)``.
    """
    comp = _component_log_probs(x, locs, scales).sum(-1)
    return (comp + logits.log_softmax(-1)).logsumexp(-1)


def mixture_draw(locs: torch.Tensor, scales: torch.Tensor, logits: torch.Tensor,
                 sample_shape: torch.Size) -> torch.Tensor:
    """Draw (without gradients) from the mixture of :func:`mixture_log_prob`: a component
    index from the weights, then a normal draw from that component."""
    with torch.no_grad():
        idx = torch.distributions.Categorical(logits=logits).sample(sample_shape)
        d = locs.shape[-1]
        idx = idx[..., None, None].expand(idx.shape + (1, d))
        shape = torch.Size(sample_shape) + torch.broadcast_shapes(locs.shape, scales.shape)
        loc = locs.expand(shape).gather(-2, idx).squeeze(-2)
        scale = scales.expand(shape).gather(-2, idx).squeeze(-2)
        return loc + scale * torch.randn_like(loc)


def mixture_rsample(locs: torch.Tensor, scales: torch.Tensor, logits: torch.Tensor,
                    sample_shape: torch.Size) -> torch.Tensor:
    """A draw of :func:`mixture_draw` with pathwise gradients in all three parameters.

    The draw is read as ``x = G(u)``, the inverse of the sequential (Rosenblatt) transform
    ``u_d = F_d(x_d | x_1..x_{d-1})``, whose conditionals are mixtures of normal cdfs with the
    components' posterior weights given the earlier coordinates. Holding ``u`` fixed and
    differentiating ``F_d`` implicitly gives
    ``dx_d = -(dF_d / dparams + sum_{j<d} dF_d / dx_j dx_j) / p_d(x_d | x_<d)``, which autograd
    applies through the surrogate ``x_d - (F_d - stop(F_d)) / stop(p_d)`` (equal to ``x_d``).
    When no parameter needs a gradient the plain draw is returned.
    """
    x = mixture_draw(locs, scales, logits, sample_shape)
    if not (torch.is_grad_enabled() and any(p.requires_grad for p in (locs, scales, logits))):
        return x
    scales = scales.expand_as(locs)
    acc = logits.log_softmax(-1)
    coords = []
    tiny = torch.finfo(x.dtype).tiny
    for d in range(x.shape[-1]):
        weights = acc.log_softmax(-1).exp()
        loc_d, scale_d = locs[..., d], scales[..., d]
        z = (x[..., d:d + 1] - loc_d) / scale_d
        cdf = (weights * 0.5 * torch.erfc(-z * _INV_SQRT2)).sum(-1)
        dens = (weights * torch.exp(-0.5 * z ** 2 - _HALF_LOG_2PI) / scale_d).sum(-1)
        x_d = x[..., d] - (cdf - cdf.detach()) / dens.detach().clamp(min=tiny)
        coords.append(x_d)
        zd = (x_d.unsqueeze(-1) - loc_d) / scale_d
        acc = acc - 0.5 * zd ** 2 - scale_d.log()
    return torch.stack(coords, -1)


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
        return mixture_log_prob(value, self.locs, self.coord_scale, self.component_logits)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return mixture_draw(self.locs, self.coord_scale, self.component_logits, sample_shape)

    @property
    def mean(self) -> torch.Tensor:
        w = self.component_logits.softmax(-1).unsqueeze(-1)
        return (w * self.locs).sum(-2)

    @property
    def variance(self) -> torch.Tensor:
        w = self.component_logits.softmax(-1).unsqueeze(-1)
        second = (w * (self.coord_scale ** 2 + self.locs ** 2)).sum(-2)
        return second - self.mean ** 2


__all__ = ["MixtureOfDiagNormals", "mixture_draw", "mixture_log_prob", "mixture_rsample"]
