"""Planar flows (Rezende & Mohamed, 2015): ``y = x + u' * tanh(w . x + b)``, a shift along one
direction ``u'`` by an amount that depends on ``x`` only through its projection on ``w``.

The Jacobian is a rank-one update of the identity, so its determinant costs ``O(input_dim)``.
There is no closed-form inverse: only the last value the flow produced can be inverted (from the
cache).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, Optional, Sequence, Tuple

import torch
from torch.distributions.transforms import Transform
from torch.nn import functional as F

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.dense_nn import DenseNN, check_int
from pyro.nn.flows.util import (
    PassCache,
    check_context,
    check_network,
    check_sizes,
    no_analytic_inverse,
)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a . b`` over the last dim, kept as a dim of size 1 (a matrix product when ``b`` is a
    single vector)."""
    if b.dim() == 1:
        return torch.matmul(a, b).unsqueeze(-1)
    return (a * b).sum(-1, keepdim=True)


class ConditionedPlanar(Transform):
    r"""The planar map with parameters given by a callable: ``params()`` returns
    ``(bias, u, w)`` of shapes ``batch + (1,)``, ``batch + (input_dim,)`` and
    ``batch + (input_dim,)`` (``batch`` may be empty), and

    .. math:: y = x + \hat{u} \tanh(w^\top x + b),

    with ``u_hat`` as in :class:`Planar`. A batch of parameters (from a batch of contexts)
    broadcasts against the batch of ``x``. This is what :meth:`ConditionalPlanar.condition`
    returns; :class:`Planar` is the same map with its own learnable parameters.

    Args:
        params: a callable of no arguments returning ``(bias, u, w)``.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, params: Optional[Callable[[], Tuple[torch.Tensor, ...]]] = None) -> None:
        super().__init__(cache_size=1)
        self._param_fn = params
        # (tanh'(w . x + b), w . u_hat) of the last forward pass, for the log-det
        self._pass = PassCache()

    def _params(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(bias, u, w)``."""
        bias, u, w = self._param_fn()  # type: ignore[misc]
        return bias, u, w

    def u_hat(self, u: Optional[torch.Tensor] = None,
              w: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The reparameterised direction, with ``w . u_hat = softplus(w . u) - 1 > -1``; of the
        given ``u`` and ``w`` (batched over leading dims), or of the flow's own."""
        if u is None or w is None:
            _, u, w = self._params()
        wu = (w * u).sum(-1, keepdim=True)
        return u + (F.softplus(wu) - 1 - wu) * w / (w * w).sum(-1, keepdim=True)

    def _forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(y, tanh', w . u_hat)`` at ``x``."""
        bias, u, w = self._params()
        if x.shape[-1:] != w.shape[-1:]:
            raise ValueError(f"{type(self).__name__}: input of shape {tuple(x.shape)}, expected "
                             f"(..., {w.shape[-1]}) (the size of its parameters u and w)")
        u_hat = self.u_hat(u, w)
        act = torch.tanh(_dot(x, w) + bias)
        slope = (w * u_hat).sum(-1, keepdim=True)
        return x + u_hat * act, 1 - act.pow(2), slope

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        y, tanh_grad, slope = self._forward(x)
        self._pass.save(x, (tanh_grad, slope))
        return y

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise no_analytic_inverse(self)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``log |1 + (w . u_hat) tanh'(w . x + b)|``, one value per vector."""
        saved = self._pass.get(self, x, y)
        if saved is None:
            saved = self._forward(x)[1:]
        tanh_grad, slope = saved
        return torch.log(torch.abs(1 + slope * tanh_grad)).squeeze(-1)


class Planar(ConditionedPlanar, TransformModule):
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

    def __init__(self, input_dim: int) -> None:
        super().__init__()
        check_int("Planar", "input_dim", input_dim)
        self.input_dim = input_dim
        self.bias = torch.nn.Parameter(torch.empty(1))
        self.u = torch.nn.Parameter(torch.empty(input_dim))
        self.w = torch.nn.Parameter(torch.empty(input_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``u`` and ``w`` uniform on ``[-1/sqrt(input_dim), 1/sqrt(input_dim)]``, ``bias`` 0."""
        bound = 1.0 / math.sqrt(self.input_dim)
        with torch.no_grad():
            self.u.uniform_(-bound, bound)
            self.w.uniform_(-bound, bound)
            self.bias.zero_()

    def _params(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.bias, self.u, self.w


class ConditionalPlanar(ConditionalTransformModule):
    """A planar flow whose parameters are a function of a context:
    ``flow.condition(context)`` is the :class:`ConditionedPlanar` map with
    ``(bias, u, w) = nn(context)``.

    Args:
        nn: a network from the context to ``(bias, u, w)`` of sizes ``1``, ``input_dim`` and
            ``input_dim``, e.g. ``DenseNN(context_dim, [10 * input_dim] * 2,
            param_dims=[1, input_dim, input_dim])``. A batch of contexts gives a batch of maps.

    Example::

        flow = conditional_planar(2, context_dim=3)
        flow_dist = dist.ConditionalTransformedDistribution(base, [flow])
        flow_dist.condition(context).log_prob(y)
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, nn: torch.nn.Module) -> None:
        super().__init__()
        check_network(type(self).__name__, "nn", nn)
        self.nn = nn

    def condition(self, context: torch.Tensor) -> ConditionedPlanar:
        """The planar map for ``context``."""
        check_context(type(self).__name__, self.nn, context, alone=True)
        return ConditionedPlanar(partial(self.nn, context))


def planar(input_dim: int) -> Planar:
    """Build a :class:`Planar` flow on vectors of size ``input_dim``."""
    return Planar(input_dim)


def conditional_planar(input_dim: int, context_dim: int,
                       hidden_dims: Optional[Sequence[int]] = None) -> ConditionalPlanar:
    """Build a :class:`ConditionalPlanar` flow with a :class:`~pyro.nn.DenseNN` from the context
    to its parameters.

    Args:
        input_dim: size of the vectors the flow maps.
        context_dim: size of the context vector.
        hidden_dims: widths of the hidden layers (default ``[10 * input_dim] * 2``).
    """
    check_sizes("conditional_planar", input_dim, hidden_dims, context_dim)
    if hidden_dims is None:
        hidden_dims = [10 * input_dim, 10 * input_dim]
    return ConditionalPlanar(DenseNN(context_dim, list(hidden_dims),
                                     param_dims=[1, input_dim, input_dim]))


__all__ = ["ConditionalPlanar", "ConditionedPlanar", "Planar", "conditional_planar", "planar"]
