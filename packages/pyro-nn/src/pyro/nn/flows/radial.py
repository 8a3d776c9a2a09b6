"""Radial flows (Rezende & Mohamed, 2015): ``y = x + beta * (x - x0) / (alpha + |x - x0|)``, a
contraction or expansion of space around a reference point ``x0``.

The Jacobian's determinant has a closed form in ``|x - x0|``. There is no closed-form inverse:
only the last value the flow produced can be inverted (from the cache).
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
from torch.nn import functional as F

from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.flows.util import PassCache, no_analytic_inverse


class Radial(TransformModule):
    r"""A radial flow with its own learnable parameters ``x0`` (size ``input_dim``),
    ``alpha_prime`` and ``beta_prime`` (size 1 each). With ``r = |x - x0|``:

    .. math:: y = x + \beta \, h(r) \, (x - x0), \qquad h(r) = \frac{1}{\alpha + r},

    where ``alpha = softplus(alpha_prime) > 0`` and ``beta = -alpha + softplus(beta_prime)``,
    so that ``beta > -alpha``. The radius then maps as ``r -> r (1 + beta h(r))``, whose
    derivative ``1 + alpha beta h(r)^2`` is positive, so the map is injective whatever the
    parameters.

    ``log_abs_det_jacobian(x, y)`` is
    ``(input_dim - 1) log(1 + beta h) + log(1 + beta h - beta h^2 r)``, one value per vector.
    Caching is torch's ``cache_size=1``: ``flow.inv(y)`` of the ``y`` the flow just produced
    returns its input, and the log-determinant of that pair reuses the forward pass. No other
    value can be inverted: ``flow.inv`` raises ``KeyError`` for it.

    Args:
        input_dim: size of the vectors the flow maps.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, input_dim: int) -> None:
        super().__init__(cache_size=1)
        self.input_dim = input_dim
        self.x0 = torch.nn.Parameter(torch.empty(input_dim))
        self.alpha_prime = torch.nn.Parameter(torch.empty(1))
        self.beta_prime = torch.nn.Parameter(torch.empty(1))
        # r = |x - x0| of the last forward pass, for the log-det
        self._radius = PassCache()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """All parameters uniform on ``[-1/sqrt(input_dim), 1/sqrt(input_dim)]``."""
        bound = 1.0 / math.sqrt(self.input_dim)
        with torch.no_grad():
            for p in (self.x0, self.alpha_prime, self.beta_prime):
                p.uniform_(-bound, bound)

    def alpha_beta(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(alpha, beta)`` (0-dim tensors) with ``alpha > 0`` and ``beta > -alpha``."""
        alpha = F.softplus(self.alpha_prime[0])
        return alpha, F.softplus(self.beta_prime[0]) - alpha

    def _log_det(self, r: torch.Tensor) -> torch.Tensor:
        alpha, beta = self.alpha_beta()
        beta_h = beta / (alpha + r)
        # 1 + beta h - beta h^2 r = 1 + alpha beta h^2
        return ((self.input_dim - 1) * torch.log1p(beta_h)
                + torch.log1p(alpha * beta_h / (alpha + r)))

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        diff = x - self.x0
        r = diff.norm(dim=-1)
        self._radius.save(x, r)
        alpha, beta = self.alpha_beta()
        return x + (beta / (alpha + r)).unsqueeze(-1) * diff

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise no_analytic_inverse(self)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``log |det dy/dx|``, one value per vector."""
        r = self._radius.get(self, x, y)
        if r is None:
            r = (x - self.x0).norm(dim=-1)
        return self._log_det(r)


def radial(input_dim: int) -> Radial:
    """Build a :class:`Radial` flow on vectors of size ``input_dim``."""
    return Radial(input_dim)


__all__ = ["Radial", "radial"]
