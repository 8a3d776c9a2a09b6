"""Planar flows (Rezende & Mohamed, 2015): ``y = x + u' * tanh(w . x + b)``, a shift along one
direction ``u'`` by an amount that depends on ``x`` only through its projection on ``w``.

The Jacobian is a rank-one update of the identity, so its determinant costs ``O(input_dim)``.
There is no closed-form inverse: only the last value the flow produced can be inverted (from the
cache).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.flows.util import PassCache, no_analytic_inverse


class Planar(TransformModule):
    r"""A planar flow with its own learnable parameters ``u``, ``w`` (each of size
    ``input_dim``) and ``bias`` (size 1):

    .. math:: y = x + \hat{u} \tanh(w^\top x + b).

    ``u`` is not used as it is: it is replaced by

    .. math:: \hat{u} = u + \big(\text{softplus}(w^\top u) - 1 - w^\top u\big)
              \frac{w}{\lVert w \rVert^2},

    which makes ``w . u_hat = softplus(w . u) - 1 > -1``. The derivative of ``w . y`` with
    respect to ``w . x`` is then ``1 + (w . u_hat) tanh'(w . x + b) > 0`` (as
    ``0 < tanh' <= 1``), so the map is injective whatever the parameters.

    ``log_abs_det_jacobian(x, y)`` is ``log |1 + (w . u_hat) (1 - tanh(w . x + b)^2)|``, one
    value per vector. Caching is torch's ``cache_size=1``: ``flow.inv(y)`` of the ``y`` the flow
    just produced returns its input, and the log-determinant of that pair reuses the forward
    pass. No other value can be inverted: ``flow.inv`` raises ``KeyError`` for it.

    Args:
        input_dim: size of the vectors the flow maps.

    Example::

        base = dist.Normal(torch.zeros(2), torch.ones(2))
        flow = Planar(2)
        pyro.module("flow", flow)
        flow_dist = dist.TransformedDistribution(base, [flow])
        flow_dist.log_prob(flow_dist.rsample())
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, input_dim: int) -> None:
        super().__init__(cache_size=1)
        self.input_dim = input_dim
        self.bias = torch.nn.Parameter(torch.empty(1))
        self.u = torch.nn.Parameter(torch.empty(input_dim))
        self.w = torch.nn.Parameter(torch.empty(input_dim))
        # the derivative of tanh at w . x + b of the last forward pass, for the log-det
        self._tanh_grad = PassCache()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``u`` and ``w`` uniform on ``[-1/sqrt(input_dim), 1/sqrt(input_dim)]``, ``bias`` 0."""
        bound = 1.0 / math.sqrt(self.input_dim)
        with torch.no_grad():
            self.u.uniform_(-bound, bound)
            self.w.uniform_(-bound, bound)
            self.bias.zero_()

    def u_hat(self) -> torch.Tensor:
        """The reparameterised direction, with ``w . u_hat = softplus(w . u) - 1 > -1``."""
        wu = torch.dot(self.w, self.u)
        return self.u + (F.softplus(wu) - 1 - wu) * self.w / torch.dot(self.w, self.w)

    def _log_det(self, tanh_grad: torch.Tensor) -> torch.Tensor:
        slope = torch.dot(self.w, self.u_hat())
        return torch.log(torch.abs(1 + slope * tanh_grad))

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        act = torch.tanh(torch.matmul(x, self.w) + self.bias[0])
        self._tanh_grad.save(x, 1 - act.pow(2))
        return x + self.u_hat() * act.unsqueeze(-1)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise no_analytic_inverse(self)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``log |det dy/dx|``, one value per vector."""
        tanh_grad = self._tanh_grad.get(self, x, y)
        if tanh_grad is None:
            tanh_grad = 1 - torch.tanh(torch.matmul(x, self.w) + self.bias[0]).pow(2)
        return self._log_det(tanh_grad)


def planar(input_dim: int) -> Planar:
    """Build a :class:`Planar` flow on vectors of size ``input_dim``."""
    return Planar(input_dim)


__all__ = ["Planar", "planar"]
