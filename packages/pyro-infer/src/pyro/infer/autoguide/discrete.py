"""A guide for discrete latent sites that an enumerating ELBO sums out in parallel."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import torch

import pyro
from pyro import poutine
from pyro.distributions import constraints
from pyro.infer.autoguide.continuous import AutoContinuous
from pyro.infer.autoguide.guides import AutoGuide, _full_size
from pyro.infer.enum import config_enumerate
from pyro.poutine.util import prune_subsample_sites


class AutoDiscreteParallel(AutoGuide):
    """A mean-field guide over discrete latent sites, each marked for parallel enumeration.

    Every latent site of the model must be discrete with enumerable support (``Bernoulli``,
    ``Categorical``, ``OneHotCategorical``); it gets a learnable ``AutoDiscreteParallel.<name>_probs``
    (on the simplex, or in the unit interval for a ``Bernoulli``), initialised at the prior's
    probabilities and of the plates' full sizes, and is sampled from the same distribution
    family with ``infer={"enumerate": "parallel"}``, so ``TraceEnum_ELBO`` sums it out exactly.
    Use it in an :class:`AutoGuideList` beside a continuous guide, on
    ``poutine.block(model, expose=[...discrete sites...])``.

    Args:
        model: the model.
        create_plates: see :class:`AutoGuide`.
    """

    _accepts_discrete = True

    def __init__(self, model: Callable, *, create_plates: Optional[Callable] = None) -> None:
        super().__init__(model, create_plates=create_plates)

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        with torch.no_grad(), poutine.block():
            trace = poutine.trace(config_enumerate(self.model)).get_trace(*args, **kwargs)
        self.prototype_trace = prune_subsample_sites(trace)
        self._prototype_frames = {}
        self._init_probs: Dict[str, torch.Tensor] = {}
        for name, site in self.prototype_trace.iter_stochastic_nodes():
            fn = site["fn"]
            if (site["infer"].get("enumerate") != "parallel" or not fn.support.is_discrete
                    or not hasattr(fn, "probs")):
                raise NotImplementedError(
                    f'Expected sample site "{name}" to be discrete and configured for parallel '
                    f"enumeration")
            probs = fn.probs.detach().expand(fn.batch_shape + fn.probs.shape[len(fn.batch_shape):])
            event_dim = probs.dim() - len(fn.batch_shape)
            for frame in site["cond_indep_stack"]:
                if not frame.vectorized:
                    raise NotImplementedError(
                        f"{self._pyro_name}: site '{name}' is inside the sequential plate "
                        f"'{frame.name}'; autoguides support only vectorized plates")
                self._prototype_frames[frame.name] = frame
                probs = _full_size(probs, frame, event_dim)
            self._init_probs[name] = probs.clone()

    # The plates subsample as the model's do; a full-size probs param is index-selected by them.
    _create_plates = AutoContinuous._create_plates

    def forward(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Sample every discrete site from its learned probabilities; return ``{name: value}``."""
        self._ensure_prototype(*args, **kwargs)
        plates = self._create_plates(*args, **kwargs)
        result = {}
        for name, site in self._stochastic_sites():
            fn = site["fn"]
            init = self._init_probs[name]
            event_dim = init.dim() - len(fn.batch_shape)
            constraint = constraints.simplex if event_dim else constraints.unit_interval
            with self._site_plates(site, plates):
                probs = pyro.param(self._param_name(None, f"{name}_probs"), lambda: init.clone(),
                                   constraint=constraint, event_dim=event_dim)
                result[name] = pyro.sample(name, type(fn)(probs=probs),
                                           infer={"enumerate": "parallel"})
        return result


__all__ = ["AutoDiscreteParallel"]
