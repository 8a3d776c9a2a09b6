"""Small helpers the flows share."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch.distributions import transforms as torch_transforms

from pyro.distributions.transforms import ELUTransform, LeakyReLUTransform


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


class BoundNetwork:
    """A conditional network with its context fixed: ``bound(x)`` is ``nn(x, context=context)``.

    The batch shapes of ``x`` and of the context (all but their last dim) are broadcast first,
    so one context can serve a batch of inputs and a batch of contexts a single input.
    """

    __slots__ = ("nn", "context")

    def __init__(self, nn: Callable[..., Any], context: torch.Tensor) -> None:
        self.nn = nn
        self.context = context

    def __call__(self, x: torch.Tensor) -> Any:
        context = self.context
        if x.shape[:-1] != context.shape[:-1]:
            try:
                shape = torch.broadcast_shapes(x.shape[:-1], context.shape[:-1])
            except RuntimeError:
                raise ValueError(
                    f"the context's batch shape {tuple(context.shape[:-1])} (context of shape "
                    f"{tuple(context.shape)}) does not broadcast with the input's "
                    f"{tuple(x.shape[:-1])} (input of shape {tuple(x.shape)})"
                ) from None
            x = x.expand(shape + x.shape[-1:])
            context = context.expand(shape + context.shape[-1:])
        return self.nn(x, context=context)


def no_analytic_inverse(transform: Any) -> KeyError:
    """The error of a flow with no analytic inverse asked to invert a value not in its cache."""
    return KeyError(
        f"{type(transform).__name__} has no analytic inverse: only the value it last produced "
        "can be inverted (from its cache), and this one is not it"
    )


def activation_transform(activation: str, owner: str) -> torch_transforms.Transform:
    """The element-wise bijection a neural flow names by ``activation``: 'ELU', 'LeakyReLU',
    'sigmoid' or 'tanh'; ``owner`` (the flow's name) heads the error for any other name."""
    choices = {
        "ELU": ELUTransform,
        "LeakyReLU": LeakyReLUTransform,
        "sigmoid": torch_transforms.SigmoidTransform,
        "tanh": torch_transforms.TanhTransform,
    }
    if not isinstance(activation, str) or activation not in choices:
        raise ValueError(
            f'{owner}: invalid activation function "{activation}"; expected one of '
            f"{sorted(choices)}"
        )
    return choices[activation]()



class OnePassNoInverse:
    """Mixin for a flow that computes its output and log-det together in one pass and has no
    analytic inverse (only the value it last produced inverts, from torch's cache).

    The flow defines ``_forward_and_log_det(x) -> (y, log_det)`` and sets
    ``self._log_det = PassCache()``; this supplies ``_call`` (which keeps the log-det for the
    pair torch caches), ``_inverse`` (the clear error) and ``log_abs_det_jacobian`` (the kept
    value for the cached pair, else recomputed). List it before the transform base class.
    """

    _log_det: PassCache

    def _forward_and_log_det(self, x: torch.Tensor) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        y, log_det = self._forward_and_log_det(x)
        self._log_det.save(x, log_det)
        return y

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise no_analytic_inverse(self)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return ``log |det dy/dx|``, one value per vector."""
        log_det = self._log_det.get(self, x, y)
        if log_det is None:
            log_det = self._forward_and_log_det(x)[1]
        return log_det

__all__ = [
    "OnePassNoInverse",
    "BoundNetwork",
    "PassCache",
    "activation_transform",
    "clamp_preserve_gradients",
    "no_analytic_inverse",
]
