"""Pyro 1.9's module path ``pyro.distributions.extended``; the classes live in
:mod:`pyro.distributions.extended_binomial` and :mod:`pyro.distributions.extended_beta_binomial`."""

from pyro.distributions.extended_beta_binomial import ExtendedBetaBinomial
from pyro.distributions.extended_binomial import ExtendedBinomial

__all__ = ["ExtendedBetaBinomial", "ExtendedBinomial"]
