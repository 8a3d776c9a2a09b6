"""Tensor helpers shared across the packages (``pyro.ops.tensor_utils``), pure torch.

- batched linear algebra for the Gaussian algebra (``pyro.ops.gaussian``): ``safe_cholesky``,
  ``matmul``, ``matvecmul``, ``triangular_solve``, ``cholesky_solve``,
  ``precision_to_scale_tril``, ``block_diag_embed`` / ``block_diagonal``, ``repeated_matmul``;
- orthonormal transforms along a dim: ``dct`` / ``idct`` (through one FFT of the signal's
  length), ``haar_transform`` / ``inverse_haar_transform``, ``next_fast_len``;
- time-series helpers: ``convolve``, ``periodic_repeat``, ``periodic_cumsum``,
  ``periodic_features``; and ``safe_normalize``, ``broadcast_tensors_without_dim``,
  ``as_complex``, ``rfft`` / ``irfft`` (torch's).

Every function broadcasts over leading batch dims and keeps the dtype and device of its inputs.
It lives in pyro-core so that every package (pyro-optim's ``DCTAdam``, the distributions'
transforms) calls this one copy.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, List, Optional, Sequence

import torch

__all__ = [
    "CHOLESKY_RELATIVE_JITTER",
    "as_complex",
    "block_diag_embed",
    "block_diagonal",
    "broadcast_tensors_without_dim",
    "cholesky_solve",
    "convolve",
    "dct",
    "haar_transform",
    "idct",
    "inverse_haar_transform",
    "irfft",
    "matmul",
    "matvecmul",
    "next_fast_len",
    "periodic_cumsum",
    "periodic_features",
    "periodic_repeat",
    "precision_to_scale_tril",
    "repeated_matmul",
    "rfft",
    "safe_cholesky",
    "safe_normalize",
    "triangular_solve",
]

rfft = torch.fft.rfft
irfft = torch.fft.irfft

#: How many machine epsilons (relative to the largest diagonal entry) :func:`safe_cholesky`
#: adds to the diagonal of a matrix that is not numerically positive definite.
CHOLESKY_RELATIVE_JITTER = 4.0


class OpsArgumentError(ValueError, AssertionError):
    """A tensor op was given a wrong value: a ``ValueError``, and the ``AssertionError`` Pyro's
    asserts raise for it."""


class OpsArgumentTypeError(TypeError, AssertionError):
    """A tensor op was given a wrong kind of value: a ``TypeError``, and the
    ``AssertionError`` Pyro's asserts raise for it."""


