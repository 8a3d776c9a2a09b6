"""The batch-normalisation flow of Dinh et al. (2017): an elementwise affine map whose
*inverse* (the data-to-base direction that density estimation evaluates) normalises by the
statistics of the batch, ``x = gamma * (y - mean) / sqrt(var + epsilon) + beta``.
"""

from __future__ import annotations

from typing import Any, Tuple

import torch

from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.dense_nn import check_int, check_real


class BatchNorm(TransformModule):
    r"""Batch normalisation as a bijection of real values (applied to each of the ``input_dim``
    entries of the last dim). The forward map is

    .. math:: y = \frac{x - \beta}{\gamma} \sqrt{\sigma^2 + \epsilon} + \mu,

    and the inverse ``x = gamma * (y - mu) / sqrt(sigma^2 + epsilon) + beta``, with ``gamma``
    (initially ones) and ``beta`` (initially zeros) learned. The maps use ``gamma`` kept
    positive, ``constrained_gamma = relu(gamma) + 1e-6``.

    In training mode the inverse takes ``mu`` and ``sigma^2`` from the batch it is given (the
    mean and the unbiased variance over all dims but the last) and updates the running
    statistics ``moving_mean`` and ``moving_variance`` (buffers, initially zeros and ones):
    ``moving = (1 - momentum) * moving + momentum * batch``. The log-determinant uses the
    variance of the batch ``y`` in training mode as well. The forward map always uses the
    running statistics; so does everything in eval mode (``flow.eval()``).

    ``log_abs_det_jacobian(x, y)`` is elementwise (the map acts on each entry independently):
    ``0.5 * log(sigma^2 + epsilon) - log(constrained_gamma)``, broadcast against the batch. No caching
    (``cache_size=0``): the inverse always recomputes, so it always sees the batch.

    Args:
        input_dim: size of the last dim.
        momentum: weight of the new batch in the running statistics.
        epsilon: added to the variance before the square root.
    """

    domain = constraints.real
    codomain = constraints.real
    bijective = True

    def __init__(self, input_dim: int, momentum: float = 0.1, epsilon: float = 1e-5) -> None:
        super().__init__()
        check_int("BatchNorm", "input_dim", input_dim)
        check_real("BatchNorm", "momentum", momentum)
        check_real("BatchNorm", "epsilon", epsilon)
        if not isinstance(momentum, torch.Tensor) and not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum}")
        if not isinstance(epsilon, torch.Tensor) and epsilon < 0:
            raise ValueError(f"BatchNorm: epsilon must be non-negative, got {epsilon}")
        self.input_dim = input_dim
        self.momentum = momentum
        self.epsilon = epsilon
        self.gamma = torch.nn.Parameter(torch.ones(input_dim))
        self.beta = torch.nn.Parameter(torch.zeros(input_dim))
        self.register_buffer("moving_mean", torch.zeros(input_dim))
        self.register_buffer("moving_variance", torch.ones(input_dim))

    @property
    def constrained_gamma(self) -> torch.Tensor:
        """``gamma`` as the maps use it: ``relu(gamma) + 1e-6``, kept positive."""
        return torch.relu(self.gamma) + 1e-6

    def _batch_stats(self, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mean and unbiased variance over every dim but the last, keeping those dims."""
        dims: Any = tuple(range(y.dim() - 1))
        return y.mean(dims, keepdim=True), y.var(dims, keepdim=True, unbiased=True)

    def _check(self, v: torch.Tensor, what: str) -> None:
        if v.shape[-1:] != (self.input_dim,):
            raise ValueError(f"BatchNorm: {what} of shape {tuple(v.shape)}, expected (..., "
                             f"{self.input_dim}) (input_dim={self.input_dim})")

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x, "input")
        scale = torch.sqrt(self.moving_variance + self.epsilon) / self.constrained_gamma
        return (x - self.beta) * scale + self.moving_mean

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        self._check(y, "value")
        if self.training:
            mean, var = self._batch_stats(y)
            with torch.no_grad():
                flat_mean = mean.reshape(-1, self.input_dim)[0]
                flat_var = var.reshape(-1, self.input_dim)[0]
                self.moving_mean.mul_(1 - self.momentum).add_(flat_mean.detach() * self.momentum)
                self.moving_variance.mul_(1 - self.momentum).add_(
                    flat_var.detach() * self.momentum
                )
        else:
            mean, var = self.moving_mean, self.moving_variance
        return (y - mean) / torch.sqrt(var + self.epsilon) * self.constrained_gamma + self.beta

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Elementwise ``log |dy/dx|``."""
        var = self._batch_stats(y)[1] if self.training else self.moving_variance
        return 0.5 * torch.log(var + self.epsilon) - torch.log(self.constrained_gamma)


def batchnorm(input_dim: int, **kwargs: Any) -> BatchNorm:
    """Build a :class:`BatchNorm` flow; ``kwargs`` (``momentum``, ``epsilon``) go to it."""
    return BatchNorm(input_dim, **kwargs)


__all__ = ["BatchNorm", "batchnorm"]
