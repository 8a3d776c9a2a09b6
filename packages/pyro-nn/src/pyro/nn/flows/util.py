"""Small helpers the flows share."""

from __future__ import annotations

from typing import Any, Optional

import torch


def clamp_preserve_gradients(x: torch.Tensor, min: float, max: float) -> torch.Tensor:
    """Return ``x`` clamped to ``[min, max]`` in value, with the gradient of the identity.

    The forward value is bounded (a flow's log-scale cannot explode) while the backward pass sees
    ``d out / d x = 1`` everywhere, so a parameter pushed past a bound still gets a gradient.
    """
    return x + (x.clamp(min=min, max=max) - x).detach()


class PassCache:
    """One intermediate of a flow's last pass (a log-scale, a radius, ...), kept with the input
    it was computed from, so that the log-det of the pair in torch's transform cache reuses it.
    """

    __slots__ = ("x", "value")

    def __init__(self) -> None:
        self.x: Optional[torch.Tensor] = None
        self.value: Any = None

    def save(self, x: torch.Tensor, value: Any) -> None:
        """Remember ``value``, computed from the input ``x``."""
        self.x, self.value = x, value

    def get(self, transform: Any, x: torch.Tensor, y: torch.Tensor) -> Any:
        """The saved value when ``(x, y)`` is the pair in ``transform``'s cache and the value was
        computed from that ``x``; ``None`` otherwise (the caller recomputes)."""
        cached_x, cached_y = transform._cached_x_y
        if self.value is not None and x is cached_x and y is cached_y and self.x is x:
            return self.value
        return None


def no_analytic_inverse(transform: Any) -> KeyError:
    """The error of a flow with no analytic inverse asked to invert a value not in its cache."""
    return KeyError(
        f"{type(transform).__name__} has no analytic inverse: only the value it last produced "
        "can be inverted (from its cache), and this one is not it"
    )


__all__ = ["PassCache", "clamp_preserve_gradients", "no_analytic_inverse"]
