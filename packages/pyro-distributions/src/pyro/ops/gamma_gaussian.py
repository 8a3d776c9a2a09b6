"""Unnormalised Gaussian factors whose precision is scaled by a shared Gamma variable.

A :class:`GammaGaussian` over ``n`` real variables ``x`` and a positive scale ``s`` is the
log-density

    ``log_normalizer + alpha * log(s) + s * (x @ info_vec - 0.5 * x @ precision @ x - beta)``

so that, given ``s``, ``x`` is Gaussian with precision ``s * precision``: the algebra of
Student-t-like models in which every noise covariance is divided by one unknown ``s``. Adding,
conditioning and integrating out ``x`` keep this form (``alpha`` drops by one half per variable
integrated out); :meth:`GammaGaussian.event_logsumexp` leaves a :class:`Gamma` factor over
``s`` and :meth:`GammaGaussian.compound` integrates ``s`` out into a multivariate Student-t.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from pyro.ops.gaussian import Gaussian, matrix_and_mvn_to_gaussian, mvn_to_gaussian
from pyro.ops.tensor_utils import matvecmul, safe_cholesky

__all__ = [
    "Gamma",
    "GammaGaussian",
    "gamma_and_mvn_to_gamma_gaussian",
    "gamma_gaussian_tensordot",
    "matrix_and_mvn_to_gamma_gaussian",
    "scale_mvn",
]

_LOG_2PI = math.log(2 * math.pi)


class Gamma:
    """An unnormalised Gamma factor ``log_normalizer + (concentration - 1) * log(s) - rate * s``.

    Args:
        log_normalizer, concentration, rate: tensors of one (broadcastable) batch shape.
    """

    def __init__(self, log_normalizer: torch.Tensor, concentration: torch.Tensor,
                 rate: torch.Tensor) -> None:
        self.log_normalizer = log_normalizer
        self.concentration = concentration
        self.rate = rate

    def log_density(self, s: torch.Tensor) -> torch.Tensor:
        """The unnormalised log-density at ``s``."""
        return self.log_normalizer + (self.concentration - 1) * s.log() - self.rate * s

    def logsumexp(self) -> torch.Tensor:
        """The log of the integral over ``s > 0``:
        ``log_normalizer + lgamma(concentration) - concentration * log(rate)``."""
        return (self.log_normalizer + torch.lgamma(self.concentration)
                - self.concentration * self.rate.log())


def _solve_parts(P_bb: torch.Tensor, P_ba: torch.Tensor, i_b: torch.Tensor) -> tuple:
    """``L^{-1} [P_ba, i_b]`` with ``L`` the Cholesky factor of ``P_bb``, split, and ``L``."""
    L = safe_cholesky(P_bb)
    rhs = torch.cat([P_ba, i_b.unsqueeze(-1)], -1)
    W = torch.linalg.solve_triangular(L, rhs, upper=False)
    return W[..., :-1], W[..., -1], L


class GammaGaussian:
    """A batch of unnormalised joint log-densities over ``dim()`` real variables and a scale.

    Args:
        log_normalizer: shape ``batch_shape``.
        info_vec: shape ``batch_shape + (n,)``.
        precision: symmetric positive semidefinite, shape ``batch_shape + (n, n)``.
        alpha: the power of ``s``, shape ``batch_shape``; a normalised Gamma(``c``, ``r``)
            times a Gaussian with precision ``s * precision`` has ``alpha = c + n / 2 - 1``.
        beta: the constant multiplying ``-s``, shape ``batch_shape``; for the same product
            ``beta = r + 0.5 * info_vec @ inv(precision) @ info_vec``.

    The five batch shapes must broadcast; they are broadcast to one shape.
    """

    def __init__(self, log_normalizer: torch.Tensor, info_vec: torch.Tensor,
                 precision: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor) -> None:
        if info_vec.dim() < 1 or precision.dim() < 2 or precision.shape[-2:] != (
                info_vec.shape[-1], info_vec.shape[-1]):
            raise ValueError(
                f"GammaGaussian: info_vec must have shape batch_shape + (n,) and precision "
                f"batch_shape + (n, n); got info_vec {tuple(info_vec.shape)}, precision "
                f"{tuple(precision.shape)}")
        n = info_vec.shape[-1]
        batch = torch.broadcast_shapes(log_normalizer.shape, info_vec.shape[:-1],
                                       precision.shape[:-2], alpha.shape, beta.shape)
        self.log_normalizer = log_normalizer.expand(batch)
        self.info_vec = info_vec.expand(batch + (n,))
        self.precision = precision.expand(batch + (n, n))
        self.alpha = alpha.expand(batch)
        self.beta = beta.expand(batch)

    def dim(self) -> int:
        """The number of real variables."""
        return self.info_vec.size(-1)

    @property
    def batch_shape(self) -> torch.Size:
        """The shared batch shape."""
        return self.log_normalizer.shape

    def _gaussian(self) -> Gaussian:
        return Gaussian(self.log_normalizer, self.info_vec, self.precision)

    @staticmethod
    def _from(g: Gaussian, alpha: torch.Tensor, beta: torch.Tensor) -> "GammaGaussian":
        return GammaGaussian(g.log_normalizer, g.info_vec, g.precision, alpha, beta)

    def expand(self, batch_shape: Sequence[int]) -> "GammaGaussian":
        """This factor broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        return self._from(self._gaussian().expand(batch_shape), self.alpha.expand(batch_shape),
                          self.beta.expand(batch_shape))

    def reshape(self, batch_shape: Sequence[int]) -> "GammaGaussian":
        """This factor with its batch dims reshaped to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        return self._from(self._gaussian().reshape(batch_shape), self.alpha.reshape(batch_shape),
                          self.beta.reshape(batch_shape))

    def __getitem__(self, index: Any) -> "GammaGaussian":
        """Index the batch dims."""
        if not isinstance(index, tuple):
            index = (index,)
        return self._from(self._gaussian()[index], self.alpha[index], self.beta[index])

    @staticmethod
    def cat(parts: Sequence["GammaGaussian"], dim: int = 0) -> "GammaGaussian":
        """Concatenate factors of the same ``dim()`` along batch dim ``dim``."""
        if dim < 0:
            dim += len(parts[0].batch_shape)
        g = Gaussian.cat([p._gaussian() for p in parts], dim)
        return GammaGaussian._from(g, torch.cat([p.alpha for p in parts], dim),
                                   torch.cat([p.beta for p in parts], dim))

    def event_pad(self, left: int = 0, right: int = 0) -> "GammaGaussian":
        """The same factor over ``left + dim() + right`` variables; the new ones are free."""
        return self._from(self._gaussian().event_pad(left=left, right=right), self.alpha,
                          self.beta)

    def event_permute(self, perm: torch.Tensor) -> "GammaGaussian":
        """The factor over the variables reordered by the index tensor ``perm``."""
        return self._from(self._gaussian().event_permute(perm), self.alpha, self.beta)

    def __add__(self, other: Any) -> "GammaGaussian":
        """The product of two factors over the same variables (and the same ``s``)."""
        if not isinstance(other, GammaGaussian):
            raise ValueError(f"GammaGaussian: cannot add a {type(other).__name__}")
        if other.dim() != self.dim():
            raise ValueError(
                f"GammaGaussian: cannot add factors over {self.dim()} and {other.dim()} variables")
        return GammaGaussian(self.log_normalizer + other.log_normalizer,
                             self.info_vec + other.info_vec, self.precision + other.precision,
                             self.alpha + other.alpha, self.beta + other.beta)

    def log_density(self, value: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The log-density at ``value`` (shape ``... + (dim(),)``) and scale ``s``."""
        if value.size(-1) == 0:
            quad = value.new_zeros(value.shape[:-1])
        else:
            quad = (value * (-0.5 * matvecmul(self.precision, value) + self.info_vec)).sum(-1)
        return self.log_normalizer + self.alpha * s.log() + s * (quad - self.beta)

    def condition(self, value: torch.Tensor) -> "GammaGaussian":
        """Fix the rightmost ``value.size(-1)`` variables to ``value``: a factor over the rest
        (the fixed variables' terms move into ``beta``)."""
        right = value.size(-1)
        n = self.dim() - right
        P_ab = self.precision[..., :n, n:]
        P_bb = self.precision[..., n:, n:]
        i_b = self.info_vec[..., n:]
        info_vec = self.info_vec[..., :n] - matvecmul(P_ab, value)
        beta = self.beta + 0.5 * (matvecmul(P_bb, value) * value).sum(-1) - (i_b * value).sum(-1)
        return GammaGaussian(self.log_normalizer, info_vec, self.precision[..., :n, :n],
                             self.alpha, beta)

    def marginalize(self, left: int = 0, right: int = 0) -> "GammaGaussian":
        """Integrate out the ``left`` leftmost and ``right`` rightmost variables (for every
        ``s``): ``alpha`` drops by half the number of variables."""
        if left == 0 and right == 0:
            return self
        n = self.dim()
        keep = torch.arange(left, n - right, device=self.info_vec.device)
        drop = torch.cat([torch.arange(left), torch.arange(n - right, n)]).to(keep.device)
        P_bb = self.precision[..., drop, :][..., drop]
        P_ba = self.precision[..., drop, :][..., keep]
        W_a, w_i, L = _solve_parts(P_bb, P_ba, self.info_vec[..., drop])
        precision = self.precision[..., keep, :][..., keep] - W_a.mT @ W_a
        info_vec = self.info_vec[..., keep] - (W_a.mT @ w_i.unsqueeze(-1)).squeeze(-1)
        m = drop.numel()
        log_normalizer = (self.log_normalizer + 0.5 * m * _LOG_2PI
                          - L.diagonal(dim1=-2, dim2=-1).log().sum(-1))
        return GammaGaussian(log_normalizer, info_vec, precision, self.alpha - 0.5 * m,
                             self.beta - 0.5 * w_i.pow(2).sum(-1))

    def event_logsumexp(self) -> Gamma:
        """Integrate out every real variable: the :class:`Gamma` factor left over ``s``."""
        n = self.dim()
        L = safe_cholesky(self.precision)
        w = torch.linalg.solve_triangular(L, self.info_vec.unsqueeze(-1), upper=False).squeeze(-1)
        log_normalizer = (self.log_normalizer + 0.5 * n * _LOG_2PI
                          - L.diagonal(dim1=-2, dim2=-1).log().sum(-1))
        return Gamma(log_normalizer, self.alpha - 0.5 * n + 1, self.beta - 0.5 * w.pow(2).sum(-1))

    def compound(self) -> Any:
        """Integrate out ``s``: the normalised ``MultivariateStudentT`` over the variables
        (``df = 2 * concentration`` of the Gamma left by :meth:`event_logsumexp`)."""
        from pyro.distributions.multivariate_studentt import MultivariateStudentT

        marginal = self.event_logsumexp()
        concentration, rate = marginal.concentration, marginal.rate
        L = safe_cholesky(self.precision)
        loc = torch.cholesky_solve(self.info_vec.unsqueeze(-1), L).squeeze(-1)
        # (x - loc) @ precision @ (x - loc) / (2 * rate) is the squared distance per df, so the
        # Student-t's covariance parameter is (rate / concentration) * inv(precision).
        cov = torch.cholesky_inverse(L) * (rate / concentration).unsqueeze(-1).unsqueeze(-1)
        scale_tril = safe_cholesky(cov)
        return MultivariateStudentT(2 * concentration, loc, scale_tril)


