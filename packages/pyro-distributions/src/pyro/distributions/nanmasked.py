"""Pyro 1.9's module path ``pyro.distributions.nanmasked``; the classes live in
:mod:`pyro.distributions.nan_masked`."""

from pyro.distributions.nan_masked import NanMaskedMultivariateNormal, NanMaskedNormal

__all__ = ["NanMaskedMultivariateNormal", "NanMaskedNormal"]
