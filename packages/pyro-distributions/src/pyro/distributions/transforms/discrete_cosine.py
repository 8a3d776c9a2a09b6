""":class:`DiscreteCosineTransform`: the orthonormal DCT-II along one dimension, optionally
rescaled per frequency.

The transform and its inverse (the DCT-III) are :mod:`pyro.ops.tensor_utils`'s ``dct`` and
``idct``, one FFT of the signal's length each (``O(n log n)``).
"""

from __future__ import annotations

import numbers
from typing import Any, Dict, Tuple

import torch

from pyro.distributions.transforms.along_dim import AlongDimTransform, check_event
from pyro.ops.tensor_utils import dct, idct



class DiscreteCosineTransform(AlongDimTransform):
    r"""The orthonormal discrete cosine transform (type II) along dimension ``dim``, each
    frequency ``k`` then multiplied by

    .. math:: w_k = \frac{(2k + 1)^{s}}{\big(\prod_{j<n} (2j + 1)^{s}\big)^{1/n}},

    ``s = smooth``: positive values give the high frequencies more weight (a smoother
    signal under a white prior on the output), negative ones less; the weights' product is one,
    so the map is volume-preserving (``log|det| = 0``) for any ``smooth``. The inverse is
    exact (the DCT-III, then the weights divided out).

    Args:
        dim: the (negative) dimension transformed; the event has ``-dim`` dims.
        smooth: the exponent ``s`` of the frequency weights (``0`` for the plain DCT).
        cache_size: torch's transform cache size (0 or 1).
    """

    bijective = True

    def __init__(self, dim: int = -1, smooth: float = 0.0, cache_size: int = 0) -> None:
        super().__init__(dim, cache_size=cache_size)
        if isinstance(smooth, torch.Tensor) and smooth.numel() == 1:
            smooth = smooth.item()  # at construction, once
        if isinstance(smooth, bool) or not isinstance(smooth, numbers.Real):
            raise TypeError(f"DiscreteCosineTransform: smooth must be a number, got {type(smooth).__name__} {smooth!r}")
        self.smooth = float(smooth)
        self._weight_cache: Dict[Tuple[int, torch.dtype, torch.device], torch.Tensor] = {}

    def __eq__(self, other: Any) -> bool:
        return (type(other) is type(self) and other.dim == self.dim
                and other.smooth == self.smooth)

    def __hash__(self) -> int:
        return hash((type(self), self.dim, self.smooth))

    def with_cache(self, cache_size: int = 1) -> "DiscreteCosineTransform":
        if self._cache_size == cache_size:
            return self
        return type(self)(self.dim, self.smooth, cache_size=cache_size)

    def _weights(self, n: int, x: torch.Tensor) -> torch.Tensor:
        key = (n, x.dtype, x.device)
        weights = self._weight_cache.get(key)
        if weights is None:
            log_freq = torch.arange(1, 2 * n, 2, dtype=x.dtype, device=x.device).log()
            weights = (self.smooth * (log_freq - log_freq.mean())).exp()
            self._weight_cache[key] = weights
        return weights

    def _apply(self, x: torch.Tensor, inverse: bool) -> torch.Tensor:
        check_event("DiscreteCosineTransform", self.dim, x)
        dtype = x.dtype
        z = x.movedim(self.dim, -1)
        if dtype not in (torch.float32, torch.float64):  # computed in float32, as torch.fft
            z = z.to(torch.float32)
        n = z.shape[-1]
        if inverse:
            if self.smooth:
                z = z / self._weights(n, z)
            z = idct(z)
        else:
            z = dct(z)
            if self.smooth:
                z = z * self._weights(n, z)
        return z.to(dtype).movedim(-1, self.dim)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return self._apply(x, inverse=False)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return self._apply(y, inverse=True)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Zero, one value per event."""
        return x.new_zeros(x.shape[: x.dim() + self.dim])


__all__ = ["DiscreteCosineTransform"]
