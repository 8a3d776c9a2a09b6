"""Pyro's semantics on top of :mod:`torch.distributions`: shapes, expand, to_event, mask.

:class:`TorchDistributionMixin` and the three distributions its methods return live here
together, since each needs the other: ``expand`` gives an :class:`ExpandedDistribution`,
``mask`` a :class:`MaskedDistribution` and ``to_event`` an ``Independent``, and all three are
subclasses of the mixin. ``Independent`` is wrapped here (by
:func:`~pyro.distributions.torch_wrapper.wrap_torch_distribution`, as every torch class is) and
is public as :class:`pyro.distributions.torch.Independent`.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable, Optional, Sequence, Tuple

import torch
import torch.distributions as _td
from torch.distributions import constraints

from pyro.distributions.conjugate_updates import (
    expanded_conjugate_update,
    independent_conjugate_update,
    masked_conjugate_update,
)
from pyro.distributions.distribution import (
    Distribution,
    keep_rsample_override,
    override_aware_has_rsample,
)
from pyro.distributions.torch_wrapper import (
    _get_checked_instance,
    not_enumerable,
    wrap_torch_distribution,
)
from pyro.distributions.util import broadcast_shape, scale_and_mask, sum_rightmost
from pyro.distributions.validation import (
    cannot_expand,
    construction_error,
    expand_error,
    validate_sample,
)
from pyro.ops.score_parts import ScoreParts

_EMPTY = torch.Size()


def _named_expand_errors(expand: Callable[..., Any]) -> Callable[..., Any]:
    """``expand`` whose failure on a batch shape it cannot reach (torch's ``RuntimeError``, or
    an inner distribution's error) becomes a :class:`DistributionShapeError` naming the outer
    class and both shapes. The valid path only passes through."""

    @functools.wraps(expand)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return expand(self, *args, **kwargs)  # the subclass's own signature, untouched
        except RuntimeError as e:
            if isinstance(e, NotImplementedError) or getattr(e, "dist_name", None) == type(self).__name__:
                raise
            try:
                shape = torch.Size(args[0] if args else kwargs.get("batch_shape"))
            except TypeError:
                raise e from None
            if not cannot_expand(self.batch_shape, shape):
                raise
            raise expand_error(self, shape) from e

    checked._names_expand_errors = True  # type: ignore[attr-defined]
    return checked


class TorchDistributionMixin(Distribution):
    """What Pyro adds to every :class:`torch.distributions.Distribution`.

    Mixed into torch's classes *after* them, so torch's own methods take precedence and this
    class only adds: calling to sample, :meth:`shape`, :meth:`expand_by`, :meth:`to_event`,
    :meth:`mask`, :meth:`score_parts` and :meth:`infer_shapes`. A subclass's own ``expand``
    is wrapped (arguments passed through as they are) so that an impossible batch shape gets an
    error naming the class and both shapes
    (:class:`~pyro.distributions.validation.DistributionShapeError`).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("expand")
        if callable(own) and not getattr(own, "_names_expand_errors", False):
            cls.expand = _named_expand_errors(own)  # type: ignore[method-assign]

    def __call__(self, sample_shape: torch.Size = _EMPTY) -> torch.Tensor:
        """Draw a sample of shape ``sample_shape + batch_shape + event_shape``.

        Uses ``rsample`` when the distribution is reparameterisable, ``sample`` otherwise.
        """
        if self.has_rsample:
            return self.rsample(sample_shape)
        return self.sample(sample_shape)

    @property
    def event_dim(self) -> int:
        """The number of event dims, ``len(event_shape)``."""
        return len(self.event_shape)

    def shape(self, sample_shape: torch.Size = _EMPTY) -> torch.Size:
        """Return the shape of a sample: ``sample_shape + batch_shape + event_shape``."""
        return torch.Size(sample_shape) + self.batch_shape + self.event_shape

    @classmethod
    def infer_shapes(cls, **arg_shapes: Sequence[int]) -> Tuple[torch.Size, torch.Size]:
        """Return ``(batch_shape, event_shape)`` for parameters of the given shapes.

        Uses the event dims of :attr:`arg_constraints`; the event shape is read from a parameter
        whose event dim matches the support's.

        Example::

            >>> Normal.infer_shapes(loc=(3, 1), scale=(4,))
            (torch.Size([3, 4]), torch.Size([]))
        """
        arg_constraints = cls.arg_constraints
        if isinstance(arg_constraints, property):
            arg_constraints = {}
        support = cls.__dict__.get("support", getattr(cls, "support", None))
        support_dim = getattr(support, "event_dim", 0)
        if not isinstance(support_dim, int):
            support_dim = 0
        batch_shapes = []
        event_shape = torch.Size()
        for name, shape in arg_shapes.items():
            shape = tuple(shape)
            event_dim = getattr(arg_constraints.get(name, constraints.real), "event_dim", 0)
            batch_shapes.append(shape[: len(shape) - event_dim])
            if support_dim and event_dim == support_dim and not event_shape:
                event_shape = torch.Size(shape[len(shape) - event_dim:])
        return torch.Size(broadcast_shape(*batch_shapes)), event_shape

    def expand_by(self, sample_shape: Sequence[int]) -> "TorchDistributionMixin":
        """Expand the batch shape on the left by ``sample_shape``.

        Returns:
            A distribution of batch shape ``sample_shape + self.batch_shape``.
        """
        sample_shape = torch.Size(sample_shape)
        if not sample_shape:
            return self
        return self.expand(sample_shape + self.batch_shape)

    def to_event(self, reinterpreted_batch_ndims: Optional[int] = None) -> "TorchDistributionMixin":
        """Treat the ``reinterpreted_batch_ndims`` rightmost batch dims as event dims.

        Args:
            reinterpreted_batch_ndims: how many batch dims to move into the event; ``None``
                (default) moves all of them; a negative number moves event dims of an
                :class:`Independent` back into the batch.

        Returns:
            An :class:`Independent` distribution (or ``self`` when the number is zero).
        """
        if reinterpreted_batch_ndims is None:
            reinterpreted_batch_ndims = len(self.batch_shape)
        elif type(reinterpreted_batch_ndims) is not int:
            reinterpreted_batch_ndims = _ndims(f"{type(self).__name__}.to_event",
                                               reinterpreted_batch_ndims)
        if reinterpreted_batch_ndims == 0:
            return self
        if reinterpreted_batch_ndims < 0:
            if not isinstance(self, Independent) or -reinterpreted_batch_ndims > self.reinterpreted_batch_ndims:
                raise ValueError(
                    f"{type(self).__name__}.to_event({reinterpreted_batch_ndims}): cannot move "
                    f"more event dims back into the batch than were reinterpreted "
                    f"(event_shape={tuple(self.event_shape)})"
                )
            undone = self.base_dist.to_event(self.reinterpreted_batch_ndims + reinterpreted_batch_ndims)
            return undone if undone is self.base_dist else keep_rsample_override(self, undone)
        if reinterpreted_batch_ndims > len(self.batch_shape):
            raise ValueError(
                f"{type(self).__name__}.to_event({reinterpreted_batch_ndims}): the distribution "
                f"has only {len(self.batch_shape)} batch dims (batch_shape="
                f"{tuple(self.batch_shape)})"
            )
        if isinstance(self, Independent):
            merged = Independent(self.base_dist,
                                 self.reinterpreted_batch_ndims + reinterpreted_batch_ndims)
            return keep_rsample_override(self, merged)
        return Independent(self, reinterpreted_batch_ndims)

    def independent(self, reinterpreted_batch_ndims: Optional[int] = None) -> "TorchDistributionMixin":
        """Deprecated alias of :meth:`to_event`."""
        from pyro.util import warn_once

        warn_once("independent", "Distribution.independent is deprecated; use .to_event instead")
        return self.to_event(reinterpreted_batch_ndims)

    def mask(self, mask: Any) -> "MaskedDistribution":
        """Return this distribution with its log-density zeroed where ``mask`` is False.

        Args:
            mask: a bool, or a bool tensor broadcastable with ``batch_shape``.
        """
        return MaskedDistribution(self, mask)


class TorchDistribution(torch.distributions.Distribution, TorchDistributionMixin):
    """Base class for new distributions: subclass it and write only the math.

    A subclass sets :attr:`arg_constraints` and :attr:`support`, calls
    ``super().__init__(batch_shape, event_shape, validate_args)`` and implements ``sample`` (or
    ``rsample`` with ``has_rsample = True``) and ``log_prob``. Everything else (``expand``,
    ``to_event``, ``mask``, ``score_parts``, calling to sample) comes from this base; a
    subclass without its own ``expand`` gets an :class:`ExpandedDistribution`.
    """

    _validate_sample = validate_sample
    _get_checked_instance = _get_checked_instance
    enumerate_support = not_enumerable

    def __init__(self, batch_shape: Sequence[int] = torch.Size(), event_shape: Sequence[int] = torch.Size(),
                 validate_args: Optional[bool] = None) -> None:
        try:
            super().__init__(batch_shape, event_shape, validate_args)
        except ValueError as e:  # torch's parameter check: say which site the distribution was for
            raise construction_error(str(e)) from e

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "TorchDistribution":
        """Return this distribution broadcast to ``batch_shape`` (new leading or size-1 dims)."""
        batch_shape = torch.Size(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        return ExpandedDistribution(self, batch_shape)


def _ndims(where: str, value: Any) -> int:
    """``value`` as an int number of dims (a bool, float or string is refused)."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{where}: reinterpreted_batch_ndims must be an int, got "
                    f"{type(value).__name__} {value!r}")


def _check_expand(dist: Any, batch_shape: torch.Size) -> None:
    if cannot_expand(dist.batch_shape, batch_shape):
        raise expand_error(dist, batch_shape)


class _WrappedDistribution(TorchDistribution):
    """Base of distributions that wrap ``self.base_dist``: sampling traits and support are its."""

    has_rsample = override_aware_has_rsample(lambda self: self.base_dist.has_rsample)

    @property
    def has_enumerate_support(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_enumerate_support

    @constraints.dependent_property
    def support(self) -> Any:
        return self.base_dist.support


class ExpandedDistribution(_WrappedDistribution):
    """A distribution broadcast to a larger batch shape, with independent draws per element.

    Works for any ``base_dist``; new dims (on the left, or where ``base_dist`` has size 1) get
    independent samples, and the log-density is the base's broadcast to the new batch shape.

    Args:
        base_dist: the distribution to expand.
        batch_shape: the new batch shape.
    """

    arg_constraints: dict = {}

    def __init__(self, base_dist: Any, batch_shape: Sequence[int] = ()) -> None:
        batch_shape = torch.Size(batch_shape)
        _check_expand(base_dist, batch_shape)
        self.base_dist = base_dist
        base_batch = base_dist.batch_shape
        k = len(batch_shape)
        padded = (1,) * (k - len(base_batch)) + tuple(base_batch)
        self._new_dims = tuple(i for i in range(k) if padded[i] == 1 and batch_shape[i] != 1)
        kept = tuple(i for i in range(k) if i not in self._new_dims)
        self._new_sizes = tuple(batch_shape[i] for i in self._new_dims)
        self._kept_shape = tuple(padded[i] for i in kept)
        # Position, within [new dims..., kept dims...], of each output batch dim.
        order = {d: j for j, d in enumerate(self._new_dims + kept)}
        self._perm = tuple(order[i] for i in range(k))
        super().__init__(batch_shape, base_dist.event_shape, validate_args=False)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "ExpandedDistribution":
        batch_shape = torch.Size(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        _check_expand(self, batch_shape)
        return keep_rsample_override(self, ExpandedDistribution(self.base_dist, batch_shape))

    def _draw(self, draw: Any, sample_shape: torch.Size) -> torch.Tensor:
        sample_shape = torch.Size(sample_shape)
        n = 1
        for size in self._new_sizes:
            n *= size
        x = draw(sample_shape + (n,))
        s = len(sample_shape)
        event = self.event_shape
        x = x.reshape(sample_shape + self._new_sizes + self._kept_shape + event)
        perm = list(range(s)) + [s + p for p in self._perm]
        perm += list(range(s + len(self._perm), x.dim()))
        x = x.permute(perm)
        return x.expand(sample_shape + self.batch_shape + event)

    def sample(self, sample_shape: torch.Size = _EMPTY) -> torch.Tensor:
        return self._draw(self.base_dist.sample, sample_shape)

    def rsample(self, sample_shape: torch.Size = _EMPTY) -> torch.Tensor:
        return self._draw(self.base_dist.rsample, sample_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        shape = broadcast_shape(self.batch_shape, value.shape[: value.dim() - len(self.event_shape)])
        return self.base_dist.log_prob(value).expand(shape)

    def score_parts(self, value: torch.Tensor, *args: Any, **kwargs: Any) -> ScoreParts:
        shape = broadcast_shape(self.batch_shape, value.shape[: value.dim() - len(self.event_shape)])
        parts = self.base_dist.score_parts(value)
        return ScoreParts(*(p.expand(shape) if isinstance(p, torch.Tensor) else p for p in parts))

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        values = self.base_dist.enumerate_support(expand=False)
        values = values.reshape(values.shape[:1] + (1,) * len(self.batch_shape) + self.event_shape)
        if expand:
            values = values.expand(values.shape[:1] + self.batch_shape + self.event_shape)
        return values

    @property
    def mean(self) -> torch.Tensor:
        return self.base_dist.mean.expand(self.batch_shape + self.event_shape)

    @property
    def variance(self) -> torch.Tensor:
        return self.base_dist.variance.expand(self.batch_shape + self.event_shape)

    def entropy(self) -> torch.Tensor:
        return self.base_dist.entropy().expand(self.batch_shape)

    conjugate_update = expanded_conjugate_update


def _feasible_like(support: Any, value: torch.Tensor) -> Optional[torch.Tensor]:
    """A value inside ``support`` shaped like ``value``, or None when not known."""
    c = constraints
    if isinstance(support, c.independent):
        return _feasible_like(support.base_constraint, value)
    if support is c.real or support is c.real_vector:
        return torch.zeros_like(value)
    if isinstance(support, (c._GreaterThan, c._GreaterThanEq)):
        return torch.zeros_like(value) + (support.lower_bound + 1)
    if isinstance(support, c._LessThan):
        return torch.zeros_like(value) + (support.upper_bound - 1)
    if isinstance(support, (c._Interval, c._HalfOpenInterval)):
        return torch.zeros_like(value) + (support.lower_bound + support.upper_bound) / 2
    if isinstance(support, (c._IntegerInterval, c._IntegerGreaterThan)):
        return torch.zeros_like(value) + support.lower_bound
    if support is c.boolean:
        return torch.zeros_like(value)
    if support is c.simplex:
        return torch.ones_like(value) / value.shape[-1]
    if support is c.lower_cholesky or support is c.positive_definite or support is c.corr_cholesky:
        eye = torch.eye(value.shape[-1], dtype=value.dtype, device=value.device)
        return eye.expand(value.shape).clone()
    return None


class MaskedDistribution(_WrappedDistribution):
    """A distribution whose log-density is zero where ``mask`` is False.

    Sampling is unchanged. Masked-out values need not lie in the support: they are replaced
    by a feasible value before the base log-density is computed, so they produce neither
    validation errors nor NaN gradients.

    Args:
        base_dist: the distribution to mask.
        mask: a bool, or a bool tensor broadcastable with ``base_dist.batch_shape``.
    """

    arg_constraints: dict = {}

    def __init__(self, base_dist: Any, mask: Any) -> None:
        if isinstance(mask, bool):
            self._mask = mask
            batch_shape = base_dist.batch_shape
        elif isinstance(mask, torch.Tensor):
            if mask.dtype != torch.bool:
                raise ValueError(
                    f"MaskedDistribution: mask must be a bool tensor, got dtype {mask.dtype} "
                    f"(shape {tuple(mask.shape)})"
                )
            try:
                batch_shape = torch.Size(broadcast_shape(mask.shape, base_dist.batch_shape))
            except ValueError:
                raise ValueError(
                    f"MaskedDistribution: mask of shape {tuple(mask.shape)} does not broadcast "
                    f"with {type(base_dist).__name__} batch_shape {tuple(base_dist.batch_shape)}"
                ) from None
            if base_dist.batch_shape != batch_shape:
                base_dist = base_dist.expand(batch_shape)
            self._mask = mask
        else:
            raise ValueError(f"MaskedDistribution: mask must be a bool or bool tensor, got {type(mask).__name__}")
        self.base_dist = base_dist
        super().__init__(batch_shape, base_dist.event_shape, validate_args=False)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "MaskedDistribution":
        batch_shape = torch.Size(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        _check_expand(self, batch_shape)
        return keep_rsample_override(self, MaskedDistribution(self.base_dist.expand(batch_shape), self._mask))

    def sample(self, sample_shape: torch.Size = _EMPTY) -> torch.Tensor:
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape: torch.Size = _EMPTY) -> torch.Tensor:
        return self.base_dist.rsample(sample_shape)

    def _safe_value(self, value: torch.Tensor) -> torch.Tensor:
        feasible = _feasible_like(self.base_dist.support, value)
        if feasible is None:
            return value
        mask = self._mask.reshape(self._mask.shape + (1,) * len(self.event_shape))
        return torch.where(mask, value, feasible)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._mask is False:
            shape = broadcast_shape(self.batch_shape, value.shape[: value.dim() - len(self.event_shape)])
            return value.new_zeros(()).expand(shape)
        if self._mask is True:
            return self.base_dist.log_prob(value)
        return scale_and_mask(self.base_dist.log_prob(self._safe_value(value)), mask=self._mask)

    def score_parts(self, value: torch.Tensor, *args: Any, **kwargs: Any) -> ScoreParts:
        if self._mask is False:
            zero = self.log_prob(value)
            return ScoreParts(zero, zero if not self.has_rsample else 0, zero if self.has_rsample else 0)
        if self._mask is True:
            return self.base_dist.score_parts(value)
        return self.base_dist.score_parts(self._safe_value(value)).scale_and_mask(mask=self._mask)

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        return self.base_dist.enumerate_support(expand=expand)

    @property
    def mean(self) -> torch.Tensor:
        return self.base_dist.mean

    @property
    def variance(self) -> torch.Tensor:
        return self.base_dist.variance

    def entropy(self) -> torch.Tensor:
        return scale_and_mask(self.base_dist.entropy(), mask=self._mask)

    conjugate_update = masked_conjugate_update


def _independent_score_parts(self: Any, value: torch.Tensor, *args: Any, **kwargs: Any) -> ScoreParts:
    n = self.reinterpreted_batch_ndims
    parts = self.base_dist.score_parts(value)
    return ScoreParts(*(sum_rightmost(p, n) for p in parts))


def _check_independent_arguments(validate: Any, base_distribution: Any = None,
                                 reinterpreted_batch_ndims: Any = 0, *args: Any, **kwargs: Any) -> None:
    n = reinterpreted_batch_ndims
    if type(n) is not int:
        n = _ndims("Independent", n)
    if n < 0:
        raise construction_error(
            f"Independent: reinterpreted_batch_ndims must be >= 0, got {n}; use "
            f".to_event({n}) on an Independent to move event dims back into the batch")


Independent = wrap_torch_distribution(
    _td.Independent, TorchDistributionMixin, ExpandedDistribution,
    {"score_parts": _independent_score_parts, "conjugate_update": independent_conjugate_update,
     "_check_arguments": _check_independent_arguments},
)

__all__ = [
    "ExpandedDistribution",
    "MaskedDistribution",
    "TorchDistribution",
    "TorchDistributionMixin",
]
