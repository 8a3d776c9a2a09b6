"""Pyro 1.9's module path ``pyro.distributions.inverse_gamma``; :class:`InverseGamma` is the
wrapped torch distribution of :mod:`pyro.distributions.torch`."""

from pyro.distributions.torch import InverseGamma

__all__ = ["InverseGamma"]
