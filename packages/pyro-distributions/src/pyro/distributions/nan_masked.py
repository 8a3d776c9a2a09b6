"""Normal likelihoods for data with missing entries, marked as NaN (or any non-finite value).

``log_prob`` of a value with missing entries is the log-density of its observed entries alone:
missing entries add nothing, and no NaN reaches the gradients.
"""

from __future__ import annotations

import math

import torch

from pyro.distributions.torch import MultivariateNormal, Normal

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class NanMaskedNormal(Normal):
    """A :class:`~pyro.distributions.Normal` whose ``log_prob`` is 0 at non-finite values.

    Same arguments (``loc``, ``scale``). Useful for observed data with missing entries; the
    gradients of the parameters get no contribution (and no NaN) from missing entries.
    """

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The normal log-density where ``value`` is finite, 0 where it is not."""
        observed = value.isfinite()
        safe = torch.where(observed, value, self.loc.detach())
        lp = super().log_prob(safe)
        return torch.where(observed, lp, lp.new_zeros(()))


class NanMaskedMultivariateNormal(MultivariateNormal):
    """A :class:`~pyro.distributions.MultivariateNormal` that marginalises non-finite entries.

    Same arguments (``loc`` and one of ``covariance_matrix``, ``precision_matrix``,
    ``scale_tril``). ``log_prob`` of a vector with some non-finite entries is the log-density
    of the marginal normal of its finite entries (0 when none is finite); vectors without
    missing entries cost what they cost in the plain distribution.
    """

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The marginal log-density of the finite entries of each vector of ``value``."""
        observed = value.isfinite()
        if bool(observed.all()):
            return super().log_prob(value)
        if self._validate_args:
            self._validate_sample(torch.where(observed, value, value.new_zeros(())))
        # Missing coordinates are decoupled from the rest and given unit variance: the
        # Gaussian on (observed, missing) is then the observed marginal times a standard
        # normal at zero, whose log-density is added back.
        loc = self.loc
        shape = torch.broadcast_shapes(value.shape, loc.shape)
        observed = observed.expand(shape)
        diff = torch.where(observed, value - loc, value.new_zeros(()))
        pair = observed.unsqueeze(-1) & observed.unsqueeze(-2)
        eye = torch.eye(shape[-1], dtype=value.dtype, device=value.device)
        cov = torch.where(pair, self.covariance_matrix, eye)
        L = torch.linalg.cholesky(cov)
        y = torch.linalg.solve_triangular(L, diff.unsqueeze(-1), upper=False).squeeze(-1)
        num_observed = observed.sum(-1).to(value.dtype)
        half_log_det = L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return -0.5 * y.pow(2).sum(-1) - half_log_det - num_observed * _HALF_LOG_2PI


__all__ = ["NanMaskedMultivariateNormal", "NanMaskedNormal"]
