"""Affine coupling flows (RealNVP, Dinh et al. 2017): the first ``split_dim`` coordinates pass
through unchanged and set the location and scale of an affine map of the others.

Both directions take one pass of the network, so sampling and scoring are equally cheap and
every value is inverted exactly.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import torch

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.dense_nn import ConditionalDenseNN, DenseNN
from pyro.nn.dense_nn import check_int, check_int_list
from pyro.nn.flows.util import (
    BoundNetwork,
    PassCache,
    check_clips,
    check_context,
    check_kwargs,
    check_network,
    clamp_preserve_gradients,
)

_KWARGS = ("dim", "log_scale_min_clip", "log_scale_max_clip")


def _check_dim(who: str, dim: int) -> None:
    if dim >= 0:
        raise ValueError(f"{who}: 'dim' keyword argument must be negative, got {dim}")


class AffineCoupling(TransformModule):
    r"""An affine coupling layer. Split ``x`` along ``dim`` into ``x_a`` (the first
    ``split_dim`` entries) and ``x_b`` (the rest); then

    .. math:: y_a = x_a, \qquad y_b = \mu(x_a) + \exp(\text{clip}(s(x_a))) \odot x_b,

    where ``(mu, s) = hypernet(x_a)`` and the log-scale ``s`` is clipped in value to
    ``[log_scale_min_clip, log_scale_max_clip]`` (its gradient is left unclipped). The inverse
    is exact: ``x_a = y_a`` gives ``mu`` and ``s`` again, and ``x_b = (y_b - mu) exp(-s)``.
    The log-determinant of the Jacobian is the sum of the log-scales over the event.

    The flow acts on events of ``-dim`` dimensions (``event_dim = -dim``): with ``dim=-1``
    vectors, with ``dim=-2`` matrices split by rows, and so on. The network sees ``x_a``
    flattened over its event dims, ``batch + (split_dim * n,)`` with ``n`` the product of the
    event dims right of ``dim``, and returns ``mu`` and ``s`` flattened the same way,
    ``batch + ((size - split_dim) * n,)`` each.

    Caching is torch's ``cache_size=1``: inverting the last value the flow produced returns its
    input, and ``log_abs_det_jacobian`` of that pair reuses the log-scales of the pass.

    Args:
        split_dim: how many entries along ``dim`` pass through unchanged.
        hypernet: a network mapping the flattened ``x_a`` to a pair ``(mu, s)``, e.g.
            ``DenseNN(split_dim, [10 * input_dim], param_dims=[input_dim - split_dim] * 2)``.
        dim: the (negative) dimension to split along; ``-dim`` is the event dimension.
        log_scale_min_clip: lower bound of the log-scale.
        log_scale_max_clip: upper bound of the log-scale.

    Example::

        base = dist.Normal(torch.zeros(6), torch.ones(6))
        hypernet = DenseNN(3, [60], param_dims=[3, 3])
        flow = AffineCoupling(3, hypernet)
        pyro.module("flow", flow)
        flow_dist = dist.TransformedDistribution(base, [flow])
        flow_dist.log_prob(flow_dist.rsample())
    """

    bijective = True

    def __init__(self, split_dim: int, hypernet: Callable[[torch.Tensor], Any], *, dim: int = -1,
                 log_scale_min_clip: float = -5.0, log_scale_max_clip: float = 3.0) -> None:
        super().__init__(cache_size=1)
        _check_dim(type(self).__name__, dim)
        check_int(type(self).__name__, "split_dim", split_dim)
        check_network(type(self).__name__, "hypernet", hypernet)
        check_clips(type(self).__name__, log_scale_min_clip, log_scale_max_clip)
        self.split_dim = split_dim
        self.nn = hypernet
        self.dim = dim
        self.log_scale_min_clip = log_scale_min_clip
        self.log_scale_max_clip = log_scale_max_clip
        self._event = (constraints.real_vector if dim == -1
                       else constraints.independent(constraints.real, -dim))
        # (x, log-scales at x) of the last pass, for the log-det of the cached pair
        self._log_scale = PassCache()

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        """The number of rightmost dims an event spans, ``-dim``."""
        return -self.dim

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        """Real tensors of ``event_dim`` dims."""
        return self._event

    @property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        """Real tensors of ``event_dim`` dims."""
        return self._event

    # ----- the maths, shared by both directions ------------------------------------------------
    def _split(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        size = x.size(self.dim)
        if not 0 < self.split_dim < size:
            raise ValueError(
                f"{type(self).__name__}: split_dim={self.split_dim} must lie in 1..{size - 1} for "
                f"an input of shape {tuple(x.shape)} split along dim {self.dim}"
            )
        a, b = x.split([self.split_dim, size - self.split_dim], dim=self.dim)
        return a, b

    def _params(self, x_a: torch.Tensor, b_shape: torch.Size) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(mu, log_scale)`` from the pass-through part, shaped like the other part (``b_shape``
        is its event shape), the log-scale clipped."""
        event_dim = -self.dim
        out: Any = self.nn(x_a.reshape(x_a.shape[: x_a.dim() - event_dim] + (-1,)))
        if isinstance(out, torch.Tensor) and out.dim() >= 2 and out.shape[-2] == 2:
            out = out.unbind(-2)
        want = math.prod(b_shape)
        if (not isinstance(out, (tuple, list)) or len(out) != 2
                or any(o.shape[-1:] != (want,) for o in out)):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else [
                tuple(o.shape) for o in out]
            raise ValueError(
                f"{type(self).__name__}: the hypernet returned {got}; expected a pair (mean, "
                f"log_scale) of shape (..., {want}) each, {tuple(b_shape)} flattened"
            )
        mean, raw = out
        mean = mean.reshape(mean.shape[:-1] + b_shape)
        raw = raw.reshape(raw.shape[:-1] + b_shape)
        return mean, clamp_preserve_gradients(raw, self.log_scale_min_clip,
                                              self.log_scale_max_clip)

    def _join(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        # a network bound to a batch of contexts may give b a larger batch than a
        event_dim = -self.dim
        batch = b.shape[: b.dim() - event_dim]
        if a.shape[: a.dim() - event_dim] != batch:
            a = a.expand(batch + a.shape[a.dim() - event_dim:])
        return torch.cat([a, b], dim=self.dim)

    # ----- torch's Transform interface ----------------------------------------------------------
    def _call(self, x: torch.Tensor) -> torch.Tensor:
        x_a, x_b = self._split(x)
        mean, log_scale = self._params(x_a, x_b.shape[x_b.dim() + self.dim:])
        self._log_scale.save(x, log_scale)
        return self._join(x_a, torch.exp(log_scale) * x_b + mean)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        y_a, y_b = self._split(y)
        mean, log_scale = self._params(y_a, y_b.shape[y_b.dim() + self.dim:])
        x = self._join(y_a, (y_b - mean) * torch.exp(-log_scale))
        self._log_scale.save(x, log_scale)
        return x

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``log |det dy/dx|``, one value per event (summed over ``event_dim`` dims)."""
        log_scale = self._log_scale.get(self, x, y)
        if log_scale is None:
            x_a, x_b = self._split(x)
            log_scale = self._params(x_a, x_b.shape[x_b.dim() + self.dim:])[1]
        event_dim = -self.dim
        return log_scale.reshape(log_scale.shape[: log_scale.dim() - event_dim] + (-1,)).sum(-1)


class ConditionalAffineCoupling(ConditionalTransformModule):
    """An :class:`AffineCoupling` whose network also sees a context:
    ``flow.condition(context)`` is the coupling with ``mu, s = hypernet(x_a, context=context)``.

    The batch shapes of the input and of the context broadcast.

    Args:
        split_dim: how many entries along ``dim`` pass through unchanged.
        hypernet: a network taking ``(x_a, context=context)`` to ``(mu, s)``, e.g.
            ``ConditionalDenseNN(split_dim, context_dim, [10 * input_dim],
            param_dims=[input_dim - split_dim] * 2)``.
        **kwargs: ``dim``, ``log_scale_min_clip``, ``log_scale_max_clip``, as for
            :class:`AffineCoupling`.

    Example::

        flow = conditional_affine_coupling(6, context_dim=2)
        flow_dist = dist.ConditionalTransformedDistribution(base, [flow])
        flow_dist.condition(context).log_prob(y)
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, split_dim: int, hypernet: torch.nn.Module, **kwargs: Any) -> None:
        super().__init__()
        check_kwargs("ConditionalAffineCoupling", kwargs, _KWARGS)
        _check_dim(type(self).__name__, kwargs.get("dim", -1))
        check_int(type(self).__name__, "split_dim", split_dim)
        check_network(type(self).__name__, "hypernet", hypernet)
        check_clips(type(self).__name__, kwargs.get("log_scale_min_clip", -5.0),
                    kwargs.get("log_scale_max_clip", 3.0))
        self.split_dim = split_dim
        self.nn = hypernet
        self.kwargs: Dict[str, Any] = kwargs

    def condition(self, context: torch.Tensor) -> AffineCoupling:
        """The :class:`AffineCoupling` for ``context``."""
        check_context(type(self).__name__, self.nn, context)
        return AffineCoupling(self.split_dim, BoundNetwork(self.nn, context), **self.kwargs)


