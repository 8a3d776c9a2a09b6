"""Spline autoregressive flows: each variable goes through its own monotonic rational spline,
whose knots, derivatives and split points an autoregressive network computes from the variables
before it, so the Jacobian is triangular in the network's order.

Sampling (the forward direction) takes one pass of the network; inverting a value the flow did
not produce takes ``input_dim`` passes and is exact.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.auto_reg_nn import AutoRegressiveNN, ConditionalAutoRegressiveNN
from pyro.nn.flows.spline import (
    check_spline,
    ConditionalSpline,
    ConditionedSpline,
    spline_param_dims,
)
from pyro.nn.flows.util import PassCache, check_context, check_kwargs, check_network, check_sizes


class SplineAutoregressive(TransformModule):
    """An autoregressive flow of element-wise splines (Durkan et al., 2019; Dolatabadi et al.,
    2020): ``y_i = g_i(x_i)`` where the spline ``g_i``'s parameters are functions of
    ``x_{<i}`` in the network's order.

    The log-determinant is the sum of the splines' log-derivatives. The map is cached: inverting
    the last value it produced returns its input at no cost, and ``log_abs_det_jacobian`` of that
    pair reuses the forward pass. Any other value is inverted exactly with ``input_dim`` passes.

    Args:
        input_dim: size of the vectors it maps.
        autoregressive_nn: a network from ``(..., input_dim)`` to the unnormalised widths,
            heights, derivatives and (linear order) lambdas, each ``(..., n, input_dim)``, e.g.
            ``AutoRegressiveNN(input_dim, hidden_dims, param_dims=[K, K, K - 1, K])``.
        count_bins: number of bins ``K`` of each spline.
        bound: the splines cover ``[-bound, bound]`` and are the identity outside.
        order: ``"linear"`` or ``"quadratic"`` (then ``param_dims=[K, K, K - 1]``).

    Example::

        base = dist.Normal(torch.zeros(10), torch.ones(10))
        arn = AutoRegressiveNN(10, [40], param_dims=[8, 8, 7, 8])
        flow = SplineAutoregressive(10, arn, count_bins=8)
        flow_dist = dist.TransformedDistribution(base, [flow])
        flow_dist.log_prob(flow_dist.sample())
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    sign = +1
    autoregressive = True

    def __init__(self, input_dim: int, autoregressive_nn: Callable[..., Any], count_bins: int = 8,
                 bound: float = 3.0, order: str = "linear") -> None:
        super().__init__(cache_size=1)
        check_network(type(self).__name__, "autoregressive_nn", autoregressive_nn)
        check_spline(type(self).__name__, input_dim, count_bins, bound, order)
        self.arn = autoregressive_nn
        # the spline whose context is the flow's own input
        self.spline = ConditionalSpline(autoregressive_nn, input_dim, count_bins, bound, order)
        self._log_det = PassCache()

    def _spline(self, x: torch.Tensor) -> ConditionedSpline:
        spline = self.spline
        if x.shape[-1:] != (spline.input_dim,):
            raise ValueError(
                f"{type(self).__name__}: input of shape {tuple(x.shape)} must end in input_dim = "
                f"{spline.input_dim}"
            )
        return spline.condition(x)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        y, log_det = self._spline(x).spline_op(x)
        self._log_det.save(x, log_det)
        return y

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        # The k-th variable's spline depends only on the variables before it in the order, so
        # after k passes the first k variables are exact: input_dim passes are exact.
        x = torch.zeros_like(y)
        log_det = x
        for _ in range(y.shape[-1]):
            x, log_det = self._spline(x).spline_op(y, inverse=True)
        self._log_det.save(x, log_det)
        return x

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``log |det dy/dx|``, one value per vector (summed over the last dim)."""
        log_det = self._log_det.get(self, x, y)
        if log_det is None:
            log_det = self._spline(x).spline_op(x)[1]
        return log_det.sum(-1)


class ConditionalSplineAutoregressive(ConditionalTransformModule):
    """A :class:`SplineAutoregressive` flow whose network also sees a context.

    ``condition(context)`` returns the :class:`SplineAutoregressive` flow whose network is
    ``autoregressive_nn(x, context=context)``.

    Args:
        input_dim: size of the vectors it maps.
        autoregressive_nn: a network called as ``nn(x, context=context)``, e.g. a
            ``ConditionalAutoRegressiveNN`` with ``param_dims=[K, K, K - 1, K]``.
        **kwargs: ``count_bins``, ``bound`` and ``order``, passed on to the conditioned flow.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, input_dim: int, autoregressive_nn: Callable[..., Any],
                 **kwargs: Any) -> None:
        super().__init__()
        check_kwargs("ConditionalSplineAutoregressive", kwargs, ["count_bins", "bound", "order"])
        check_network(type(self).__name__, "autoregressive_nn", autoregressive_nn)
        check_spline(type(self).__name__, input_dim, kwargs.get("count_bins", 8),
                     kwargs.get("bound", 3.0), kwargs.get("order", "linear"))
        self.input_dim = input_dim
        self.nn = autoregressive_nn
        self.kwargs = kwargs

    def condition(self, context: torch.Tensor) -> SplineAutoregressive:
        """The flow for ``context``."""
        check_context(type(self).__name__, self.nn, context)
        return SplineAutoregressive(self.input_dim, functools.partial(self.nn, context=context),
                                    **self.kwargs)


