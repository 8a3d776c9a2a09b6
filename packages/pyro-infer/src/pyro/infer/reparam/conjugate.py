"""``ConjugateReparam``: draw a site from its prior updated by a conjugate likelihood."""

from __future__ import annotations

from typing import Any, Callable, Union

import torch

import pyro.distributions as dist
from pyro.distributions.conjugate_updates import conjugate_update
from pyro.infer.reparam.reparam import Reparam, ReparamMessage, ReparamResult


class ConjugateReparam(Reparam):
    """EXPERIMENTAL. Draw a latent site from its prior updated by a conjugate guide.

    For a site ``x ~ prior`` and a guide distribution ``g`` over ``x`` (typically the
    likelihood of the observations as a function of ``x``, exact or approximate), the prior's
    ``conjugate_update(g)`` gives ``updated`` and ``log Z`` with
    ``prior(x) g(x) = updated(x) Z``. The site's value is drawn from ``updated`` (outside the
    effect system: the site becomes observed) and carries the log-density
    ``log Z - log g(x)``, so the model's joint density is unchanged. When ``g`` is the exact
    likelihood, the rest of the model's density no longer depends on ``x``: the site is drawn
    from its exact posterior and the guide needs nothing for it.

    Which priors can be updated depends on the distribution's ``conjugate_update``:
    ``Beta``, ``Dirichlet`` and ``Gamma`` (by a guide of the same family),
    :class:`~pyro.distributions.GaussianHMM` (by a Gaussian likelihood of its observations),
    and these wrapped by ``expand``, ``to_event`` or ``mask``.

    Args:
        guide: a distribution over the site's value, or a callable of the model's
            ``*args, **kwargs`` returning one.

    Example (a Beta-Bernoulli model; the guide is the likelihood of ``p`` as a Beta)::

        def model(data):
            p = pyro.sample("p", dist.Beta(1.0, 1.0))
            with pyro.plate("data", len(data)):
                pyro.sample("obs", dist.Bernoulli(p), obs=data)

        def likelihood(data):
            heads = data.sum()
            return dist.Beta(heads + 1, len(data) - heads + 1)

        model = poutine.reparam(model, {"p": ConjugateReparam(likelihood)})
    """

    def __init__(self, guide: Union[Any, Callable[..., Any]]) -> None:
        if not isinstance(guide, torch.distributions.Distribution) and not callable(guide):
            raise TypeError(f"ConjugateReparam: guide must be a distribution or a callable "
                            f"returning one, got {type(guide).__name__}")
        self.guide = guide

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Draw the site from the updated prior, with the compensating log-density."""
        name, fn = msg["name"], msg["fn"]
        if msg["is_observed"]:
            raise NotImplementedError(
                f"ConjugateReparam does not support observe statements (at sample site "
                f"'{name}')")
        guide = self.guide
        if not isinstance(guide, torch.distributions.Distribution):
            args, kwargs = self.args_kwargs or ((), {})
            guide = guide(*args, **kwargs)
            if not isinstance(guide, torch.distributions.Distribution):
                raise TypeError(f"ConjugateReparam at sample site '{name}': the guide callable "
                                f"returned {type(guide).__name__}, not a distribution")
        updated, log_normalizer = conjugate_update(fn, guide)
        value = updated.rsample() if updated.has_rsample else updated.sample()
        log_density = log_normalizer - guide.log_prob(value)
        new_fn = dist.Delta(value, log_density=log_density, event_dim=len(fn.event_shape))
        return {"fn": new_fn, "value": value, "is_observed": True}


__all__ = ["ConjugateReparam"]
