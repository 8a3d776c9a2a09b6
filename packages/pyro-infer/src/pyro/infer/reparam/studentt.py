"""``StudentTReparam``: a Student-t site as a Gamma-scaled normal."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
from pyro.infer.reparam.reparam import Reparam, ReparamMessage, ReparamResult, _check_type


class StudentTReparam(Reparam):
    """Draw ``x ~ StudentT(df, loc, scale)`` as ``x_gamma ~ Gamma(df / 2, df / 2)`` and
    ``x ~ Normal(loc, scale / sqrt(x_gamma))``.

    The auxiliary site is ``<name>_gamma``; the site itself stays (observed or not) with the
    conditional normal as its distribution.
    """

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Add ``<name>_gamma`` and give the site its conditional normal."""
        name = msg["name"]
        fn, event_dim = self._unwrap(msg["fn"])
        _check_type(self, name, fn, dist.StudentT)
        half_df = fn.df * 0.5
        gamma = pyro.sample(f"{name}_gamma", self._wrap(dist.Gamma(half_df, half_df), event_dim))
        normal = self._wrap(dist.Normal(fn.loc, fn.scale * gamma.rsqrt()), event_dim)
        return {"fn": normal, "value": msg["value"], "is_observed": msg["is_observed"]}
