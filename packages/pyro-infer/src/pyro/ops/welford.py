"""Streaming (Welford) estimates of a sample's variance or covariance, for mass-matrix adaptation.

Each estimator takes one sample at a time with :meth:`update` and returns the running estimate
with :meth:`get_covariance`, optionally shrunk towards a small multiple of the identity as Stan
does (``n / (n + 5)`` of the estimate plus ``1e-3 * 5 / (n + 5)`` on the diagonal).
"""

from __future__ import annotations

from typing import Tuple, Union

import torch

__all__ = ["WelfordArrowheadCovariance", "WelfordCovariance"]


def _shrink(cov: torch.Tensor, n: int, diagonal_only: bool) -> torch.Tensor:
    """Stan's regularisation of a covariance estimated from ``n`` samples."""
    weight = n / (n + 5.0)
    jitter = 1e-3 * 5.0 / (n + 5.0)
    if diagonal_only:
        return weight * cov + jitter
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    return weight * cov + jitter * eye


class WelfordCovariance:
    """Running mean and (co)variance of a stream of 1-D samples (Welford's algorithm).

    Args:
        diagonal: estimate only the variances (``True``, a vector) or the full covariance
            matrix (``False``).
    """

    def __init__(self, diagonal: bool = True) -> None:
        self.diagonal = diagonal
        self.reset()

    def reset(self) -> None:
        """Forget every sample seen so far."""
        self._mean: Union[float, torch.Tensor] = 0.0
        self._m2: Union[float, torch.Tensor] = 0.0
        self.n_samples = 0

    def update(self, sample: torch.Tensor) -> None:
        """Add one sample (a 1-D tensor) to the estimate."""
        self.n_samples += 1
        delta = sample - self._mean
        self._mean = self._mean + delta / self.n_samples
        delta_after = sample - self._mean
        if self.diagonal:
            self._m2 = self._m2 + delta * delta_after
        else:
            self._m2 = self._m2 + torch.outer(delta_after, delta)

    def get_covariance(self, regularize: bool = True) -> torch.Tensor:
        """Return the unbiased (co)variance estimate; ``regularize`` applies Stan's shrinkage.

        Raises:
            RuntimeError: with fewer than two samples.
        """
        if self.n_samples < 2:
            raise RuntimeError("WelfordCovariance.get_covariance needs at least two samples")
        cov = self._m2 / (self.n_samples - 1)
        if regularize:
            cov = _shrink(cov, self.n_samples, self.diagonal)
        return cov


class WelfordArrowheadCovariance:
    """Running covariance restricted to an arrowhead pattern: a dense head, a diagonal tail.

    The first ``head_size`` coordinates get full covariance rows (with every coordinate); the
    remaining ones only their variances.

    Args:
        head_size: the number of leading coordinates with dense rows.
    """

    def __init__(self, head_size: int = 0) -> None:
        self.head_size = head_size
        self.reset()

    def reset(self) -> None:
        """Forget every sample seen so far."""
        self._mean: Union[float, torch.Tensor] = 0.0
        self._m2_top: Union[float, torch.Tensor] = 0.0
        self._m2_bottom: Union[float, torch.Tensor] = 0.0
        self.n_samples = 0

    def update(self, sample: torch.Tensor) -> None:
        """Add one sample (a 1-D tensor) to the estimate."""
        self.n_samples += 1
        delta = sample - self._mean
        self._mean = self._mean + delta / self.n_samples
        delta_after = sample - self._mean
        h = self.head_size
        self._m2_top = self._m2_top + torch.outer(delta_after[:h], delta)
        self._m2_bottom = self._m2_bottom + delta[h:] * delta_after[h:]

    def get_covariance(self, regularize: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(top, bottom_diag)``: the ``head_size`` dense rows and the tail's variances.

        ``regularize`` applies Stan's shrinkage to both parts.
        """
        if self.n_samples < 2:
            raise RuntimeError("WelfordArrowheadCovariance.get_covariance needs at least two samples")
        n = self.n_samples
        top = self._m2_top / (n - 1)
        bottom = self._m2_bottom / (n - 1)
        if regularize:
            weight = n / (n + 5.0)
            jitter = 1e-3 * 5.0 / (n + 5.0)
            h = self.head_size
            top = weight * top
            if h:
                idx = torch.arange(h, device=top.device)
                top[idx, idx] += jitter
            bottom = weight * bottom + jitter
        return top, bottom
