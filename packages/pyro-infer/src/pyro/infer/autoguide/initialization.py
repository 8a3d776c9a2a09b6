"""Strategies that choose the initial value of each latent site, and the handler applying them.

A strategy is a function ``init_fn(site) -> tensor`` of a sample site's message; it returns a
value in the site's support with the site's shape. Each strategy called without a site returns
itself with the given options bound, e.g. ``init_to_median(num_samples=31)``.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, Callable, Dict, Optional

import torch

from pyro.distributions import transform_to
from pyro.infer.arg_checks import (
    EngineArgumentError,
    EngineArgumentTypeError,
    check_callable,
    check_count,
    check_mapping,
    describe,
)
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample

Site = Dict[str, Any]


def _support(site: Site) -> Any:
    return site["fn"].support


def _is_univariate(site: Site) -> bool:
    return len(getattr(site["fn"], "event_shape", ())) == 0


def init_to_feasible(site: Optional[Site] = None) -> Any:
    """Initialise at the image of zero under the transform onto the site's support.

    Example: 0 for a real site, 1 for a positive one, 0.5 for a unit-interval one.
    """
    if site is None:
        return init_to_feasible
    shape_ref = site["fn"].sample().detach()
    t = transform_to(_support(site))
    return t(torch.zeros_like(t.inv(shape_ref)))


def init_to_sample(site: Optional[Site] = None) -> Any:
    """Initialise at a draw from the site's prior."""
    if site is None:
        return init_to_sample
    return site["fn"].sample().detach()


def init_to_uniform(site: Optional[Site] = None, radius: float = 2.0) -> Any:
    """Initialise at a uniform draw in ``(-radius, radius)`` of unconstrained space."""
    if isinstance(radius, torch.Tensor) and radius.numel() == 1:
        radius = radius.item()  # at construction, once
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real):
        raise EngineArgumentTypeError(
            f"init_to_uniform: radius must be a non-negative number, got {describe(radius)}")
    if not radius >= 0:
        raise EngineArgumentError(
            f"init_to_uniform: radius must be a non-negative number, got {radius}")
    if site is None:
        return functools.partial(init_to_uniform, radius=radius)
    shape_ref = site["fn"].sample().detach()
    t = transform_to(_support(site))
    u = t.inv(shape_ref)
    return t((torch.rand_like(u) * 2 - 1) * radius)


def init_to_median(site: Optional[Site] = None, num_samples: int = 15, *,
                   fallback: Optional[Callable] = init_to_feasible) -> Any:
    """Initialise at the elementwise median of ``num_samples`` prior draws.

    Multivariate sites, and sites whose draws give no usable median, use ``fallback``.
    """
    check_count("init_to_median", "num_samples", num_samples)
    check_callable("init_to_median", "fallback", fallback, optional=True)
    if site is None:
        return functools.partial(init_to_median, num_samples=num_samples, fallback=fallback)
    if _is_univariate(site):
        try:
            draws = site["fn"].sample(torch.Size((num_samples,))).detach()
            value = draws.median(dim=0).values
            if not torch.isnan(value).any() and bool(_support(site).check(value).all()):
                return value
        except (RuntimeError, ValueError, NotImplementedError):
            pass
    if fallback is None:
        raise ValueError(f"init_to_median: no median for site '{site['name']}' and no fallback")
    return fallback(site)


def init_to_mean(site: Optional[Site] = None, *,
                 fallback: Optional[Callable] = init_to_median) -> Any:
    """Initialise at the prior mean; sites without a finite mean in their support use ``fallback``.
    """
    check_callable("init_to_mean", "fallback", fallback, optional=True)
    if site is None:
        return functools.partial(init_to_mean, fallback=fallback)
    try:
        fn = site["fn"]
        value = fn.mean.detach()
        value = value.expand(fn.batch_shape + fn.event_shape)
        if torch.isfinite(value).all() and bool(_support(site).check(value).all()):
            return value.clone()
    except (RuntimeError, ValueError, NotImplementedError):
        pass
    if fallback is None:
        raise ValueError(f"init_to_mean: no mean for site '{site['name']}' and no fallback")
    return fallback(site)


