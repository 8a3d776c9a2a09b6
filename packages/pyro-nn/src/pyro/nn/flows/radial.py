"""Radial flows (Rezende & Mohamed, 2015): ``y = x + beta * (x - x0) / (alpha + |x - x0|)``, a
contraction or expansion of space around a reference point ``x0``.

The Jacobian's determinant has a closed form in ``|x - x0|``. There is no closed-form inverse:
only the last value the flow produced can be inverted (from the cache).
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


class ConditionedRadial(Transform):
    r"""The radial map with parameters given by a callable: ``params()`` returns
    ``(x0, alpha_prime, beta_prime)`` of shapes ``batch + (input_dim,)``, ``batch + (1,)`` and
    ``batch + (1,)`` (``batch`` may be empty), and with ``r = |x - x0|``

    .. math:: y = x + \frac{\beta}{\alpha + r} (x - x0),

    ``alpha`` and ``beta`` as in :class:`Radial`. A batch of parameters (from a batch of
    contexts) broadcasts against the batch of ``x``. This is what
    :meth:`ConditionalRadial.condition` returns; :class:`Radial` is the same map with its own
    learnable parameters.

    Args:
        params: a callable of no arguments returning ``(x0, alpha_prime, beta_prime)``.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, params: Optional[Callable[[], Tuple[torch.Tensor, ...]]] = None) -> None:
        super().__init__(cache_size=1)
        self._param_fn = params
        # (r, alpha, beta) of the last forward pass, for the log-det
        self._pass = PassCache()

    def _params(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x0, alpha_prime, beta_prime)``."""
        x0, alpha_prime, beta_prime = self._param_fn()  # type: ignore[misc]
        return x0, alpha_prime, beta_prime

    @staticmethod
    def _alpha_beta(alpha_prime: torch.Tensor,
                    beta_prime: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        alpha = F.softplus(alpha_prime)
        return alpha, F.softplus(beta_prime) - alpha

    def _forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """``(y, (r, alpha, beta))`` at ``x``, ``r``, ``alpha`` and ``beta`` with a last dim of 1."""
        x0, alpha_prime, beta_prime = self._params()
        if x.shape[-1:] != x0.shape[-1:]:
            raise ValueError(f"{type(self).__name__}: input of shape {tuple(x.shape)}, expected "
                             f"(..., {x0.shape[-1]}) (the size of its reference point x0)")
        alpha, beta = self._alpha_beta(alpha_prime, beta_prime)
        diff = x - x0
        r = diff.norm(dim=-1, keepdim=True)
        return x + beta / (alpha + r) * diff, (r, alpha, beta)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        y, saved = self._forward(x)
        self._pass.save(x, saved)
        return y

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise no_analytic_inverse(self)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``(d - 1) log(1 + beta h) + log(1 + alpha beta h^2)`` with
        ``h = 1 / (alpha + r)`` and ``d = input_dim``, one value per vector."""
        saved = self._pass.get(self, x, y)
        if saved is None:
            saved = self._forward(x)[1]
        r, alpha, beta = saved
        beta_h = beta / (alpha + r)
        # 1 + beta h - beta h^2 r = 1 + alpha beta h^2
        log_det = (x.shape[-1] - 1) * torch.log1p(beta_h) + torch.log1p(alpha * beta_h / (alpha + r))
        return log_det.squeeze(-1)


class Radial(ConditionedRadial, TransformModule):
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

    def __init__(self, input_dim: int) -> None:
        super().__init__()
        check_int("Radial", "input_dim", input_dim)
        self.input_dim = input_dim
        self.x0 = torch.nn.Parameter(torch.empty(input_dim))
        self.alpha_prime = torch.nn.Parameter(torch.empty(1))
        self.beta_prime = torch.nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """All parameters uniform on ``[-1/sqrt(input_dim), 1/sqrt(input_dim)]``."""
        bound = 1.0 / math.sqrt(self.input_dim)
        with torch.no_grad():
            for p in (self.x0, self.alpha_prime, self.beta_prime):
                p.uniform_(-bound, bound)

    def _params(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x0, self.alpha_prime, self.beta_prime

    def alpha_beta(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(alpha, beta)`` (0-dim tensors) with ``alpha > 0`` and ``beta > -alpha``."""
        return self._alpha_beta(self.alpha_prime[0], self.beta_prime[0])


class ConditionalRadial(ConditionalTransformModule):
    """A radial flow whose parameters are a function of a context:
    ``flow.condition(context)`` is the :class:`ConditionedRadial` map with
    ``(x0, alpha_prime, beta_prime) = nn(context)``.

    Args:
        nn: a network from the context to ``(x0, alpha_prime, beta_prime)`` of sizes
            ``input_dim``, ``1`` and ``1``, e.g. ``DenseNN(context_dim, [10 * input_dim] * 2,
            param_dims=[input_dim, 1, 1])``. A batch of contexts gives a batch of maps.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, nn: torch.nn.Module) -> None:
        super().__init__()
        check_network(type(self).__name__, "nn", nn)
        self.nn = nn

    def condition(self, context: torch.Tensor) -> ConditionedRadial:
        """The radial map for ``context``."""
        check_context(type(self).__name__, self.nn, context, alone=True)
        return ConditionedRadial(partial(self.nn, context))


def radial(input_dim: int) -> Radial:
    """Build a :class:`Radial` flow on vectors of size ``input_dim``."""
    return Radial(input_dim)


def conditional_radial(input_dim: int, context_dim: int,
                       hidden_dims: Optional[Sequence[int]] = None) -> ConditionalRadial:
    """Build a :class:`ConditionalRadial` flow with a :class:`~pyro.nn.DenseNN` from the context
    to its parameters.

    Args:
        input_dim: size of the vectors the flow maps.
        context_dim: size of the context vector.
        hidden_dims: widths of the hidden layers (default ``[10 * input_dim] * 2``).
    """
    check_sizes("conditional_radial", input_dim, hidden_dims, context_dim)
    if hidden_dims is None:
        hidden_dims = [10 * input_dim, 10 * input_dim]
    return ConditionalRadial(DenseNN(context_dim, list(hidden_dims),
                                     param_dims=[input_dim, 1, 1]))


__all__ = ["ConditionalRadial", "ConditionedRadial", "Radial", "conditional_radial", "radial"]
