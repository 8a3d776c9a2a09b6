"""``ProjectedNormalReparam``: a projected normal site as a normalised normal vector."""

from __future__ import annotations

import torch

import pyro
import pyro.distributions as dist
from pyro.infer.reparam.reparam import (
    Reparam,
    ReparamMessage,
    ReparamResult,
    _check_type,
    _no_observe,
    deterministic_site,
)


class ProjectedNormalReparam(Reparam):
    """Draw ``x ~ ProjectedNormal(concentration)`` as ``x_normal ~ Normal(0, 1)`` (one per
    coordinate) and ``x = (concentration + x_normal) / |concentration + x_normal|``.

    The auxiliary site is ``<name>_normal``. Observed sites are not supported.
    """

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Replace ``msg``'s site by ``<name>_normal`` and a deterministic ``x``."""
        _no_observe(self, msg)
        name = msg["name"]
        fn, event_dim = self._unwrap(msg["fn"])
        _check_type(self, name, fn, dist.ProjectedNormal)
        conc = fn.concentration
        normal = dist.Normal(torch.zeros_like(conc), torch.ones_like(conc))
        x = conc + pyro.sample(f"{name}_normal", self._wrap(normal, event_dim))
        value = x / x.norm(dim=-1, keepdim=True)
        return deterministic_site(value, event_dim)
