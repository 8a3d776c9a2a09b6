"""Matrix-exponential flows (Hoogeboom et al., 2020): ``y = exp(W) x`` for a learned (or,
conditionally, network-computed) square matrix ``W``.

``exp(W)`` is invertible for every ``W`` (its inverse is ``exp(-W)``) and
``log|det exp(W)| = trace(W)``. As in Pyro, the exponential is applied as its power series cut
after ``iterations`` terms, ``sum_{k=0}^{iterations} W^k x / k!``, never formed as a matrix; the
inverse is the same series for ``-W``, so it undoes the forward map up to the truncation error.
"""

from __future__ import annotations

import math
from typing import List, Optional

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.dense_nn import DenseNN, check_int
from pyro.nn.flows.util import check_context, check_network

_NORMALIZATIONS = ("none", "weight", "spectral")


def _check_settings(iterations: int, normalization: str) -> None:
    check_int("MatrixExponential", "iterations", iterations, minimum=None)
    if iterations < 1:
        # Pyro's type for this check
        raise AssertionError(f"MatrixExponential: iterations must be positive, got {iterations}")
    if normalization not in _NORMALIZATIONS:
        raise ValueError(f"Unknown normalization method: {normalization}")
    if normalization != "none":
        raise NotImplementedError("Normalization is currently not implemented.")


def _exp_series(weights: torch.Tensor, x: torch.Tensor, iterations: int) -> torch.Tensor:
    """``sum_{k=0}^{iterations} W^k x / k!`` for a (batch of) matrices ``W`` and vectors ``x``."""
    w_t = weights.transpose(-1, -2)
    batched = weights.dim() > 2
    term = x.unsqueeze(-2) if batched else x  # row vectors: x^T W^T = (W x)^T
    out = term
    for k in range(1, iterations + 1):
        term = (term @ w_t) / k
        out = out + term
    return out.squeeze(-2) if batched else out


class _MatrixExponentialMaths:
    """The maths shared by the learned and the conditioned flows: they provide ``weights``
    (``batch + (D, D)``) and ``iterations``."""

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    weights: torch.Tensor
    iterations: int

    def _check(self, x: torch.Tensor, what: str) -> None:
        size = self.weights.shape[-1]
        if x.dim() < 1 or x.shape[-1] != size:
            raise ValueError(
                f"{type(self).__name__}: expected {what} of shape (..., {size}), got shape "
                f"{tuple(x.shape)}"
            )

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x, "an input")
        return _exp_series(self.weights, x, self.iterations)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        self._check(y, "a value")
        return _exp_series(-self.weights, y, self.iterations)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``trace(W)``, one value per vector."""
        trace = self.weights.diagonal(dim1=-2, dim2=-1).sum(-1)
        return trace.expand(torch.broadcast_shapes(x.shape[:-1], trace.shape))


class ConditionedMatrixExponential(_MatrixExponentialMaths, Transform):
    """A matrix-exponential flow with given ``weights`` (what
    :class:`ConditionalMatrixExponential` returns for a context).

    Args:
        weights: the ``batch + (D, D)`` matrix ``W``.
        iterations: terms of the power series after the identity.
        normalization: ``'none'`` (the only one implemented, as in Pyro).
        bound: kept for Pyro's signature; unused with ``normalization='none'``.
    """

    def __init__(self, weights: torch.Tensor, iterations: int = 8, normalization: str = "none",
                 bound: Optional[float] = None) -> None:
        super().__init__(cache_size=1)
        _check_settings(iterations, normalization)
        self.weights = weights
        self.iterations = iterations
        self.normalization = normalization
        self.bound = bound


class MatrixExponential(_MatrixExponentialMaths, TransformModule):
    r"""A flow ``y = exp(W) x`` with a learned ``D x D`` matrix ``W`` (parameter ``weights``,
    each entry drawn uniformly from ``[-1/sqrt(D), 1/sqrt(D)]``),

    .. math:: y = \sum_{k=0}^{K} \frac{W^k x}{k!}, \qquad \log|\det J| = \operatorname{tr} W,

    ``K = iterations``: the exponential's series is cut after ``K`` terms, as in Pyro, and the
    inverse is the same series for ``-W`` (exact as ``K`` grows). Caching is torch's
    ``cache_size=1``: ``inv`` of the value just produced returns its input exactly.

    Args:
        input_dim: size ``D`` of the vectors.
        iterations: terms of the power series after the identity (positive).
        normalization: ``'none'``; ``'weight'`` and ``'spectral'`` raise ``NotImplementedError``
            as in Pyro 1.9, any other value ``ValueError``.
        bound: kept for Pyro's signature; unused with ``normalization='none'``.

    Example::

        flow = MatrixExponential(4)
        flow_dist = dist.TransformedDistribution(dist.Normal(torch.zeros(4), 1.0).to_event(1),
                                                 [flow])
    """

    def __init__(self, input_dim: int, iterations: int = 8, normalization: str = "none",
                 bound: Optional[float] = None) -> None:
        super().__init__(cache_size=1)
        check_int("MatrixExponential", "input_dim", input_dim)
        _check_settings(iterations, normalization)
        self.iterations = iterations
        self.normalization = normalization
        self.bound = bound
        self.weights = torch.nn.Parameter(torch.empty(input_dim, input_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight uniformly from ``[-1/sqrt(D), 1/sqrt(D)]``."""
        bound = 1.0 / math.sqrt(self.weights.shape[0])
        with torch.no_grad():
            self.weights.uniform_(-bound, bound)


