"""Plain fully connected networks that output a tuple of parameters."""

from __future__ import annotations

import numbers
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import nn


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def set_dims(module: nn.Module, who: str, input_dim: int, context_dim: int,
             hidden_dims: Sequence[int], param_dims: Sequence[int]) -> None:
    """Check the sizes and store those shared by the dense and autoregressive networks.

    Raises:
        TypeError: a size that is not an int, or ``hidden_dims``/``param_dims`` not a sequence.
        ValueError: a negative ``input_dim``/``context_dim``, or a hidden or param size below 1.
    """
    for argument, value in (("input_dim", input_dim), ("context_dim", context_dim)):
        if not _is_int(value):
            raise TypeError(f"{who}: {argument} must be an int, got {type(value).__name__} {value!r}")
        if value < 0:
            raise ValueError(f"{who}: {argument} must be non-negative, got {value}")
    for argument, sizes in (("hidden_dims", hidden_dims), ("param_dims", param_dims)):
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not all(_is_int(d) for d in sizes):
            raise TypeError(f"{who}: {argument} must be a list of ints, got {sizes!r}")
        if any(d < 1 for d in sizes):
            raise ValueError(f"{who}: {argument} must be positive, got {list(sizes)}")
    module.input_dim = input_dim
    module.context_dim = context_dim
    module.hidden_dims = list(hidden_dims)
    module.param_dims = list(param_dims)
    module.count_params = len(module.param_dims)
    module.output_multiplier = sum(module.param_dims)


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
        sizes = [input_dim + context_dim] + self.hidden_dims + [self.output_multiplier]
        self.layers = nn.ModuleList(nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1))
        self.f = nonlinearity

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """Return the parameters for input ``x`` (and ``context``)."""
        if self.context_dim:
            if context is None:
                raise ValueError("ConditionalDenseNN needs a context")
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
