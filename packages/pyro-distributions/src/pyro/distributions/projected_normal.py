"""``ProjectedNormal``: a normal vector projected onto the unit sphere."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.ops.tensor_utils import safe_normalize
from pyro.distributions.validation import expand_error

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _radial_integral_log(t: torch.Tensor, dim: int) -> torch.Tensor:
    """``log J(t)`` with ``J(t) = exp(t**2 / 2) * integral_0^inf r**(dim-1) exp(-(r-t)**2 / 2) dr``.

    ``J_1 = sqrt(pi / 2) * erfcx(-t / sqrt 2)`` (that is ``sqrt(2 pi) Phi(t) exp(t**2/2)``),
    ``J_2 = 1 + t J_1`` and, integrating by parts, ``J_{d+1} = t J_d + (d - 1) J_{d-1}``.
    """
    j_prev = math.sqrt(math.pi / 2) * torch.special.erfcx(-t / math.sqrt(2))
    j = 1 + t * j_prev
    for d in range(2, dim):
        j, j_prev = t * j + (d - 1) * j_prev, j
    return j.log()


class ProjectedNormal(TorchDistribution):
    """The direction ``x / |x|`` of ``x ~ Normal(concentration, I)``: a distribution on the
    unit sphere in ``n`` dims.

    Concentrated around ``concentration / |concentration|``, the more so the longer
    ``concentration`` is (uniform when it is zero). Samples are reparameterised.
    ``log_prob`` has a closed form for ``n`` = 2, 3 and 4 (as in Pyro) and raises
    ``NotImplementedError`` for other sizes; sampling works for every size.

    Args:
        concentration: a vector of shape ``batch_shape + (n,)``.
        validate_args: as for every distribution.

    Raises:
        ValueError: ``concentration`` is not at least one-dimensional.
    """

    arg_constraints = {"concentration": constraints.real_vector}
    support = constraints.sphere
    has_rsample = True

    def __init__(self, concentration: torch.Tensor, *, validate_args: Optional[bool] = None) -> None:
        if not isinstance(concentration, torch.Tensor) or concentration.dim() < 1:
            raise ValueError(
                f"ProjectedNormal: concentration must be at least one-dimensional (a vector per "
                f"batch element), got shape {tuple(getattr(concentration, 'shape', ()))}")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "ProjectedNormal":
        """Return this distribution with ``concentration`` broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(ProjectedNormal, _instance)
        try:
            new.concentration = self.concentration.expand(batch_shape + self.event_shape)
        except RuntimeError:
            raise expand_error(self, batch_shape) from None
        TorchDistribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> torch.Tensor:
        """The mean direction ``concentration / |concentration|`` (as in Pyro: a unit vector,
        the first basis vector when ``concentration`` is zero)."""
        return safe_normalize(self.concentration)

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw ``x / |x|`` with ``x ~ Normal(concentration, I)``."""
        shape = self._extended_shape(sample_shape)
        c = self.concentration
        x = c + torch.randn(shape, dtype=c.dtype, device=c.device)
        return safe_normalize(x)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-density with respect to the surface measure of the sphere.

        ``log p(value) = log J_n(t) - |c|^2 / 2 - (n / 2) log(2 pi)`` with ``c`` the
        concentration and ``t = value . c``, integrating the normal density along the ray
        through ``value`` (see :func:`_radial_integral_log`).

        Raises:
            NotImplementedError: the dimension ``n`` is not 2, 3 or 4.
        """
        dim = self.event_shape[0]
        if dim not in (2, 3, 4):
            raise NotImplementedError(f"ProjectedNormal.log_prob() is not implemented for dim = {dim}.")
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        t = (value * c).sum(-1)
        sq = c.pow(2).sum(-1)
        return _radial_integral_log(t, dim) - sq / 2 - dim * _HALF_LOG_2PI


__all__ = ["ProjectedNormal"]
