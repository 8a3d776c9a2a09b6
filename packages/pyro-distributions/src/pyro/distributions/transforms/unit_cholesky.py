"""Pyro 1.9's module path ``pyro.distributions.transforms.unit_cholesky``; the transform lives in
:mod:`pyro.distributions.transforms.cholesky`."""

from pyro.distributions.transforms.cholesky import UnitLowerCholeskyTransform


def unit_lower_cholesky() -> UnitLowerCholeskyTransform:
    """A :class:`UnitLowerCholeskyTransform`."""
    return UnitLowerCholeskyTransform()


__all__ = ["UnitLowerCholeskyTransform", "unit_lower_cholesky"]
