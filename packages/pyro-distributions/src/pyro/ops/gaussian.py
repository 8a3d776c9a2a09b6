"""Unnormalised Gaussian factors in information form, and the algebra Gaussian HMMs are built of.

A :class:`Gaussian` over ``n`` real variables is the log-density

    ``log_normalizer + x @ info_vec - 0.5 * x @ precision @ x``

with batch dims leading every tensor. Adding two factors adds their log-densities; conditioning
fixes some variables; marginalising integrates them out. :func:`gaussian_tensordot` contracts
the right variables of one factor with the left variables of another (integrating them out),
and :func:`sequential_gaussian_tensordot` contracts a whole chain of transition factors along
its rightmost batch dim by a parallel scan, in ``O(log T)`` sequential steps.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from pyro.ops.tensor_utils import matvecmul, safe_cholesky

__all__ = [
    "AffineNormal",
    "Gaussian",
    "gaussian_tensordot",
    "matrix_and_gaussian_to_gaussian",
    "matrix_and_mvn_to_gaussian",
    "mvn_to_gaussian",
    "sequential_gaussian_filter_sample",
    "sequential_gaussian_tensordot",
]

_LOG_2PI = math.log(2 * math.pi)


class Gaussian:
    """A batch of unnormalised Gaussian log-densities over ``dim()`` variables.

    Args:
        log_normalizer: the constant term, shape ``batch_shape``.
        info_vec: the linear term (precision times mean), shape ``batch_shape + (n,)``.
        precision: the symmetric positive (semi)definite quadratic term, shape
            ``batch_shape + (n, n)``.

    The three batch shapes must broadcast; they are broadcast to one shape.
    """

    def __init__(self, log_normalizer: torch.Tensor, info_vec: torch.Tensor,
                 precision: torch.Tensor) -> None:
        if info_vec.dim() < 1 or precision.dim() < 2 or precision.shape[-2:] != (
                info_vec.shape[-1], info_vec.shape[-1]):
            raise ValueError(
                f"Gaussian: info_vec must have shape batch_shape + (n,) and precision "
                f"batch_shape + (n, n); got info_vec {tuple(info_vec.shape)}, precision "
                f"{tuple(precision.shape)}")
        n = info_vec.shape[-1]
        batch = torch.broadcast_shapes(log_normalizer.shape, info_vec.shape[:-1],
                                       precision.shape[:-2])
        self.log_normalizer = log_normalizer.expand(batch)
        self.info_vec = info_vec.expand(batch + (n,))
        self.precision = precision.expand(batch + (n, n))

    def dim(self) -> int:
        """The number of variables."""
        return self.info_vec.size(-1)

    @property
    def batch_shape(self) -> torch.Size:
        """The shared batch shape of the three tensors."""
        return self.log_normalizer.shape

    def expand(self, batch_shape: Sequence[int]) -> "Gaussian":
        """This factor broadcast to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        n = self.dim()
        return Gaussian(self.log_normalizer.expand(batch_shape),
                        self.info_vec.expand(batch_shape + (n,)),
                        self.precision.expand(batch_shape + (n, n)))

    def reshape(self, batch_shape: Sequence[int]) -> "Gaussian":
        """This factor with its batch dims reshaped to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        n = self.dim()
        return Gaussian(self.log_normalizer.reshape(batch_shape),
                        self.info_vec.reshape(batch_shape + (n,)),
                        self.precision.reshape(batch_shape + (n, n)))

    def __getitem__(self, index: Any) -> "Gaussian":
        """Index the batch dims."""
        if not isinstance(index, tuple):
            index = (index,)
        return Gaussian(self.log_normalizer[index], self.info_vec[index + (slice(None),)],
                        self.precision[index + (slice(None), slice(None))])

    @staticmethod
    def cat(parts: Sequence["Gaussian"], dim: int = 0) -> "Gaussian":
        """Concatenate factors of the same ``dim()`` along batch dim ``dim``."""
        if dim < 0:
            dim += len(parts[0].batch_shape)
        return Gaussian(torch.cat([p.log_normalizer for p in parts], dim),
                        torch.cat([p.info_vec for p in parts], dim),
                        torch.cat([p.precision for p in parts], dim))

    def event_pad(self, left: int = 0, right: int = 0) -> "Gaussian":
        """The same factor over ``left + dim() + right`` variables; the new ones are free."""
        lead = self.info_vec.new_zeros(self.batch_shape + (left,))
        tail = self.info_vec.new_zeros(self.batch_shape + (right,))
        info_vec = torch.cat([lead, self.info_vec, tail], -1)
        precision = torch.nn.functional.pad(self.precision, (left, right, left, right))
        return Gaussian(self.log_normalizer, info_vec, precision)

    def event_permute(self, perm: torch.Tensor) -> "Gaussian":
        """The factor over the variables reordered by the index tensor ``perm``."""
        return Gaussian(self.log_normalizer, self.info_vec[..., perm],
                        self.precision[..., perm, :][..., perm])

    def __add__(self, other: Any) -> "Gaussian":
        """The product of two factors over the same variables, or a shift of the constant."""
        if isinstance(other, Gaussian):
            if other.dim() != self.dim():
                raise ValueError(
                    f"Gaussian: cannot add factors over {self.dim()} and {other.dim()} variables")
            return Gaussian(self.log_normalizer + other.log_normalizer,
                            self.info_vec + other.info_vec, self.precision + other.precision)
        if isinstance(other, (int, float, torch.Tensor)):
            return Gaussian(self.log_normalizer + other, self.info_vec, self.precision)
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: Any) -> "Gaussian":
        """This factor with the number or tensor ``other`` subtracted from its constant."""
        if isinstance(other, (int, float, torch.Tensor)):
            return Gaussian(self.log_normalizer - other, self.info_vec, self.precision)
        raise ValueError(f"Gaussian: cannot subtract a {type(other).__name__}")

    def log_density(self, value: torch.Tensor) -> torch.Tensor:
        """The log-density at ``value`` (shape ``... + (dim(),)``)."""
        if value.size(-1) == 0:
            return self.log_normalizer.expand(value.shape[:-1])
        quad = (value.unsqueeze(-2) @ self.precision @ value.unsqueeze(-1))[..., 0, 0]
        return self.log_normalizer + (value * self.info_vec).sum(-1) - 0.5 * quad

    def condition(self, value: torch.Tensor) -> "Gaussian":
        """Fix the rightmost ``value.size(-1)`` variables to ``value``: a factor over the rest."""
        right = value.size(-1)
        n = self.dim() - right
        P_aa = self.precision[..., :n, :n]
        P_ab = self.precision[..., :n, n:]
        P_bb = self.precision[..., n:, n:]
        i_a, i_b = self.info_vec[..., :n], self.info_vec[..., n:]
        info_vec = i_a - matvecmul(P_ab, value)
        log_normalizer = (self.log_normalizer + (i_b * value).sum(-1)
                          - 0.5 * (matvecmul(P_bb, value) * value).sum(-1))
        return Gaussian(log_normalizer, info_vec, P_aa)

    def left_condition(self, value: torch.Tensor) -> "Gaussian":
        """Fix the leftmost ``value.size(-1)`` variables to ``value``: a factor over the rest."""
        left = value.size(-1)
        n = self.dim()
        perm = torch.cat([torch.arange(left, n), torch.arange(left)]).to(self.info_vec.device)
        return self.event_permute(perm).condition(value)

    def marginalize(self, left: int = 0, right: int = 0) -> "Gaussian":
        """Integrate out the ``left`` leftmost and ``right`` rightmost variables."""
        if left == 0 and right == 0:
            return self
        n = self.dim()
        keep = slice(left, n - right)
        if left and right:
            drop = torch.cat([torch.arange(left), torch.arange(n - right, n)]).to(
                self.info_vec.device)
            P_bb = self.precision[..., drop, :][..., drop]
            P_ba = self.precision[..., drop, keep]
            i_b = self.info_vec[..., drop]
        else:
            drop = slice(0, left) if left else slice(n - right, n)
            P_bb = self.precision[..., drop, drop]
            P_ba = self.precision[..., drop, keep]
            i_b = self.info_vec[..., drop]
        P_aa = self.precision[..., keep, keep]
        i_a = self.info_vec[..., keep]
        L = safe_cholesky(P_bb)
        # W = L^{-1} [P_ba, i_b]: one triangular solve gives both corrections.
        rhs = torch.cat([P_ba, i_b.unsqueeze(-1)], -1)
        W = torch.linalg.solve_triangular(L, rhs, upper=False)
        W_a, w_i = W[..., :-1], W[..., -1]
        precision = P_aa - W_a.mT @ W_a
        info_vec = i_a - (W_a.mT @ w_i.unsqueeze(-1)).squeeze(-1)
        m = P_bb.size(-1)
        log_normalizer = (self.log_normalizer + 0.5 * m * _LOG_2PI
                          - L.diagonal(dim1=-2, dim2=-1).log().sum(-1) + 0.5 * w_i.pow(2).sum(-1))
        return Gaussian(log_normalizer, info_vec, precision)

    def event_logsumexp(self) -> torch.Tensor:
        """The log of the integral of the density over every variable (shape ``batch_shape``)."""
        n = self.dim()
        L = safe_cholesky(self.precision)
        w = torch.linalg.solve_triangular(L, self.info_vec.unsqueeze(-1), upper=False).squeeze(-1)
        return (self.log_normalizer + 0.5 * n * _LOG_2PI
                - L.diagonal(dim1=-2, dim2=-1).log().sum(-1) + 0.5 * w.pow(2).sum(-1))

    def rsample(self, sample_shape: Sequence[int] = torch.Size(),
                noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """A reparameterised draw from the normalised density, shape
        ``sample_shape + batch_shape + (dim(),)``; ``noise`` (standard normal, that shape)
        replaces the random draw when given."""
        L = safe_cholesky(self.precision)
        mean = torch.cholesky_solve(self.info_vec.unsqueeze(-1), L).squeeze(-1)
        if noise is None:
            shape = tuple(sample_shape) + tuple(self.info_vec.shape)
            noise = torch.randn(shape, dtype=mean.dtype, device=mean.device)
        shape = torch.broadcast_shapes(noise.shape, mean.shape)
        # x = mean + L^{-T} noise has covariance (L L^T)^{-1}.
        Lt = L.mT.expand(shape + (L.size(-1),))
        return mean + torch.linalg.solve_triangular(Lt, noise.unsqueeze(-1), upper=True).squeeze(-1)


def mvn_to_gaussian(mvn: Any) -> Gaussian:
    """The :class:`Gaussian` equal to the log-density of a ``MultivariateNormal``, or of an
    ``Independent(Normal, 1)``."""
    base = getattr(mvn, "base_dist", None)
    if base is not None and getattr(mvn, "reinterpreted_batch_ndims", None) == 1 and hasattr(
            base, "scale"):
        loc, scale = base.loc, base.scale
        batch = torch.broadcast_shapes(loc.shape, scale.shape)
        prec_diag = scale.pow(-2).expand(batch)
        info_vec = loc.expand(batch) * prec_diag
        precision = torch.diag_embed(prec_diag)
        log_normalizer = (-0.5 * loc.size(-1) * _LOG_2PI - scale.log().expand(batch).sum(-1)
                          - 0.5 * (info_vec * loc).sum(-1))
        return Gaussian(log_normalizer, info_vec, precision)
    if not hasattr(mvn, "precision_matrix"):
        raise ValueError(
            f"mvn_to_gaussian: expected a MultivariateNormal or Independent(Normal, 1), got "
            f"{type(mvn).__name__}")
    L = mvn.scale_tril
    loc = mvn.loc
    precision = torch.cholesky_inverse(L)
    info_vec = matvecmul(precision, loc)
    log_normalizer = (-0.5 * loc.size(-1) * _LOG_2PI - L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
                      - 0.5 * (info_vec * loc).sum(-1))
    return Gaussian(log_normalizer, info_vec, precision)


def matrix_and_gaussian_to_gaussian(matrix: torch.Tensor, y_gaussian: Gaussian) -> Gaussian:
    """The factor over ``(x, y)`` equal to ``y_gaussian`` at ``y - x @ matrix``.

    Args:
        matrix: shape ``batch + (x_dim, y_dim)``.
        y_gaussian: a :class:`Gaussian` over ``y_dim`` variables.

    Returns:
        A :class:`Gaussian` over ``x_dim + y_dim`` variables with the broadcast batch shape.
    """
    x_dim, y_dim = matrix.shape[-2:]
    if y_gaussian.dim() != y_dim:
        raise ValueError(
            f"matrix_and_gaussian_to_gaussian: matrix of shape {tuple(matrix.shape)} maps to "
            f"{y_dim} variables but y_gaussian has {y_gaussian.dim()}")
    g = y_gaussian
    # y - x @ M = [x, y] @ Q with Q = [[-M], [I]]: substitute into the factor over y.
    eye = torch.eye(y_dim, dtype=matrix.dtype, device=matrix.device)
    batch = torch.broadcast_shapes(matrix.shape[:-2], g.batch_shape)
    Q = torch.cat([-matrix.expand(batch + (x_dim, y_dim)), eye.expand(batch + (y_dim, y_dim))], -2)
    info_vec = (Q @ g.info_vec.unsqueeze(-1)).squeeze(-1)
    precision = Q @ g.precision @ Q.mT
    return Gaussian(g.log_normalizer, info_vec, precision)


def matrix_and_mvn_to_gaussian(matrix: torch.Tensor, mvn: Any) -> Gaussian:
    """The joint factor over ``(x, y)`` of ``y = x @ matrix + noise``, ``noise ~ mvn``.

    ``matrix`` has shape ``batch + (x_dim, y_dim)``; the result is a :class:`Gaussian` over
    ``x_dim + y_dim`` variables whose log-density is ``mvn.log_prob(y - x @ matrix)``.
    """
    return matrix_and_gaussian_to_gaussian(matrix, mvn_to_gaussian(mvn))


class AffineNormal:
    """The conditional density of ``y ~ Normal(x @ matrix + loc, scale)`` (independent
    coordinates) as a lazy factor over ``(x, y)``.

    Args:
        matrix: shape ``batch + (x_dim, y_dim)``.
        loc: shape ``batch + (y_dim,)``.
        scale: positive, shape ``batch + (y_dim,)``.

    Conditioning on the whole of ``y`` or the whole of ``x`` stays cheap (no dense ``y``
    block is built); every other operation goes through :meth:`to_gaussian`.
    """

    def __init__(self, matrix: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> None:
        y_dim = matrix.size(-1) if matrix.dim() >= 2 else None
        if y_dim is None or loc.dim() < 1 or scale.dim() < 1 or loc.size(-1) != y_dim or (
                scale.size(-1) != y_dim):
            raise ValueError(
                f"AffineNormal: expected matrix batch + (x_dim, y_dim), loc and scale batch + "
                f"(y_dim,); got matrix {tuple(matrix.shape)}, loc {tuple(loc.shape)}, scale "
                f"{tuple(scale.shape)}")
        self.matrix = matrix
        self.loc = loc
        self.scale = scale
        self.batch_shape = torch.broadcast_shapes(matrix.shape[:-2], loc.shape[:-1],
                                                  scale.shape[:-1])

    def _y_gaussian(self) -> Gaussian:
        prec = self.scale.pow(-2)
        info_vec = self.loc * prec
        log_normalizer = (-0.5 * self.loc.size(-1) * _LOG_2PI - self.scale.log().sum(-1)
                          - 0.5 * (info_vec * self.loc).sum(-1))
        return Gaussian(log_normalizer, info_vec, torch.diag_embed(prec))

    def to_gaussian(self) -> Gaussian:
        """The same factor as a dense :class:`Gaussian` over ``x_dim + y_dim`` variables."""
        g = self.__dict__.get("_gaussian")
        if g is None:
            g = matrix_and_gaussian_to_gaussian(self.matrix, self._y_gaussian())
            self.__dict__["_gaussian"] = g
        return g

    def condition(self, value: torch.Tensor) -> Gaussian:
        """Fix the rightmost ``value.size(-1)`` variables; fixing all of ``y`` gives the
        factor over ``x`` directly."""
        if value.size(-1) != self.loc.size(-1):
            return self.to_gaussian().condition(value)
        prec = self.scale.pow(-2)
        resid = (value - self.loc) * prec
        info_vec = matvecmul(self.matrix, resid)
        precision = (self.matrix * prec.unsqueeze(-2)) @ self.matrix.mT
        log_normalizer = (-0.5 * self.loc.size(-1) * _LOG_2PI - self.scale.log().sum(-1)
                          - 0.5 * (resid * (value - self.loc)).sum(-1))
        return Gaussian(log_normalizer, info_vec, precision)

    def left_condition(self, value: torch.Tensor) -> Any:
        """Fix the leftmost ``value.size(-1)`` variables; fixing all of ``x`` gives an
        :class:`AffineNormal` with no ``x`` (its ``loc`` moved by ``value @ matrix``)."""
        x_dim = self.matrix.size(-2)
        if value.size(-1) != x_dim:
            return self.to_gaussian().left_condition(value)
        loc = self.loc + (value.unsqueeze(-2) @ self.matrix).squeeze(-2)
        matrix = value.new_zeros(loc.shape[:-1] + (0, loc.size(-1)))
        return AffineNormal(matrix, loc, self.scale)

    def rsample(self, sample_shape: Sequence[int] = torch.Size(),
                noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """A reparameterised draw of ``y``, shape ``sample_shape + batch_shape + (y_dim,)``;
        only once every ``x`` is fixed (``x_dim == 0``), else ``NotImplementedError``."""
        if self.matrix.size(-2) > 0:
            raise NotImplementedError(
                f"AffineNormal.rsample: condition on all {self.matrix.size(-2)} x dims first")
        shape = self.batch_shape + self.loc.shape[-1:]
        if noise is None:
            noise = torch.randn(tuple(sample_shape) + tuple(shape), dtype=self.loc.dtype,
                                device=self.loc.device)
        return self.loc + self.scale * noise

    def _parts(self, batch_shape: Sequence[int]) -> tuple:
        batch_shape = tuple(batch_shape)
        return (self.matrix.expand(batch_shape + self.matrix.shape[-2:]),
                self.loc.expand(batch_shape + self.loc.shape[-1:]),
                self.scale.expand(batch_shape + self.scale.shape[-1:]))

    def expand(self, batch_shape: Sequence[int]) -> "AffineNormal":
        """This factor broadcast to ``batch_shape``."""
        return AffineNormal(*self._parts(batch_shape))

    def reshape(self, batch_shape: Sequence[int]) -> "AffineNormal":
        """This factor with its batch dims reshaped to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        matrix, loc, scale = self._parts(self.batch_shape)
        return AffineNormal(matrix.reshape(batch_shape + matrix.shape[-2:]),
                            loc.reshape(batch_shape + loc.shape[-1:]),
                            scale.reshape(batch_shape + scale.shape[-1:]))

    def __getitem__(self, index: Any) -> "AffineNormal":
        """Index the batch dims."""
        if not isinstance(index, tuple):
            index = (index,)
        matrix, loc, scale = self._parts(self.batch_shape)
        return AffineNormal(matrix[index + (slice(None), slice(None))],
                            loc[index + (slice(None),)], scale[index + (slice(None),)])

    def event_permute(self, perm: torch.Tensor) -> Gaussian:
        """The dense factor with its variables reordered by ``perm``."""
        return self.to_gaussian().event_permute(perm)

    def __add__(self, other: Any) -> Gaussian:
        """The dense factor plus ``other`` (a :class:`Gaussian` or a constant)."""
        return self.to_gaussian() + other

    def marginalize(self, left: int = 0, right: int = 0) -> Gaussian:
        """The dense factor with ``left`` / ``right`` variables integrated out."""
        return self.to_gaussian().marginalize(left=left, right=right)


