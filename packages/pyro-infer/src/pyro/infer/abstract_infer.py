"""Posteriors represented by weighted execution traces, and marginals read off them.

:class:`TracePosterior` is the base of the sampling-based engines (:class:`~pyro.infer.Importance`,
:class:`~pyro.infer.Search`): ``run`` fills it with execution traces of the model and one log
weight per trace. :class:`EmpiricalMarginal` turns those into a distribution over the value of one
site (or a stack of sites).

A posterior may also be filled *in batch*: one trace whose sample sites carry all the draws along a
particle dim (see :meth:`TracePosterior._set_batch`). Marginals then read the values straight from
that trace, with no per-sample Python work; per-sample traces are only cut out of it when somebody
asks for :attr:`TracePosterior.exec_traces`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch

from pyro import poutine
from pyro.distributions.empirical import Empirical
from pyro.infer.arg_checks import EngineArgumentTypeError, describe
from pyro.poutine.trace_struct import Trace


def _split_batched_trace(trace: Trace, index: int, site_shapes: Dict[str, torch.Size],
                         num_samples: int) -> Trace:
    """Cut sample ``index`` out of a trace whose sites carry a leading particle batch."""
    new = trace.copy()
    for name, site in new.nodes.items():
        if site.get("type") not in ("sample", "return") or name not in site_shapes:
            continue
        value = site["value"]
        shape = site_shapes[name]
        site["value"] = _per_sample_values(value, shape, num_samples, name)[index]
        for key in ("log_prob", "unscaled_log_prob", "log_prob_sum", "score_parts", "packed"):
            site.pop(key, None)
    return new


def _per_sample_values(value: torch.Tensor, shape: torch.Size, num_samples: int,
                       name: str) -> torch.Tensor:
    """Reshape a batched site value to ``(num_samples,) + shape`` (the shape of one draw)."""
    target = (num_samples,) + tuple(shape)
    numel = math.prod(target)
    if value.numel() == numel:
        return value.reshape(target)
    if value.numel() * num_samples == numel:
        # The site does not depend on the particle: the same value for every sample.
        return value.reshape(tuple(shape)).expand(target)
    raise ValueError(
        f"site '{name}': cannot read {num_samples} samples of shape {tuple(shape)} from a "
        f"batched value of shape {tuple(value.shape)}; does the site's shape change between runs?"
    )


class TracePosterior:
    """Base class of posteriors made of weighted execution traces.

    Subclasses implement :meth:`_traces`, a generator of ``(trace, log_weight)`` pairs (optionally
    ``(trace, log_weight, chain_id)``), or override :meth:`run` to fill the posterior in batch.

    Args:
        num_chains: number of independent chains the traces come from (1 for the engines here).

    Attributes:
        exec_traces: list of :class:`~pyro.poutine.Trace`, one per sample.
        log_weights: list of scalar tensors, the log weight of each trace.
        chain_ids: list of ints, the chain of each trace.
    """

    def __init__(self, num_chains: int = 1) -> None:
        self.num_chains = num_chains
        self._reset()

    def _reset(self) -> None:
        self._exec_traces: Optional[List[Trace]] = []
        self._log_weights_list: Optional[List[torch.Tensor]] = []
        self._log_weights_tensor: Optional[torch.Tensor] = None
        self.chain_ids: List[int] = []
        self._batch: Optional[Tuple[Trace, Dict[str, torch.Size], int]] = None
        self._categorical: Any = None

    # ----- storage -------------------------------------------------------------------------
    def _set_batch(self, trace: Trace, log_weights: torch.Tensor,
                   site_shapes: Dict[str, torch.Size]) -> None:
        """Fill the posterior from one batched trace.

        Args:
            trace: a trace whose sample sites hold all draws, the particle dim leading after a
                reshape to ``(num_samples,) + site_shapes[name]``.
            log_weights: tensor of shape ``(num_samples,)``.
            site_shapes: the shape of one draw at each sample site.
        """
        num_samples = log_weights.shape[0]
        self._reset()
        self._batch = (trace, dict(site_shapes), num_samples)
        self._exec_traces = None
        self._log_weights_list = None
        self._log_weights_tensor = log_weights
        self.chain_ids = [0] * num_samples

    def _batched_values(self, site: str) -> torch.Tensor:
        """Values of ``site`` for every sample, stacked along a new leading dim."""
        if self._batch is not None:
            trace, shapes, num_samples = self._batch
            if site not in trace.nodes:
                raise KeyError(_unknown_site(site, trace))
            node = trace.nodes[site]
            if site not in shapes:
                value = node["value"]
                if not isinstance(value, torch.Tensor):
                    raise ValueError(f"site '{site}' has a non-tensor value; it has no marginal")
                return value.expand((num_samples,) + value.shape)
            return _per_sample_values(node["value"], shapes[site], num_samples, site)
        values = []
        for i, tr in enumerate(self.exec_traces):
            if site not in tr.nodes:
                raise KeyError(_unknown_site(site, tr, f" (trace {i} of the posterior)"))
            values.append(torch.as_tensor(tr.nodes[site]["value"]))
        if not values:
            raise ValueError("the posterior is empty: call .run(*args) first")
        return torch.stack(values)

    @property
    def exec_traces(self) -> List[Trace]:
        if self._exec_traces is None:
            trace, shapes, num_samples = self._batch  # type: ignore[misc]
            self._exec_traces = [
                _split_batched_trace(trace, i, shapes, num_samples) for i in range(num_samples)
            ]
        return self._exec_traces

    @property
    def log_weights(self) -> List[torch.Tensor]:
        if self._log_weights_list is None:
            self._log_weights_list = list(self._log_weights_tensor.unbind(0))  # type: ignore
        return self._log_weights_list

    def _log_weight_tensor(self) -> torch.Tensor:
        """All log weights as one 1-D tensor."""
        if self._log_weights_tensor is None:
            lw = self._log_weights_list or []
            if not lw:
                self._log_weights_tensor = torch.zeros(0)
            else:
                self._log_weights_tensor = torch.stack(
                    [torch.as_tensor(w, dtype=torch.get_default_dtype()).reshape(()) for w in lw]
                )
        return self._log_weights_tensor

    def _nonempty_log_weights(self) -> torch.Tensor:
        """:meth:`_log_weight_tensor`, or a ``ValueError`` when nothing has been run yet."""
        lw = self._log_weight_tensor()
        if lw.numel() == 0:
            raise ValueError(f"{type(self).__name__}: no traces; call .run(*args) first")
        return lw

    def __len__(self) -> int:
        if self._batch is not None:
            return self._batch[2]
        return len(self._exec_traces or [])

    # ----- running -------------------------------------------------------------------------
    def _traces(self, *args: Any, **kwargs: Any) -> Iterator[tuple]:
        """Yield ``(trace, log_weight)`` or ``(trace, log_weight, chain_id)`` for each sample."""
        raise NotImplementedError

    def run(self, *args: Any, **kwargs: Any) -> "TracePosterior":
        """Draw the posterior's traces for model arguments ``args``/``kwargs``; returns ``self``."""
        self._reset()
        with torch.no_grad(), poutine.block():
            for item in self._traces(*args, **kwargs):
                if len(item) == 2:
                    tr, logit = item
                    chain_id = 0
                else:
                    tr, logit, chain_id = item
                self._exec_traces.append(tr)  # type: ignore[union-attr]
                self._log_weights_list.append(logit)  # type: ignore[union-attr]
                self.chain_ids.append(chain_id)
        return self

    def get_normalized_weights(self, log_scale: bool = False) -> torch.Tensor:
        """Return the traces' weights normalised to sum to one (their logs with
        ``log_scale=True``), in the order of :attr:`exec_traces`."""
        lw = self._nonempty_log_weights()
        log_w = lw - torch.logsumexp(lw, 0)
        return log_w if log_scale else log_w.exp()

    def _sample_index(self) -> int:
        lw = self._nonempty_log_weights()
        if self._categorical is None:
            self._categorical = torch.distributions.Categorical(logits=lw)
        return int(self._categorical.sample())

    def __call__(self, *args: Any, **kwargs: Any) -> Trace:
        """Return one trace drawn from the posterior by weight, without its observed sites."""
        idx = self._sample_index()
        if self._batch is not None:
            trace, shapes, n = self._batch
            tr = _split_batched_trace(trace, idx, shapes, n)
        else:
            tr = self.exec_traces[idx].copy()
        for name in tr.observation_nodes:
            tr.remove_node(name)
        return tr

    def marginal(self, sites: Union[str, Sequence[str], None] = None) -> "Marginals":
        """Return the :class:`Marginals` of ``sites`` (default: the model's return value)."""
        return Marginals(self, sites)


