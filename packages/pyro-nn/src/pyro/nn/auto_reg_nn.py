"""Masked autoregressive networks (MADE): outputs for variable i see only variables before i."""

from __future__ import annotations

import warnings
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import nn
from torch.nn import functional as F

from pyro.nn.dense_nn import set_dims


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied elementwise by a fixed 0/1 ``mask``.

    Args:
        in_features: size of each input.
        out_features: size of each output.
        mask: tensor of shape ``(out_features, in_features)``; zeros cut connections.
        bias: whether to add a (never masked) bias.
    """

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias)
        if tuple(mask.shape) != (out_features, in_features):
            raise ValueError(
                f"MaskedLinear: mask shape {tuple(mask.shape)} must be (out_features, in_features) "
                f"= {(out_features, in_features)}"
            )
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, _input: torch.Tensor) -> torch.Tensor:
        """Return ``_input @ (mask * weight).T + bias``."""
        return F.linear(_input, self.mask * self.weight, self.bias)


def hidden_degrees(input_dim: int, hidden_dim: int, lowest: int = 1) -> torch.Tensor:
    """Spread the degrees ``lowest .. input_dim - 1`` evenly over ``hidden_dim`` hidden units.

    A hidden unit of degree ``k`` may see the variables at positions ``1..k`` of the
    autoregressive order (1-based) and the context; degree 0 units see only the context (used
    when there is one, so that the first variable's outputs can depend on it).
    """
    top = max(input_dim - 1, 0)
    if top < lowest:
        return torch.zeros(hidden_dim, dtype=torch.long)
    return torch.linspace(lowest, top, steps=hidden_dim).round().long()


def create_mask(
    input_dim: int,
    context_dim: int,
    hidden_dims: Sequence[int],
    permutation: torch.Tensor,
    output_dim_multiplier: int,
    degrees: Optional[Sequence[torch.Tensor]] = None,
) -> Tuple[List[torch.Tensor], torch.Tensor]:
    """Build the MADE masks of a network over ``input_dim`` variables in the order ``permutation``.

    Args:
        input_dim: number of autoregressive variables.
        context_dim: number of context inputs, visible to every output.
        hidden_dims: widths of the hidden layers.
        permutation: ``permutation[k]`` is the variable at position ``k`` of the order.
        output_dim_multiplier: how many outputs each variable has.
        degrees: optional degrees of the hidden units of each layer (default: evenly spread).

    Returns:
        ``(masks, skip_mask)``: one mask per linear layer (input->hidden..., hidden->output), and
        the mask of a direct input->output connection.
    """
    # position[i]: 1-based place of variable i in the autoregressive order.
    position = torch.empty(input_dim, dtype=torch.long)
    position[permutation] = torch.arange(1, input_dim + 1)
    in_degree = torch.cat([torch.zeros(context_dim, dtype=torch.long), position])
    if degrees is None:
        lowest = 0 if context_dim else 1
        degrees = [hidden_degrees(input_dim, h, lowest) for h in hidden_dims]
    masks = []
    previous = in_degree
    for layer in degrees:
        masks.append((layer.unsqueeze(-1) >= previous.unsqueeze(0)).float())
        previous = layer
    out_degree = position.repeat(output_dim_multiplier)
    masks.append((out_degree.unsqueeze(-1) > previous.unsqueeze(0)).float())
    skip = (out_degree.unsqueeze(-1) > in_degree.unsqueeze(0)).float()
    return masks, skip


def _split(h: torch.Tensor, batch_shape: torch.Size, param_dims: Sequence[int], input_dim: int) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
    multiplier = sum(param_dims)
    if multiplier == 1:
        return h
    h = h.reshape(batch_shape + (multiplier, input_dim))
    if len(param_dims) == 1:
        return h
    if all(d == 1 for d in param_dims):
        return tuple(h.unbind(-2))
    out = []
    start = 0
    for d in param_dims:
        out.append(h[..., start, :] if d == 1 else h[..., start:start + d, :])
        start += d
    return tuple(out)


class ConditionalAutoRegressiveNN(nn.Module):
    """A MADE network over ``input_dim`` variables that also sees a ``context`` vector.

    Output ``j`` of every parameter for variable ``i`` depends only on the variables before ``i``
    in the order ``permutation`` (and on all of the context).

    Args:
        input_dim: number of variables.
        context_dim: size of the context vector.
        hidden_dims: widths of the hidden layers (each should be >= input_dim).
        param_dims: sizes of the parameters to output per variable, e.g. ``[1, 1]`` for a location
            and a scale. The forward pass returns one tensor per entry (a single tensor if there is
            one entry or the total is 1).
        permutation: the autoregressive order (default: random).
        skip_connections: add a masked direct input->output layer.
        nonlinearity: activation between layers.
    """

    def __init__(self, input_dim: int, context_dim: int, hidden_dims: Sequence[int],
                 param_dims: Sequence[int] = (1, 1), permutation: Optional[torch.Tensor] = None,
                 skip_connections: bool = False, nonlinearity: nn.Module = nn.ReLU(),
                 mask_encoding: Optional[Sequence[torch.Tensor]] = None) -> None:
        super().__init__()
        if isinstance(input_dim, int) and input_dim < 1:
            raise ValueError(f"AutoRegressiveNN: input_dim must be >= 1, got {input_dim}")
        if isinstance(input_dim, int) and input_dim == 1:
            # Pyro's warning (with its class name, for the unconditional network too): one
            # variable has nothing to be autoregressive on.
            warnings.warn(
                "ConditionalAutoRegressiveNN input_dim = 1. Consider using an affine "
                "transformation instead.", UserWarning, stacklevel=2)
        if not hidden_dims:
            raise ValueError("AutoRegressiveNN: hidden_dims must name at least one hidden layer")
        set_dims(self, "AutoRegressiveNN", input_dim, context_dim, hidden_dims, param_dims)
        if any(h < input_dim for h in hidden_dims):
            # Pyro's words first: a hidden layer narrower than the input cannot carry every
            # variable's dependencies.
            raise ValueError(
                f"Hidden dimension must not be less than input dimension. (AutoRegressiveNN: "
                f"hidden_dims={list(hidden_dims)}, input_dim={input_dim})"
            )
        if permutation is None:
            permutation = torch.randperm(input_dim)
        permutation = torch.as_tensor(permutation, dtype=torch.long)
        if sorted(permutation.tolist()) != list(range(input_dim)):
            raise ValueError(f"AutoRegressiveNN: permutation {permutation.tolist()} is not a permutation of 0..{input_dim - 1}")
        self.register_buffer("permutation", permutation)
        masks, skip = create_mask(input_dim, context_dim, self.hidden_dims, permutation,
                                  self.output_multiplier, mask_encoding)
        self._mask_encoding = mask_encoding
        sizes = [input_dim + context_dim] + self.hidden_dims + [input_dim * self.output_multiplier]
        self.layers = nn.ModuleList(
            MaskedLinear(sizes[i], sizes[i + 1], masks[i]) for i in range(len(masks))
        )
        self.skip_layer = (
            MaskedLinear(input_dim + context_dim, input_dim * self.output_multiplier, skip, bias=False)
            if skip_connections else None
        )
        self.f = nonlinearity

    def get_permutation(self) -> torch.Tensor:
        """Return the autoregressive order: ``permutation[k]`` is the variable at position k."""
        return self.permutation

    def forward(self, inputs: torch.Tensor, context: Optional[torch.Tensor] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """Return the parameters for every variable given ``inputs`` (and ``context``)."""
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"{type(self).__name__}: inputs must be a tensor, got {type(inputs).__name__}")
        if inputs.dim() == 0 or inputs.shape[-1] != self.input_dim:
            raise ValueError(f"{type(self).__name__}: inputs of shape {tuple(inputs.shape)}, expected "
                             f"(..., {self.input_dim})")
        if self.context_dim:
            if context is None:
                raise ValueError("ConditionalAutoRegressiveNN needs a context")
            if not isinstance(context, torch.Tensor):
                raise TypeError(f"{type(self).__name__}: context must be a tensor, got {type(context).__name__}")
            if context.shape[-1:] != (self.context_dim,):
                raise ValueError(f"{type(self).__name__}: context of shape {tuple(context.shape)}, "
                                 f"expected (..., {self.context_dim})")
            context = context.expand(inputs.shape[:-1] + (self.context_dim,))
            x = torch.cat([context, inputs], dim=-1)
        else:
            x = inputs
        h = x
        for layer in self.layers[:-1]:
            h = self.f(layer(h))
        h = self.layers[-1](h)
        if self.skip_layer is not None:
            h = h + self.skip_layer(x)
        return _split(h, inputs.shape[:-1], self.param_dims, self.input_dim)


class AutoRegressiveNN(ConditionalAutoRegressiveNN):
    """A MADE network over ``input_dim`` variables (no context).

    Modern signature: ``AutoRegressiveNN(input_dim, hidden_dims, param_dims=[1, 1],
    permutation=None, skip_connections=False, nonlinearity=nn.ReLU())``.
    Pyro 0.1 signature, also accepted: ``AutoRegressiveNN(input_dim, hidden_dim,
    output_dim_multiplier=1, mask_encoding=None, permutation=None)``; its output has shape
    ``(..., output_dim_multiplier, input_dim)`` (``(..., input_dim)`` for a multiplier of 1).
    """

    def __init__(self, input_dim: int, hidden_dims: Union[int, Sequence[int]],
                 param_dims: Sequence[int] = (1, 1), permutation: Optional[torch.Tensor] = None,
                 skip_connections: bool = False, nonlinearity: nn.Module = nn.ReLU(), *,
                 output_dim_multiplier: Optional[int] = None,
                 mask_encoding: Optional[torch.Tensor] = None) -> None:
        if isinstance(hidden_dims, int):  # Pyro 0.1 form
            multiplier = 1 if output_dim_multiplier is None else output_dim_multiplier
            param_dims = (multiplier,)
            hidden_dims = [hidden_dims]
            encoding = None if mask_encoding is None else [torch.as_tensor(mask_encoding).long()]
        else:
            encoding = None
        super().__init__(input_dim, 0, hidden_dims, param_dims, permutation, skip_connections,
                         nonlinearity, encoding)

    def get_mask_encoding(self) -> torch.Tensor:
        """Return the degrees of the first hidden layer's units (``m(k)`` in the MADE paper)."""
        if self._mask_encoding is not None:
            return self._mask_encoding[0]
        return hidden_degrees(self.input_dim, self.hidden_dims[0])

    def forward(self, inputs: torch.Tensor, context: Optional[torch.Tensor] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """Return the parameters for every variable given ``inputs``."""
        return super().forward(inputs)
