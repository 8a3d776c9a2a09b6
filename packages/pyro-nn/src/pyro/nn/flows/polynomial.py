"""Sum-of-squares polynomial flows (Jaini et al., 2019): each variable is mapped by the integral
of a sum of squared polynomials, whose coefficients an autoregressive network computes from the
variables before it, so the map is increasing in that variable.

For variable ``i`` with coefficients ``a[s, r]`` (``count_sum`` polynomials of degree
``count_degree``),

    y_i = c_i + int_0^{x_i} sum_s (sum_r a[s, r] u^r)^2 du
        = c_i + sum_s sum_{r, t} a[s, r] a[s, t] x_i^(r + t + 1) / (r + t + 1).

There is no analytic inverse.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import torch

from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.auto_reg_nn import AutoRegressiveNN
from pyro.nn.dense_nn import check_int
from pyro.nn.flows.util import OnePassNoInverse, PassCache, check_network, check_sizes


class Polynomial(OnePassNoInverse, TransformModule):
    r"""A sum-of-squares polynomial flow,

    .. math:: y_i = c_i + \int_0^{x_i} \sum_{k=1}^{K}
              \Big(\sum_{r=0}^{R} a_{ikr}(x_{<i})\, u^r\Big)^2 du,

    with ``R = count_degree``, ``K = count_sum``, the coefficients from ``autoregressive_nn``
    (one output of size ``(count_degree + 1) * count_sum`` per variable, read as ``count_sum``
    groups of ``count_degree + 1`` coefficients) and a learned offset ``c`` of shape
    ``(input_dim,)``. The log-det is the sum of the logs of the integrands at ``x``, kept for the
    pair in torch's cache (``cache_size=1``). There is no analytic inverse: ``inv`` of the value
    the flow last produced returns its input, any other value raises ``KeyError``.

    Args:
        autoregressive_nn: a network mapping ``(..., input_dim)`` to ``(..., (count_degree + 1) *
            count_sum, input_dim)``, e.g. ``AutoRegressiveNN(input_dim, [10 * input_dim],
            param_dims=[(count_degree + 1) * count_sum])``.
        input_dim: size of the vectors the flow maps.
        count_degree: the degree of each squared polynomial.
        count_sum: how many squared polynomials are summed.

    Example::

        arn = AutoRegressiveNN(5, [50], param_dims=[(4 + 1) * 3])
        flow = Polynomial(arn, input_dim=5, count_degree=4, count_sum=3)
        flow_dist = dist.TransformedDistribution(dist.Normal(torch.zeros(5), 1.0).to_event(1),
                                                 [flow])
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    autoregressive = True

    def __init__(self, autoregressive_nn: Any, input_dim: int, count_degree: int,
                 count_sum: int) -> None:
        super().__init__(cache_size=1)
        check_network("Polynomial", "autoregressive_nn", autoregressive_nn)
        check_int("Polynomial", "input_dim", input_dim)
        check_int("Polynomial", "count_degree", count_degree, minimum=None)
        check_int("Polynomial", "count_sum", count_sum, minimum=None)
        if count_degree < 0 or count_sum < 1:
            raise ValueError(
                f"Polynomial: count_degree must be >= 0 and count_sum >= 1, got "
                f"count_degree={count_degree}, count_sum={count_sum}"
            )
        self.arn = autoregressive_nn
        self.input_dim = input_dim
        self.count_degree = count_degree
        self.count_sum = count_sum
        powers = torch.arange(1.0, count_degree + 2)
        power_mask = powers.unsqueeze(-1) + powers.unsqueeze(0) - 1  # r + t + 1
        self.register_buffer("powers", powers)
        self.register_buffer("power_mask", power_mask)
        # 1 / (r + t + 1), kept under Pyro's buffer name; the forward pass divides by the exact
        # integers instead, so a flow built in float32 and cast to float64 loses no precision
        self.register_buffer("mask", power_mask.reciprocal())
        self.c = torch.nn.Parameter(torch.empty(input_dim))
        self.reset_parameters()
        # (x, log-det at x) of the last forward pass
        self._log_det = PassCache()

    def reset_parameters(self) -> None:
        """Draw ``c`` uniformly from ``[-1/sqrt(input_dim), 1/sqrt(input_dim)]``."""
        bound = 1.0 / math.sqrt(self.input_dim)
        with torch.no_grad():
            self.c.uniform_(-bound, bound)

    def _coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., input_dim, count_sum, count_degree + 1)`` coefficients from the network."""
        out = self.arn(x)
        n = (self.count_degree + 1) * self.count_sum
        if not isinstance(out, torch.Tensor) or out.shape[-2:] != (n, self.input_dim):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"Polynomial: the autoregressive network returned {shape}; expected a tensor of "
                f"shape (..., (count_degree + 1) * count_sum = {n}, input_dim={self.input_dim})"
            )
        a = out.reshape(out.shape[:-2] + (self.count_sum, self.count_degree + 1, self.input_dim))
        return a.movedim(-1, -3)

    def _forward_and_log_det(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] != self.input_dim:
            raise ValueError(
                f"Polynomial: input of shape {tuple(x.shape)}, expected its last dim to be "
                f"input_dim={self.input_dim}"
            )
        a = self._coefficients(x)  # (..., d, S, R + 1)
        xe = x.unsqueeze(-1)
        # integral of (a_s . u^r)^2 from 0 to x: a_s^T [x^(r+t+1) / (r+t+1)] a_s
        integral = xe.unsqueeze(-1).pow(self.power_mask) / self.power_mask  # (..., d, R+1, R+1)
        y = self.c + torch.einsum("...sr,...rt,...st->...", a, integral, a)
        # the integrand at x: sum_s (sum_r a_sr x^r)^2
        x_pow = xe.pow(self.powers - 1)  # (..., d, R + 1)
        poly = (a * x_pow.unsqueeze(-2)).sum(-1)  # (..., d, S)
        log_det = torch.log(poly.pow(2).sum(-1)).sum(-1)
        return y, log_det


def polynomial(input_dim: int, hidden_dims: Optional[Sequence[int]] = None) -> Polynomial:
    """Build a :class:`Polynomial` flow (``count_degree=4``, ``count_sum=3``) with its
    autoregressive network.

    Args:
        input_dim: size of the vectors the flow maps.
        hidden_dims: the network's hidden widths (default ``[input_dim * 10]``).
    """
    check_sizes("polynomial", input_dim, hidden_dims)
    count_degree, count_sum = 4, 3
    hidden = [input_dim * 10] if hidden_dims is None else list(hidden_dims)
    arn = AutoRegressiveNN(input_dim, hidden, param_dims=[(count_degree + 1) * count_sum])
    return Polynomial(arn, input_dim=input_dim, count_degree=count_degree, count_sum=count_sum)


__all__ = ["Polynomial", "polynomial"]