def gamma_gaussian_tensordot(x: GammaGaussian, y: GammaGaussian, dims: int = 0) -> GammaGaussian:
    """Multiply ``x`` (over ``(a, b)``) and ``y`` (over ``(b, c)``), sharing ``s``, and
    integrate out the ``dims`` shared variables ``b``: a factor over ``(a, c)``."""
    na = x.dim() - dims
    nc = y.dim() - dims
    joint = x.event_pad(right=nc) + y.event_pad(left=na)
    if dims == 0:
        return joint
    n = na + dims + nc
    # Move b to the right, then integrate it out.
    perm = torch.cat([torch.arange(na), torch.arange(na + dims, n), torch.arange(na, na + dims)])
    return joint.event_permute(perm.to(joint.info_vec.device)).marginalize(right=dims)


def _mvn_parts(owner: str, mvn: Any) -> tuple:
    if not isinstance(mvn, torch.distributions.MultivariateNormal):
        raise ValueError(f"{owner}: expected a MultivariateNormal, got {type(mvn).__name__}")
    return mvn.loc, mvn.precision_matrix


def gamma_and_mvn_to_gamma_gaussian(gamma: Any, mvn: Any) -> GammaGaussian:
    """The joint factor of ``s ~ gamma`` and ``x | s ~ scale_mvn(mvn, s)``.

    Args:
        gamma: a ``Gamma`` distribution (``concentration``, ``rate``).
        mvn: a ``MultivariateNormal``, the law of ``x`` when ``s == 1``.

    Returns:
        A normalised :class:`GammaGaussian` over ``mvn.event_shape[0]`` variables.
    """
    loc, _ = _mvn_parts("gamma_and_mvn_to_gamma_gaussian", mvn)
    g = mvn_to_gaussian(mvn)
    n = loc.size(-1)
    quad = 0.5 * (g.info_vec * loc).sum(-1)  # moves from the constant into beta
    c, r = gamma.concentration, gamma.rate
    log_normalizer = (g.log_normalizer + quad + c * r.log() - torch.lgamma(c))
    return GammaGaussian(log_normalizer, g.info_vec, g.precision, c + 0.5 * n - 1, r + quad)


