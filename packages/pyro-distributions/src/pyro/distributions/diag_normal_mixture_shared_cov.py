"""``MixtureOfDiagNormalsSharedCovariance``: a mixture of normals sharing one diagonal covariance."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions._params import expanded_copy
from pyro.distributions.diag_normal_mixture import mixture_log_prob, mixture_rsample
from pyro.distributions.torch_distribution import TorchDistribution


class MixtureOfDiagNormalsSharedCovariance(TorchDistribution):
    """A mixture of ``K`` normals in ``D`` dims with different means and one shared diagonal
    covariance.

    Samples are reparameterised in all three parameters (pathwise gradients by implicit
    differentiation of the sequential conditional cdfs; see
    :func:`~pyro.distributions.diag_normal_mixture.mixture_rsample`). As in Pyro, there is no
    ``validate_args`` argument (the global setting applies) and no ``mean`` or ``variance``.

    Args:
        locs: component means, shape ``batch_shape + (K, D)``.
        coord_scale: the shared standard deviations, shape ``batch_shape + (D,)``.
        component_logits: unnormalised log mixture weights, shape ``batch_shape + (K,)``.

    Raises:
        ValueError: the three shapes do not fit together (the message names all three).
    """

    arg_constraints = {"locs": constraints.real, "coord_scale": constraints.positive,
                       "component_logits": constraints.real}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, locs: torch.Tensor, coord_scale: torch.Tensor,
                 component_logits: torch.Tensor) -> None:
        ok = locs.dim() >= 2
        if ok:
            batch, (k, d) = locs.shape[:-2], locs.shape[-2:]
            ok = coord_scale.shape == batch + (d,) and component_logits.shape == batch + (k,)
        if not ok:
            raise ValueError(
                f"MixtureOfDiagNormalsSharedCovariance: expected locs of shape batch + (K, D), "
                f"coord_scale of shape batch + (D,) and component_logits of shape batch + (K,), "
                f"got locs {tuple(locs.shape)}, coord_scale {tuple(coord_scale.shape)}, "
                f"component_logits {tuple(component_logits.shape)}")
        self.locs = locs
        self.coord_scale = coord_scale
        self.component_logits = component_logits
        super().__init__(locs.shape[:-2], locs.shape[-1:])

    def expand(self, batch_shape: Sequence[int],
               _instance: Any = None) -> "MixtureOfDiagNormalsSharedCovariance":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        return expanded_copy(self, MixtureOfDiagNormalsSharedCovariance, batch_shape, _instance,
                             ("locs", "coord_scale", "component_logits"), (2, 1, 1))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``log sum_k softmax(component_logits)[k] N(value; locs[k], diag(coord_scale ** 2))``."""
        if self._validate_args:
            self._validate_sample(value)
        return mixture_log_prob(value, self.locs, self.coord_scale.unsqueeze(-2),
                                self.component_logits)

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw a component by its weight, then a normal draw from it; differentiable in
        ``locs``, ``coord_scale`` and ``component_logits``."""
        return mixture_rsample(self.locs, self.coord_scale.unsqueeze(-2), self.component_logits,
                               torch.Size(sample_shape))


__all__ = ["MixtureOfDiagNormalsSharedCovariance"]
