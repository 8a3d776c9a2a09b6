"""Plain fully connected networks that output a tuple of parameters."""

from __future__ import annotations

import numbers
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import nn


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(who: str, argument: str, value: object, minimum: Optional[int] = 1) -> None:
    """Raise ``TypeError`` unless ``value`` is an int (not a bool), ``ValueError`` if it is
    below ``minimum`` (None: no bound); the message leads with ``who`` and names ``argument``
    and ``value``.

    The one size check of pyro-nn's networks and flows, run when they are built.
    """
    if not _is_int(value):
        raise TypeError(f"{who}: {argument} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:  # type: ignore[operator]
        bound = "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{who}: {argument} must be {bound}, got {value}")


def check_int_list(who: str, argument: str, sizes: object) -> None:
    """Raise ``TypeError`` unless ``sizes`` is a sequence of ints, ``ValueError`` unless each
    is at least 1 (hidden widths, output sizes)."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not all(
            _is_int(d) for d in sizes):
        raise TypeError(f"{who}: {argument} must be a list of ints, got {sizes!r}")
    if any(d < 1 for d in sizes):
        raise ValueError(f"{who}: {argument} must be positive, got {list(sizes)}")


def check_real(who: str, argument: str, value: object, positive: bool = False) -> None:
    """Raise ``TypeError`` unless ``value`` is a real number (or a tensor, not checked further),
    ``ValueError`` if ``positive`` and it is not above 0."""
    if isinstance(value, torch.Tensor):
        return
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{who}: {argument} must be a real number, got {type(value).__name__} "
                        f"{value!r}")
    if positive and not value > 0:
        raise ValueError(f"{who}: {argument} must be positive, got {value}")


def check_callable(who: str, argument: str, value: object, expected: str) -> None:
    """Raise ``TypeError`` unless ``value`` is callable and not a class (a module class given
    for its instance, ``nn.ReLU`` for ``nn.ReLU()``); ``expected`` says what was wanted."""
    if isinstance(value, type):
        raise TypeError(f"{who}: {argument} must be {expected}, got the class {value.__name__} "
                        f"(pass an instance, e.g. {value.__name__}())")
    if not callable(value):
        raise TypeError(f"{who}: {argument} must be {expected}, got {type(value).__name__} "
                        f"{value!r}")


def set_dims(module: nn.Module, who: str, input_dim: int, context_dim: int,
             hidden_dims: Sequence[int], param_dims: Sequence[int]) -> None:
    """Check the sizes and store those shared by the dense and autoregressive networks.

    Raises:
        TypeError: a size that is not an int, or ``hidden_dims``/``param_dims`` not a sequence.
        ValueError: a negative ``input_dim``/``context_dim``, or a hidden or param size below 1.
    """
    check_int(who, "input_dim", input_dim, minimum=0)
    check_int(who, "context_dim", context_dim, minimum=0)
    check_int_list(who, "hidden_dims", hidden_dims)
    check_int_list(who, "param_dims", param_dims)
    if not param_dims:
        raise ValueError(f"{who}: param_dims must name at least one output, got {list(param_dims)}")
    module.input_dim = input_dim
    module.context_dim = context_dim
    module.hidden_dims = list(hidden_dims)
    module.param_dims = list(param_dims)
    module.count_params = len(module.param_dims)
    module.output_multiplier = sum(module.param_dims)


def _input_error(who: str, argument: str, value: object, size: int) -> Exception:
    """The error for a network's ``argument`` (its input or context) that is not a tensor
    ending in ``size`` (built only once the check has failed)."""
    if not isinstance(value, torch.Tensor):
        return TypeError(f"{who}: the {argument} must be a tensor, got {type(value).__name__}")
    return ValueError(f"{who}: the {argument} has shape {tuple(value.shape)}; expected "
                      f"(..., {size}) ({argument} size {size})")


class ConditionalDenseNN(nn.Module):
    """A fully connected network from ``(inputs, context)`` to parameters of sizes ``param_dims``.

    Args:
        input_dim: size of the input.
        context_dim: size of the context (concatenated to the input).
        hidden_dims: widths of the hidden layers.
        param_dims: sizes of the outputs; the forward pass returns one tensor per entry, each of
            shape ``batch + (d,)`` (a single tensor if there is only one entry).
        nonlinearity: activation between layers.
    """

    def __init__(self, input_dim: int, context_dim: int, hidden_dims: Sequence[int],
                 param_dims: Sequence[int] = (1, 1), nonlinearity: nn.Module = nn.ReLU()) -> None:
        super().__init__()
        set_dims(self, "DenseNN", input_dim, context_dim, hidden_dims, param_dims)
        check_callable("DenseNN", "nonlinearity", nonlinearity,
                       "a module or function applied between layers, e.g. torch.nn.ReLU()")
        sizes = [input_dim + context_dim] + self.hidden_dims + [self.output_multiplier]
        self.layers = nn.ModuleList(nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1))
        self.f = nonlinearity

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """Return the parameters for input ``x`` (and ``context``)."""
        if not isinstance(x, torch.Tensor) or x.shape[-1:] != (self.input_dim,):
            raise _input_error(type(self).__name__, "input", x, self.input_dim)
        if self.context_dim:
            if context is None:
                raise ValueError("ConditionalDenseNN needs a context")
            if not isinstance(context, torch.Tensor) or context.shape[-1:] != (self.context_dim,):
                raise _input_error(type(self).__name__, "context", context, self.context_dim)
            x = torch.cat([context.expand(x.shape[:-1] + (self.context_dim,)), x], dim=-1)
        h = x
        for layer in self.layers[:-1]:
            h = self.f(layer(h))
        h = self.layers[-1](h)
        if self.count_params == 1:
            return h
        return tuple(h.split(self.param_dims, dim=-1))


class DenseNN(ConditionalDenseNN):
    """A fully connected network from ``x`` to parameters of sizes ``param_dims`` (no context)."""

    def __init__(self, input_dim: int, hidden_dims: Sequence[int], param_dims: Sequence[int] = (1, 1),
                 nonlinearity: nn.Module = nn.ReLU()) -> None:
        super().__init__(input_dim, 0, hidden_dims, param_dims, nonlinearity)

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """Return the parameters for input ``x``."""
        return super().forward(x)
