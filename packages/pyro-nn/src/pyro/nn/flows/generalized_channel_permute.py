"""Generalised channel permutations (Kingma and Dhariwal, 2018, "Glow"): an invertible 1x1
convolution of images of shape ``(..., C, H, W)``.

Every pixel's channel vector is multiplied by one ``C x C`` matrix ``W = P L U``: ``P`` a fixed
permutation matrix, ``L`` unit lower-triangular and ``U`` upper-triangular, both read from one
learned (or, conditionally, network-computed) matrix ``LU`` (``L`` its strictly lower part plus
the identity, ``U`` its upper part with the diagonal). So ``log|det| = H W sum_c log|U_cc|`` and
the inverse is two triangular solves, exact.
"""

from __future__ import annotations

from typing import List, Optional

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.distributions.transforms.permutation import checked_permutation
from pyro.nn.dense_nn import DenseNN, check_int, check_int_list
from pyro.nn.flows.util import check_context, check_network


def _permutation_matrix(permutation: torch.Tensor, channels: int) -> torch.Tensor:
    """The ``channels x channels`` matrix whose row ``i`` is the unit vector ``permutation[i]``
    (checked, once, to be a reordering of ``0..channels-1``)."""
    permutation = torch.as_tensor(permutation)
    if permutation.numel() != channels:
        raise ValueError(
            f'Keyword argument "permutation" expected to have {channels} elements but '
            f"{permutation.numel()} found."
        )
    order = permutation.reshape(-1)
    if order.dtype.is_floating_point and torch.equal(order, order.round()):
        order = order.long()  # Pyro takes a float tensor of whole numbers too
    try:
        order = checked_permutation(order)
    except (TypeError, ValueError) as e:  # Permute's check, named for this flow
        raise type(e)(f"GeneralizedChannelPermute: {str(e).removeprefix('Permute: ')}") from None
    eye = torch.eye(channels, device=permutation.device)
    return eye[order]


