"""Affine autoregressive flows: ``y = loc(x) + scale(x) * x``, with ``loc`` and ``scale`` given by
a masked autoregressive network, so the Jacobian is triangular in the network's order.

Sampling (the forward direction) takes one pass of the network; inverting a value the flow did
not produce takes ``input_dim`` passes.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from torch.nn import functional as F

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.auto_reg_nn import AutoRegressiveNN, ConditionalAutoRegressiveNN
from pyro.nn.dense_nn import check_real
from pyro.nn.flows.util import (
    BoundNetwork,
    PassCache,
    check_clips,
    check_context,
    check_kwargs,
    check_network,
    check_sizes,
    clamp_preserve_gradients,
)

_KWARGS = ("log_scale_min_clip", "log_scale_max_clip", "sigmoid_bias", "stable")


def _check_settings(who: str, nn: Any, log_scale_min_clip: float, log_scale_max_clip: float,
                    sigmoid_bias: float) -> None:
    check_network(who, "autoregressive_nn", nn)
    check_clips(who, log_scale_min_clip, log_scale_max_clip)
    check_real(who, "sigmoid_bias", sigmoid_bias)


class AffineAutoregressive(TransformModule):
    r"""An inverse autoregressive flow (IAF): an affine map whose location and scale for each
    variable are functions of the variables before it in an autoregressive order.

    With ``stable=False`` (the default) it computes

    .. math:: y_i = \mu_i(x_{<i}) + \exp(\text{clip}(s_i(x_{<i}))) \, x_i,

    where ``(mu, s) = autoregressive_nn(x)`` and the log-scale ``s`` is clipped in value to
    ``[log_scale_min_clip, log_scale_max_clip]`` (its gradient is left unclipped). With
    ``stable=True`` it computes the gated form of Kingma et al. (2016),

    .. math:: \sigma_i = \text{sigmoid}(s_i + b), \quad y_i = \sigma_i x_i + (1 - \sigma_i)\mu_i,

    with ``b = sigmoid_bias``; the scale then lies in ``(0, 1)``, which trains more stably.

    The log-determinant of the Jacobian is the sum of the log-scales. The map is cached (torch's
    ``cache_size=1``): inverting the last value it produced returns that value's input at no
    cost, and ``log_abs_det_jacobian`` of that pair reuses the log-scales of the forward pass.
    Any other value is inverted exactly, with ``input_dim`` passes of the network.

    Args:
        autoregressive_nn: a network mapping ``(..., input_dim)`` to a pair ``(mu, s)`` of
            tensors of that shape, each output depending only on earlier inputs, e.g.
            ``AutoRegressiveNN(input_dim, hidden_dims, param_dims=[1, 1])``. A network whose
            output is one tensor of shape ``(..., 2, input_dim)`` is accepted too.
        log_scale_min_clip: lower bound of the log-scale (``stable=False``).
        log_scale_max_clip: upper bound of the log-scale (``stable=False``).
        sigmoid_bias: added to the network's scale output before the sigmoid (``stable=True``).
        stable: use the sigmoid-gated form.

    Example::

        base = dist.Normal(torch.zeros(10), torch.ones(10))
        flow = AffineAutoregressive(AutoRegressiveNN(10, [40]))
        pyro.module("flow", flow)
        flow_dist = dist.TransformedDistribution(base, [flow])
        flow_dist.log_prob(flow_dist.rsample())
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    sign = +1
    autoregressive = True

    def __init__(self, autoregressive_nn: torch.nn.Module, log_scale_min_clip: float = -5.0,
                 log_scale_max_clip: float = 3.0, sigmoid_bias: float = 2.0,
                 stable: bool = False) -> None:
        super().__init__(cache_size=1)
        _check_settings(type(self).__name__, autoregressive_nn, log_scale_min_clip,
                        log_scale_max_clip, sigmoid_bias)
        self.arn = autoregressive_nn
        self.log_scale_min_clip = log_scale_min_clip
        self.log_scale_max_clip = log_scale_max_clip
        self.sigmoid_bias = sigmoid_bias
        self.stable = stable
        # (x, log-scales at x) of the last pass, set by _call / _inverse; the log-det reuses it
        # for the pair in torch's cache
        self._log_scale = PassCache()

    # ----- the maths, shared by both directions ------------------------------------------------
    def _network(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out: Any = self.arn(x)
        if isinstance(out, torch.Tensor):
            if out.dim() < 2 or out.shape[-2] != 2:
                raise ValueError(
                    f"{type(self).__name__}: the autoregressive network returned a tensor of shape "
                    f"{tuple(out.shape)}; expected a pair (loc, log_scale) or shape (..., 2, "
                    f"{x.shape[-1]})"
                )
            out = out.unbind(-2)
        loc, raw_scale = out
        return loc, raw_scale

    def _affine_params(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(loc, scale, log_scale)`` with ``y = scale * x + loc``, computed from ``x``."""
        mu, s = self._network(x)
        if self.stable:
            gate = s + self.sigmoid_bias
            scale = torch.sigmoid(gate)
            return (1 - scale) * mu, scale, F.logsigmoid(gate)
        log_scale = clamp_preserve_gradients(s, self.log_scale_min_clip, self.log_scale_max_clip)
        return mu, torch.exp(log_scale), log_scale

    # ----- torch's Transform interface ----------------------------------------------------------
    def _call(self, x: torch.Tensor) -> torch.Tensor:
        loc, scale, log_scale = self._affine_params(x)
        self._log_scale.save(x, log_scale)
        return scale * x + loc

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        # Each pass solves y = scale(x) * x + loc(x) for x with the parameters of the previous
        # estimate. Parameters of the k-th variable in the order depend only on the ones before
        # it, so after k passes the first k variables are exact: input_dim passes are exact.
        x = torch.zeros_like(y)
        log_scale = x
        for _ in range(y.shape[-1]):
            loc, scale, log_scale = self._affine_params(x)
            x = (y - loc) / scale
        self._log_scale.save(x, log_scale)
        return x

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``log |det dy/dx|``, one value per vector (summed over the last dim)."""
        log_scale = self._log_scale.get(self, x, y)
        if log_scale is None:
            log_scale = self._affine_params(x)[2]
        return log_scale.sum(-1)


def affine_autoregressive(input_dim: int, hidden_dims: Optional[Sequence[int]] = None,
                          **kwargs: Any) -> AffineAutoregressive:
    """Build an :class:`AffineAutoregressive` flow with its autoregressive network.

    Args:
        input_dim: size of the vectors the flow maps.
        hidden_dims: widths of the network's hidden layers (default ``[3 * input_dim + 1]``).
        **kwargs: passed on to :class:`AffineAutoregressive` (``log_scale_min_clip``,
            ``log_scale_max_clip``, ``sigmoid_bias``, ``stable``).

    Returns:
        The flow; its network, ``flow.arn``, is an ``AutoRegressiveNN`` with a random order.
    """
    check_sizes("affine_autoregressive", input_dim, hidden_dims)
    if hidden_dims is None:
        hidden_dims = [3 * input_dim + 1]
    arn = AutoRegressiveNN(input_dim, list(hidden_dims), param_dims=[1, 1])
    return AffineAutoregressive(arn, **kwargs)


class ConditionalAffineAutoregressive(ConditionalTransformModule):
    """An :class:`AffineAutoregressive` flow whose network also sees a context:
    ``flow.condition(context)`` is the flow with ``(mu, s) = autoregressive_nn(x,
    context=context)``.

    The batch shapes of the input and of the context broadcast.

    Args:
        autoregressive_nn: a network taking ``(x, context=context)`` to ``(mu, s)``, each output
            depending only on earlier inputs (and on all of the context), e.g.
            ``ConditionalAutoRegressiveNN(input_dim, context_dim, [10 * input_dim])``.
        **kwargs: ``log_scale_min_clip``, ``log_scale_max_clip``, ``sigmoid_bias``, ``stable``,
            as for :class:`AffineAutoregressive`.

    Example::

        flow = conditional_affine_autoregressive(4, context_dim=2)
        flow_dist = dist.ConditionalTransformedDistribution(base, [flow])
        flow_dist.condition(context).log_prob(y)
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, autoregressive_nn: torch.nn.Module, **kwargs: Any) -> None:
        super().__init__()
        check_kwargs("ConditionalAffineAutoregressive", kwargs, _KWARGS)
        settings = {"log_scale_min_clip": -5.0, "log_scale_max_clip": 3.0, "sigmoid_bias": 2.0,
                    **{k: v for k, v in kwargs.items() if k != "stable"}}
        _check_settings(type(self).__name__, autoregressive_nn, **settings)
        self.nn = autoregressive_nn
        self.kwargs: Dict[str, Any] = kwargs

    def condition(self, context: torch.Tensor) -> AffineAutoregressive:
        """The :class:`AffineAutoregressive` flow for ``context``."""
        check_context(type(self).__name__, self.nn, context)
        return AffineAutoregressive(BoundNetwork(self.nn, context), **self.kwargs)


def conditional_affine_autoregressive(input_dim: int, context_dim: int,
                                      hidden_dims: Optional[Sequence[int]] = None,
                                      **kwargs: Any) -> ConditionalAffineAutoregressive:
    """Build a :class:`ConditionalAffineAutoregressive` flow with its network.

    Args:
        input_dim: size of the vectors the flow maps.
        context_dim: size of the context vector.
        hidden_dims: widths of the network's hidden layers (default ``[10 * input_dim]``).
        **kwargs: passed on to :class:`AffineAutoregressive` (``log_scale_min_clip``,
            ``log_scale_max_clip``, ``sigmoid_bias``, ``stable``).

    Returns:
        The flow; its network, ``flow.nn``, is a ``ConditionalAutoRegressiveNN`` with a random
        order.
    """
    check_sizes("conditional_affine_autoregressive", input_dim, hidden_dims, context_dim)
    if hidden_dims is None:
        hidden_dims = [10 * input_dim]
    nn = ConditionalAutoRegressiveNN(input_dim, context_dim, list(hidden_dims), param_dims=[1, 1])
    return ConditionalAffineAutoregressive(nn, **kwargs)


__all__ = [
    "AffineAutoregressive",
    "ConditionalAffineAutoregressive",
    "affine_autoregressive",
    "conditional_affine_autoregressive",
]
