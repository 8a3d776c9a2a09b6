"""Predictive distributions: run a model with latent values drawn from a posterior."""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

import torch

import pyro
from pyro import poutine
from pyro.infer.arg_checks import check_callable
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
                 guide: Optional[Callable] = None, num_samples: Optional[int] = None,
                 return_sites: Iterable[str] = (), parallel: bool = False) -> None:
        super().__init__()
        check_callable("Predictive", "model", model)
        check_callable("Predictive", "guide", guide, optional=True)
        if posterior_samples is None:
            if num_samples is None:
                raise ValueError("Either posterior_samples or num_samples must be specified.")
            posterior_samples = {}
        sizes = {}
        for name, sample in posterior_samples.items():
            if not isinstance(sample, torch.Tensor) or sample.dim() == 0:
                raise ValueError(
                    f"Predictive: posterior sample '{name}' must be a tensor with a leading "
                    f"sample dim, got {type(sample).__name__} of shape "
                    f"{tuple(getattr(sample, 'shape', ()))}")
            sizes[name] = sample.shape[0]
        if len(set(sizes.values())) > 1:
            described = ", ".join(f"'{n}': {s}" for n, s in sizes.items())
            raise ValueError(f"Predictive: posterior samples disagree in their leading (sample) "
                             f"dim: {described}")
        if sizes:
            size = next(iter(sizes.values()))
            if num_samples is not None and num_samples != size:
                # Pyro's warning, word for word (users filter on it).
                warnings.warn(
                    f"Sample's leading dimension size {size} is different from the provided "
                    f"{num_samples} num_samples argument. Defaulting to {size}.",
                    UserWarning, stacklevel=2)
            num_samples = size
        if num_samples is not None and (isinstance(num_samples, bool) or not isinstance(
                num_samples, numbers.Integral) or num_samples < 1):
            raise ValueError(f"Predictive: num_samples must be a positive int, got {num_samples!r}")
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
                 args: tuple, kwargs: dict, return_trace: bool = False,
                 keep_log_prob: bool = False) -> Any:
        structure = self._structure(fn, args, kwargs)
        n = self.num_samples
        shapes = _site_shapes(structure, n, return_sites, samples)
        masked = fn if keep_log_prob else poutine.mask(fn, mask=False)
        if not self.parallel:
            return self._sequential(masked, samples, shapes, args, kwargs, return_trace)
        mpn = structure.max_plate_nesting
        reshaped = {}
        for name, value in samples.items():
            draw_shape = value.shape[1:]
            reshaped[name] = value.reshape(
                (n,) + (1,) * max(mpn - len(draw_shape), 0) + tuple(draw_shape))

        # The sample plate encloses the trace, as in Pyro: its own site is not recorded.
        with torch.no_grad(), pyro.plate(_PREDICTIVE_PLATE, n, dim=-mpn - 1):
            trace = poutine.trace(poutine.condition(masked, reshaped)).get_trace(
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
        warnings.warn("The method `.get_samples` has been deprecated in favor of `.forward`.",
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


# --- weighed predictive ----------------------------------------------------------------------


@dataclass
class WeighedPredictiveResults:
    """What :class:`WeighedPredictive` returns: samples and their per-sample log weights.

    Attributes:
        samples: ``{site: tensor}`` (or a tuple in sorted site order, from ``.call``).
        log_weights: ``model_log_prob - guide_log_prob``, shape ``(num_samples,)``.
        guide_log_prob: the guide's log-density of each draw.
        model_log_prob: the log-density of each draw under the model (``model_guide``).
    """

    samples: Union[dict, tuple]
    log_weights: torch.Tensor
    guide_log_prob: torch.Tensor
    model_log_prob: torch.Tensor


def _log_prob_per_sample(traces: Any, num_samples: int, parallel: bool) -> torch.Tensor:
    """Each draw's total log-density: one trace per draw, or one batched trace (``parallel``)."""
    if not parallel:
        return torch.stack([torch.as_tensor(tr.log_prob_sum()) for tr in traces])
    traces.compute_log_prob()
    total = torch.zeros(num_samples)
    for site in traces.nodes.values():
        if site["type"] != "sample" or "log_prob" not in site:
            continue
        log_p = torch.as_tensor(site["log_prob"])
        total = total.to(log_p)
        dims = [f.dim for f in site["cond_indep_stack"] if f.name == _PREDICTIVE_PLATE]
        if not dims or log_p.dim() < -dims[0]:
            total = total + log_p.sum()  # the same for every draw
            continue
        per_draw = log_p.movedim(log_p.dim() + dims[0], 0)
        per_draw = per_draw.expand((num_samples,) + per_draw.shape[1:])
        total = total + per_draw.reshape(num_samples, -1).sum(-1)
    return total


class WeighedPredictive(Predictive):
    """A :class:`Predictive` from a guide that also returns each draw's importance log weight.

    Calling it (or ``.call``) takes the model's arguments plus an optional keyword
    ``model_guide``: the model the guide was fitted to (e.g. conditioned on the observations);
    by default the predictive ``model`` itself. The log weight of a draw ``z ~ guide`` is
    ``log model_guide(z, ...) - log guide(z)``; feed samples and weights to
    :func:`pyro.ops.stats.weighed_quantile`, or make them equally weighed with
    :class:`MHResampler`. A guide is required.
    """

    def _weighed(self, args: tuple, kwargs: dict) -> WeighedPredictiveResults:
        model_guide = kwargs.pop("model_guide", None)
        if self.guide is None:
            raise TypeError("WeighedPredictive needs a guide: WeighedPredictive(model, guide=...)")
        n, parallel = self.num_samples, self.parallel
        guide_traces = self._predict(self.guide, {}, None, args, kwargs, return_trace=True,
                                     keep_log_prob=True)
        guide_log_prob = _log_prob_per_sample(guide_traces, n, parallel)
        structure = self._structure(self.guide, args, kwargs)
        latent_shapes = {k: v for k, v in _site_shapes(structure, n, None, {}).items()
                         if k in structure.trace.stochastic_nodes}
        latents = self._values_from(guide_traces, latent_shapes)
        return_sites = self.return_sites if self.return_sites else None
        model_traces = self._predict(self.model, latents, return_sites, args, kwargs,
                                     return_trace=True, keep_log_prob=True)
        shapes = _site_shapes(self._structure(self.model, args, kwargs), n, return_sites, latents)
        samples = self._values_from(model_traces, shapes)
        if model_guide is not None:
            model_traces = self._predict(model_guide, latents, None, args, kwargs,
                                         return_trace=True, keep_log_prob=True)
        model_log_prob = _log_prob_per_sample(model_traces, n, parallel)
        return WeighedPredictiveResults(samples=samples,
                                        log_weights=model_log_prob - guide_log_prob,
                                        guide_log_prob=guide_log_prob,
                                        model_log_prob=model_log_prob)

    def _values_from(self, traces: Any, shapes: Dict[str, Optional[tuple]]) -> Dict[str, Any]:
        """``{site: value}`` in Predictive's layout, from one batched trace or one per draw."""
        out: Dict[str, Any] = {}
        for name, shape in shapes.items():
            if not self.parallel:
                values = [_value_of(tr, name) for tr in traces]
                if shape is None:
                    out[name] = values
                    continue
                value = torch.stack([torch.as_tensor(v) for v in values])
                if value.numel() < math.prod(shape):
                    value = value.reshape((shape[0],) + (1,) * (len(shape) - value.dim())
                                          + value.shape[1:])
            else:
                value = _value_of(traces, name)
                if shape is None:
                    out[name] = value
                    continue
            out[name] = value.expand(shape) if value.numel() < math.prod(shape) \
                else value.reshape(shape)
        return out

    def forward(self, *args: Any, **kwargs: Any) -> WeighedPredictiveResults:  # type: ignore[override]
        """Return :class:`WeighedPredictiveResults` for these model arguments.

        Accepts the extra keyword ``model_guide`` (see the class docstring).
        """
        return self._weighed(args, kwargs)

    def call(self, *args: Any, **kwargs: Any) -> WeighedPredictiveResults:  # type: ignore[override]
        """Like calling the object, but with ``samples`` as a tuple in sorted site order."""
        result = self._weighed(args, kwargs)
        result.samples = tuple(v for _, v in sorted(result.samples.items()))
        return result


def _select(results: WeighedPredictiveResults, index: Any) -> WeighedPredictiveResults:
    samples = results.samples
    if isinstance(samples, dict):
        picked: Union[dict, tuple] = {k: v[index] for k, v in samples.items()}
    else:
        picked = tuple(v[index] for v in samples)
    return WeighedPredictiveResults(picked, results.log_weights[index],
                                    results.guide_log_prob[index], results.model_log_prob[index])


def _where(accept: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    mask = accept.reshape(accept.shape + (1,) * (new.dim() - 1))
    return torch.where(mask, new, old)


class MHResampler(torch.nn.Module):
    """Turn weighed samples into equally weighed ones by independent Metropolis-Hastings.

    Each call draws a fresh set of weighed samples from ``sampler`` (a callable returning
    :class:`WeighedPredictiveResults`, such as a :class:`WeighedPredictive`) and, sample by
    sample, moves from the current draw ``x`` to the candidate ``x'`` with probability
    ``min(1, exp(log_weight(x') - log_weight(x)))``: the guide is the (independent) proposal
    and the weights correct for it. The first call returns the sampler's draws as they are;
    with each further call the samples get closer to the target distribution.

    Args:
        sampler: callable giving :class:`WeighedPredictiveResults`; it receives the call's
            arguments.
        source_samples_slice: which of each call's candidate samples to keep (default none).
        stored_samples_slice: which of each call's output samples to keep (default none).
    """

    def __init__(self, sampler: Callable, source_samples_slice: slice = slice(0),
                 stored_samples_slice: slice = slice(0)) -> None:
        super().__init__()
        self.sampler = sampler
        self.samples: Optional[WeighedPredictiveResults] = None
        self.transition_count = torch.tensor(0)
        self.source_samples: List[WeighedPredictiveResults] = []
        self.source_samples_slice = source_samples_slice
        self.stored_samples: List[WeighedPredictiveResults] = []
        self.stored_samples_slice = stored_samples_slice

    def forward(self, *args: Any, **kwargs: Any) -> WeighedPredictiveResults:
        """Do one resampling step and return the current :class:`WeighedPredictiveResults`."""
        candidate = self.sampler(*args, **kwargs)
        self.source_samples.append(_select(candidate, self.source_samples_slice))
        current = self.samples
        if current is None:
            self.samples = candidate
            self.transition_count = torch.zeros(candidate.log_weights.shape, dtype=torch.long,
                                                device=candidate.log_weights.device)
        else:
            log_u = torch.rand_like(candidate.log_weights).log()
            accept = log_u < candidate.log_weights - current.log_weights
            if isinstance(current.samples, dict):
                samples: Union[dict, tuple] = {
                    k: _where(accept, candidate.samples[k], v) for k, v in current.samples.items()}
            else:
                samples = tuple(_where(accept, c, v)
                                for c, v in zip(candidate.samples, current.samples))
            self.samples = WeighedPredictiveResults(
                samples, torch.where(accept, candidate.log_weights, current.log_weights),
                torch.where(accept, candidate.guide_log_prob, current.guide_log_prob),
                torch.where(accept, candidate.model_log_prob, current.model_log_prob))
            self.transition_count = self.transition_count + accept.long()
        self.stored_samples.append(_select(self.samples, self.stored_samples_slice))
        return self.samples

    def get_min_sample_transition_count(self) -> torch.Tensor:
        """The number of moves of the sample that moved least."""
        return self.transition_count.min()

    def get_total_transition_count(self) -> torch.Tensor:
        """The number of moves of all samples together."""
        return self.transition_count.sum()

    def get_samples(self, samples: List[WeighedPredictiveResults]) -> WeighedPredictiveResults:
        """Concatenate a list of :class:`WeighedPredictiveResults` along the sample dim."""
        if not samples:
            raise ValueError("MHResampler.get_samples: no samples stored (check the slices and "
                             "call the resampler first)")
        first = samples[0].samples
        if isinstance(first, dict):
            joined: Union[dict, tuple] = {k: torch.cat([s.samples[k] for s in samples])
                                          for k in first}
        else:
            joined = tuple(torch.cat([s.samples[i] for s in samples]) for i in range(len(first)))
        return WeighedPredictiveResults(
            joined, torch.cat([s.log_weights for s in samples]),
            torch.cat([s.guide_log_prob for s in samples]),
            torch.cat([s.model_log_prob for s in samples]))

    def get_source_samples(self) -> WeighedPredictiveResults:
        """The kept candidate samples of every call (see ``source_samples_slice``)."""
        return self.get_samples(self.source_samples)

    def get_stored_samples(self) -> WeighedPredictiveResults:
        """The kept output samples of every call (see ``stored_samples_slice``)."""
        return self.get_samples(self.stored_samples)
