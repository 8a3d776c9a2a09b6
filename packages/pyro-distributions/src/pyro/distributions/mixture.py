"""``MaskedMixture``: two distributions, one chosen per batch element by a boolean mask."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch.distributions import constraints

from pyro.distributions.torch_distribution import TorchDistribution, _check_expand, _feasible_like
from pyro.distributions.util import broadcast_shape
from pyro.distributions.validation import check_distribution


def _all_rightmost(ok: torch.Tensor, dims: int) -> torch.Tensor:
    return ok.reshape(ok.shape[: ok.dim() - dims] + (-1,)).all(-1) if dims else ok


class MaskedConstraint(constraints.Constraint):
    """``constraint1`` where ``mask`` is True and ``constraint0`` where it is False.

    The support of a :class:`MaskedMixture` whose components have different supports.

    Args:
        mask: a bool tensor of the mixture's batch shape.
        constraint0: the constraint for elements where ``mask`` is False.
        constraint1: the constraint for elements where ``mask`` is True.
    """

    def __init__(self, mask: torch.Tensor, constraint0: Any, constraint1: Any) -> None:
        self.mask = mask
        self.constraint0 = constraint0
        self.constraint1 = constraint1
        self.event_dim = max(constraint0.event_dim, constraint1.event_dim)
        self.is_discrete = constraint0.is_discrete and constraint1.is_discrete
        super().__init__()

    def check(self, value: torch.Tensor) -> torch.Tensor:
        """Return, per batch element of ``value``, whether it lies in its component's support."""
        ok0 = _all_rightmost(self.constraint0.check(value), self.event_dim - self.constraint0.event_dim)
        ok1 = _all_rightmost(self.constraint1.check(value), self.event_dim - self.constraint1.event_dim)
        return torch.where(self.mask, ok1, ok0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.constraint0!r}, {self.constraint1!r})"


class MaskedMixture(TorchDistribution):
    """Draws from ``component1`` where ``mask`` is True and from ``component0`` elsewhere.

    A deterministic two-component mixture: element ``b`` of the batch follows ``component1``
    if ``mask[b]`` else ``component0``. Useful when the mask is itself random, e.g. a change
    point ``t`` sampled (and usually enumerated) before the data:
    ``MaskedMixture(torch.arange(T) >= t, before, after)``.

    Args:
        mask: a bool tensor; it and the components' batch shapes broadcast to the batch shape
            (extra leftmost dims of the mask, such as enumeration dims, widen the batch).
        component0: the distribution where ``mask`` is False.
        component1: the distribution where ``mask`` is True; same ``event_shape`` as
            ``component0``.
        validate_args: whether to validate values given to :meth:`log_prob`.

    ``log_prob(x)`` is ``component1.log_prob(x)`` where ``mask`` is True and
    ``component0.log_prob(x)`` elsewhere. Samples are reparameterised when both components' are.
    """

    arg_constraints: dict = {}

    def __init__(self, mask: torch.Tensor, component0: Any, component1: Any,
                 validate_args: Optional[bool] = None) -> None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            got = f"a tensor of dtype {mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"MaskedMixture: expected mask to be a bool tensor, got {got}")
        check_distribution("MaskedMixture", component0=component0, component1=component1)
        if component0.event_shape != component1.event_shape:
            raise ValueError(
                f"MaskedMixture: the components' event_shape disagree: "
                f"{tuple(component0.event_shape)} vs {tuple(component1.event_shape)}"
            )
        try:
            batch_shape = torch.Size(broadcast_shape(mask.shape, component0.batch_shape,
                                                     component1.batch_shape))
        except ValueError:
            raise ValueError(
                f"MaskedMixture: mask of shape {tuple(mask.shape)}, component0 of batch_shape "
                f"{tuple(component0.batch_shape)} and component1 of batch_shape "
                f"{tuple(component1.batch_shape)} do not broadcast together"
            ) from None
        self.mask = mask.expand(batch_shape) if mask.shape != batch_shape else mask
        self.component0 = (component0.expand(batch_shape)
                           if component0.batch_shape != batch_shape else component0)
        self.component1 = (component1.expand(batch_shape)
                           if component1.batch_shape != batch_shape else component1)
        super().__init__(batch_shape, component0.event_shape, validate_args=validate_args)

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        """True when both components are reparameterisable."""
        return bool(self.component0.has_rsample and self.component1.has_rsample)

    @constraints.dependent_property
    def support(self) -> Any:
        """The components' support when they share one, else a :class:`MaskedConstraint`."""
        support0, support1 = self.component0.support, self.component1.support
        if support0 == support1:
            return support0
        return MaskedConstraint(self.mask, support0, support1)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "MaskedMixture":
        """Return the mixture with mask and components broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        _check_expand(self, batch_shape)
        new = self._get_checked_instance(MaskedMixture, _instance)
        new.mask = self.mask.expand(batch_shape)
        new.component0 = self.component0.expand(batch_shape)
        new.component1 = self.component1.expand(batch_shape)
        TorchDistribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _event_mask(self) -> torch.Tensor:
        return self.mask.reshape(self.mask.shape + (1,) * len(self.event_shape))

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        """Draw both components reparameterised and keep, per element, the masked one."""
        if not self.has_rsample:
            raise NotImplementedError(
                f"MaskedMixture.rsample: {type(self.component0).__name__} and "
                f"{type(self.component1).__name__} are not both reparameterisable"
            )
        x0 = self.component0.rsample(sample_shape)
        x1 = self.component1.rsample(sample_shape)
        return torch.where(self._event_mask(), x1, x0)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        """Draw both components (no gradient) and keep, per element, the masked one."""
        with torch.no_grad():
            x0 = self.component0.sample(sample_shape)
            x1 = self.component1.sample(sample_shape)
            return torch.where(self._event_mask(), x1, x0)

    def _for_component(self, component: Any, value: torch.Tensor, where_used: torch.Tensor) -> torch.Tensor:
        # ``value`` where ``component`` is used, a point of its support elsewhere: the other
        # component's values need not lie in this one's support (no validation error there, no
        # NaN from its log-density leaking into the gradient through ``torch.where``).
        feasible = _feasible_like(component.support, value)
        if feasible is None:
            try:
                feasible = component.sample()
            except NotImplementedError:
                return value
        return torch.where(where_used, value, feasible)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``component1.log_prob(value)`` where the mask is True, ``component0``'s elsewhere."""
        if self._validate_args:
            self._validate_sample(value)
        c0, c1 = self.component0, self.component1
        if c0.support == c1.support:
            value0 = value1 = value
        else:
            mask = self._event_mask()
            value0 = self._for_component(c0, value, ~mask)
            value1 = self._for_component(c1, value, mask)
        return torch.where(self.mask, c1.log_prob(value1), c0.log_prob(value0))

    @property
    def mean(self) -> torch.Tensor:
        """The selected component's mean, per element."""
        return torch.where(self._event_mask(), self.component1.mean, self.component0.mean)

    @property
    def variance(self) -> torch.Tensor:
        """The selected component's variance, per element (the mixture is deterministic)."""
        return torch.where(self._event_mask(), self.component1.variance, self.component0.variance)