class _ChannelPermuteMaths:
    """The maths shared by the learned and the conditioned flows: they provide ``LU`` (of shape
    ``batch + (C, C)``) and ``permutation`` (``(C, C)``)."""

    domain = constraints.independent(constraints.real, 3)
    codomain = constraints.independent(constraints.real, 3)
    bijective = True

    LU: torch.Tensor
    permutation: torch.Tensor

    @property
    def L(self) -> torch.Tensor:
        """The unit lower-triangular factor."""
        lu = self.LU
        eye = torch.eye(lu.shape[-1], dtype=lu.dtype, device=lu.device)
        return lu.tril(-1) + eye

    @property
    def U(self) -> torch.Tensor:
        """The upper-triangular factor (with the diagonal)."""
        return self.LU.triu()

    @property
    def U_diag(self) -> torch.Tensor:
        """The diagonal of ``U``."""
        return self.LU.diagonal(dim1=-2, dim2=-1)

    def _check(self, x: torch.Tensor, what: str) -> None:
        channels = self.LU.shape[-1]
        if x.dim() < 3 or x.shape[-3] != channels:
            raise ValueError(
                f"{type(self).__name__}: expected {what} of shape (..., {channels}, H, W) "
                f"(channels first), got shape {tuple(x.shape)}"
            )

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x, "an input")
        weight = self.permutation @ (self.L @ self.U)
        flat = x.reshape(x.shape[:-2] + (-1,))
        return (weight @ flat).reshape(x.shape[:-3] + weight.shape[-2:-1] + x.shape[-2:])

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        self._check(y, "a value")
        flat = self.permutation.transpose(-1, -2) @ y.reshape(y.shape[:-2] + (-1,))
        flat = torch.linalg.solve_triangular(self.LU, flat, upper=False, unitriangular=True)
        flat = torch.linalg.solve_triangular(self.LU, flat, upper=True)
        return flat.reshape(flat.shape[:-1] + y.shape[-2:])

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``H * W * sum(log|diag U|)``, one value per image."""
        h, w = x.shape[-2:]
        log_det = (h * w) * self.U_diag.abs().log().sum(-1)
        return log_det.expand(torch.broadcast_shapes(x.shape[:-3], log_det.shape))


class ConditionedGeneralizedChannelPermute(_ChannelPermuteMaths, Transform):
    """A generalised channel permutation with a given ``LU`` matrix (what
    :class:`ConditionalGeneralizedChannelPermute` returns for a context).

    Args:
        permutation: the ``(C, C)`` permutation matrix ``P``.
        LU: a ``batch + (C, C)`` matrix holding ``L`` (below the diagonal) and ``U``.
    """

    def __init__(self, permutation: torch.Tensor, LU: torch.Tensor) -> None:
        super().__init__(cache_size=1)
        self.permutation = permutation
        self.LU = LU


class GeneralizedChannelPermute(_ChannelPermuteMaths, TransformModule):
    r"""An invertible 1x1 convolution of ``(..., C, H, W)`` images with a learned matrix,

    .. math:: y_{:, h, w} = P L U\, x_{:, h, w}, \qquad
              \log|\det J| = H W \sum_c \log|U_{cc}|,

    ``P`` a fixed permutation (buffer ``permutation``, a ``(C, C)`` matrix), ``L`` and ``U`` the
    unit lower- and upper-triangular parts of the learned parameter ``LU`` (``(C, C)``). ``LU``
    starts as the LU factorisation of a random orthogonal matrix (whose pivoting gives ``P``
    unless ``permutation`` is given), so the flow starts volume-preserving. The inverse is exact
    (two triangular solves); caching is torch's ``cache_size=1``.

    Args:
        channels: number of channels ``C``.
        permutation: the permutation, as ``C`` channel indices (row ``i`` of ``P`` picks channel
            ``permutation[i]``); by default the one of the random initial factorisation.

    Example::

        flow = GeneralizedChannelPermute(channels=3)
        base = dist.Normal(torch.zeros(3, 8, 8), 1.0).to_event(3)
        flow_dist = dist.TransformedDistribution(base, [flow])
    """

    def __init__(self, channels: int = 3, permutation: Optional[torch.Tensor] = None) -> None:
        super().__init__(cache_size=1)
        check_int("GeneralizedChannelPermute", "channels", channels)
        self.channels = channels
        orthogonal = torch.linalg.qr(torch.randn(channels, channels))[0]
        pivots, lower, upper = torch.linalg.lu(orthogonal)
        if permutation is None:
            perm_matrix = pivots
        else:
            perm_matrix = _permutation_matrix(permutation, channels)
        self.register_buffer("permutation", perm_matrix)
        self.LU = torch.nn.Parameter(lower.tril(-1) + upper)


class ConditionalGeneralizedChannelPermute(ConditionalTransformModule):
    """A generalised channel permutation whose ``LU`` matrix a network computes from a context:
    ``condition(context)`` gives a :class:`ConditionedGeneralizedChannelPermute` with
    ``LU = nn(context)`` viewed as ``context.shape[:-1] + (C, C)`` (so a batch of contexts gives a
    batch of matrices, which broadcasts against the images' batch shape).

    Args:
        nn: a network from contexts to ``channels * channels`` outputs, e.g.
            ``DenseNN(context_dim, [10 * channels] * 2, param_dims=[channels * channels])``.
        channels: number of channels ``C``.
        permutation: the permutation as ``C`` channel indices (default: a random one).
    """

    domain = constraints.independent(constraints.real, 3)
    codomain = constraints.independent(constraints.real, 3)
    bijective = True

    def __init__(self, nn: torch.nn.Module, channels: int = 3,
                 permutation: Optional[torch.Tensor] = None) -> None:
        super().__init__()
        check_network(type(self).__name__, "nn", nn)
        check_int(type(self).__name__, "channels", channels)
        self.nn = nn
        self.channels = channels
        if permutation is None:
            permutation = torch.randperm(channels)
        self.register_buffer("permutation", _permutation_matrix(permutation, channels))

    def condition(self, context: torch.Tensor) -> ConditionedGeneralizedChannelPermute:
        """The flow for ``context`` (of shape ``batch + (context_dim,)``)."""
        check_context(type(self).__name__, self.nn, context, alone=True)
        out = self.nn(context)
        size = self.channels * self.channels
        if out.shape[-1] != size:
            raise ValueError(
                f"ConditionalGeneralizedChannelPermute: the network must return "
                f"{self.channels} * {self.channels} = {size} values per context, got output of "
                f"shape {tuple(out.shape)}"
            )
        lu = out.reshape(out.shape[:-1] + (self.channels, self.channels))
        return ConditionedGeneralizedChannelPermute(self.permutation, lu)


def generalized_channel_permute(**kwargs: object) -> GeneralizedChannelPermute:
    """Build a :class:`GeneralizedChannelPermute` (keywords ``channels``, ``permutation``)."""
    return GeneralizedChannelPermute(**kwargs)  # type: ignore[arg-type]


def conditional_generalized_channel_permute(
    context_dim: int, channels: int = 3, hidden_dims: Optional[List[int]] = None
) -> ConditionalGeneralizedChannelPermute:
    """Build a :class:`ConditionalGeneralizedChannelPermute` with a :class:`~pyro.nn.DenseNN`.

    Args:
        context_dim: size of the context.
        channels: number of channels ``C``.
        hidden_dims: the network's hidden widths (default ``[10 * channels, 10 * channels]``).
    """
    who = "conditional_generalized_channel_permute"
    check_int(who, "channels", channels)
    check_int(who, "context_dim", context_dim)
    if hidden_dims is not None:
        check_int_list(who, "hidden_dims", hidden_dims)
    if hidden_dims is None:
        hidden_dims = [channels * 10, channels * 10]
    nn = DenseNN(context_dim, hidden_dims, param_dims=[channels * channels])
    return ConditionalGeneralizedChannelPermute(nn, channels)


__all__ = [
    "ConditionalGeneralizedChannelPermute",
    "ConditionedGeneralizedChannelPermute",
    "GeneralizedChannelPermute",
    "conditional_generalized_channel_permute",
    "generalized_channel_permute",
]