def gaussian_tensordot(x: Gaussian, y: Gaussian, dims: int = 0) -> Gaussian:
    """Contract the rightmost ``dims`` variables of ``x`` with the leftmost ``dims`` of ``y``.

    The result is the factor over ``x``'s remaining (left) and ``y``'s remaining (right)
    variables obtained by multiplying the two factors and integrating the shared ones out.
    """
    na = x.dim() - dims
    nc = y.dim() - dims
    if dims == 0:
        return x.event_pad(right=nc) + y.event_pad(left=na)
    Pa, Pb = x.precision, y.precision
    P_aa, P_ab, P_bb1 = Pa[..., :na, :na], Pa[..., :na, na:], Pa[..., na:, na:]
    P_bb2, P_bc, P_cc = Pb[..., :dims, :dims], Pb[..., :dims, dims:], Pb[..., dims:, dims:]
    i_a, i_b = x.info_vec[..., :na], x.info_vec[..., na:] + y.info_vec[..., :dims]
    i_c = y.info_vec[..., dims:]
    batch = torch.broadcast_shapes(x.batch_shape, y.batch_shape)
    P_bb = (P_bb1 + P_bb2).expand(batch + (dims, dims))
    # Rows of the kept block that couple to the integrated one: [P_ab; P_cb].
    P_kb = torch.cat([P_ab.expand(batch + (na, dims)), P_bc.mT.expand(batch + (nc, dims))], -2)
    L = safe_cholesky(P_bb)
    rhs = torch.cat([P_kb.mT, i_b.expand(batch + (dims,)).unsqueeze(-1)], -1)
    W = torch.linalg.solve_triangular(L, rhs, upper=False)
    W_k, w_i = W[..., :-1], W[..., -1]
    zeros = P_aa.new_zeros(()).expand(batch + (na, nc))
    P_kk = torch.cat([torch.cat([P_aa.expand(batch + (na, na)), zeros], -1),
                      torch.cat([zeros.mT, P_cc.expand(batch + (nc, nc))], -1)], -2)
    precision = P_kk - W_k.mT @ W_k
    i_k = torch.cat([i_a.expand(batch + (na,)), i_c.expand(batch + (nc,))], -1)
    info_vec = i_k - (W_k.mT @ w_i.unsqueeze(-1)).squeeze(-1)
    log_normalizer = (x.log_normalizer + y.log_normalizer + 0.5 * dims * _LOG_2PI
                      - L.diagonal(dim1=-2, dim2=-1).log().sum(-1) + 0.5 * w_i.pow(2).sum(-1))
    return Gaussian(log_normalizer, info_vec, precision)