def init_to_value(site: Optional[Site] = None, values: Optional[Dict[str, Any]] = None, *,
                  fallback: Optional[Callable] = init_to_uniform) -> Any:
    """Initialise the sites named in ``values`` at the given values, the others by ``fallback``."""
    values = {} if values is None else values
    check_mapping("init_to_value", "values", values, "site name to initial value")
    check_callable("init_to_value", "fallback", fallback, optional=True)
    if site is None:
        return functools.partial(init_to_value, values=values, fallback=fallback)
    if site["name"] in values:
        ref = site["fn"].sample()
        return torch.as_tensor(values[site["name"]], dtype=ref.dtype, device=ref.device)
    if fallback is None:
        raise ValueError(f"init_to_value: no value given for site '{site['name']}'")
    return fallback(site)


class _InitToGenerated:
    """The strategy :func:`init_to_generated` returns: a fresh inner strategy per model run."""

    def __init__(self, generate: Callable[[], Callable[[Site], torch.Tensor]]) -> None:
        self.generate = generate
        self._strategy: Optional[Callable[[Site], torch.Tensor]] = None
        self._seen: set = set()

    def __call__(self, site: Site) -> torch.Tensor:
        name = site["name"]
        if self._strategy is None or name in self._seen:
            # A site met twice means the model is being run again: start a new strategy.
            self._strategy = self.generate()
            self._seen = set()
        self._seen.add(name)
        return self._strategy(site)


def init_to_generated(site: Optional[Site] = None,
                      generate: Callable[[], Callable[[Site], torch.Tensor]] = (
                          lambda: init_to_uniform)) -> Any:
    """Initialise each run of the model with a strategy made anew by ``generate()``.

    ``generate`` is called lazily before the first site and again whenever a site name comes
    back (a new run of the model), so every run can use different values, e.g.
    ``init_to_generated(generate=lambda: init_to_value(values=next_values()))``.

    Args:
        site: the site to initialise; ``None`` returns the strategy itself.
        generate: a function of no arguments returning a strategy (default: ``init_to_uniform``).
    """
    if not callable(generate):
        raise TypeError(f"init_to_generated: generate must be callable, got {generate!r}")
    strategy = _InitToGenerated(generate)
    if site is None:
        return strategy
    return strategy(site)


def strategy_name(init_fn: Any) -> str:
    """Return the name of an init strategy for messages (``init_to_value`` for a partial of it,
    the wrapped strategy's name for a wrapper that sets ``__wrapped__``)."""
    fn = getattr(init_fn, "__wrapped__", init_fn)
    fn = getattr(fn, "func", fn)
    return getattr(fn, "__name__", type(fn).__name__)


class InitMessenger(Messenger):
    """Give every unobserved sample site the value chosen by ``init_fn`` instead of a draw.

    Args:
        init_fn: a strategy ``init_fn(site) -> tensor``.
    """

    def __init__(self, init_fn: Callable[[Site], torch.Tensor]) -> None:
        super().__init__()
        self.init_fn = init_fn

    def _pyro_sample(self, msg: Site) -> None:
        if msg["done"] or msg["is_observed"] or msg["value"] is not None:
            return
        if site_is_subsample(msg):
            return
        with torch.no_grad():
            value = self.init_fn(msg)
        if not isinstance(value, torch.Tensor):
            raise EngineArgumentTypeError(
                f"the init strategy {strategy_name(self.init_fn)} returned {describe(value)} for site "
                f"'{msg['name']}'; an init strategy must return a tensor of the site's shape")
        fn = msg["fn"]
        expected = tuple(fn.batch_shape + fn.event_shape)
        if tuple(value.shape) != expected:
            try:
                value = value.expand(expected)
            except RuntimeError:
                raise ValueError(
                    f"initial value of site '{msg['name']}' has shape {tuple(value.shape)}, "
                    f"expected {expected}"
                ) from None
        msg["value"] = value.detach()
        msg["done"] = True


__all__ = [
    "InitMessenger",
    "init_to_feasible",
    "init_to_generated",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_uniform",
    "init_to_value",
]