def _check_int(owner: str, name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise OpsArgumentTypeError(f"{owner}: {name} must be an int >= {minimum}, got "
                                   f"{type(value).__name__} {value!r}"[:160])
    if value < minimum:
        raise OpsArgumentError(f"{owner}: {name} must be an int >= {minimum}, got {value}")


def safe_cholesky(x: torch.Tensor) -> torch.Tensor:
    """The lower Cholesky factor of the positive-definite (batched) matrix ``x``.

    When a factorisation fails because round-off made ``x`` slightly indefinite, the
    diagonal is raised by ``CHOLESKY_RELATIVE_JITTER`` epsilons of its largest entry.
    """
    if x.size(-1) == 1:
        return x.clamp(min=torch.finfo(x.dtype).tiny).sqrt()
    try:
        return torch.linalg.cholesky(x)
    except torch.linalg.LinAlgError:
        pass
    diag = x.diagonal(dim1=-2, dim2=-1)
    jitter = CHOLESKY_RELATIVE_JITTER * torch.finfo(x.dtype).eps * diag.abs().amax(-1)
    eye = torch.eye(x.size(-1), dtype=x.dtype, device=x.device)
    return torch.linalg.cholesky(x + jitter[..., None, None] * eye)


def matmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x @ y`` for (batched) matrices, written as a product when an inner size is one."""
    if x.size(-1) == 1:
        return x * y
    return x @ y


def matvecmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The (batched) matrix-vector product ``x @ y``, with ``y`` of shape ``... + (n,)``."""
    if y.size(-1) == 1:
        return x.squeeze(-1) * y
    return (x @ y.unsqueeze(-1)).squeeze(-1)


def triangular_solve(x: torch.Tensor, y: torch.Tensor, upper: bool = False,
                     transpose: bool = False) -> torch.Tensor:
    """Solve ``y @ out = x`` for the triangular ``y`` (``y.T @ out = x`` when ``transpose``)."""
    if y.size(-1) == 1:
        return x / y
    if transpose:
        y = y.mT
        upper = not upper
    return torch.linalg.solve_triangular(y, x, upper=upper)


def cholesky_solve(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Solve ``(y @ y.T) @ out = x`` given the lower Cholesky factor ``y``."""
    if y.size(-1) == 1:
        return x / (y * y)
    shape = torch.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    return torch.cholesky_solve(x.expand(shape + x.shape[-2:]), y.expand(shape + y.shape[-2:]))


def precision_to_scale_tril(P: torch.Tensor) -> torch.Tensor:
    """The lower-triangular ``L`` with ``L @ L.T == inverse(P)`` for a positive-definite ``P``."""
    Lf = torch.linalg.cholesky(torch.flip(P, (-2, -1)))
    L_inv = torch.flip(Lf, (-2, -1)).mT
    eye = torch.eye(P.size(-1), dtype=P.dtype, device=P.device)
    return torch.linalg.solve_triangular(L_inv, eye, upper=False)


def block_diag_embed(mat: torch.Tensor) -> torch.Tensor:
    """The block-diagonal matrix ``(..., B * M, B * N)`` whose blocks are the ``B`` matrices of
    ``mat`` (shape ``(..., B, M, N)``)."""
    if mat.dim() < 3:
        raise OpsArgumentError(f"Input to block_diag() must be of dimension 3 or higher: "
                               f"block_diag_embed got mat of shape {tuple(mat.shape)}, expected "
                               f"(..., B, M, N)")
    *batch, B, M, N = mat.shape
    eye = torch.eye(B, dtype=mat.dtype, device=mat.device)
    # out[..., b, m, c, n] = mat[..., b, m, n] if b == c else 0
    out = mat.unsqueeze(-2) * eye.reshape(B, 1, B, 1)
    return out.reshape(*batch, B * M, B * N)


def block_diagonal(mat: torch.Tensor, block_size: int) -> torch.Tensor:
    """The ``block_size`` diagonal blocks of ``mat`` (shape ``(..., B * M, B * N)``, ``B =
    block_size``) as a ``(..., B, M, N)`` tensor; the inverse of :func:`block_diag_embed`."""
    _check_int("block_diagonal", "block_size", block_size, 1)
    if mat.dim() < 2:
        raise OpsArgumentError(f"block_diagonal: mat must have at least 2 dims, got shape "
                               f"{tuple(mat.shape)}")
    B = block_size
    *batch, BM, BN = mat.shape
    if BM % B or BN % B:
        raise ValueError(f"block_diagonal: matrix of shape {tuple(mat.shape)} does not split "
                         f"into {B} x {B} blocks")
    M, N = BM // B, BN // B
    blocks = mat.reshape(*batch, B, M, B, N)
    return blocks.diagonal(dim1=-4, dim2=-2).movedim(-1, -3)


def repeated_matmul(M: torch.Tensor, n: int) -> torch.Tensor:
    """``stack([M, M @ M, ..., M ** n])`` (shape ``(n,) + M.shape``), by repeated doubling:
    ``O(log n)`` batched products."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise OpsArgumentTypeError(f"argument n to repeated_matmul must be 1 or larger: got "
                                   f"{type(n).__name__} {n!r}, expected an int")
    if n < 1:
        raise OpsArgumentError(f"argument n to repeated_matmul must be 1 or larger: got n={n}")
    if M.dim() < 2 or M.size(-1) != M.size(-2):
        raise OpsArgumentError(f"Input tensors must satisfy M.size(-1) == M.size(-2): "
                               f"repeated_matmul got M of shape {tuple(M.shape)}")
    powers = M.unsqueeze(0)
    while powers.size(0) < n:
        # the next powers are the current ones times the largest one
        powers = torch.cat([powers, powers @ powers[-1]], dim=0)
    return powers[:n]


def broadcast_tensors_without_dim(tensors: Sequence[torch.Tensor], dim: int) -> List[torch.Tensor]:
    """Broadcast ``tensors`` against each other in every dim but ``dim`` (a negative dim), where
    each keeps its own size."""
    if dim >= 0:
        raise ValueError(f"broadcast_tensors_without_dim: dim must be negative, got {dim}")
    n = max(t.dim() for t in tensors)
    padded = [t.reshape((1,) * (n - t.dim()) + t.shape) for t in tensors]
    shape = list(torch.broadcast_shapes(*(t.shape[:n + dim] + (1,) + t.shape[n + dim + 1:]
                                          for t in padded)))
    out = []
    for t in padded:
        shape[n + dim] = t.shape[n + dim]
        out.append(t.expand(shape))
    return out


def as_complex(x: torch.Tensor) -> torch.Tensor:
    """:func:`torch.view_as_complex` of ``x`` (last dim of size 2), copying first when ``x``'s
    strides do not allow a view."""
    try:
        return torch.view_as_complex(x)
    except RuntimeError:
        return torch.view_as_complex(x.contiguous())


def safe_normalize(x: torch.Tensor, *, p: float = 2) -> torch.Tensor:
    """``x / |x|_p`` along the last dim; a zero vector becomes the first basis vector
    ``[1, 0, ..., 0]`` (so the map has no singularity)."""
    norm = torch.linalg.vector_norm(x, ord=p, dim=-1, keepdim=True)
    unit = x / norm.clamp(min=torch.finfo(x.dtype).tiny)
    e0 = torch.zeros_like(x)
    e0[..., 0] = 1
    return torch.where(norm > 0, unit, e0)


# ----- orthonormal transforms along one dim ----------------------------------------------------

_FFT_DTYPES = (torch.float32, torch.float64)


def next_fast_len(size: int) -> int:
    """The smallest ``n >= size`` whose only prime factors are 2, 3 and 5 (a fast FFT length)."""
    _check_int("next_fast_len", "size", size, 1)
    n = size
    while True:
        rest = n
        for factor in (2, 3, 5):
            while rest % factor == 0:
                rest //= factor
        if rest == 1:
            return n
        n += 1


def _dct_scales(n: int, x: torch.Tensor) -> torch.Tensor:
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
    out = spectrum.real * _dct_scales(n, y)
    return out.to(dtype).movedim(-1, dim)


def idct(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Inverse of :func:`dct` (the orthonormal DCT-III) along ``dim``."""
    dtype = x.dtype
    y = x.movedim(dim, -1).to(_working_dtype(x))
    n = y.shape[-1]
    y = y / _dct_scales(n, y)
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


_SQRT_HALF = math.sqrt(0.5)


def _haar_level_sizes(n: int) -> List[int]:
    """The lengths the Haar transform halves through: ``n, n // 2, ...`` while above one."""
    sizes = []
    while n > 1:
        sizes.append(n)
        n //= 2
    return sizes


def haar_transform(x: torch.Tensor) -> torch.Tensor:
    """The orthonormal Haar transform of ``x`` along its last dim (any length).

    Each level pairs neighbours ``(a, b)`` into ``(a + b)/sqrt 2`` (carried to the next level)
    and ``(a - b)/sqrt 2`` (kept); an odd last element is kept as it is. The output is the final
    average, then each level's kept values from the coarsest to the finest, the level's odd
    element after its differences.
    """
    kept = []
    coarse = x
    for n in _haar_level_sizes(x.shape[-1]):
        m = 2 * (n // 2)
        even, odd = coarse[..., 0:m:2], coarse[..., 1:m:2]
        kept.append((even - odd) * _SQRT_HALF)
        kept.append(coarse[..., m:])
        coarse = (even + odd) * _SQRT_HALF
    pieces = [coarse]
    for i in range(len(kept) - 2, -1, -2):
        pieces += [kept[i], kept[i + 1]]
    return torch.cat(pieces, dim=-1)


def inverse_haar_transform(x: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`haar_transform` along the last dim."""
    out = x[..., :1]
    offset = 1
    for n in reversed(_haar_level_sizes(x.shape[-1])):
        half = n // 2
        diff = x[..., offset:offset + half]
        rest = x[..., offset + half:offset + n - half]
        offset += n - half
        pairs = torch.stack([(out + diff) * _SQRT_HALF, (out - diff) * _SQRT_HALF], dim=-1)
        out = torch.cat([pairs.flatten(-2), rest], dim=-1)
    return out


# ----- time series ---------------------------------------------------------------------------

def convolve(signal: torch.Tensor, kernel: torch.Tensor, mode: str = "full") -> torch.Tensor:
    """The 1-D convolution of ``signal`` (length ``m``) with ``kernel`` (length ``n``) along the
    last dim, through FFTs; leading dims broadcast.

    ``mode="full"`` gives all ``m + n - 1`` values, ``"valid"`` the ``m - n + 1`` where the two
    overlap fully, ``"same"`` the ``m`` values centred on the full result (as numpy's).
    """
    m, n = signal.size(-1), kernel.size(-1)
    if mode == "full":
        start, stop = 0, m + n - 1
    elif mode == "valid":
        if n > m:
            raise ValueError(f"convolve: mode='valid' needs a kernel no longer than the signal, "
                             f"got lengths {n} and {m}")
        start, stop = n - 1, m
    elif mode == "same":
        start, stop = (n - 1) // 2, (n - 1) // 2 + m
    else:
        raise ValueError(f"convolve: mode must be 'full', 'valid' or 'same', got {mode!r}")
    size = next_fast_len(m + n - 1)
    product = torch.fft.rfft(signal, n=size) * torch.fft.rfft(kernel, n=size)
    return torch.fft.irfft(product, n=size)[..., start:stop]


def periodic_repeat(tensor: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """``tensor`` (one period along ``dim``) repeated periodically up to length ``size``."""
    if dim >= 0:
        dim -= tensor.dim()
    period = tensor.size(dim)
    repeats = [1] * tensor.dim()
    repeats[dim] = -(-size // period)
    return tensor.repeat(*repeats).narrow(dim, 0, size)


def periodic_cumsum(tensor: torch.Tensor, period: int, dim: int) -> torch.Tensor:
    """The cumulative sum along ``dim`` of the elements of each phase ``t % period`` apart:
    ``out[t] = tensor[t] + out[t - period]``."""
    _check_int("periodic_cumsum", "period", period, 1)
    if dim >= 0:
        dim -= tensor.dim()
    size = tensor.size(dim)
    # pad to whole periods, sum along the period index, trim
    padded_size = -(-size // period) * period
    pad = [0, 0] * (-1 - dim) + [0, padded_size - size]
    padded = torch.nn.functional.pad(tensor, pad)
    shape = padded.shape[:padded.dim() + dim] + (padded_size // period, period) + \
        padded.shape[padded.dim() + dim + 1:]
    summed = padded.reshape(shape).cumsum(dim - 1 if dim < -1 else -2)
    return summed.reshape(padded.shape).narrow(dim, 0, size)


def periodic_features(duration: int, max_period: Optional[float] = None,
                      min_period: Optional[float] = None, **options) -> torch.Tensor:
    """Seasonal regression features: ``cos(2 pi k t / max_period)`` then
    ``-sin(2 pi k t / max_period)`` for ``t = 0 .. duration - 1`` and ``k = 1 .. K - 1`` with
    ``K = ceil(max_period / min_period)``, so the periods run from ``max_period`` down to just
    above ``min_period``. Shape ``(duration, 2 K - 2)``, values in ``[-1, 1]``.

    Args:
        duration: the number of time steps.
        max_period: the longest period (default ``duration``).
        min_period: the shortest period kept (default 2, the Nyquist limit).
        options: ``dtype`` / ``device`` of the result, as for :func:`torch.arange`.
    """
    _check_int("periodic_features", "duration", duration, 1)
    if max_period is None:
        max_period = duration
    if min_period is None:
        min_period = 2
    if not 2 <= min_period <= max_period:
        raise ValueError(f"periodic_features: need 2 <= min_period <= max_period, got "
                         f"min_period={min_period}, max_period={max_period}")
    count = math.ceil(max_period / min_period)
    t = torch.arange(float(duration), **options).unsqueeze(-1)
    k = torch.arange(1.0, count, **options)
    angles = t * k * (2 * math.pi / max_period)
    return torch.cat([angles.cos(), -angles.sin()], dim=-1)