def _contract_pairs(ln: torch.Tensor, iv: torch.Tensor, P: torch.Tensor,
                    n: int) -> tuple:
    """One round of the scan on raw tensors: contract steps ``2k`` and ``2k + 1``.

    The batch dims of the three tensors are equal and end in an even time dim.
    """
    ln_x, ln_y = ln[..., 0::2], ln[..., 1::2]
    iv_x, iv_y = iv[..., 0::2, :], iv[..., 1::2, :]
    P_x, P_y = P[..., 0::2, :, :], P[..., 1::2, :, :]
    P_bb = P_x[..., n:, n:] + P_y[..., :n, :n]
    i_b = iv_x[..., n:] + iv_y[..., :n]
    # Columns: the couplings of the integrated block to x's left and y's right, then i_b.
    rhs = torch.cat([P_x[..., n:, :n], P_y[..., :n, n:], i_b.unsqueeze(-1)], -1)
    L = safe_cholesky(P_bb)
    W = torch.linalg.solve_triangular(L, rhs, upper=False)
    W_k, w_i = W[..., :-1], W[..., -1:]
    Wt = W_k.mT
    precision = -(Wt @ W_k)
    precision[..., :n, :n] += P_x[..., :n, :n]
    precision[..., n:, n:] += P_y[..., n:, n:]
    info_vec = torch.cat([iv_x[..., :n], iv_y[..., n:]], -1) - (Wt @ w_i).squeeze(-1)
    log_normalizer = (ln_x + ln_y + 0.5 * n * _LOG_2PI
                      - L.diagonal(dim1=-2, dim2=-1).log().sum(-1) + 0.5 * w_i.squeeze(-1).pow(2).sum(-1))
    return log_normalizer, info_vec, precision


