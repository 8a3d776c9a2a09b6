"""``conjugate_update``: fuse a second density of the same variable into a distribution.

``f.conjugate_update(g)`` returns ``(updated, log_normalizer)`` with
``f.log_prob(x) + g.log_prob(x) == updated.log_prob(x) + log_normalizer`` for every ``x``:
``updated`` is the normalised product of the two densities and ``log_normalizer`` is the log
of the product's integral. The functions here are installed as methods: the three families
(``Beta``, ``Dirichlet``, ``Gamma``) by :mod:`pyro.distributions.torch`, the wrappers
(``ExpandedDistribution``, ``MaskedDistribution``, ``Independent``) by
:mod:`pyro.distributions.torch_distribution`. ``GaussianHMM`` has its own, in
:mod:`pyro.distributions.hmm`.
"""

from __future__ import annotations

from typing import Any, Tuple

import torch

__all__ = ["conjugate_update"]


def conjugate_update(fn: Any, other: Any) -> Tuple[Any, torch.Tensor]:
    """Return ``fn.conjugate_update(other)``.

    Raises:
        NotImplementedError: ``fn`` has no ``conjugate_update`` (Pyro's words:
            ``"Normal does not support .conjugate_update()"``).
    """
    update = getattr(fn, "conjugate_update", None)
    if update is None:
        raise NotImplementedError(f"{type(fn).__name__} does not support .conjugate_update()")
    return update(other)


def _check_other(self: Any, other: Any, family: type) -> None:
    """Refuse an ``other`` of another family, of another event shape, or unbroadcastable."""
    name = f"{type(self).__name__}.conjugate_update"
    if not isinstance(other, family):
        raise TypeError(f"{name}: other must be a {family.__name__}, got {type(other).__name__}")
    if other.event_shape != self.event_shape:
        raise ValueError(f"{name}: other has event_shape {tuple(other.event_shape)}, expected "
                         f"{tuple(self.event_shape)}")
    try:
        torch.broadcast_shapes(self.batch_shape, other.batch_shape)
    except RuntimeError:
        raise ValueError(f"{name}: batch_shape {tuple(self.batch_shape)} does not broadcast "
                         f"with other.batch_shape {tuple(other.batch_shape)}") from None


def _log_beta(concentration: torch.Tensor) -> torch.Tensor:
    """The log of the multivariate beta function over the rightmost dim."""
    return torch.lgamma(concentration).sum(-1) - torch.lgamma(concentration.sum(-1))


