"""Small helpers over sites and traces shared by handlers and inference algorithms."""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

from pyro import util as _pyro_util
from pyro.poutine.plate_messenger import _Subsample
from pyro.poutine.runtime import NonlocalExit as NonlocalExit  # re-exported: its old home
from pyro.poutine.runtime import _draw


def enable_validation(is_validate: bool) -> None:
    """Turn the handlers' validation checks on or off.

    The project has one validation switch for distributions, handlers and inference (the
    ``validate_poutine`` setting is an alias of it), so this is :func:`pyro.enable_validation`.
    """
    _pyro_util.enable_validation(is_validate)


def is_validation_enabled() -> bool:
    """Return whether the handlers' validation checks are on (see :func:`enable_validation`)."""
    return _pyro_util.is_validation_enabled()


def site_is_subsample(site: Dict[str, Any]) -> bool:
    """Return whether ``site`` is the index-drawing site a plate creates (its ``fn`` is the
    plate's subsample distribution); such sites carry no log-density."""
    return site["type"] == "sample" and type(site["fn"]) is _Subsample


def site_is_factor(site: Dict[str, Any]) -> bool:
    """Return whether ``site`` was made by :func:`pyro.factor`."""
    return site["type"] == "sample" and bool(site["infer"].get("is_auxiliary"))


def check_guide_factor_sites(guide_trace: Any) -> None:
    """Raise, as Pyro's ELBOs do under validation, at a guide's :func:`pyro.factor` site that
    does not say whether it comes from reparameterised draws.

    Inference code calls this on a guide's trace: a factor in a guide changes the gradient
    estimator, so ``pyro.factor(..., has_rsample=True/False)`` must be explicit there.

    Raises:
        ValueError: naming the first such site.
    """
    for name, site in guide_trace.nodes.items():
        if site_is_factor(site) and getattr(site["fn"], "_has_rsample", False) is None:
            raise ValueError(
                f'At guide site pyro.factor("{name}",...), missing specification of '
                "has_rsample. Please either set has_rsample=True if the factor statement arises "
                "from reparametrized sampling or has_rsample=False otherwise."
            )


def prune_subsample_sites(trace: Any) -> Any:
    """Return a copy of ``trace`` without its plate subsample sites."""
    trace = trace.copy()
    for name, site in list(trace.nodes.items()):
        if site_is_subsample(site):
            trace.remove_node(name)
    return trace


def enum_extend(trace: Any, msg: Dict[str, Any], num_samples: Any = None) -> list:
    """Return one extended trace per value in the support of the site ``msg``.

    Each returned trace is a copy of ``trace`` with ``msg`` recorded at one value of
    ``msg["fn"].enumerate_support()`` (expanded to the site's batch shape). With a non-negative
    ``num_samples``, only the first ``num_samples + 1`` values are used. Used by sequential
    enumeration and :class:`Search`.
    """
    values = msg["fn"].enumerate_support(expand=True)
    if num_samples is not None and num_samples >= 0:
        values = values[: num_samples + 1]
    return extend_with_values(trace, msg, values)


def extend_with_values(trace: Any, msg: Dict[str, Any], values: Iterable[Any]) -> list:
    """Return one copy of ``trace`` per value, each with the site ``msg`` recorded at that value.

    The recorded site is marked done, with the escape's ``stop`` and ``continuation`` cleared.
    """
    extended = []
    for value in values:
        new = trace.copy()
        site = dict(msg)
        site.update(value=value, done=True, stop=False, continuation=None)
        new.add_node(msg["name"], **site)
        extended.append(new)
    return extended


def mc_extend(trace: Any, msg: Dict[str, Any], num_samples: Optional[int] = None) -> list:
    """Return ``num_samples`` (default 1) copies of ``trace``, each extended by a fresh draw at
    ``msg``."""
    if num_samples is None:
        num_samples = 1
    draws = [_draw(msg["fn"], msg["args"], msg["kwargs"]) for _ in range(num_samples)]
    return extend_with_values(trace, msg, draws)


def discrete_escape(trace: Any, msg: Dict[str, Any]) -> bool:
    """Escape predicate: unobserved discrete sample sites that are not yet in ``trace``."""
    return (
        msg["type"] == "sample"
        and not msg["is_observed"]
        and msg["name"] not in trace
        and getattr(msg["fn"], "has_enumerate_support", False)
    )


def all_escape(trace: Any, msg: Dict[str, Any]) -> bool:
    """Escape predicate: unobserved sample sites that are not yet in ``trace``."""
    return msg["type"] == "sample" and not msg["is_observed"] and msg["name"] not in trace
