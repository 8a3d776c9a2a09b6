"""The full Hessian of a scalar with respect to some tensors (``pyro.ops.hessian``), pure torch."""

from __future__ import annotations

from typing import List, Sequence, Union

import torch

__all__ = ["HessianArgumentError", "hessian"]


class HessianArgumentError(ValueError, RuntimeError):
    """A bad argument to :func:`hessian` (also a ``RuntimeError``, which torch raises there in Pyro)."""


def _as_list(xs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> List[torch.Tensor]:
    if isinstance(xs, torch.Tensor):
        return [xs]
    if not isinstance(xs, (list, tuple)):
        raise TypeError(f"hessian: xs must be a tensor or a list or tuple of tensors, got {type(xs).__name__}")
    for i, x in enumerate(xs):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"hessian: xs[{i}] must be a torch.Tensor, got {type(x).__name__}")
        if not x.requires_grad:
            raise HessianArgumentError(f"hessian: xs[{i}] (shape {tuple(x.shape)}) does not require grad")
    if not xs:
        raise HessianArgumentError("hessian: xs is empty; give at least one tensor")
    return list(xs)


def hessian(y: torch.Tensor, xs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
    """The matrix of second derivatives of the scalar ``y`` with respect to ``xs``.

    Args:
        y: a tensor with one element, twice differentiable in ``xs``.
        xs: a tensor or a list/tuple of tensors that require grad. They are flattened and
            concatenated in order into one vector of ``n`` entries.

    Returns:
        An ``(n, n)`` tensor ``H[i, j] = d^2 y / (d v_i d v_j)`` over that vector, without a graph
        (it is not differentiable further). Entries that ``y`` does not depend on are 0.

    It takes one backward pass per entry of the vector, so it suits small ``n``. ``y``'s graph is
    kept, so ``y`` can still be differentiated afterwards.
    """
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"hessian: y must be a torch.Tensor, got {type(y).__name__}")
    if y.numel() != 1:
        raise HessianArgumentError(f"hessian: y must be a scalar, got shape {tuple(y.shape)}")
    xs = _as_list(xs)
    if not y.requires_grad:
        raise HessianArgumentError("hessian: y does not require grad, so it does not depend on xs")
    grads = torch.autograd.grad(y.reshape(()), xs, create_graph=True, allow_unused=True, materialize_grads=True)
    dy = torch.cat([g.reshape(-1) for g in grads])
    n = dy.numel()
    if not dy.requires_grad:  # y is linear in xs
        return dy.new_zeros(n, n).detach()
    rows = []
    for i in range(n):
        row = torch.autograd.grad(dy[i], xs, retain_graph=True, allow_unused=True, materialize_grads=True)
        rows.append(torch.cat([r.reshape(-1) for r in row]))
    return torch.stack(rows)
