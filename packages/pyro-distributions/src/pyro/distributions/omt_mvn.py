"""``OMTMultivariateNormal``: a multivariate normal whose samples are differentiated along the
optimal-transport velocity field."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.autograd.function import once_differentiable

from pyro.distributions import constraints
from pyro.distributions.torch import MultivariateNormal
from pyro.distributions.torch_distribution import ExpandedDistribution


def check_unbatched_mvn(name: str, loc: Any, scale_tril: Any) -> None:
    """Refuse a ``loc`` that is not a vector or a ``scale_tril`` that is not one matrix (the
    custom-gradient normals have no batched parameters)."""
    if not isinstance(loc, torch.Tensor) or loc.dim() != 1:
        raise ValueError(f"{name} loc must be 1-dimensional (got shape {tuple(getattr(loc, 'shape', ()))})")
    if not isinstance(scale_tril, torch.Tensor) or scale_tril.dim() != 2:
        raise ValueError(
            f"{name} scale_tril must be 2-dimensional (got shape {tuple(getattr(scale_tril, 'shape', ()))})")


def expand_unbatched(d: Any, batch_shape: Sequence[int]) -> Any:
    """``d`` itself for its own batch shape, else an :class:`ExpandedDistribution` over it, so
    that batched draws still go through ``d``'s custom-gradient ``rsample``."""
    batch_shape = torch.Size(batch_shape)
    if batch_shape == d.batch_shape:
        return d
    return ExpandedDistribution(d, batch_shape)


def _flat_sum(x: torch.Tensor, keep: int) -> torch.Tensor:
    # Sum over every dim but the rightmost ``keep``.
    return x.reshape((-1,) + x.shape[x.dim() - keep:]).sum(0)


class _OMTSample(torch.autograd.Function):
    """``loc + scale_tril @ eps`` with the optimal-transport gradient for ``scale_tril``.

    A change ``dS`` of the covariance ``S = L L^T`` moves ``Normal(0, S)`` to ``Normal(0, S + dS)``
    most cheaply by the symmetric linear map ``z -> (I + A) z`` with ``A S + S A = dS``. Hence
    the gradient of ``sum_j g_j . z_j`` in ``L`` is ``2 W L`` where ``W`` solves the Lyapunov
    equation ``W S + S W = sym(sum_j z_j g_j^T)``, found in the eigenbasis of ``S``.
    """

    @staticmethod
    def forward(ctx: Any, loc: torch.Tensor, scale_tril: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        white = torch.randn(shape, dtype=loc.dtype, device=loc.device)
        centred = white @ scale_tril.mT
        ctx.save_for_backward(scale_tril, centred)
        return loc + centred

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        L, centred = ctx.saved_tensors
        dim = L.size(-1)
        grad_loc = _flat_sum(grad, 1)
        g = grad.reshape(-1, dim)
        z = centred.reshape(-1, dim)
        outer = z.mT @ g
        outer = 0.5 * (outer + outer.mT)
        eigvals, U = torch.linalg.eigh(L @ L.mT)
        W = U @ ((U.mT @ outer @ U) / (eigvals.unsqueeze(-1) + eigvals)) @ U.mT
        return grad_loc, torch.tril(2 * W @ L), None


class OMTMultivariateNormal(MultivariateNormal):
    """A multivariate normal ``Normal(loc, scale_tril @ scale_tril.T)`` whose :meth:`rsample`
    uses optimal-transport (OMT) gradients for ``scale_tril``: unbiased like the usual
    reparameterisation, usually with lower variance, at ``O(D^3)`` cost per backward pass.

    Args:
        loc: the mean, shape ``(D,)`` (no batch dims).
        scale_tril: the lower Cholesky factor of the covariance, shape ``(D, D)``.

    Raises:
        ValueError: ``loc`` is not 1-dimensional or ``scale_tril`` not 2-dimensional.
    """

    arg_constraints = {"loc": constraints.real, "scale_tril": constraints.lower_triangular}

    def __init__(self, loc: torch.Tensor, scale_tril: torch.Tensor) -> None:
        check_unbatched_mvn("OMTMultivariateNormal", loc, scale_tril)
        super().__init__(loc, scale_tril=scale_tril)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Any:
        """This distribution broadcast to ``batch_shape`` (an :class:`ExpandedDistribution`
        whose draws keep the OMT gradients; Pyro cannot expand it at all)."""
        return expand_unbatched(self, batch_shape)

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw ``loc + scale_tril @ eps``, shape ``sample_shape + (D,)``, with OMT gradients."""
        return _OMTSample.apply(self.loc, self._unbroadcasted_scale_tril,
                                torch.Size(sample_shape) + self.loc.shape)


__all__ = ["OMTMultivariateNormal"]
