"""The adjoint (forward-backward) machinery of the einsum backends ``torch_marginal``,
``torch_map`` and ``torch_sample``.

Mark the inputs with :func:`require_backward`, contract them with one of those backends, then
call ``result._pyro_backward()``: every marked input gets ``._pyro_backward_result`` (its
log-marginal for ``torch_marginal``; for ``torch_map`` / ``torch_sample`` the values of its
contracted dims, most probable or drawn from the posterior). Each contraction step of an
adjoint backend attaches a :class:`Backward` to its result that knows how to pass a message
back to its operands.
"""

from __future__ import annotations

import weakref
from typing import Any, Iterable, List, Optional, Sequence, Tuple

import torch

__all__ = ["Backward", "SAMPLE_SYMBOL", "require_backward", "sample_message", "transpose"]

# The name of the leading dim of a sample message: one row per sampled dim.
SAMPLE_SYMBOL = " "


class Backward:
    """One node of the backward pass: :meth:`process` turns the message arriving at a result
    into ``(backward, message)`` pairs for its operands; calling the node runs the pass."""

    def process(self, message: Any) -> Iterable[Tuple["Backward", Any]]:
        """Return the messages for the operands, given ``message`` for this node's result."""
        raise NotImplementedError

    def __call__(self) -> None:
        """Run the backward pass from this node (the final result: no incoming message)."""
        stack: List[Tuple[Backward, Any]] = [(self, None)]
        while stack:
            node, message = stack.pop()
            stack.extend(node.process(message))


class _LeafBackward(Backward):
    """Stores the arriving message on its tensor as ``_pyro_backward_result``."""

    def __init__(self, target: torch.Tensor) -> None:
        self.target = weakref.ref(target)

    def process(self, message: Any) -> Iterable[Tuple[Backward, Any]]:
        target = self.target()
        if target is not None:
            target._pyro_backward_result = message
        return ()


def require_backward(tensor: torch.Tensor) -> None:
    """Mark ``tensor`` so that a backward pass of an adjoint backend leaves its result in
    ``tensor._pyro_backward_result``."""
    tensor._pyro_backward = _LeafBackward(tensor)


def sample_message(values: Sequence[torch.Tensor], sample_dims: str, batch_dims: str,
                   batch_shape: Sequence[int] = ()) -> torch.Tensor:
    """Stack per-dim values (each shaped by ``batch_dims``) into a sample message: a tensor
    whose dim 0 (named ``SAMPLE_SYMBOL``) runs over ``sample_dims``, with ``_pyro_dims`` /
    ``_pyro_sample_dims`` set (``batch_shape`` gives the shape of an empty one)."""
    if values:
        message = torch.stack(list(values))
    else:
        message = torch.zeros((0,) + tuple(batch_shape), dtype=torch.long)
    message._pyro_dims = SAMPLE_SYMBOL + batch_dims
    message._pyro_sample_dims = sample_dims
    return message


def transpose(a: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    """Permute ``a``'s dims to ``axes``, passing any backward message through the permutation."""
    result = a.permute(tuple(axes))
    backward: Optional[Backward] = getattr(a, "_pyro_backward", None)
    if backward is not None:
        result._pyro_backward = _TransposeBackward(backward, list(axes))
    dims = getattr(a, "_pyro_dims", None)
    if dims is not None:
        result._pyro_dims = "".join(dims[i] for i in axes)
    return result


class _TransposeBackward(Backward):
    def __init__(self, parent: Backward, axes: List[int]) -> None:
        self.parent = parent
        self.axes = axes

    def process(self, message: Any) -> Iterable[Tuple[Backward, Any]]:
        if isinstance(message, torch.Tensor) and not hasattr(message, "_pyro_sample_dims"):
            inverse = [0] * len(self.axes)
            for i, a in enumerate(self.axes):
                inverse[a] = i
            message = message.permute(inverse)
        return ((self.parent, message),)
