"""The abstract interface every Pyro distribution offers, whatever it is built on."""

from __future__ import annotations

from typing import Any

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
