"""The orthonormal discrete cosine transform along one dimension, through the FFT.

:class:`~pyro.optim.dct_adam.DCTAdam` needs the transform (type II) and its inverse (type III).
pyro-optim depends on pyro-core only, so it keeps its own copy of these few lines rather than
importing :mod:`pyro.ops.tensor_utils` from pyro-distributions.
"""

from __future__ import annotations

import math

import torch

_FFT_DTYPES = (torch.float32, torch.float64)


def next_fast_len(size: int) -> int:
    """Return the smallest ``n >= size`` whose only prime factors are 2, 3 and 5 (a fast FFT length)."""
    if size < 1:
        raise ValueError(f"next_fast_len: size must be positive, got {size}")
    n = size
    while True:
        rest = n
        for factor in (2, 3, 5):
            while rest % factor == 0:
                rest //= factor
        if rest == 1:
            return n
        n += 1


def _scales(n: int, x: torch.Tensor) -> torch.Tensor:
    """``sqrt(2 / n)`` for every frequency but the first, which gets ``sqrt(1 / n)``."""
    scale = torch.full((n,), math.sqrt(2.0 / n), dtype=x.dtype, device=x.device)
    scale[0] = math.sqrt(1.0 / n)
    return scale


def _twiddles(n: int, x: torch.Tensor, sign: float) -> torch.Tensor:
    """``exp(sign * i * pi * k / (2 n))`` for ``k = 0 .. n - 1``."""
    angle = torch.arange(n, dtype=x.dtype, device=x.device) * (sign * math.pi / (2 * n))
    return torch.polar(torch.ones_like(angle), angle)


def _working_dtype(x: torch.Tensor) -> torch.dtype:
    return x.dtype if x.dtype in _FFT_DTYPES else torch.float32


def dct(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Orthonormal DCT-II of ``x`` along ``dim``: ``X_k = s_k sum_j x_j cos(pi k (2 j + 1) / (2 n))``
    with ``s_0 = sqrt(1/n)`` and ``s_k = sqrt(2/n)`` otherwise. :func:`idct` inverts it."""
    dtype = x.dtype
    y = x.movedim(dim, -1).to(_working_dtype(x))
    n = y.shape[-1]
    # even-indexed samples forward, odd-indexed ones backward; one complex FFT of that
    v = torch.cat([y[..., 0::2], y[..., 1::2].flip(-1)], dim=-1)
    spectrum = torch.fft.fft(v, dim=-1) * _twiddles(n, y, -1.0)
    out = spectrum.real * _scales(n, y)
    return out.to(dtype).movedim(-1, dim)


def idct(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Inverse of :func:`dct` (the orthonormal DCT-III) along ``dim``."""
    dtype = x.dtype
    y = x.movedim(dim, -1).to(_working_dtype(x))
    n = y.shape[-1]
    y = y / _scales(n, y)
    half = n // 2 + 1
    # V_k = exp(i pi k / 2n) (Y_k - i Y_{n-k}), with Y_n = 0, for k = 0 .. n // 2
    mirrored = torch.cat([torch.zeros_like(y[..., :1]), y[..., 1:].flip(-1)], dim=-1)[..., :half]
    spectrum = torch.complex(y[..., :half], -mirrored) * _twiddles(n, y, 1.0)[:half]
    v = torch.fft.irfft(spectrum, n=n, dim=-1)
    evens = (n + 1) // 2
    out = torch.empty_like(v)
    out[..., 0::2] = v[..., :evens]
    out[..., 1::2] = v[..., evens:].flip(-1)
    return out.to(dtype).movedim(-1, dim)
