"""``TransformReparam``: draw a transformed distribution's base, then push it forward."""

from __future__ import annotations

import torch

import pyro
import pyro.distributions as dist
from pyro.infer.reparam.reparam import (
    Reparam,
    ReparamMessage,
    ReparamResult,
    _check_type,
    deterministic_site,
)


class TransformReparam(Reparam):
    """Draw ``x ~ TransformedDistribution(base, transforms)`` as ``x_base ~ base`` and
    ``x = transforms(x_base)``.

    The auxiliary site is ``<name>_base``; an observed ``x`` gives the observed
    ``x_base = transforms.inv(x)``. ``Independent`` wrappers of the site are kept.
    """

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Replace ``msg``'s site by ``<name>_base`` and a deterministic ``x``."""
        name, value = msg["name"], msg["value"]
        fn, event_dim = self._unwrap(msg["fn"])
        _check_type(self, name, fn, torch.distributions.TransformedDistribution)
        transform = dist.transforms.ComposeTransform(list(fn.transforms))
        shift = transform.codomain.event_dim - transform.domain.event_dim
        base = fn.base_dist
        base = self._wrap(base, max(event_dim - shift, len(base.event_shape)))
        if value is None:
            x_base = pyro.sample(f"{name}_base", base)
            value = transform(x_base)
        else:
            pyro.sample(f"{name}_base", base, obs=transform.inv(value))
        return deterministic_site(value, event_dim)