def _coupling_sizes(who: str, input_dim: Union[int, Sequence[int]],
                    hidden_dims: Optional[Sequence[int]], split_dim: Optional[int],
                    dim: int) -> Tuple[int, int, int, list]:
    """``(split_dim, network input size, size of each output, hidden_dims)`` of a coupling on
    events of shape ``input_dim`` split along ``dim``."""
    _check_dim(who, dim)
    event_dim = -dim
    if isinstance(input_dim, Sequence) and not isinstance(input_dim, str):
        check_int_list(who, "input_dim", input_dim)
    else:
        check_int(who, "input_dim", input_dim)
    if split_dim is not None:
        check_int(who, "split_dim", split_dim, minimum=None)
    if hidden_dims is not None:
        check_int_list(who, "hidden_dims", hidden_dims)
    if isinstance(input_dim, int):
        if event_dim != 1:
            raise ValueError(
                f"{who}: with dim={dim}, input_dim must be the event shape ({event_dim} sizes), "
                f"got {input_dim}"
            )
        event_shape: Tuple[int, ...] = (input_dim,)
    else:
        event_shape = tuple(int(s) for s in input_dim)
        if len(event_shape) != event_dim:
            raise ValueError(
                f"{who}: event shape {event_shape} must have same length as event_dim {event_dim}"
            )
    size, rest = event_shape[0], math.prod(event_shape[1:])
    if split_dim is None:
        split_dim = size // 2
    if not 0 < split_dim < size:
        raise ValueError(
            f"{who}: split_dim={split_dim} must lie in 1..{size - 1} for events of shape "
            f"{event_shape} split along dim {dim}"
        )
    if hidden_dims is None:
        hidden_dims = [10 * math.prod(event_shape)]
    return split_dim, split_dim * rest, (size - split_dim) * rest, list(hidden_dims)


