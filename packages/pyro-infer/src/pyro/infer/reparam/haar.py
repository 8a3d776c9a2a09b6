"""``HaarReparam``: draw a site in Haar wavelet coordinates."""

from __future__ import annotations

from pyro.distributions.transforms import HaarTransform
from pyro.infer.reparam.unit_jacobian import UnitJacobianReparam, check_event_dim


class HaarReparam(UnitJacobianReparam):
    """Draw ``x`` through ``<name>_haar``, its Haar wavelet transform along ``dim``.

    Args:
        dim: the (negative, event) dim to transform along.
        flip: reverse the dim before transforming (as :class:`HaarTransform` does).
        experimental_allow_batch: see :class:`UnitJacobianReparam`.
    """

    def __init__(self, dim: int = -1, flip: bool = False, *,
                 experimental_allow_batch: bool = False) -> None:
        check_event_dim("HaarReparam", dim)
        super().__init__(HaarTransform(dim=dim, flip=flip), suffix="haar",
                         experimental_allow_batch=experimental_allow_batch)
