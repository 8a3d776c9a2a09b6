"""``config_enumerate``: mark the discrete sample sites of a model or guide for enumeration."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from pyro.poutine.handlers import infer_config
from pyro.poutine.util import site_is_subsample

_STRATEGIES = ("parallel", "sequential", "flat", None)
_TMC = ("diagonal", "mixture")


def _enumeration_config(default: Optional[str], expand: bool, num_samples: Optional[int],
                        tmc: str) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    def config_fn(msg: Dict[str, Any]) -> Dict[str, Any]:
        if msg["type"] != "sample" or msg["is_observed"]:
            return {}
        if site_is_subsample(msg):
            return {}
        # A key the site sets itself wins; only the missing ones are filled in (as Pyro).
        own = msg["infer"]
        if num_samples is not None:
            # Monte Carlo enumeration: every latent site, discrete or not, gets n draws.
            return {"enumerate": own.get("enumerate", default),
                    "num_samples": own.get("num_samples", num_samples),
                    "expand": own.get("expand", expand), "tmc": own.get("tmc", tmc)}
        if getattr(msg["fn"], "has_enumerate_support", False):
            return {"enumerate": own.get("enumerate", default),
                    "expand": own.get("expand", expand)}
        return {}

    return config_fn


def config_enumerate(guide: Optional[Callable] = None, default: Optional[str] = "parallel",
                     expand: bool = False, num_samples: Optional[int] = None,
                     tmc: str = "diagonal") -> Any:
    """Mark every discrete sample site of ``guide`` (or a model) for enumeration.

    Each unobserved sample site whose distribution has ``has_enumerate_support`` gets
    ``infer={"enumerate": default, "expand": expand}``. With ``num_samples`` every unobserved
    site, discrete or not, is instead enumerated over that many independent draws (Monte Carlo
    enumeration): ``{"enumerate": default, "expand": expand, "num_samples": num_samples,
    "tmc": tmc}``. A key a site already sets in its own ``infer`` (``enumerate``, ``expand``,
    ``num_samples``, ``tmc``) keeps the site's value; only the missing keys are filled in.

    Usable as ``config_enumerate(guide)``, as a bare decorator ``@config_enumerate``, or with
    options ``@config_enumerate(default="sequential")``.

    Args:
        guide: the model or guide to configure.
        default: ``"parallel"`` (one run, support along a fresh tensor dim), ``"sequential"``
            (one run per value), ``"flat"`` or ``None`` (no enumeration).
        expand: whether enumerated values are expanded to the full batch shape rather than
            broadcast from a shape with a single non-trivial dim.
        num_samples: if given, every latent site is enumerated over this many independent
            draws (parallel enumeration only).
        tmc: how, with ``num_samples``, draw ``i`` of a site picks the values of enumerated
            sites upstream: ``"diagonal"`` (their draw ``i``) or ``"mixture"`` (a uniformly
            chosen one).

    Returns:
        The configured callable, or a decorator when ``guide`` is None.
    """
    if default not in _STRATEGIES:
        raise ValueError(
            f"config_enumerate: Invalid default value. Expected 'sequential', 'parallel', 'flat' "
            f"or None, but got {default!r}"
        )
    if not isinstance(expand, bool):
        raise ValueError(f"config_enumerate: expand must be a bool, got {expand!r}")
    if num_samples is not None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"config_enumerate: Invalid num_samples, expected None or positive "
                             f"integer, but got {num_samples!r}")
        if default == "sequential":
            raise ValueError('config_enumerate: Local sampling does not support "sequential" '
                             'sampling; use "parallel" sampling instead.')
    if tmc not in _TMC:
        raise ValueError(f"config_enumerate: tmc must be 'diagonal' or 'mixture', got {tmc!r}")
    if guide is None:
        return lambda fn: config_enumerate(fn, default=default, expand=expand,
                                           num_samples=num_samples, tmc=tmc)
    return infer_config(guide, config_fn=_enumeration_config(default, expand, num_samples, tmc))
