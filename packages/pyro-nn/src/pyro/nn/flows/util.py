"""Small helpers the flows share."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch.distributions import transforms as torch_transforms

from pyro.distributions.transforms import ELUTransform, LeakyReLUTransform
from pyro.distributions.transforms.utils import clamp_preserve_gradients
from pyro.nn.auto_reg_nn import ConditionalAutoRegressiveNN
from pyro.nn.dense_nn import (
    ConditionalDenseNN,
    check_callable,
    check_int,
    check_int_list,
    check_real,
)


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


def check_kwargs(who: str, kwargs: Any, allowed: Any) -> None:
    """Refuse keyword arguments not among ``allowed`` (a flow's settings passed on by name),
    listing the unknown ones and those it takes."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"{who} got unexpected keyword arguments {unknown}; expected some of "
                        f"{list(allowed)}")


def check_network(who: str, argument: str, nn: Any) -> None:
    """Raise ``TypeError`` unless the network ``nn`` a flow is given is callable (checked when
    the flow is built, not at its first pass)."""
    check_callable(who, argument, nn, "a network (a torch.nn.Module or a callable)")


def check_sizes(who: str, input_dim: Any, hidden_dims: Any, context_dim: Any = None) -> None:
    """Check the sizes given to a lower-case flow helper ``who`` before it builds a network:
    ``input_dim`` (and, for a conditional flow, ``context_dim``) an int >= 1, ``hidden_dims``
    None or a list of positive ints. Raises ``TypeError`` / ``ValueError`` naming the
    argument."""
    check_int(who, "input_dim", input_dim)
    if context_dim is not None:
        check_int(who, "context_dim", context_dim)
    if hidden_dims is not None:
        check_int_list(who, "hidden_dims", hidden_dims)


def check_clips(who: str, log_scale_min_clip: Any, log_scale_max_clip: Any) -> None:
    """Check an affine flow's log-scale bounds: real numbers, the lower not above the upper."""
    check_real(who, "log_scale_min_clip", log_scale_min_clip)
    check_real(who, "log_scale_max_clip", log_scale_max_clip)
    if (not isinstance(log_scale_min_clip, torch.Tensor)
            and not isinstance(log_scale_max_clip, torch.Tensor)
            and log_scale_min_clip > log_scale_max_clip):
        raise ValueError(f"{who}: log_scale_min_clip={log_scale_min_clip} must not exceed "
                         f"log_scale_max_clip={log_scale_max_clip}")


def check_context(who: str, nn: Any, context: Any, alone: bool = False) -> None:
    """Check the ``context`` given to ``<who>.condition``: a tensor, whose last dim is the
    context size that ``nn`` declares.

    ``alone`` says that ``nn`` is called on the context alone (``nn(context)``, a ``DenseNN``
    whose ``input_dim`` is the context size); otherwise it is called as ``nn(x,
    context=context)`` (a conditional network with a ``context_dim``). A network of another
    kind declares no size, and only the type is checked. Raises ``TypeError`` / ``ValueError``.
    """
    if not isinstance(context, torch.Tensor):
        raise TypeError(f"{who}.condition: context must be a tensor, got {type(context).__name__} "
                        f"{context!r}"[:200])
    size: Optional[int] = None
    if alone:
        if isinstance(nn, ConditionalDenseNN) and not nn.context_dim:
            size = nn.input_dim
    elif isinstance(nn, (ConditionalDenseNN, ConditionalAutoRegressiveNN)) and nn.context_dim:
        size = nn.context_dim
    if size is not None and context.shape[-1:] != (size,):
        raise ValueError(
            f"{who}.condition: context of shape {tuple(context.shape)}, expected (..., {size}) "
            f"(the context size of the flow's network)"
        )


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
    "check_clips",
    "check_context",
    "check_kwargs",
    "check_network",
    "check_sizes",
    "PassCache",
    "activation_transform",
    "clamp_preserve_gradients",
    "no_analytic_inverse",
]
