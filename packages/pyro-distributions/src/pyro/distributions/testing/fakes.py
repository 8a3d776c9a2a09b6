"""Distributions that sample like torch's but claim not to be reparameterised.

``has_rsample`` is False, so inference uses the score-function estimator for their sites;
useful for testing that estimator against the reparameterised one on the same model.
"""

from __future__ import annotations

from pyro.distributions.torch import Beta, Dirichlet, Gamma, Normal


class NonreparameterizedBeta(Beta):
    """:class:`~pyro.distributions.Beta` with ``has_rsample = False``."""

    has_rsample = False


class NonreparameterizedDirichlet(Dirichlet):
    """:class:`~pyro.distributions.Dirichlet` with ``has_rsample = False``."""

    has_rsample = False


class NonreparameterizedGamma(Gamma):
    """:class:`~pyro.distributions.Gamma` with ``has_rsample = False``."""

    has_rsample = False


class NonreparameterizedNormal(Normal):
    """:class:`~pyro.distributions.Normal` with ``has_rsample = False``."""

    has_rsample = False


__all__ = [
    "NonreparameterizedBeta",
    "NonreparameterizedDirichlet",
    "NonreparameterizedGamma",
    "NonreparameterizedNormal",
]