class ConditionalMatrixExponential(ConditionalTransformModule):
    """A matrix-exponential flow whose matrix a network computes from a context:
    ``condition(context)`` gives a :class:`ConditionedMatrixExponential` with
    ``W = nn(context)`` viewed as ``context.shape[:-1] + (D, D)`` (a batch of contexts gives a
    batch of matrices, broadcast against the vectors' batch shape).

    Args:
        input_dim: size ``D`` of the vectors.
        nn: a network from contexts to ``input_dim * input_dim`` outputs, e.g.
            ``DenseNN(context_dim, [10 * input_dim] * 2, param_dims=[input_dim * input_dim])``.
        iterations, normalization, bound: as for :class:`MatrixExponential`.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, input_dim: int, nn: torch.nn.Module, iterations: int = 8,
                 normalization: str = "none", bound: Optional[float] = None) -> None:
        super().__init__()
        check_int(type(self).__name__, "input_dim", input_dim)
        check_network(type(self).__name__, "nn", nn)
        _check_settings(iterations, normalization)
        self.input_dim = input_dim
        self.nn = nn
        self.iterations = iterations
        self.normalization = normalization
        self.bound = bound

    def condition(self, context: torch.Tensor) -> ConditionedMatrixExponential:
        """The flow for ``context`` (of shape ``batch + (context_dim,)``)."""
        check_context(type(self).__name__, self.nn, context, alone=True)
        out = self.nn(context)
        d = self.input_dim
        if out.shape[-1] != d * d:
            raise ValueError(
                f"ConditionalMatrixExponential: the network must return {d} * {d} = {d * d} "
                f"values per context, got output of shape {tuple(out.shape)}"
            )
        weights = out.reshape(out.shape[:-1] + (d, d))
        return ConditionedMatrixExponential(weights, self.iterations, self.normalization,
                                            self.bound)


def matrix_exponential(input_dim: int, iterations: int = 8, normalization: str = "none",
                       bound: Optional[float] = None) -> MatrixExponential:
    """Build a :class:`MatrixExponential` (same arguments)."""
    return MatrixExponential(input_dim, iterations=iterations, normalization=normalization,
                             bound=bound)


def conditional_matrix_exponential(
    input_dim: int, context_dim: int, hidden_dims: Optional[List[int]] = None,
    iterations: int = 8, normalization: str = "none", bound: Optional[float] = None
) -> ConditionalMatrixExponential:
    """Build a :class:`ConditionalMatrixExponential` with a :class:`~pyro.nn.DenseNN`.

    Args:
        input_dim: size ``D`` of the vectors.
        context_dim: size of the context.
        hidden_dims: the network's hidden widths (default ``[10 * input_dim, 10 * input_dim]``).
        iterations, normalization, bound: as for :class:`MatrixExponential`.
    """
    if hidden_dims is None:
        hidden_dims = [input_dim * 10, input_dim * 10]
    nn = DenseNN(context_dim, hidden_dims, param_dims=[input_dim * input_dim])
    return ConditionalMatrixExponential(input_dim, nn, iterations=iterations,
                                        normalization=normalization, bound=bound)


__all__ = [
    "ConditionalMatrixExponential",
    "ConditionedMatrixExponential",
    "MatrixExponential",
    "conditional_matrix_exponential",
    "matrix_exponential",
]
