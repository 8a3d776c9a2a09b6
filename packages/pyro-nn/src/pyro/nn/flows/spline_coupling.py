"""Spline coupling flows: the first ``split_dim`` variables go through a learnt element-wise
spline, and the others through splines whose parameters a network computes from the first
ones; both directions take one pass of the network.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.dense_nn import DenseNN
from pyro.nn.dense_nn import check_int
from pyro.nn.flows.spline import (
    ConditionalSpline,
    Spline,
    check_spline,
    spline_param_dims,
)
from pyro.nn.flows.util import PassCache, check_network, check_sizes


class SplineCoupling(TransformModule):
    """A coupling flow of monotonic rational splines (Durkan et al., 2019): with
    ``x = (x_a, x_b)`` split after ``split_dim`` variables,

    .. math:: y_a = h(x_a), \\quad y_b = g_{\\theta(x_a)}(x_b),

    where ``h`` is an element-wise :class:`~pyro.nn.flows.spline.Spline` (the identity when
    ``identity=True``) and the splines ``g`` take their parameters from ``hypernet(x_a)``. The
    inverse is as cheap as the forward pass: ``x_a = h^{-1}(y_a)``, then
    ``x_b = g_{\\theta(x_a)}^{-1}(y_b)``. The map is cached like the other flows.

    Args:
        input_dim: size of the vectors it maps.
        split_dim: number of variables in the first part.
        hypernet: a network from ``(..., split_dim)`` to the unnormalised widths, heights,
            derivatives and (linear order) lambdas of the second part, flat, e.g.
            ``DenseNN(split_dim, hidden_dims, param_dims=[m * K, m * K, m * (K - 1), m * K])``
            with ``m = input_dim - split_dim``.
        count_bins: number of bins ``K`` of each spline.
        bound: the splines cover ``[-bound, bound]`` and are the identity outside.
        order: ``"linear"`` or ``"quadratic"`` (then the hypernet gives three outputs).
        identity: leave the first part unchanged instead of passing it through a spline.

    Example::

        base = dist.Normal(torch.zeros(4), torch.ones(4))
        flow = spline_coupling(4, count_bins=8)
        flow_dist = dist.TransformedDistribution(base, [flow])
        flow_dist.log_prob(flow_dist.sample())
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    sign = +1

    def __init__(self, input_dim: int, split_dim: int, hypernet: Callable[..., Any],
                 count_bins: int = 8, bound: float = 3.0, order: str = "linear",
                 identity: bool = False) -> None:
        super().__init__(cache_size=1)
        check_spline(type(self).__name__, input_dim, count_bins, bound, order)
        _check_split_dim(input_dim, split_dim)
        check_network(type(self).__name__, "hypernet", hypernet)
        self.input_dim = input_dim
        self.split_dim = split_dim
        self.identity = identity
        self.lower_spline = Spline(split_dim, count_bins, bound, order)
        self.upper_spline = ConditionalSpline(hypernet, input_dim - split_dim, count_bins, bound,
                                              order)
        self._log_det = PassCache()

    def _split(self, v: torch.Tensor) -> tuple:
        if v.shape[-1:] != (self.input_dim,):
            raise ValueError(
                f"SplineCoupling: input of shape {tuple(v.shape)} must end in input_dim = "
                f"{self.input_dim}"
            )
        return v[..., :self.split_dim], v[..., self.split_dim:]

    def _lower(self, x_a: torch.Tensor) -> tuple:
        if self.identity:
            return x_a, torch.zeros_like(x_a)
        return self.lower_spline.spline_op(x_a)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        x_a, x_b = self._split(x)
        y_a, log_det_a = self._lower(x_a)
        y_b, log_det_b = self.upper_spline.condition(x_a).spline_op(x_b)
        self._log_det.save(x, log_det_a.sum(-1) + log_det_b.sum(-1))
        return torch.cat([y_a, y_b], dim=-1)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        y_a, y_b = self._split(y)
        if self.identity:
            x_a, log_det_a = y_a, torch.zeros_like(y_a)
        else:
            x_a, log_det_a = self.lower_spline.spline_op(y_a, inverse=True)
        x_b, log_det_b = self.upper_spline.condition(x_a).spline_op(y_b, inverse=True)
        x = torch.cat([x_a, x_b], dim=-1)
        self._log_det.save(x, log_det_a.sum(-1) + log_det_b.sum(-1))
        return x

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``log |det dy/dx|``, one value per vector (summed over the last dim)."""
        log_det = self._log_det.get(self, x, y)
        if log_det is None:
            x_a, x_b = self._split(x)
            log_det_b = self.upper_spline.condition(x_a).spline_op(x_b)[1]
            log_det = self._lower(x_a)[1].sum(-1) + log_det_b.sum(-1)
        return log_det


def _check_split_dim(input_dim: int, split_dim: int) -> None:
    """Refuse a split that leaves either part empty (Pyro builds a degenerate network)."""
    check_int("SplineCoupling", "split_dim", split_dim, minimum=None)
    if not 0 < split_dim < input_dim:
        raise ValueError(
            f"SplineCoupling: split_dim must be in 1..input_dim - 1 = {input_dim - 1}, got "
            f"{split_dim}"
        )


def spline_coupling(input_dim: int, split_dim: Optional[int] = None,
                    hidden_dims: Optional[Sequence[int]] = None, count_bins: int = 8,
                    bound: float = 3.0) -> SplineCoupling:
    """Build a (linear-order) :class:`SplineCoupling` flow with its ``DenseNN`` hypernet.

    Args:
        input_dim: size of the vectors it maps.
        split_dim: size of the first part (default ``input_dim // 2``).
        hidden_dims: the hypernet's hidden widths (default ``[10 * input_dim, 10 * input_dim]``).
        count_bins, bound: as for :class:`SplineCoupling`.
    """
    check_sizes("spline_coupling", input_dim, hidden_dims)
    check_spline("spline_coupling", input_dim, count_bins, bound, "linear")
    if split_dim is None:
        split_dim = input_dim // 2
    if hidden_dims is None:
        hidden_dims = [input_dim * 10, input_dim * 10]
    _check_split_dim(input_dim, split_dim)  # before the hypernet: no zero-width layers built
    upper = input_dim - split_dim
    net = DenseNN(split_dim, list(hidden_dims),
                  param_dims=[upper * n for n in spline_param_dims(count_bins, "linear")])
    return SplineCoupling(input_dim, split_dim, net, count_bins=count_bins, bound=bound)


__all__ = ["SplineCoupling", "spline_coupling"]
