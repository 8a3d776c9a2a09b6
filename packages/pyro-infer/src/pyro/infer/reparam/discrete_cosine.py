"""``DiscreteCosineReparam``: draw a site in discrete-cosine (frequency) coordinates."""

from __future__ import annotations

from pyro.distributions.transforms import DiscreteCosineTransform
from pyro.infer.arg_checks import check_real
from pyro.infer.reparam.unit_jacobian import UnitJacobianReparam, check_event_dim


class DiscreteCosineReparam(UnitJacobianReparam):
    """Draw ``x`` through ``<name>_dct``, its discrete cosine transform along ``dim``.

    Useful for smooth time series, whose frequency coordinates are less correlated.

    Args:
        dim: the (negative, event) dim to transform along.
        smooth: the transform's smoothing exponent (0: orthonormal DCT-II; positive values
            scale frequency ``k`` by ``(k + 1) ** smooth``).
        experimental_allow_batch: see :class:`UnitJacobianReparam`.
    """

    def __init__(self, dim: int = -1, smooth: float = 0.0, *,
                 experimental_allow_batch: bool = False) -> None:
        check_event_dim("DiscreteCosineReparam", dim)
        check_real("DiscreteCosineReparam", "smooth", smooth)
        super().__init__(DiscreteCosineTransform(dim=dim, smooth=smooth), suffix="dct",
                         experimental_allow_batch=experimental_allow_batch)
