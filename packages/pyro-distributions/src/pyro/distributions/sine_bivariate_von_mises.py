"""``SineBivariateVonMises``: the sine model of dependent angle pairs on the torus."""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Sequence, Tuple

import torch

from pyro.distributions import constraints
from pyro.distributions._params import broadcast_params, expanded_copy
from pyro.distributions.torch import VonMises
from pyro.distributions.torch_distribution import TorchDistribution

_TWO_PI = 2 * math.pi
_LOG_2PI = math.log(_TWO_PI)
_NAMES = ("phi_loc", "psi_loc", "phi_concentration", "psi_concentration", "correlation")


def _wrap(x: torch.Tensor) -> torch.Tensor:
    return torch.remainder(x + math.pi, _TWO_PI) - math.pi


def _log_i0(r: torch.Tensor) -> torch.Tensor:
    return torch.special.i0e(r).log() + r


def _log_marginal(k1: torch.Tensor, k2: torch.Tensor, lam: torch.Tensor,
                  a: torch.Tensor) -> torch.Tensor:
    # log of exp(k1 cos a) I0(sqrt(k2^2 + lam^2 sin(a)^2)): the density of phi - phi_loc up to
    # a constant, with psi integrated out.
    return k1 * a.cos() + _log_i0((k2 ** 2 + (lam * a.sin()) ** 2).sqrt())


