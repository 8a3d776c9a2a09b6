"""Pyro 1.9's module path ``pyro.distributions.asymmetriclaplace``; the classes live in
:mod:`pyro.distributions.asymmetric_laplace`."""

from pyro.distributions.asymmetric_laplace import AsymmetricLaplace, SoftAsymmetricLaplace

__all__ = ["AsymmetricLaplace", "SoftAsymmetricLaplace"]