def affine_coupling(input_dim: Union[int, Sequence[int]],
                    hidden_dims: Optional[Sequence[int]] = None, split_dim: Optional[int] = None,
                    dim: int = -1, **kwargs: Any) -> AffineCoupling:
    """Build an :class:`AffineCoupling` flow with a :class:`~pyro.nn.DenseNN` hypernet.

    Args:
        input_dim: size of the vectors the flow maps (``dim=-1``), or the event shape (a
            sequence of ``-dim`` sizes).
        hidden_dims: widths of the network's hidden layers (default ``[10 * n]``, ``n`` the
            number of entries of an event).
        split_dim: how many entries along ``dim`` pass through (default half, rounded down).
        dim: the (negative) dimension to split along.
        **kwargs: ``log_scale_min_clip``, ``log_scale_max_clip``.

    Returns:
        The flow; its network is ``flow.nn``.
    """
    split_dim, n_in, n_out, hidden = _coupling_sizes("affine_coupling", input_dim, hidden_dims,
                                                     split_dim, dim)
    hypernet = DenseNN(n_in, hidden, param_dims=[n_out, n_out])
    return AffineCoupling(split_dim, hypernet, dim=dim, **kwargs)


def conditional_affine_coupling(input_dim: Union[int, Sequence[int]], context_dim: int,
                                hidden_dims: Optional[Sequence[int]] = None,
                                split_dim: Optional[int] = None, dim: int = -1,
                                **kwargs: Any) -> ConditionalAffineCoupling:
    """Build a :class:`ConditionalAffineCoupling` flow with a
    :class:`~pyro.nn.ConditionalDenseNN` hypernet.

    Args:
        input_dim: size of the vectors the flow maps (``dim=-1``), or the event shape.
        context_dim: size of the context vector.
        hidden_dims: widths of the hidden layers (default ``[10 * n]``, ``n`` the number of
            entries of an event).
        split_dim: how many entries along ``dim`` pass through (default half, rounded down).
        dim: the (negative) dimension to split along.
        **kwargs: ``log_scale_min_clip``, ``log_scale_max_clip``.
    """
    check_int("conditional_affine_coupling", "context_dim", context_dim)
    split_dim, n_in, n_out, hidden = _coupling_sizes("conditional_affine_coupling", input_dim,
                                                     hidden_dims, split_dim, dim)
    hypernet = ConditionalDenseNN(n_in, context_dim, hidden, param_dims=[n_out, n_out])
    return ConditionalAffineCoupling(split_dim, hypernet, dim=dim, **kwargs)


__all__ = [
    "AffineCoupling",
    "ConditionalAffineCoupling",
    "affine_coupling",
    "conditional_affine_coupling",
]