class SineBivariateVonMises(TorchDistribution):
    """A distribution of angle pairs ``(phi, psi)`` on the torus with density proportional to
    ``exp(k1 cos(phi - mu) + k2 cos(psi - nu) + lam sin(phi - mu) sin(psi - nu))``
    (``k1, k2`` the concentrations, ``lam`` the correlation).

    ``norm_const`` is the log normaliser, computed as ``2 pi`` times the periodic integral over
    ``phi`` of ``exp(k1 cos a) I0(sqrt(k2**2 + lam**2 sin(a)**2))`` (``psi`` integrated out in
    closed form) by the trapezoidal rule, which is spectrally accurate here. Samples (not
    reparameterised, in ``[-pi, pi)``) draw ``phi`` from its marginal by rejection from a
    piecewise-constant envelope and ``psi`` from its conditional von Mises distribution. The
    density is bimodal when ``lam**2 >= k1 * k2``; with validation on this warns as in Pyro
    (Pyro's sampler assumes unimodality; this one does not).

    Args:
        phi_loc, psi_loc: the locations ``mu``, ``nu``.
        phi_concentration, psi_concentration: ``k1``, ``k2``, positive.
        correlation: ``lam``; give it or ``weighted_correlation``, not both.
        weighted_correlation: ``lam / sqrt(k1 * k2)``, typically in ``[-1, 1]``.
        validate_args: as for every distribution.

    Raises:
        ValueError: neither or both of ``correlation`` and ``weighted_correlation`` are given,
            or the parameters do not broadcast.
    """

    arg_constraints = {"phi_loc": constraints.real, "psi_loc": constraints.real,
                       "phi_concentration": constraints.positive,
                       "psi_concentration": constraints.positive,
                       "correlation": constraints.real}
    support = constraints.independent(constraints.real, 1)
    #: How many rounds of rejection ``sample`` tries before giving up.
    max_sample_iter = 1000

    def __init__(self, phi_loc: Any, psi_loc: Any, phi_concentration: Any, psi_concentration: Any,
                 correlation: Any = None, weighted_correlation: Any = None,
                 validate_args: Optional[bool] = None) -> None:
        if (correlation is None) == (weighted_correlation is None):
            raise ValueError("SineBivariateVonMises: give exactly one of correlation and "
                             "weighted_correlation")
        if correlation is None:
            k1, k2, w = broadcast_params("SineBivariateVonMises", phi_concentration=phi_concentration,
                                         psi_concentration=psi_concentration,
                                         weighted_correlation=weighted_correlation)
            correlation = w * (k1 * k2).sqrt()
        params = broadcast_params("SineBivariateVonMises", phi_loc=phi_loc, psi_loc=psi_loc,
                                  phi_concentration=phi_concentration,
                                  psi_concentration=psi_concentration, correlation=correlation)
        for name, value in zip(_NAMES, params):
            setattr(self, name, value)
        super().__init__(params[0].shape, torch.Size([2]), validate_args=validate_args)
        if self._validate_args and (self.correlation ** 2 >= self.phi_concentration
                                    * self.psi_concentration).any():
            warnings.warn("SineBivariateVonMises bimodal due to concentration-correlation relation, "
                          "sampling will likely fail.", UserWarning)

    @classmethod
    def infer_shapes(cls, **arg_shapes: Sequence[int]) -> Tuple[torch.Size, torch.Size]:
        """The batch shape (the parameters' shapes broadcast) and the event shape ``(2,)``."""
        shapes = [torch.Size(arg_shapes.get(name, ())) for name in _NAMES]
        return torch.broadcast_shapes(*shapes), torch.Size([2])

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "SineBivariateVonMises":
        """Return this distribution with its parameters broadcast to ``batch_shape``."""
        return expanded_copy(self, SineBivariateVonMises, batch_shape, _instance, _NAMES)

    @property
    def mean(self) -> torch.Tensor:
        """``(phi_loc, psi_loc)`` (the mode of the unimodal case, as in Pyro)."""
        return torch.stack([self.phi_loc, self.psi_loc], -1)

    def _log_marginal(self, a: torch.Tensor) -> torch.Tensor:
        # Unnormalised log marginal of phi - phi_loc at angles a (shape batch + (n,)).
        return _log_marginal(self.phi_concentration.unsqueeze(-1),
                             self.psi_concentration.unsqueeze(-1),
                             self.correlation.unsqueeze(-1), a)

    @property
    def norm_const(self) -> torch.Tensor:
        """The log normaliser (of the batch shape)."""
        scale = (self.phi_concentration + self.psi_concentration + self.correlation.abs()).max()
        n = 32 + int(math.ceil(9 * math.sqrt(float(scale))))
        p = self.phi_loc
        a = torch.arange(n, dtype=p.dtype, device=p.device) * (_TWO_PI / n)
        return self._log_marginal(a).logsumexp(-1) + _LOG_2PI + math.log(_TWO_PI / n)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``k1 cos(phi - mu) + k2 cos(psi - nu) + lam sin(phi - mu) sin(psi - nu) - norm_const``."""
        if self._validate_args:
            self._validate_sample(value)
        a, b = value[..., 0] - self.phi_loc, value[..., 1] - self.psi_loc
        return (self.phi_concentration * a.cos() + self.psi_concentration * b.cos()
                + self.correlation * a.sin() * b.sin() - self.norm_const)

    def _sample_phi_offset(self, sample_shape: torch.Size) -> torch.Tensor:
        # Rejection from a piecewise-constant envelope of the marginal of a = phi - phi_loc: on a
        # cell of width h, log f exceeds its larger end value by at most L h / 2, where
        # L = k1 + |lam| bounds |d log f / da|.
        p = self.phi_loc
        lip = (self.phi_concentration + self.correlation.abs()).reshape(-1)
        n = min(4096, 64 + int(math.ceil(_TWO_PI * float(lip.max()) / 0.2)))
        h = _TWO_PI / n
        edges = -math.pi + torch.arange(n + 1, dtype=p.dtype, device=p.device) * h
        k1, k2, lam = (x.reshape(-1, 1) for x in (self.phi_concentration, self.psi_concentration,
                                                  self.correlation))
        logf = _log_marginal(k1, k2, lam, edges)
        bound = torch.maximum(logf[..., :-1], logf[..., 1:]) + (lip * h / 2).unsqueeze(-1)
        cdf = (bound - bound.max(-1, keepdim=True).values).exp().cumsum(-1)
        cdf = cdf / cdf[..., -1:]
        m = int(sample_shape.numel())
        out = torch.empty(lip.numel(), m, dtype=p.dtype, device=p.device)
        todo = torch.ones_like(out, dtype=torch.bool)
        for _ in range(self.max_sample_iter):
            u = torch.rand(out.shape, dtype=p.dtype, device=p.device)
            cell = torch.searchsorted(cdf, u).clamp(max=n - 1)
            a = edges[cell] + h * torch.rand(out.shape, dtype=p.dtype, device=p.device)
            log_ratio = _log_marginal(k1, k2, lam, a) - bound.gather(-1, cell)
            accept = todo & (torch.rand(out.shape, dtype=p.dtype, device=p.device).log() < log_ratio)
            out = torch.where(accept, a, out)
            todo = todo & ~accept
            if not todo.any():
                break
        else:
            raise ValueError("SineBivariateVonMises.sample: rejection sampling did not finish in "
                             f"max_sample_iter = {self.max_sample_iter} rounds")
        return out.T.reshape(sample_shape + self.batch_shape)

    def sample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw ``phi`` from its marginal, then ``psi`` from the von Mises distribution it has
        given ``phi``. Returns pairs in ``[-pi, pi)``, shape ``sample_shape + batch_shape + (2,)``."""
        with torch.no_grad():
            sample_shape = torch.Size(sample_shape)
            a = self._sample_phi_offset(sample_shape)
            s = self.correlation * a.sin()
            k2 = self.psi_concentration.expand_as(s)
            b = VonMises(torch.atan2(s, k2), (k2 ** 2 + s ** 2).sqrt()).sample()
            return torch.stack([_wrap(a + self.phi_loc), _wrap(b + self.psi_loc)], -1)


__all__ = ["SineBivariateVonMises"]