def sequential_gaussian_tensordot(gaussian: Gaussian) -> Gaussian:
    """Contract a chain of transition factors along the rightmost batch dim.

    ``gaussian`` has batch shape ``batch + (T,)`` and ``2 * n`` variables ``(x_{t-1}, x_t)``
    per step; the result (batch shape ``batch``) is the factor over ``(x_start, x_end)`` with
    every intermediate state integrated out, computed by pairwise contraction in
    ``ceil(log2 T)`` rounds.
    """
    if gaussian.dim() % 2:
        raise ValueError(
            f"sequential_gaussian_tensordot: expected an even number of variables, got "
            f"{gaussian.dim()}")
    n = gaussian.dim() // 2
    ln, iv, P = gaussian.log_normalizer, gaussian.info_vec, gaussian.precision
    while ln.size(-1) > 1:
        T = ln.size(-1)
        if T % 2:
            rest = ln[..., -1:], iv[..., -1:, :], P[..., -1:, :, :]
            ln, iv, P = _contract_pairs(ln[..., :-1], iv[..., :-1, :], P[..., :-1, :, :], n)
            ln = torch.cat([ln, rest[0]], -1)
            iv = torch.cat([iv, rest[1]], -2)
            P = torch.cat([P, rest[2]], -3)
        else:
            ln, iv, P = _contract_pairs(ln, iv, P, n)
    return Gaussian(ln[..., 0], iv[..., 0, :], P[..., 0, :, :])