class Marginals:
    """The empirical marginal of each of several sites of a :class:`TracePosterior`.

    Args:
        trace_posterior: a posterior that has been run.
        sites: a site name or a list of names (default ``"_RETURN"``).
    """

    def __init__(self, trace_posterior: TracePosterior,
                 sites: Union[str, Sequence[str], None] = None,
                 validate_args: Optional[bool] = None) -> None:
        if sites is None:
            sites = ["_RETURN"]
        elif isinstance(sites, str):
            sites = [sites]
        _check_sites("Marginals", sites)
        self.sites = list(sites)
        self.empirical = {
            site: EmpiricalMarginal(trace_posterior, site, validate_args) for site in self.sites
        }

    def support(self, flatten: bool = False) -> Dict[str, torch.Tensor]:
        """Return ``{site: values}`` of every sample (unweighted), stacked along dim 0."""
        return {site: m.enumerate_support() for site, m in self.empirical.items()}


class EmpiricalMarginal(Empirical):
    """The weighted empirical distribution of a site's values over a posterior's traces.

    Args:
        trace_posterior: a :class:`TracePosterior` that has been run.
        sites: a site name, or a list of names whose values are stacked along a new dim 0
            (default: the model's return value ``"_RETURN"``).
        validate_args: passed to the distribution.

    ``mean``, ``variance``, ``sample()`` and ``log_prob(value)`` use the posterior's normalised
    weights.
    """

    def __init__(self, trace_posterior: TracePosterior,
                 sites: Union[str, Sequence[str], None] = None,
                 validate_args: Optional[bool] = None) -> None:
        if not isinstance(trace_posterior, TracePosterior):
            raise EngineArgumentTypeError(
                f"EmpiricalMarginal expects a TracePosterior, got {type(trace_posterior).__name__}"
            )
        if sites is None:
            sites = "_RETURN"
        if not isinstance(sites, str):
            _check_sites("EmpiricalMarginal", sites)
        if len(trace_posterior) == 0:
            raise ValueError("EmpiricalMarginal: the posterior is empty; call .run(*args) first")
        if isinstance(sites, str):
            samples = trace_posterior._batched_values(sites)
        else:
            samples = torch.stack([trace_posterior._batched_values(s) for s in sites], 1)
        log_weights = trace_posterior._log_weight_tensor().to(samples.device)
        num_chains = len(set(trace_posterior.chain_ids))
        if num_chains > 1:
            samples, log_weights = _by_chain(samples, log_weights, trace_posterior.chain_ids)
        if log_weights.dtype != samples.dtype and samples.dtype.is_floating_point:
            log_weights = log_weights.to(samples.dtype)
        super().__init__(samples, log_weights, validate_args=validate_args)


def _check_sites(owner: str, sites: Any) -> None:
    if not isinstance(sites, (list, tuple)) or not sites or not all(isinstance(s, str) for s in sites):
        raise EngineArgumentTypeError(
            f"{owner}: sites must be a site name or a non-empty list of site names, got "
            f"{describe(sites)}")


def _unknown_site(site: str, trace: Trace, where: str = "") -> str:
    known = [name for name, node in trace.nodes.items() if node["type"] in ("sample", "return")]
    return f"site {site!r} is not in the posterior's traces{where}; its sites are {known}"


def _by_chain(samples: torch.Tensor, log_weights: torch.Tensor,
              chain_ids: List[int]) -> Tuple[torch.Tensor, torch.Tensor]:
    ids = torch.as_tensor(chain_ids)
    chains = sorted(set(chain_ids))
    per = [(ids == c).nonzero().reshape(-1) for c in chains]
    n = min(len(p) for p in per)
    if any(len(p) != n for p in per):
        warnings.warn("EmpiricalMarginal: chains have different lengths; truncating to the shortest")
    return (torch.stack([samples[p[:n]] for p in per]),
            torch.stack([log_weights[p[:n]] for p in per]))
