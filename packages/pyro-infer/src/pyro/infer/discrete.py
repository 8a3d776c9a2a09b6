"""``infer_discrete``: run a model with its enumerated discrete sites drawn from their posterior
(or set to their most probable joint value) given everything else the model observes."""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Dict, Optional

from pyro.infer.enum.factors import compute_log_probs
from pyro.infer.enum.messenger import EnumMessenger
from pyro.infer.enum.sampling import sample_site_values
from pyro.poutine import block, trace
from pyro.poutine.messenger import Messenger
from pyro.poutine.trace_struct import Trace


class _SetValuesMessenger(Messenger):
    """Give the named sample sites fixed values, leaving them latent (not observed)."""

    def __init__(self, values: Dict[str, Any]) -> None:
        super().__init__()
        self.values = values

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        value = self.values.get(msg["name"])
        if value is not None and not msg["is_observed"]:
            msg["value"] = value
            msg["done"] = True


def infer_discrete(fn: Optional[Callable] = None, first_available_dim: Optional[int] = None,
                   temperature: int = 1, *, strict_enumeration_warning: bool = True) -> Any:
    """Wrap ``fn`` so that each call runs it with its discrete sites marked for parallel
    enumeration (``config_enumerate``) drawn jointly from their exact posterior given the
    model's observations and its other sites (``temperature=1``), or set to their most probable
    joint value (``temperature=0``; Viterbi on a chain). The call first runs ``fn`` enumerated,
    contracts its log-densities (forward filter, or max-product), draws the enumerated sites
    back in reverse, then runs ``fn`` once more with those values and returns its result.

    Args:
        fn: the model; without it, a decorator is returned.
        first_available_dim: the rightmost dim enumeration may use, ``-1 - max_plate_nesting``.
        temperature: 1 to sample, 0 for the MAP value.
        strict_enumeration_warning: warn when ``fn`` has no site marked for enumeration.

    Raises:
        ValueError: for a temperature other than 0 or 1, or a missing / non-negative
            ``first_available_dim``.
    """
    if fn is None:
        return functools.partial(infer_discrete, first_available_dim=first_available_dim,
                                 temperature=temperature,
                                 strict_enumeration_warning=strict_enumeration_warning)
    if temperature not in (0, 1):
        raise ValueError("temperature must be 0 (map) or 1 (sample) for now")
    if not isinstance(first_available_dim, int) or first_available_dim >= 0:
        raise ValueError(
            "infer_discrete: first_available_dim must be a negative int, "
            f"-1 - max_plate_nesting of the model (e.g. -1 with no plates), got "
            f"{first_available_dim!r}")

    @functools.wraps(fn)
    def discrete_posterior(*args: Any, **kwargs: Any) -> Any:
        with block():
            enum_trace = trace(EnumMessenger(first_available_dim)(fn)).get_trace(*args, **kwargs)
        compute_log_probs(enum_trace)
        values = sample_site_values(enum_trace, Trace(), temperature)
        if not values and strict_enumeration_warning:
            warnings.warn(
                "infer_discrete found no sample sites configured for enumeration. If you want "
                "to enumerate sites, you need to @config_enumerate or set "
                'infer={"enumerate": "sequential"} or infer={"enumerate": "parallel"}.',
                UserWarning, stacklevel=2)
        return _SetValuesMessenger(values)(fn)(*args, **kwargs)

    return discrete_posterior


__all__ = ["infer_discrete"]
