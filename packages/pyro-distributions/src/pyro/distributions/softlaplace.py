"""Pyro 1.9's module path ``pyro.distributions.softlaplace``; the class lives in
:mod:`pyro.distributions.soft_laplace`."""

from pyro.distributions.soft_laplace import SoftLaplace

__all__ = ["SoftLaplace"]
