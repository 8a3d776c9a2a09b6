"""Neural autoregressive flows (Huang et al., 2018), in the deep sigmoidal form: each variable is
pushed through a one-hidden-layer monotone network whose weights an autoregressive network
computes from the variables before it.

For variable ``i`` with ``(a, w, b) = autoregressive_nn(x)`` (each of ``hidden_units`` values per
variable) and an element-wise bijection ``T``,

    y_i = T^{-1}( sum_h softmax(w)_h T(softplus(a_h) x_i + b_h) ),

a strictly increasing function of ``x_i``. There is no analytic inverse.
"""

from __future__ import annotations

import functools
from typing import Any, Optional, Sequence, Tuple

import torch
from torch.nn import functional as F

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.auto_reg_nn import AutoRegressiveNN, ConditionalAutoRegressiveNN
from pyro.nn.dense_nn import check_int
from pyro.nn.flows.util import (
    PassCache,
    activation_transform,
    check_context,
    check_kwargs,
    check_network,
    check_sizes,
    no_analytic_inverse,
)


class NeuralAutoregressive(TransformModule):
    r"""A neural autoregressive flow (NAF) of the deep sigmoidal kind, generalised to the
    activations 'ELU', 'LeakyReLU', 'sigmoid' (the DSF of the paper) and 'tanh':

    .. math:: y_i = T^{-1}\Big(\sum_h \text{softmax}(w_{i})_h\,
              T\big(\text{softplus}(a_{ih})\,x_i + b_{ih}\big)\Big),

    where ``(a, w, b) = autoregressive_nn(x)``, each of shape ``(..., hidden_units,
    input_dim)``, depends on the variables before ``i`` in the network's order. The log-det is
    computed in log space and kept for the pair in torch's cache (``cache_size=1``). There is no
    analytic inverse: ``inv`` of the value the flow last produced returns its input, any other
    value raises ``NotImplementedError`` (as Pyro does).

    Args:
        autoregressive_nn: a network mapping ``(..., input_dim)`` to three tensors of shape
            ``(..., hidden_units, input_dim)``, e.g. ``AutoRegressiveNN(input_dim, [40],
            param_dims=[16, 16, 16])``.
        hidden_units: the width of each variable's monotone network (the network's
            ``param_dims`` entries).
        activation: 'ELU', 'LeakyReLU', 'sigmoid' or 'tanh'.

    Example::

        arn = AutoRegressiveNN(10, [40], param_dims=[16] * 3)
        flow = NeuralAutoregressive(arn, hidden_units=16)
        flow_dist = dist.TransformedDistribution(dist.Normal(torch.zeros(10), 1.0).to_event(1),
                                                 [flow])
        y = flow_dist.rsample()
        flow_dist.log_prob(y)  # from the cache
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    autoregressive = True
    eps = 1e-8

    def __init__(self, autoregressive_nn: Any, hidden_units: int = 16,
                 activation: str = "sigmoid") -> None:
        super().__init__(cache_size=1)
        check_network(type(self).__name__, "autoregressive_nn", autoregressive_nn)
        check_int(type(self).__name__, "hidden_units", hidden_units)
        self.arn = autoregressive_nn
        self.hidden_units = hidden_units
        self.T = activation_transform(activation, type(self).__name__)
        # (x, log-det at x) of the last forward pass
        self._log_det = PassCache()

    def _forward_and_log_det(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.arn(x)
        if isinstance(out, torch.Tensor) or len(out) != 3:
            raise ValueError(
                f"{type(self).__name__}: the autoregressive network must return three tensors "
                "(a, w, b) of shape (..., hidden_units, input_dim), e.g. with param_dims="
                f"[{self.hidden_units}] * 3"
            )
        a, w, b = (p.unsqueeze(-2) if p.dim() == x.dim() else p for p in out)
        if a.shape[-2] != self.hidden_units:
            raise ValueError(
                f"{type(self).__name__}: the network returned parameters of shape "
                f"{tuple(a.shape)}, expected (..., hidden_units={self.hidden_units}, "
                f"{x.shape[-1]})"
            )
        log_w = F.log_softmax(w, dim=-2)
        scale = F.softplus(a)
        pre = scale * x.unsqueeze(-2) + b
        act = self.T(pre)
        mixed = (log_w.exp() * act).sum(-2)
        y = self.T.inv(mixed)
        log_dmixed = torch.logsumexp(
            log_w + self.T.log_abs_det_jacobian(pre, act) + torch.log(scale), dim=-2
        )
        log_det = log_dmixed - self.T.log_abs_det_jacobian(y, mixed)
        return y, log_det.sum(-1)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        y, log_det = self._forward_and_log_det(x)
        self._log_det.save(x, log_det)
        return y

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(no_analytic_inverse(self).args[0])

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``log |det dy/dx|``, one value per vector."""
        log_det = self._log_det.get(self, x, y)
        if log_det is None:
            log_det = self._forward_and_log_det(x)[1]
        return log_det