def _log_beta2(c1: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    """The log of the beta function ``B(c1, c0)``."""
    return torch.lgamma(c1) + torch.lgamma(c0) - torch.lgamma(c1 + c0)


def beta_conjugate_update(self: Any, other: Any) -> Tuple[Any, torch.Tensor]:
    """Fuse another ``Beta`` density: ``Beta(a, b) * Beta(c, d) = Z * Beta(a + c - 1, b + d - 1)``.

    Args:
        other: a :class:`~torch.distributions.Beta` whose batch shape broadcasts with this one.

    Returns:
        ``(updated, log_normalizer)``: a ``Beta`` and a tensor, both of the broadcast batch shape.
    """
    _check_other(self, other, torch.distributions.Beta)
    a = self.concentration1 + other.concentration1 - 1
    b = self.concentration0 + other.concentration0 - 1
    updated = type(self)(a, b, validate_args=self._validate_args)
    log_normalizer = (_log_beta2(a, b) - _log_beta2(self.concentration1, self.concentration0)
                      - _log_beta2(other.concentration1, other.concentration0))
    return updated, log_normalizer


def dirichlet_conjugate_update(self: Any, other: Any) -> Tuple[Any, torch.Tensor]:
    """Fuse another ``Dirichlet`` density: ``Dir(a) * Dir(c) = Z * Dir(a + c - 1)``.

    Args:
        other: a :class:`~torch.distributions.Dirichlet` of the same event shape, whose batch
            shape broadcasts with this one.

    Returns:
        ``(updated, log_normalizer)``: a ``Dirichlet`` and a tensor of the broadcast batch shape.
    """
    _check_other(self, other, torch.distributions.Dirichlet)
    concentration = self.concentration + other.concentration - 1
    updated = type(self)(concentration, validate_args=self._validate_args)
    log_normalizer = (_log_beta(concentration) - _log_beta(self.concentration)
                      - _log_beta(other.concentration))
    return updated, log_normalizer


def gamma_conjugate_update(self: Any, other: Any) -> Tuple[Any, torch.Tensor]:
    """Fuse another ``Gamma`` density: ``Gamma(k, r) * Gamma(l, s) = Z * Gamma(k + l - 1, r + s)``.

    Args:
        other: a :class:`~torch.distributions.Gamma` (``Chi2`` included) whose batch shape
            broadcasts with this one.

    Returns:
        ``(updated, log_normalizer)``: a ``Gamma`` and a tensor, both of the broadcast batch shape.
    """
    _check_other(self, other, torch.distributions.Gamma)
    k1, r1, k2, r2 = self.concentration, self.rate, other.concentration, other.rate
    k, r = k1 + k2 - 1, r1 + r2
    updated = type(self)(k, r, validate_args=self._validate_args)
    log_normalizer = (k1 * r1.log() + k2 * r2.log() - k * r.log()
                      + torch.lgamma(k) - torch.lgamma(k1) - torch.lgamma(k2))
    return updated, log_normalizer


def expanded_conjugate_update(self: Any, other: Any) -> Tuple[Any, torch.Tensor]:
    """Fuse ``other`` into the base distribution, then expand to the broadcast batch shape.

    Args:
        other: what the base distribution's ``conjugate_update`` accepts, of a batch shape
            that broadcasts with this one.

    Returns:
        ``(updated, log_normalizer)``, both of batch shape ``broadcast(batch_shape,
        other.batch_shape)``.
    """
    try:
        batch_shape = torch.broadcast_shapes(self.batch_shape, other.batch_shape)
    except RuntimeError:
        raise ValueError(f"ExpandedDistribution.conjugate_update: batch_shape "
                         f"{tuple(self.batch_shape)} does not broadcast with other.batch_shape "
                         f"{tuple(other.batch_shape)}") from None
    updated, log_normalizer = conjugate_update(self.base_dist, other)
    return updated.expand(batch_shape), log_normalizer.expand(batch_shape)


def masked_conjugate_update(self: Any, other: Any) -> Tuple[Any, torch.Tensor]:
    """Fuse ``other`` into the base distribution, keeping the mask.

    Where the mask is True, the defining identity holds. Where it is False, ``updated`` is masked
    too and ``log_normalizer`` is zero, as in Pyro: both sides drop this distribution's factor
    and ``updated`` drops ``other``'s as well.

    Returns:
        ``(updated.mask(mask), log_normalizer)`` with ``log_normalizer`` zero where masked.
    """
    updated, log_normalizer = conjugate_update(self.base_dist, other)
    mask = self._mask
    if mask is True:
        return updated.mask(True), log_normalizer
    if mask is False:
        return updated.mask(False), torch.zeros_like(log_normalizer)
    return updated.mask(mask), torch.where(mask, log_normalizer, log_normalizer.new_zeros(()))


def independent_conjugate_update(self: Any, other: Any) -> Tuple[Any, torch.Tensor]:
    """Fuse an ``other`` of the same event shape into the base distribution, element by element.

    Args:
        other: an ``Independent`` (e.g. ``base.to_event(n)``) of this distribution's event shape
            with at least as many reinterpreted dims; those dims are moved back to its batch
            and fused with the base distribution.

    Returns:
        ``(updated.to_event(n), log_normalizer)`` with the base's log-normalizer summed over the
        ``n`` reinterpreted dims.
    """
    n = self.reinterpreted_batch_ndims
    if (other.event_shape != self.event_shape or not isinstance(other, torch.distributions.Independent)
            or other.reinterpreted_batch_ndims < n):
        raise ValueError(
            f"Independent.conjugate_update: other must be a distribution of event_shape "
            f"{tuple(self.event_shape)} with at least {n} reinterpreted batch dims (e.g. "
            f"base.to_event({n})), got {type(other).__name__} of event_shape "
            f"{tuple(other.event_shape)}")
    k = other.reinterpreted_batch_ndims - n
    other_base = other.base_dist
    if k:
        to_event = getattr(other_base, "to_event", None)
        other_base = to_event(k) if to_event else torch.distributions.Independent(other_base, k)
    updated, log_normalizer = conjugate_update(self.base_dist, other_base)
    return updated.to_event(n), log_normalizer.sum(tuple(range(-n, 0)))
