"""TracePredictive: Pyro's older, trace-based posterior predictive (deprecated in Pyro too)."""

from __future__ import annotations

import warnings
from typing import Any, Callable, Iterator, Optional, Sequence

import torch

from pyro import poutine
from pyro.infer.abstract_infer import TracePosterior
from pyro.infer.arg_checks import check_callable, check_count


class TracePredictive(TracePosterior):
    """Traces of the posterior predictive, from the traces of a :class:`TracePosterior`.

    Deprecated (as in Pyro): use :class:`~pyro.infer.Predictive`. Each of the ``num_samples``
    traces replays ``model`` on a trace drawn by weight from ``posterior`` (run first on the
    same arguments if it has no traces yet), so latent sites keep posterior values and the
    other sites (``_RETURN`` included) are drawn afresh. All traces get log weight 0.

    Args:
        model: the model.
        posterior: a :class:`TracePosterior` (e.g. a run :class:`~pyro.infer.Importance`).
        num_samples: number of traces to generate.
        keep_sites: the latent sites taken from the posterior (default: all of them); the
            others are redrawn from the model.
    """

    def __init__(self, model: Callable, posterior: TracePosterior, num_samples: int,
                 keep_sites: Optional[Sequence[str]] = None) -> None:
        warnings.warn(
            "The `TracePredictive` class is deprecated and will be removed in a future release. "
            "Use the `pyro.infer.Predictive` class instead.", FutureWarning, stacklevel=2)
        check_callable("TracePredictive", "model", model)
        if not isinstance(posterior, TracePosterior):
            raise TypeError(f"TracePredictive: posterior must be a TracePosterior, got "
                            f"{type(posterior).__name__}")
        check_count("TracePredictive", "num_samples", num_samples)
        if keep_sites is not None and (isinstance(keep_sites, str) or not all(
                isinstance(s, str) for s in keep_sites)):
            raise TypeError(f"TracePredictive: keep_sites must be a list of site names, got "
                            f"{keep_sites!r}")
        self.model = model
        self.posterior = posterior
        self.num_samples = int(num_samples)
        self.keep_sites = None if keep_sites is None else list(keep_sites)
        super().__init__()

    def _traces(self, *args: Any, **kwargs: Any) -> Iterator[tuple]:
        if not self.posterior.exec_traces:
            self.posterior.run(*args, **kwargs)
        for _ in range(self.num_samples):
            drawn = self.posterior()
            if self.keep_sites is not None:
                for name in list(drawn.nodes):
                    if drawn.nodes[name]["type"] == "sample" and name not in self.keep_sites:
                        drawn.remove_node(name)
            trace = poutine.trace(poutine.replay(self.model, trace=drawn)).get_trace(
                *args, **kwargs)
            yield trace, torch.tensor(0.0)
