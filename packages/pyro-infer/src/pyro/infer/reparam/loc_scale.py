"""``LocScaleReparam``: partially or fully non-centre a location-scale family."""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Optional

import torch

import pyro
from pyro.distributions import constraints
from pyro.infer.reparam.reparam import Reparam, ReparamMessage, ReparamResult, deterministic_site


class LocScaleReparam(Reparam):
    """Draw a location-scale site through a (partially) decentered auxiliary site.

    For a site ``x ~ D(loc, scale, *shape)`` with centering ``c`` in ``[0, 1]``, draws
    ``x_decentered ~ D(c * loc, scale ** c, *shape)`` and sets
    ``x = loc + scale ** (1 - c) * (x_decentered - c * loc)``, which has the law of ``x``.
    ``c = 1`` leaves the site as it is, ``c = 0`` is the fully non-centred form. Observed sites
    get the matching observed ``x_decentered``.

    Args:
        centered: the centering, a number or a tensor broadcastable with the site's event shape;
            ``None`` learns it as the parameter ``<name>_centered`` (initial value 0.5,
            constrained to the unit interval, one entry per event element).
        shape_params: names of the family's other parameters (e.g. ``["df"]`` for
            ``StudentT``), passed through unchanged.
    """

    def __init__(self, centered: Optional[Any] = None,
                 shape_params: Optional[Iterable[str]] = None) -> None:
        if isinstance(centered, numbers.Number):
            if not 0 <= centered <= 1:
                raise ValueError(f"LocScaleReparam: centered must be in [0, 1], got {centered}")
        elif isinstance(centered, torch.Tensor):
            if not torch._C._get_tracing_state() and bool(((centered < 0) | (centered > 1)).any()):
                raise ValueError("LocScaleReparam: centered must be in [0, 1]")
        elif centered is not None:
            raise TypeError(f"LocScaleReparam: centered must be None, a number or a tensor, got "
                            f"{type(centered).__name__}")
        if isinstance(shape_params, str):
            raise TypeError("LocScaleReparam: shape_params must be a list of names, got a str")
        self.centered = centered
        self.shape_params = list(shape_params) if shape_params is not None else []

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Replace ``msg``'s site by ``<name>_decentered`` and a deterministic ``x``."""
        name, fn, value = msg["name"], msg["fn"], msg["value"]
        centered = self.centered
        if isinstance(centered, numbers.Number) and centered == 1:
            return {"fn": fn, "value": value, "is_observed": msg["is_observed"]}
        base, event_dim = self._unwrap(fn)
        for attr in ["loc", "scale"] + self.shape_params:
            if not hasattr(base, attr):
                raise TypeError(f"LocScaleReparam at sample site '{name}': "
                                f"{type(base).__name__} has no parameter '{attr}'")
        loc, scale = base.loc, base.scale
        if centered is None:
            centered = pyro.param(
                f"{name}_centered",
                lambda: torch.full(fn.event_shape, 0.5, dtype=loc.dtype, device=loc.device),
                constraint=constraints.unit_interval)
        params = {key: getattr(base, key) for key in self.shape_params}
        params["loc"] = centered * loc
        params["scale"] = scale ** centered
        if isinstance(getattr(base, "coords", None), str):  # Stable: keep its parameterization
            params["coords"] = base.coords
        decentered = self._wrap(type(base)(**params), event_dim)
        if value is None:
            x_dec = pyro.sample(f"{name}_decentered", decentered)
        else:
            x_dec = centered * loc + (value - loc) * scale ** (centered - 1)
            x_dec = pyro.sample(f"{name}_decentered", decentered, obs=x_dec)
        new_value = loc + scale ** (1 - centered) * (x_dec - centered * loc)
        return deterministic_site(new_value, event_dim)