def _hidden(input_dim: int, hidden_dims: Optional[Sequence[int]]) -> list:
    return [input_dim * 10, input_dim * 10] if hidden_dims is None else list(hidden_dims)


def spline_autoregressive(input_dim: int, hidden_dims: Optional[Sequence[int]] = None,
                          count_bins: int = 8, bound: float = 3.0,
                          order: str = "linear") -> SplineAutoregressive:
    """Build a :class:`SplineAutoregressive` flow with its ``AutoRegressiveNN``.

    Args:
        input_dim: size of the vectors it maps.
        hidden_dims: the network's hidden widths (default ``[10 * input_dim, 10 * input_dim]``).
        count_bins, bound, order: as for :class:`SplineAutoregressive`.
    """
    check_sizes("spline_autoregressive", input_dim, hidden_dims)
    check_spline("spline_autoregressive", input_dim, count_bins, bound, order)
    arn = AutoRegressiveNN(input_dim, _hidden(input_dim, hidden_dims),
                           param_dims=spline_param_dims(count_bins, order))
    return SplineAutoregressive(input_dim, arn, count_bins=count_bins, bound=bound, order=order)


def conditional_spline_autoregressive(input_dim: int, context_dim: int,
                                      hidden_dims: Optional[Sequence[int]] = None,
                                      count_bins: int = 8, bound: float = 3.0,
                                      order: str = "linear") -> ConditionalSplineAutoregressive:
    """Build a :class:`ConditionalSplineAutoregressive` flow with its
    ``ConditionalAutoRegressiveNN``.

    Args:
        input_dim: size of the vectors it maps.
        context_dim: size of the context.
        hidden_dims: the network's hidden widths (default ``[10 * input_dim, 10 * input_dim]``).
        count_bins, bound, order: as for :class:`SplineAutoregressive`.
    """
    check_sizes("conditional_spline_autoregressive", input_dim, hidden_dims, context_dim)
    check_spline("conditional_spline_autoregressive", input_dim, count_bins, bound, order)
    arn = ConditionalAutoRegressiveNN(input_dim, context_dim, _hidden(input_dim, hidden_dims),
                                      param_dims=spline_param_dims(count_bins, order))
    return ConditionalSplineAutoregressive(input_dim, arn, count_bins=count_bins, bound=bound,
                                           order=order)


__all__ = [
    "ConditionalSplineAutoregressive",
    "SplineAutoregressive",
    "conditional_spline_autoregressive",
    "spline_autoregressive",
]
