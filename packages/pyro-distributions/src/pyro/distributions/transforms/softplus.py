"""Pyro 1.9's module path ``pyro.distributions.transforms.softplus``: torch's
:class:`~torch.distributions.transforms.SoftplusTransform`, our
:class:`SoftplusLowerCholeskyTransform` and the inverse of softplus."""

import torch
from torch.distributions.transforms import SoftplusTransform
from torch.nn.functional import softplus

from pyro.distributions.transforms.cholesky import SoftplusLowerCholeskyTransform


def softplus_inv(y: torch.Tensor) -> torch.Tensor:
    """The inverse of softplus, ``log(exp(y) - 1)`` for ``y > 0``, written to stay finite for
    large ``y``."""
    return y + torch.log(-torch.expm1(-y))


__all__ = ["SoftplusLowerCholeskyTransform", "SoftplusTransform", "softplus", "softplus_inv"]
