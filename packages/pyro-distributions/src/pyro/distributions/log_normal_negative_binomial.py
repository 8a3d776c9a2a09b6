"""``LogNormalNegativeBinomial``: a negative binomial with log-normal noise on its logits."""

from __future__ import annotations

import functools
from typing import Any, Optional, Sequence, Tuple

import torch
from torch.distributions.utils import broadcast_all

from pyro.distributions import constraints
from pyro.distributions.torch import NegativeBinomial
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.validation import expand_error


@functools.lru_cache(maxsize=None)
def _hermite_e_rule(n: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Nodes and log-weights of the ``n``-point Gauss-Hermite rule for ``Normal(0, 1)``.

    Golub-Welsch: the nodes are the eigenvalues of the Jacobi matrix of the probabilists'
    Hermite polynomials (zero diagonal, ``sqrt(k)`` beside it) and the weights the squared
    first components of its eigenvectors; they sum to one. Computed once per ``n`` in float64.
    """
    off = torch.arange(1, n, dtype=torch.float64).sqrt()
    jacobi = torch.diag(off, 1) + torch.diag(off, -1)
    nodes, vectors = torch.linalg.eigh(jacobi)
    weights = vectors[0] ** 2
    return nodes, (weights / weights.sum()).log()


class LogNormalNegativeBinomial(TorchDistribution):
    """A negative binomial whose logits carry ``Normal(0, multiplicative_noise_scale)`` noise.

    ``p(y) = integral of Normal(e | 0, sigma) NegativeBinomial(y | total_count, logits + e) de``:
    the negative binomial's rate is multiplied by log-normal noise, which adds a third
    parameter controlling the higher moments. The integral is computed by Gauss-Hermite
    quadrature with ``num_quad_points`` nodes. The mean is
    ``total_count * exp(logits + sigma**2 / 2)`` and the variance
    ``mean + (exp(sigma**2) * (1 + 1 / total_count) - 1) * mean**2``.

    Args:
        total_count: the negative binomial's number of failures (non-negative).
        logits: its log-odds, before the noise.
        multiplicative_noise_scale: ``sigma``, the scale of the noise on the logits (positive).
        num_quad_points: the number of quadrature nodes for ``log_prob`` (default 8).
        validate_args: as for every distribution.
    """

    arg_constraints = {
        "total_count": constraints.greater_than_eq(0),
        "logits": constraints.real,
        "multiplicative_noise_scale": constraints.positive,
    }
    support = constraints.nonnegative_integer

    def __init__(self, total_count: Any, logits: Any, multiplicative_noise_scale: Any, *,
                 num_quad_points: int = 8, validate_args: Optional[bool] = None) -> None:
        if isinstance(num_quad_points, bool) or not isinstance(num_quad_points, int):
            raise TypeError(
                f"LogNormalNegativeBinomial: num_quad_points must be an int, got {num_quad_points!r}"
            )
        if num_quad_points < 1:
            raise ValueError(
                f"LogNormalNegativeBinomial: num_quad_points must be at least 1, got {num_quad_points}"
            )
        shapes = {name: tuple(getattr(arg, "shape", ())) for name, arg in (
            ("total_count", total_count), ("logits", logits),
            ("multiplicative_noise_scale", multiplicative_noise_scale))}
        try:
            total_count, logits, scale = broadcast_all(total_count, logits, multiplicative_noise_scale)
        except RuntimeError:
            described = ", ".join(f"{k}: shape {v}" for k, v in shapes.items())
            raise ValueError(
                f"LogNormalNegativeBinomial: parameters of incompatible shapes ({described})"
            ) from None
        self.total_count = total_count
        self.logits = logits
        self.multiplicative_noise_scale = scale
        self.num_quad_points = num_quad_points
        nodes, log_weights = _hermite_e_rule(num_quad_points)
        self.quad_points = nodes.to(dtype=logits.dtype, device=logits.device)
        self.log_weights = log_weights.to(dtype=logits.dtype, device=logits.device)
        super().__init__(logits.shape, torch.Size(), validate_args=validate_args)
        self._build_nb()

    def _build_nb(self) -> None:
        # One negative binomial per quadrature node, on a trailing dim.
        noisy_logits = self.logits.unsqueeze(-1) + self.multiplicative_noise_scale.unsqueeze(-1) * self.quad_points
        self.nb_dist = NegativeBinomial(self.total_count.unsqueeze(-1), logits=noisy_logits,
                                        validate_args=False)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "LogNormalNegativeBinomial":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        new = self._get_checked_instance(LogNormalNegativeBinomial, _instance)
        try:
            new.total_count = self.total_count.expand(batch_shape)
            new.logits = self.logits.expand(batch_shape)
            new.multiplicative_noise_scale = self.multiplicative_noise_scale.expand(batch_shape)
        except RuntimeError:
            raise expand_error(self, batch_shape) from None
        new.num_quad_points = self.num_quad_points
        new.quad_points = self.quad_points
        new.log_weights = self.log_weights
        TorchDistribution.__init__(new, batch_shape, torch.Size(), validate_args=False)
        new._validate_args = self._validate_args
        new._build_nb()
        return new

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The quadrature estimate of ``log p(value)``."""
        if self._validate_args:
            self._validate_sample(value)
        log_probs = self.nb_dist.log_prob(value.unsqueeze(-1)) + self.log_weights
        return torch.logsumexp(log_probs, dim=-1)

    def sample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw the noise, then a negative binomial count given it (exact, no quadrature)."""
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            noise = torch.randn(shape, dtype=self.logits.dtype, device=self.logits.device)
            logits = self.logits + self.multiplicative_noise_scale * noise
            total_count = self.total_count.expand(shape)
            return NegativeBinomial(total_count, logits=logits, validate_args=False).sample()

    @property
    def mean(self) -> torch.Tensor:
        """``total_count * exp(logits + sigma**2 / 2)``."""
        return self.total_count * torch.exp(self.logits + 0.5 * self.multiplicative_noise_scale ** 2)

    @property
    def variance(self) -> torch.Tensor:
        """``mean + (exp(sigma**2) * (1 + 1 / total_count) - 1) * mean**2``."""
        mean = self.mean
        factor = torch.exp(self.multiplicative_noise_scale ** 2) * (1 + 1 / self.total_count) - 1
        return mean + factor * mean ** 2



__all__ = ["LogNormalNegativeBinomial"]
