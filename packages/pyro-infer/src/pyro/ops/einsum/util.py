"""Equation helpers shared by the einsum backends: parsing, aligning, and the ``tensordot`` /
``transpose`` that opt_einsum asks a backend for, written as calls of the backend's einsum."""

from __future__ import annotations

from typing import Any, Callable, List, Sequence, Tuple

import torch

__all__ = ["EINSUM_SYMBOLS_BASE", "Tensordot", "align_to", "make_transpose", "parse_equation"]

EINSUM_SYMBOLS_BASE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def parse_equation(equation: str) -> Tuple[List[str], str]:
    """Split ``"ab,bc->ac"`` into ``(["ab", "bc"], "ac")`` (spaces ignored; ``->`` required)."""
    equation = equation.replace(" ", "")
    if "->" not in equation:
        raise ValueError(f"einsum equation {equation!r} needs an explicit output ('->')")
    inputs, output = equation.split("->")
    return inputs.split(","), output


def align_to(tensor: torch.Tensor, dims: str, target: str) -> torch.Tensor:
    """View ``tensor`` (dims named by ``dims``, each in ``target``) laid out as ``target``,
    with size 1 at the dims of ``target`` it lacks."""
    if dims == target:
        return tensor
    order = sorted(range(len(dims)), key=lambda i: target.index(dims[i]))
    if order != list(range(len(dims))):
        tensor = tensor.permute(order)
    shape = [1] * len(target)
    for i in order:
        shape[target.index(dims[i])] = tensor.shape[order.index(i)]
    return tensor.reshape(shape)


def rename_equation(equation: str, operands: Sequence[Any]) -> str:
    """Rename the symbols of ``equation`` to the operands' ``_pyro_dims`` where every operand
    names its dims (so that results of separate calls share one set of dim names)."""
    inputs, output = parse_equation(equation)
    rename = {}
    for spec, operand in zip(inputs, operands):
        dims = getattr(operand, "_pyro_dims", None)
        if dims is None or len(dims) != len(spec):
            return equation
        for old, new in zip(spec, dims):
            if rename.setdefault(old, new) != new:
                return equation
    if len(set(rename.values())) != len(rename) or any(c not in rename for c in output):
        return equation
    return ",".join("".join(rename[c] for c in spec) for spec in inputs) + "->" + "".join(
        rename[c] for c in output)


class Tensordot:
    """``tensordot(x, y, axes)`` computed by the einsum ``einsum`` (so an adjoint backend
    records it like any other contraction step)."""

    def __init__(self, einsum: Callable[..., torch.Tensor]) -> None:
        self.einsum = einsum

    def __call__(self, x: torch.Tensor, y: torch.Tensor, axes: Any = 2) -> torch.Tensor:
        xs = EINSUM_SYMBOLS_BASE[: x.dim()]
        ys = list(EINSUM_SYMBOLS_BASE[x.dim(): x.dim() + y.dim()])
        if isinstance(axes, int):
            x_axes = list(range(x.dim() - axes, x.dim()))
            y_axes = list(range(axes))
        else:
            x_axes, y_axes = (list(a) if not isinstance(a, int) else [a] for a in axes)
        for i, j in zip(x_axes, y_axes):
            ys[j] = xs[i]
        ys = "".join(ys)
        contracted = {xs[i] for i in x_axes}
        out = "".join(c for c in xs if c not in contracted) + "".join(
            c for c in ys if c not in contracted)
        return self.einsum(f"{xs},{ys}->{out}", x, y)


def make_transpose(einsum: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``transpose(a, axes)`` computed by ``einsum`` (a permutation equation)."""

    def transpose(a: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
        """Permute the dims of ``a`` to ``axes``."""
        dims = EINSUM_SYMBOLS_BASE[: a.dim()]
        return einsum(dims + "->" + "".join(dims[i] for i in axes), a)

    return transpose
