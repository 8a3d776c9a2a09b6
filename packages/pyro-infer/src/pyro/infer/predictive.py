"""Predictive distributions: run a model with latent values drawn from a posterior."""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Dict, Iterable, Optional

import torch

import pyro
from pyro import poutine
from pyro.infer.util import arg_structure_key, plate_nesting
from pyro.poutine.trace_struct import Trace
from pyro.poutine.util import prune_subsample_sites

_PREDICTIVE_PLATE = "_num_predictive_samples"


class _Structure:
    """What one unbatched run of a function tells: plate nesting and each site's shape."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict) -> None:
        with torch.no_grad(), poutine.block(), poutine.mask(mask=False):
            trace = poutine.trace(fn).get_trace(*args, **kwargs)
        self.trace = prune_subsample_sites(trace)
        self.max_plate_nesting = plate_nesting(self.trace)
        self.sites: Dict[str, tuple] = {}
        for name in self.trace.stochastic_nodes + self.trace.observation_nodes:
            site = self.trace.nodes[name]
            batch_dims = len(getattr(site["fn"], "batch_shape", ()))
            pad = max(self.max_plate_nesting - batch_dims, 0)
            self.sites[name] = ((1,) * pad, tuple(site["value"].shape))
        ret = self.trace.nodes.get("_RETURN", {}).get("value")
        self.return_shape = tuple(ret.shape) if isinstance(ret, torch.Tensor) else None


def _site_shapes(structure: _Structure, num_samples: int, return_sites: Any,
                 posterior_samples: Dict[str, torch.Tensor]) -> Dict[str, Optional[tuple]]:
    shapes: Dict[str, Optional[tuple]] = {}
    for name, (pad, value_shape) in structure.sites.items():
        shape = (num_samples,) + pad + value_shape
        if return_sites:
            if name in return_sites:
                shapes[name] = shape
        elif return_sites is None or name not in posterior_samples:
            shapes[name] = shape
    if return_sites is not None and "_RETURN" in return_sites:
        rs = structure.return_shape
        shapes["_RETURN"] = None if rs is None else (num_samples,) + rs
    if return_sites:
        missing = set(return_sites) - set(shapes) - {"_RETURN"}
        if missing:
            raise ValueError(
                f"Predictive: return_sites {sorted(missing)} are not sample sites of the model "
                f"(its sites: {sorted(structure.sites)})"
            )
    return shapes


def _value_of(trace: Trace, site: str) -> Any:
    return trace.nodes[site]["value"]


class Predictive(torch.nn.Module):
    """Draw from the predictive distribution of a model given posterior samples or a guide.

    Args:
        model: the model.
        posterior_samples: ``{site: tensor}`` of posterior draws, the draw index leading; these
            sites are fixed (conditioned) in each run of the model.
        guide: a guide to draw the latent sites from instead (not with ``posterior_samples``).
        num_samples: number of draws; taken from ``posterior_samples`` when given there.
        return_sites: names of the sites to return (``"_RETURN"`` for the model's return value).
            By default: every sample site not in ``posterior_samples``; with a guide, every
            sample site of the model.
        parallel: draw all samples in one batched run of the model inside a plate (the model
            must then be vectorizable) instead of one run per sample.

    Calling it with the model's arguments returns ``{site: tensor}``, each with a leading dim
    of size ``num_samples``; a site's shape is ``(num_samples,)``, then size-1 dims up to the
    model's plate nesting, then one draw's shape (Pyro's layout).
    """

    def __init__(self, model: Callable, posterior_samples: Optional[Dict[str, torch.Tensor]] = None,
                 *, guide: Optional[Callable] = None, num_samples: Optional[int] = None,
                 return_sites: Iterable[str] = (), parallel: bool = False) -> None:
        super().__init__()
        if posterior_samples is None:
            if num_samples is None:
                raise ValueError("Predictive: give posterior_samples or num_samples")
            posterior_samples = {}
        for name, sample in posterior_samples.items():
            size = sample.shape[0]
            if num_samples is None:
                num_samples = size
            elif num_samples != size:
                warnings.warn(
                    f"Predictive: posterior sample '{name}' has leading size {size}, not "
                    f"num_samples={num_samples}; using {size}", UserWarning, stacklevel=2)
                num_samples = size
        if num_samples is None:
            raise ValueError("Predictive: posterior_samples is empty, so num_samples is needed")
        if guide is not None and posterior_samples:
            raise ValueError("Predictive: posterior_samples cannot be given together with a guide")
        if return_sites is not None and not isinstance(return_sites, (list, tuple, set)):
            raise TypeError(f"Predictive: return_sites must be a list, tuple or set, got "
                            f"{type(return_sites).__name__}")
        self.model = model
        self.posterior_samples = posterior_samples
        self.guide = guide
        self.num_samples = int(num_samples)
        self.return_sites = return_sites
        self.parallel = parallel
        self._structures: Dict[Any, _Structure] = {}

    def _structure(self, fn: Callable, args: tuple, kwargs: dict) -> _Structure:
        key = (id(fn), arg_structure_key(args, kwargs))
        found = self._structures.get(key)
        if found is None:
            found = self._structures[key] = _Structure(fn, args, kwargs)
        return found

    def _predict(self, fn: Callable, samples: Dict[str, torch.Tensor], return_sites: Any,
                 args: tuple, kwargs: dict, return_trace: bool = False) -> Any:
        structure = self._structure(fn, args, kwargs)
        n = self.num_samples
        shapes = _site_shapes(structure, n, return_sites, samples)
        masked = poutine.mask(fn, mask=False)
        if not self.parallel:
            return self._sequential(masked, samples, shapes, args, kwargs, return_trace)
        mpn = structure.max_plate_nesting
        reshaped = {}
        for name, value in samples.items():
            draw_shape = value.shape[1:]
            reshaped[name] = value.reshape(
                (n,) + (1,) * max(mpn - len(draw_shape), 0) + tuple(draw_shape))

        def vectorized(*a: Any, **k: Any) -> Any:
            with pyro.plate(_PREDICTIVE_PLATE, n, dim=-mpn - 1):
                return masked(*a, **k)

        with torch.no_grad():
            trace = poutine.trace(poutine.condition(vectorized, reshaped)).get_trace(
                *args, **kwargs)
        if return_trace:
            return trace
        out: Dict[str, Any] = {}
        for name, shape in shapes.items():
            value = _value_of(trace, name)
            if shape is None:
                out[name] = value
            elif value.numel() < math.prod(shape):
                out[name] = value.expand(shape)
            else:
                out[name] = value.reshape(shape)
        return out

    def _sequential(self, fn: Callable, samples: Dict[str, torch.Tensor],
                    shapes: Dict[str, Optional[tuple]], args: tuple, kwargs: dict,
                    return_trace: bool) -> Any:
        collected = []
        with torch.no_grad():
            for i in range(self.num_samples):
                data = {name: value[i] for name, value in samples.items()}
                trace = poutine.trace(poutine.condition(fn, data)).get_trace(*args, **kwargs)
                collected.append(trace if return_trace else
                                 {name: _value_of(trace, name) for name in shapes})
        if return_trace:
            return collected
        out: Dict[str, Any] = {}
        for name, shape in shapes.items():
            values = [c[name] for c in collected]
            if shape is None:
                out[name] = values
                continue
            stacked = torch.stack([torch.as_tensor(v) for v in values])
            if stacked.numel() < math.prod(shape):
                out[name] = stacked.reshape((shape[0],) + (1,) * (len(shape) - stacked.dim())
                                            + stacked.shape[1:]).expand(shape)
            else:
                out[name] = stacked.reshape(shape)
        return out

    def _posterior(self, args: tuple, kwargs: dict) -> Dict[str, torch.Tensor]:
        if self.guide is None:
            return self.posterior_samples
        return self._predict(self.guide, {}, None, args, kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return ``{site: samples}`` of the predictive distribution for these model arguments."""
        return_sites = self.return_sites
        if self.guide is not None and not return_sites:
            return_sites = None
        posterior = self._posterior(args, kwargs)
        return self._predict(self.model, posterior, return_sites, args, kwargs)

    def call(self, *args: Any, **kwargs: Any) -> tuple:
        """Like calling the object, but return the values as a tuple in sorted site order."""
        return tuple(v for _, v in sorted(self(*args, **kwargs).items()))

    def get_samples(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Deprecated alias of calling the object."""
        warnings.warn("Predictive.get_samples is deprecated; call the Predictive object instead",
                      DeprecationWarning, stacklevel=2)
        return self.forward(*args, **kwargs)

    def get_vectorized_trace(self, *args: Any, **kwargs: Any) -> Trace:
        """Return the trace of one batched run of the model (all samples at once)."""
        posterior = self._posterior(args, kwargs)
        parallel, self.parallel = self.parallel, True
        try:
            return self._predict(self.model, posterior, None, args, kwargs, return_trace=True)
        finally:
            self.parallel = parallel
