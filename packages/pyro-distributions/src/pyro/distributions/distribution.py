"""The abstract interface every Pyro distribution offers, whatever it is built on."""

from __future__ import annotations

from typing import Any, Tuple

import torch

from pyro.ops.score_parts import ScoreParts
from pyro.util import warn_once


class Distribution:
    """Base class of Pyro's distributions: a stochastic function with a log-density.

    A distribution is callable: ``d()`` draws a sample (reparameterised when
    :attr:`has_rsample`). Subclasses provide ``sample`` and ``log_prob``; discrete ones may set
    :attr:`has_enumerate_support` and provide ``enumerate_support``.

    This class holds only behaviour that does not depend on torch's machinery; the distributions
    of this package all derive from :class:`~pyro.distributions.TorchDistributionMixin` too.
    """

    has_rsample = False
    has_enumerate_support = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Draw a sample: ``rsample`` for reparameterisable distributions, ``sample`` otherwise."""
        if self.has_rsample:
            return self.rsample(*args, **kwargs)
        return self.sample(*args, **kwargs)

    def has_rsample_(self, value: bool) -> "Distribution":
        """Force (True) or forbid (False) reparameterised sampling of this instance, in place.

        Inference then treats samples as pathwise differentiable or not: ``False`` is how to
        make a site use the score-function estimator (e.g. when the value decides control
        flow). The setting is kept by ``expand`` (so by a plate's broadcasting), by
        ``to_event`` and by ``mask``.

        Args:
            value: whether samples are pathwise differentiable.

        Returns:
            ``self``.

        Raises:
            ValueError: ``value`` is not a bool.
        """
        if not isinstance(value, bool):
            raise ValueError(
                f"{type(self).__name__}.has_rsample_(value): value must be True or False, got "
                f"{value!r} of type {type(value).__name__}"
            )
        # Stored in the instance dict under the attribute's own name: it shadows a class
        # attribute, and the properties of wrapping distributions read it (rsample_override).
        self.__dict__["has_rsample"] = value
        return self

    def score_parts(self, x: Any, *args: Any, **kwargs: Any) -> ScoreParts:
        """Return the :class:`~pyro.ops.score_parts.ScoreParts` of ``x`` for surrogate ELBOs.

        Reparameterised distributions carry gradients through the value, so their log-density
        is the entropy term; the others need the score function (REINFORCE) term.
        """
        log_prob = self.log_prob(x, *args, **kwargs)
        if self.has_rsample:
            return ScoreParts(log_prob=log_prob, score_function=0, entropy_term=log_prob)
        return ScoreParts(log_prob=log_prob, score_function=log_prob, entropy_term=0)

    # ----- Pyro 0.1 names --------------------------------------------------------------------
    def log_pdf(self, x: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Deprecated (Pyro 0.1): the total log-density of ``x``, ``log_prob(x).sum()``."""
        warn_once("Distribution.log_pdf",
                  "Distribution.log_pdf is deprecated; use log_prob(x).sum() instead")
        return self.log_prob(x, *args, **kwargs).sum()

    def batch_log_pdf(self, x: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Deprecated (Pyro 0.1): the log-density of every batch element, ``log_prob(x)``."""
        warn_once("Distribution.batch_log_pdf",
                  "Distribution.batch_log_pdf is deprecated; use log_prob(x) instead")
        return self.log_prob(x, *args, **kwargs)

    def analytic_mean(self) -> torch.Tensor:
        """Deprecated (Pyro 0.1): the mean; use the ``mean`` property."""
        warn_once("Distribution.analytic_mean",
                  "Distribution.analytic_mean is deprecated; use the .mean property instead")
        return self.mean

    def analytic_var(self) -> torch.Tensor:
        """Deprecated (Pyro 0.1): the variance; use the ``variance`` property."""
        warn_once("Distribution.analytic_var",
                  "Distribution.analytic_var is deprecated; use the .variance property instead")
        return self.variance

    def conjugate_update(self, other: Any) -> Tuple["Distribution", torch.Tensor]:
        """Fuse ``other``, a second density of the same variable, into this one: return
        ``(updated, log_normalizer)`` with ``self.log_prob(x) + other.log_prob(x) ==
        updated.log_prob(x) + log_normalizer``. Only the conjugate families have it (see
        :mod:`pyro.distributions.conjugate_updates`); others raise ``NotImplementedError``."""
        raise NotImplementedError(f"{type(self).__name__} does not support .conjugate_update()")


def rsample_override(dist: Any) -> Any:
    """The value given to ``dist.has_rsample_`` (or set on the instance), or None if none was."""
    return getattr(dist, "__dict__", {}).get("has_rsample")


def keep_rsample_override(source: Any, target: Any) -> Any:
    """Give ``target`` the ``has_rsample`` override of ``source``, if it has one; return ``target``."""
    value = rsample_override(source)
    if value is not None and target is not source:
        target.__dict__["has_rsample"] = value
    return target


def override_aware_has_rsample(default: Any) -> property:
    """A ``has_rsample`` property: the instance's override if any, else ``default(self)``.

    It has a setter, so ``d.has_rsample = False`` works as ``d.has_rsample_(False)`` does.
    """

    def fget(self: Any) -> bool:
        value = self.__dict__.get("has_rsample")
        return default(self) if value is None else value

    def fset(self: Any, value: bool) -> None:
        self.__dict__["has_rsample"] = bool(value)

    return property(fget, fset, doc="Whether samples are pathwise differentiable (reparameterised).")
