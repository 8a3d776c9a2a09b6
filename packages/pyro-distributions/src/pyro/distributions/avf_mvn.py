"""``AVFMultivariateNormal``: a multivariate normal whose sample gradients carry a learnable
control variate (adaptive velocity fields)."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.autograd.function import once_differentiable

from pyro.distributions import constraints
from pyro.distributions.omt_mvn import check_unbatched_mvn, expand_unbatched
from pyro.distributions.torch import MultivariateNormal


def _flat_sum(x: torch.Tensor, keep: int) -> torch.Tensor:
    # Sum over every dim but the rightmost ``keep``.
    return x.reshape((-1,) + x.shape[x.dim() - keep:]).sum(0)


class _AVFSample(torch.autograd.Function):
    """``loc + scale_tril @ eps`` whose ``scale_tril`` gradient adds a zero-mean control variate.

    Rotating the white noise ``eps`` leaves its law unchanged, so for any antisymmetric ``A``
    the term ``(L^T g) . (A eps)`` has expectation zero. With ``xi = P - P^T``,
    ``P = sum_j (L^T g_j) eps_j^T``, the estimator is
    ``tril(sum_j g_j eps_j^T + xi * (B^T C))`` with ``(B, C) = control_var`` (each ``L x D``).
    The gradient returned for ``control_var`` is that of half the squared norm of this
    estimator, so that minimising it with any optimiser lowers the estimator's variance.
    """

    @staticmethod
    def forward(ctx: Any, loc: torch.Tensor, scale_tril: torch.Tensor, control_var: torch.Tensor,
                shape: torch.Size) -> torch.Tensor:
        white = torch.randn(shape, dtype=loc.dtype, device=loc.device)
        ctx.save_for_backward(scale_tril, control_var, white)
        return loc + white @ scale_tril.mT

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        L, control_var, white = ctx.saved_tensors
        dim = L.size(-1)
        grad_loc = _flat_sum(grad, 1)
        g = grad.reshape(-1, dim)
        eps = white.reshape(-1, dim)
        reparam = g.mT @ eps
        rotated = (g @ L).mT @ eps
        xi = rotated - rotated.mT
        B, C = control_var[0], control_var[1]
        grad_L = torch.tril(reparam + xi * (B.mT @ C))
        weighted = grad_L * xi
        grad_B = C @ weighted.mT
        grad_C = B @ weighted
        return grad_loc, grad_L, torch.stack([grad_B, grad_C]), None


class AVFMultivariateNormal(MultivariateNormal):
    """A multivariate normal ``Normal(loc, scale_tril @ scale_tril.T)`` whose :meth:`rsample`
    gradients for ``scale_tril`` include a control variate built from ``control_var``
    (adaptive velocity fields, after Jankowiak & Obermeyer, "Pathwise Derivatives Beyond the
    Reparameterization Trick", 2018). The estimator is unbiased for every ``control_var``;
    learning ``control_var`` alongside ``loc`` and ``scale_tril`` (its gradient is the variance
    surrogate described in the class body) lowers the variance.

    Args:
        loc: the mean, shape ``(D,)`` (no batch dims).
        scale_tril: the lower Cholesky factor of the covariance, shape ``(D, D)``.
        control_var: shape ``(2, L, D)`` for any ``L >= 1``.

    Raises:
        ValueError: ``loc`` is not 1-dimensional, ``scale_tril`` not 2-dimensional, or
            ``control_var`` not of shape ``(2, L, D)``.
    """

    arg_constraints = {"loc": constraints.real, "scale_tril": constraints.lower_triangular,
                       "control_var": constraints.real}

    def __init__(self, loc: torch.Tensor, scale_tril: torch.Tensor, control_var: torch.Tensor) -> None:
        check_unbatched_mvn("AVFMultivariateNormal", loc, scale_tril)
        if (not isinstance(control_var, torch.Tensor) or control_var.dim() != 3
                or control_var.size(0) != 2 or control_var.size(2) != loc.size(0)):
            raise ValueError(
                "control_var should be of size 2 x L x D, where D is the dimension of the location "
                f"parameter loc (got control_var: shape {tuple(getattr(control_var, 'shape', ()))}, "
                f"loc: shape {tuple(loc.shape)})")
        self.control_var = control_var
        super().__init__(loc, scale_tril=scale_tril)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Any:
        """This distribution broadcast to ``batch_shape`` (an :class:`ExpandedDistribution`
        whose draws keep the control variate; Pyro cannot expand it at all)."""
        return expand_unbatched(self, batch_shape)

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw ``loc + scale_tril @ eps``, shape ``sample_shape + (D,)``, with the control
        variate in the ``scale_tril`` gradient."""
        return _AVFSample.apply(self.loc, self._unbroadcasted_scale_tril, self.control_var,
                                torch.Size(sample_shape) + self.loc.shape)


__all__ = ["AVFMultivariateNormal"]