def matrix_and_mvn_to_gamma_gaussian(matrix: torch.Tensor, mvn: Any) -> GammaGaussian:
    """The factor over ``(x, y)`` and ``s`` of ``y = x @ matrix + noise``,
    ``noise ~ scale_mvn(mvn, s)``.

    Args:
        matrix: shape ``batch + (x_dim, y_dim)``.
        mvn: a ``MultivariateNormal`` with event ``(y_dim,)``.

    Returns:
        A :class:`GammaGaussian` over ``x_dim + y_dim`` variables with ``alpha = y_dim / 2``.
    """
    loc, P = _mvn_parts("matrix_and_mvn_to_gamma_gaussian", mvn)
    g = matrix_and_mvn_to_gaussian(matrix, mvn)
    half_quad = 0.5 * (matvecmul(P, loc) * loc).sum(-1)
    y_dim = loc.size(-1)
    alpha = torch.full_like(g.log_normalizer, 0.5 * y_dim)
    return GammaGaussian(g.log_normalizer + half_quad, g.info_vec, g.precision, alpha,
                         half_quad.expand(g.batch_shape))


def scale_mvn(mvn: Any, s: torch.Tensor) -> Any:
    """The ``MultivariateNormal`` with ``mvn``'s mean and precision ``s * mvn.precision_matrix``.

    Args:
        mvn: a ``MultivariateNormal``.
        s: a positive tensor broadcastable to its batch shape.
    """
    from pyro.distributions.torch import MultivariateNormal

    _mvn_parts("scale_mvn", mvn)
    if not isinstance(s, torch.Tensor):
        raise ValueError(f"scale_mvn: s must be a tensor, got {type(s).__name__}")
    factor = s.rsqrt().unsqueeze(-1).unsqueeze(-1)
    return MultivariateNormal(mvn.loc, scale_tril=mvn.scale_tril * factor)