def sequential_gaussian_filter_sample(init: Gaussian, trans: Gaussian,
                                      sample_shape: Sequence[int] = (),
                                      noise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """A reparameterised draw of a whole Gaussian chain, by forward filtering and backward
    sampling.

    Args:
        init: the factor over the first state (``n`` variables).
        trans: transition factors over ``(x_{t-1}, x_t)`` (``2 * n`` variables), time the
            rightmost batch dim (``T`` steps).
        sample_shape: extra leading sample dims.
        noise: optional standard normal noise, shape ``sample_shape + batch + (T + 1, n)``.

    Returns:
        The states, shape ``sample_shape + batch + (T + 1, n)`` (the first state, then one per
        step).
    """
    n = init.dim()
    if trans.dim() != 2 * n:
        raise ValueError(
            f"sequential_gaussian_filter_sample: trans must have twice init's {n} variables, "
            f"got {trans.dim()}")
    T = trans.batch_shape[-1]
    batch = torch.broadcast_shapes(init.batch_shape, trans.batch_shape[:-1])
    sample_shape = tuple(sample_shape)
    # Forward pass: filtered[t] is the factor over x_t given evidence from factors up to t.
    filtered = [init.expand(batch)]
    for t in range(T):
        filtered.append(gaussian_tensordot(filtered[-1], trans[..., t], n))
    if noise is None:
        dtype, device = init.info_vec.dtype, init.info_vec.device
        noise = torch.randn(sample_shape + batch + (T + 1, n), dtype=dtype, device=device)
    # Backward pass: draw x_T from its filtered factor, then each earlier state given the next.
    states = [filtered[T].rsample(noise=noise[..., T, :])]
    for t in range(T - 1, -1, -1):
        joint = filtered[t].event_pad(right=n) + trans[..., t]
        nxt = states[-1]
        cond = _condition_batched(joint, nxt)
        states.append(cond.rsample(noise=noise[..., t, :]))
    return torch.stack(states[::-1], -2)


def _condition_batched(g: Gaussian, value: torch.Tensor) -> Gaussian:
    """``g.condition(value)`` where ``value`` carries extra leading sample dims."""
    extra = value.dim() - 1 - len(g.batch_shape)
    if extra <= 0:
        return g.condition(value)
    shape = value.shape[:-1]
    n = g.dim()
    return Gaussian(g.log_normalizer.expand(shape), g.info_vec.expand(shape + (n,)),
                    g.precision.expand(shape + (n, n))).condition(value)
