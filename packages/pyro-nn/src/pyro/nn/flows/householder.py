"""Householder flows: a product of learnable reflections, an orthogonal (volume-preserving) map
of real vectors, ``y = H_K ... H_2 H_1 x`` with ``H_k = I - 2 u_k u_k^T / ||u_k||^2``.

Every reflection is its own inverse, so the flow is inverted exactly by applying the reflections
in the opposite order, and ``log |det dy/dx| = 0``.
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import Callable, Optional, Sequence

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.dense_nn import DenseNN, check_int
from pyro.nn.flows.util import check_context, check_network, check_sizes


def _check_count(input_dim: int, count_transforms: int, who: str = "Householder") -> None:
    """At least one reflection; more than ``input_dim`` draws a warning (they add nothing)."""
    check_int(who, "input_dim", input_dim)
    check_int(who, "count_transforms", count_transforms, minimum=None)
    if count_transforms < 1:
        raise ValueError(
            f"Householder: count_transforms must be at least 1, got {count_transforms}"
        )
    if count_transforms > input_dim:
        warnings.warn(
            f"Householder: {count_transforms} reflections on vectors of size {input_dim} "
            "over-parametrise the flow (input_dim reflections already give every "
            "orthogonal map)",
            UserWarning,
            stacklevel=3,
        )


class ConditionedHouseholder(Transform):
    r"""The product of Householder reflections with directions given by a callable:
    ``u_unnormed()`` returns the unnormalised directions, of shape
    ``batch + (count_transforms, input_dim)`` (``batch`` may be empty), and

    .. math:: y = H_K \cdots H_1 x, \qquad H_k = I - 2\frac{u_k u_k^\top}{\lVert u_k\rVert^2}.

    A batch of directions (from a batch of contexts) broadcasts against the batch of ``x``.
    This is what :meth:`ConditionalHouseholder.condition` returns; :class:`Householder` is the
    same map with its own learnable directions. The inverse applies the reflections in reverse;
    the log-determinant is zero.

    Args:
        u_unnormed: a callable of no arguments returning the unnormalised directions.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    volume_preserving = True

    def __init__(self, u_unnormed: Optional[Callable[[], torch.Tensor]] = None) -> None:
        super().__init__(cache_size=1)
        if u_unnormed is not None:
            self.u_unnormed = u_unnormed

    def _directions(self) -> torch.Tensor:
        return self.u_unnormed()  # type: ignore[operator]

    def u(self) -> torch.Tensor:
        """The unit reflection directions, ``batch + (count_transforms, input_dim)``."""
        u = self._directions()
        return u / u.norm(dim=-1, keepdim=True)

    @staticmethod
    def _reflect(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return x - 2.0 * (x * u).sum(-1, keepdim=True) * u

    def _checked_u(self, v: torch.Tensor, what: str) -> torch.Tensor:
        u = self.u()
        if v.shape[-1:] != u.shape[-1:]:
            raise ValueError(f"{type(self).__name__}: {what} of shape {tuple(v.shape)}, expected "
                             f"(..., {u.shape[-1]}) (the size of the reflection directions)")
        return u

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for u in self._checked_u(x, "input").unbind(-2):
            y = self._reflect(y, u)
        return y

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        x = y
        for u in reversed(self._checked_u(y, "value").unbind(-2)):
            x = self._reflect(x, u)
        return x

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Zero, one value per vector (of the batch of ``x`` and ``y`` broadcast)."""
        shape = x.shape[:-1] if x.shape == y.shape else torch.broadcast_shapes(x.shape[:-1],
                                                                                y.shape[:-1])
        return x.new_zeros(shape)


class Householder(ConditionedHouseholder, TransformModule):
    r"""A volume-preserving flow made of ``count_transforms`` Householder reflections.

    .. math:: y = H_K \cdots H_1 x, \qquad H_k = I - 2\frac{u_k u_k^\top}{\lVert u_k\rVert^2},

    with the unnormalised directions ``u_k`` learned (the rows of ``u_unnormed``, of shape
    ``(count_transforms, input_dim)``, each entry drawn uniformly from
    ``[-1/sqrt(input_dim), 1/sqrt(input_dim)]``). The map is orthogonal: its inverse applies the
    reflections in reverse, and its log-determinant is zero. More reflections than ``input_dim``
    add nothing (any orthogonal matrix is a product of at most ``input_dim`` reflections) and
    draw a warning. Caching is torch's ``cache_size=1``.

    Args:
        input_dim: size of the vectors the flow maps.
        count_transforms: number of reflections (at least 1).
    """

    def __init__(self, input_dim: int, count_transforms: int = 1) -> None:
        super().__init__()
        _check_count(input_dim, count_transforms, type(self).__name__)
        self.input_dim = input_dim
        self.u_unnormed = torch.nn.Parameter(torch.empty(count_transforms, input_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every entry of ``u_unnormed`` uniform on ``[-1/sqrt(input_dim), 1/sqrt(input_dim)]``."""
        bound = 1.0 / math.sqrt(self.input_dim)
        with torch.no_grad():
            self.u_unnormed.uniform_(-bound, bound)

    def _directions(self) -> torch.Tensor:
        return self.u_unnormed


class ConditionalHouseholder(ConditionalTransformModule):
    """Householder reflections whose directions are a function of a context:
    ``flow.condition(context)`` is the :class:`ConditionedHouseholder` map whose directions are
    the outputs of ``nn(context)``.

    Args:
        input_dim: size of the vectors the flow maps.
        nn: a network from the context to ``count_transforms`` directions, each of size
            ``input_dim`` (one tensor when ``count_transforms`` is 1, a tuple otherwise), e.g.
            ``DenseNN(context_dim, [10 * input_dim] * 2, param_dims=[input_dim] *
            count_transforms)``. A batch of contexts gives a batch of maps.
        count_transforms: number of reflections (at least 1).
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, input_dim: int, nn: torch.nn.Module, count_transforms: int = 1) -> None:
        super().__init__()
        _check_count(input_dim, count_transforms, type(self).__name__)
        check_network(type(self).__name__, "nn", nn)
        self.input_dim = input_dim
        self.nn = nn
        self.count_transforms = count_transforms

    def _u_unnormed(self, context: torch.Tensor) -> torch.Tensor:
        out = self.nn(context)
        u = out.unsqueeze(-2) if isinstance(out, torch.Tensor) else torch.stack(out, dim=-2)
        if u.shape[-2:] != (self.count_transforms, self.input_dim):
            raise ValueError(
                f"ConditionalHouseholder: the network gave directions of shape {tuple(u.shape)} "
                f"(stacked); expected (..., {self.count_transforms}, {self.input_dim}), "
                "count_transforms by input_dim"
            )
        return u

    def condition(self, context: torch.Tensor) -> ConditionedHouseholder:
        """The product of reflections for ``context``."""
        check_context(type(self).__name__, self.nn, context, alone=True)
        return ConditionedHouseholder(partial(self._u_unnormed, context))


def householder(input_dim: int, count_transforms: Optional[int] = None) -> Householder:
    """Build a :class:`Householder` flow.

    Args:
        input_dim: size of the vectors the flow maps.
        count_transforms: number of reflections (default ``input_dim // 2 + 1``).
    """
    if count_transforms is None:
        check_int("householder", "input_dim", input_dim)
        count_transforms = input_dim // 2 + 1
    return Householder(input_dim, count_transforms=count_transforms)


def conditional_householder(input_dim: int, context_dim: int,
                            hidden_dims: Optional[Sequence[int]] = None,
                            count_transforms: int = 1) -> ConditionalHouseholder:
    """Build a :class:`ConditionalHouseholder` flow with a :class:`~pyro.nn.DenseNN` from the
    context to its directions.

    Args:
        input_dim: size of the vectors the flow maps.
        context_dim: size of the context vector.
        hidden_dims: widths of the hidden layers (default ``[10 * input_dim] * 2``).
        count_transforms: number of reflections.
    """
    check_sizes("conditional_householder", input_dim, hidden_dims, context_dim)
    check_int("conditional_householder", "count_transforms", count_transforms)
    if hidden_dims is None:
        hidden_dims = [10 * input_dim, 10 * input_dim]
    nn = DenseNN(context_dim, list(hidden_dims), param_dims=[input_dim] * count_transforms)
    return ConditionalHouseholder(input_dim, nn, count_transforms=count_transforms)


__all__ = [
    "ConditionalHouseholder",
    "ConditionedHouseholder",
    "Householder",
    "conditional_householder",
    "householder",
]