class ConditionalNeuralAutoregressive(ConditionalTransformModule):
    """A :class:`NeuralAutoregressive` flow whose network also sees a context:
    ``condition(context)`` gives the flow for that context.

    Args:
        autoregressive_nn: a network ``(inputs, context=...)`` -> three tensors of shape
            ``(..., hidden_units, input_dim)``, e.g. a ``ConditionalAutoRegressiveNN`` with
            ``param_dims=[16] * 3``.
        **kwargs: passed on to :class:`NeuralAutoregressive` (``hidden_units``, ``activation``).
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, autoregressive_nn: torch.nn.Module, **kwargs: Any) -> None:
        super().__init__()
        check_kwargs("ConditionalNeuralAutoregressive", kwargs, ["hidden_units", "activation"])
        check_network(type(self).__name__, "autoregressive_nn", autoregressive_nn)
        check_int(type(self).__name__, "hidden_units", kwargs.get("hidden_units", 16))
        activation_transform(kwargs.get("activation", "sigmoid"), type(self).__name__)
        self.nn = autoregressive_nn
        self.kwargs = kwargs

    def condition(self, context: torch.Tensor) -> NeuralAutoregressive:
        """The flow for ``context`` (its network's context bound)."""
        check_context(type(self).__name__, self.nn, context)
        return NeuralAutoregressive(functools.partial(self.nn, context=context), **self.kwargs)


def _default_hidden(input_dim: int, hidden_dims: Optional[Sequence[int]]) -> list:
    return [3 * input_dim + 1] if hidden_dims is None else list(hidden_dims)


def neural_autoregressive(input_dim: int, hidden_dims: Optional[Sequence[int]] = None,
                          activation: str = "sigmoid", width: int = 16) -> NeuralAutoregressive:
    """Build a :class:`NeuralAutoregressive` flow with its autoregressive network.

    Args:
        input_dim: size of the vectors the flow maps.
        hidden_dims: the network's hidden widths (default ``[3 * input_dim + 1]``).
        activation: 'ELU', 'LeakyReLU', 'sigmoid' or 'tanh'.
        width: ``hidden_units`` of the flow (the network outputs ``[width] * 3``).
    """
    check_sizes("neural_autoregressive", input_dim, hidden_dims)
    check_int("neural_autoregressive", "width", width)
    arn = AutoRegressiveNN(input_dim, _default_hidden(input_dim, hidden_dims),
                           param_dims=[width] * 3)
    return NeuralAutoregressive(arn, hidden_units=width, activation=activation)


def conditional_neural_autoregressive(
    input_dim: int, context_dim: int, hidden_dims: Optional[Sequence[int]] = None,
    activation: str = "sigmoid", width: int = 16,
) -> ConditionalNeuralAutoregressive:
    """Build a :class:`ConditionalNeuralAutoregressive` flow with its conditional network.

    Args:
        input_dim: size of the vectors the flow maps.
        context_dim: size of the context.
        hidden_dims: the network's hidden widths (default ``[3 * input_dim + 1]``).
        activation: 'ELU', 'LeakyReLU', 'sigmoid' or 'tanh'.
        width: ``hidden_units`` of the flow (the network outputs ``[width] * 3``).
    """
    check_sizes("conditional_neural_autoregressive", input_dim, hidden_dims, context_dim)
    check_int("conditional_neural_autoregressive", "width", width)
    arn = ConditionalAutoRegressiveNN(input_dim, context_dim,
                                      _default_hidden(input_dim, hidden_dims),
                                      param_dims=[width] * 3)
    return ConditionalNeuralAutoregressive(arn, hidden_units=width, activation=activation)


__all__ = [
    "ConditionalNeuralAutoregressive",
    "NeuralAutoregressive",
    "conditional_neural_autoregressive",
    "neural_autoregressive",
]
