"""``MultivariateStudentT``: the multivariate Student's t distribution."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch
from torch.distributions.utils import lazy_property

from pyro.distributions import constraints
from pyro.distributions.torch import Chi2
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.util import broadcast_shape
from pyro.distributions.validation import expand_error


def _shape(x: Any) -> tuple:
    return tuple(getattr(x, "shape", ()))


class MultivariateStudentT(TorchDistribution):
    """The multivariate Student's t distribution with ``df`` degrees of freedom.

    ``x = loc + scale_tril @ y * sqrt(df / c)`` with ``y ~ Normal(0, I)`` and
    ``c ~ Chi2(df)``: a normal scale mixture with heavier tails than the normal. Samples are
    reparameterised (through the normal and the chi-squared draws).

    Args:
        df: the degrees of freedom, positive; shape broadcastable with the batch shape.
        loc: the location, shape ``batch_shape + (n,)``.
        scale_tril: a lower-triangular ``n x n`` scale factor with positive diagonal, shape
            ``batch_shape + (n, n)``. ``covariance_matrix`` (``scale_tril @ scale_tril.T``, as
            in Pyro) is the scale matrix; the covariance of ``x`` is ``df / (df - 2)`` times it.
        validate_args: as for every distribution.

    Raises:
        ValueError: ``loc`` is not a vector, ``scale_tril`` not a square matrix of ``loc``'s
            size, or the batch shapes of the three arguments do not broadcast (the message
            gives the shapes).
    """

    arg_constraints = {"df": constraints.positive, "loc": constraints.real_vector,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, df: Any, loc: torch.Tensor, scale_tril: torch.Tensor,
                 validate_args: Optional[bool] = None) -> None:
        shapes = f"df: shape {_shape(df)}, loc: shape {_shape(loc)}, scale_tril: shape {_shape(scale_tril)}"
        if not isinstance(loc, torch.Tensor) or loc.dim() < 1:
            raise ValueError(f"MultivariateStudentT: loc must be at least one-dimensional ({shapes})")
        if (not isinstance(scale_tril, torch.Tensor) or scale_tril.dim() < 2
                or scale_tril.shape[-1] != scale_tril.shape[-2]):
            raise ValueError(
                f"MultivariateStudentT: scale_tril must be a (batch of) square matrices ({shapes})")
        n = loc.shape[-1]
        if scale_tril.shape[-1] != n:
            raise ValueError(
                f"MultivariateStudentT: loc has event size {n} but scale_tril is "
                f"{scale_tril.shape[-1]} x {scale_tril.shape[-1]} ({shapes})")
        df = torch.as_tensor(df, dtype=loc.dtype, device=loc.device)
        try:
            batch_shape = torch.Size(broadcast_shape(df.shape, loc.shape[:-1], scale_tril.shape[:-2]))
        except ValueError:
            raise ValueError(
                f"MultivariateStudentT: batch shapes do not broadcast (df: {tuple(df.shape)}, "
                f"loc: {tuple(loc.shape[:-1])}, scale_tril: {tuple(scale_tril.shape[:-2])}; "
                f"{shapes})") from None
        event_shape = torch.Size((n,))
        self.df = df.expand(batch_shape)
        self.loc = loc.expand(batch_shape + event_shape)
        self._unbroadcasted_scale_tril = scale_tril
        self._chi2 = Chi2(self.df, validate_args=False)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @property
    def scale_tril(self) -> torch.Tensor:
        """The scale factor, broadcast to ``batch_shape + (n, n)``."""
        return self._unbroadcasted_scale_tril.expand(self.batch_shape + self.event_shape + self.event_shape)

    @lazy_property
    def covariance_matrix(self) -> torch.Tensor:
        """The scale matrix ``scale_tril @ scale_tril.T`` (not the covariance; see the class)."""
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(self.batch_shape + self.event_shape + self.event_shape)

    @lazy_property
    def precision_matrix(self) -> torch.Tensor:
        """The inverse of :attr:`covariance_matrix`."""
        full = self.batch_shape + self.event_shape + self.event_shape
        return torch.cholesky_inverse(self._unbroadcasted_scale_tril).expand(full)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "MultivariateStudentT":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(MultivariateStudentT, _instance)
        try:
            new.df = self.df.expand(batch_shape)
            new.loc = self.loc.expand(batch_shape + self.event_shape)
        except RuntimeError:
            raise expand_error(self, batch_shape) from None
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        new._chi2 = self._chi2.expand(batch_shape)
        TorchDistribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-density at ``value`` (shape ``... + (n,)``)."""
        if self._validate_args:
            self._validate_sample(value)
        n = self.event_shape[0]
        L = self._unbroadcasted_scale_tril
        diff = value - self.loc
        shape = torch.broadcast_shapes(diff.shape[:-1], L.shape[:-2])
        y = torch.linalg.solve_triangular(L.expand(shape + L.shape[-2:]),
                                          diff.expand(shape + (n,)).unsqueeze(-1), upper=False)
        maha = y.squeeze(-1).pow(2).sum(-1)
        df = self.df
        half_log_det = L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        norm = (torch.lgamma((df + n) / 2) - torch.lgamma(df / 2)
                - (n / 2) * (df.log() + math.log(math.pi)) - half_log_det)
        return norm - (df + n) / 2 * torch.log1p(maha / df)

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw ``loc + scale_tril @ y * sqrt(df / c)``, differentiable in every parameter."""
        shape = self._extended_shape(sample_shape)
        y = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        c = self._chi2.rsample(sample_shape)
        z = y * (self.df / c).sqrt().unsqueeze(-1)
        return self.loc + (self._unbroadcasted_scale_tril @ z.unsqueeze(-1)).squeeze(-1)

    @property
    def mean(self) -> torch.Tensor:
        """``loc`` where ``df > 1``, NaN elsewhere (the mean does not exist)."""
        nan = torch.full_like(self.loc, math.nan)
        return torch.where((self.df > 1).unsqueeze(-1), self.loc, nan)

    @property
    def variance(self) -> torch.Tensor:
        """``diag(covariance_matrix) * df / (df - 2)`` where ``df > 2``; infinite where
        ``1 < df <= 2``; NaN where ``df <= 1``."""
        L = self._unbroadcasted_scale_tril
        diag = L.pow(2).sum(-1).expand(self.batch_shape + self.event_shape)
        df = self.df.unsqueeze(-1)
        finite = diag * df / (df - 2)
        out = torch.where(df > 2, finite, torch.full_like(finite, math.inf))
        return torch.where(df > 1, out, torch.full_like(finite, math.nan))


__all__ = ["MultivariateStudentT"]
