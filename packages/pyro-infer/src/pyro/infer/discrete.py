"""``infer_discrete``: run a model with its enumerated discrete sites drawn from their posterior
(or set to their most probable joint value) given everything else the model observes."""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Dict, Optional

from pyro.infer.arg_checks import EngineArgumentError, EngineArgumentTypeError, check_callable, describe
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
        TypeError: a ``fn`` that is not callable, a ``first_available_dim`` that is not an int
            (``None`` included), a ``temperature`` that is not a number.
        ValueError: a temperature other than 0 or 1, a non-negative ``first_available_dim``
            (an ``AssertionError`` too, the type of Pyro's assert).
    """
    if fn is None:
        return functools.partial(infer_discrete, first_available_dim=first_available_dim,
                                 temperature=temperature,
                                 strict_enumeration_warning=strict_enumeration_warning)
    check_callable("infer_discrete", "fn", fn)
    if isinstance(temperature, str) or temperature not in (0, 1):
        cls = EngineArgumentTypeError if isinstance(temperature, str) else EngineArgumentError
        raise cls(f"temperature must be 0 (map) or 1 (sample) for now: infer_discrete got "
                  f"temperature={temperature!r}")
    if isinstance(first_available_dim, bool) or not isinstance(first_available_dim, int):
        raise EngineArgumentTypeError(
            "infer_discrete: first_available_dim must be a negative int, -1 - max_plate_nesting "
            f"of the model (e.g. -1 with no plates), got {describe(first_available_dim)}")
    if first_available_dim >= 0:
        raise EngineArgumentError(
            "infer_discrete: first_available_dim must be a negative int, -1 - max_plate_nesting "
            f"of the model (e.g. -1 with no plates), got {first_available_dim}")

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
