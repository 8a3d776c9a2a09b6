"""``config_enumerate``: mark the discrete sample sites of a model or guide for enumeration."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from pyro.poutine.handlers import infer_config
from pyro.poutine.util import site_is_subsample

_STRATEGIES = ("parallel", "sequential", "flat", None)


def _enumeration_config(default: Optional[str], expand: bool,
                        num_samples: Optional[int]) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    def config_fn(msg: Dict[str, Any]) -> Dict[str, Any]:
        if msg["type"] != "sample" or msg["is_observed"]:
            return {}
        if site_is_subsample(msg) or "enumerate" in msg["infer"]:
            return {}
        if getattr(msg["fn"], "has_enumerate_support", False):
            return {"enumerate": default, "expand": expand}
        if num_samples is not None:
            return {"enumerate": default, "expand": expand, "num_samples": num_samples}
        return {}

    return config_fn


def config_enumerate(guide: Optional[Callable] = None, default: Optional[str] = "parallel",
                     expand: bool = False, num_samples: Optional[int] = None) -> Any:
    """Mark every discrete sample site of ``guide`` (or a model) for enumeration.

    Each unobserved sample site whose distribution has ``has_enumerate_support`` gets
    ``infer={"enumerate": default, "expand": expand}``; with ``num_samples`` the other sites get
    ``"num_samples": num_samples`` too, so that they are enumerated over that many draws. Sites
    that already set ``infer["enumerate"]`` themselves keep their own setting.

    Usable as ``config_enumerate(guide)``, as a bare decorator ``@config_enumerate``, or with
    options ``@config_enumerate(default="sequential")``.

    Args:
        guide: the model or guide to configure.
        default: ``"parallel"`` (one run, support along a fresh tensor dim), ``"sequential"``
            (one run per value), ``"flat"`` or ``None`` (no enumeration).
        expand: whether enumerated values are expanded to the full batch shape rather than
            broadcast from a shape with a single non-trivial dim.
        num_samples: if given, sites without a finite support are enumerated over this many
            independent draws (parallel enumeration only).

    Returns:
        The configured callable, or a decorator when ``guide`` is None.
    """
    if default not in _STRATEGIES:
        raise ValueError(
            f"config_enumerate: default must be one of 'parallel', 'sequential', 'flat' or None, "
            f"got {default!r}"
        )
    if not isinstance(expand, bool):
        raise ValueError(f"config_enumerate: expand must be a bool, got {expand!r}")
    if num_samples is not None:
        if default != "parallel":
            raise ValueError("config_enumerate: num_samples needs default='parallel'")
        if not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"config_enumerate: num_samples must be a positive int, got {num_samples!r}")
    if guide is None:
        return lambda fn: config_enumerate(fn, default=default, expand=expand,
                                           num_samples=num_samples)
    return infer_config(guide, config_fn=_enumeration_config(default, expand, num_samples))
