"""``GumbelSoftmaxReparam``: a relaxed one-hot categorical site through uniform noise."""

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


class GumbelSoftmaxReparam(Reparam):
    """Draw ``x ~ RelaxedOneHotCategorical(temperature, logits)`` as ``x_uniform ~ Uniform(0, 1)``
    (one per category) and ``x = softmax((logits - log(-log x_uniform)) / temperature)``.

    The auxiliary site is ``<name>_uniform``. Observed sites are not supported.
    """

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Replace ``msg``'s site by ``<name>_uniform`` and a deterministic ``x``."""
        name = msg["name"]
        if msg["is_observed"]:
            raise NotImplementedError(
                f"SoftmaxReparam does not support observe statements (at sample site '{name}')")
        fn, event_dim = self._unwrap(msg["fn"])
        _check_type(self, name, fn, torch.distributions.RelaxedOneHotCategorical)
        logits = fn.logits
        uniform = dist.Uniform(torch.zeros_like(logits), torch.ones_like(logits))
        u = pyro.sample(f"{name}_uniform", self._wrap(uniform, event_dim))
        gumbel = -torch.log(-torch.log(u))
        value = ((logits + gumbel) / fn.temperature).softmax(dim=-1)
        return deterministic_site(value, event_dim)
