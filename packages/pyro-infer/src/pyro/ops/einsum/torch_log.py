"""The log-space sum-product einsum backend: ``backend="pyro.ops.einsum.torch_log"``.

``einsum(equation, *operands)`` takes log-tensors and returns
``log(einsum(equation, *map(exp, operands)))``, computed with a max shift per operand (over the
dims it loses) so that nothing over- or underflows: memory and time are those of one
``torch.einsum`` of the same equation.
"""

from __future__ import annotations

import math
from typing import Dict, List, Tuple

import torch

from pyro.ops.einsum.util import Tensordot, align_to, make_transpose, parse_equation

__all__ = ["einsum", "log_einsum", "tensordot", "transpose"]


def _unbroadcast(inputs: List[str], operands: List[torch.Tensor]) -> Tuple[
        List[str], List[torch.Tensor], Dict[str, int]]:
    """Drop the dims an operand is only broadcast along (stride 0, an ``expand``), so that no
    step materialises them; return the dims that no operand then holds, with their sizes."""
    new_inputs, new_operands, sizes = [], [], {}
    for spec, x in zip(inputs, operands):
        strides = x.stride()
        if any(strides[i] == 0 and x.shape[i] > 1 for i in range(len(spec))):
            index = tuple(0 if strides[i] == 0 and x.shape[i] > 1 else slice(None)
                          for i in range(len(spec)))
            for i, c in enumerate(spec):
                if strides[i] == 0 and x.shape[i] > 1:
                    sizes[c] = x.shape[i]
            spec = "".join(c for i, c in enumerate(spec) if not isinstance(index[i], int))
            x = x[index]
        new_inputs.append(spec)
        new_operands.append(x)
    held = set("".join(new_inputs))
    return new_inputs, new_operands, {c: n for c, n in sizes.items() if c not in held}


def log_einsum(inputs: List[str], output: str, operands: List[torch.Tensor]) -> torch.Tensor:
    """``log(torch.einsum(inputs -> output, exp(operands)))`` with a max shift (the shared
    kernel of the log-space backends and of enumeration's contraction). Dims an operand is
    only expanded along are not materialised."""
    inputs, operands, lost_sizes = _unbroadcast(inputs, operands)
    if lost_sizes:
        kept = "".join(c for c in output if c not in lost_sizes)
        result = log_einsum(inputs, kept, operands)
        for c, n in lost_sizes.items():
            if c not in output:  # a summed dim every operand is constant along: n equal terms
                result = result + math.log(n)
        if kept != output:
            result = align_to(result, kept, output) if kept else result.reshape([1] * len(output))
            result = result.expand([lost_sizes.get(c, s) for c, s in zip(output, result.shape)])
        return result
    shifted = []
    total = None
    for spec, operand in zip(inputs, operands):
        lost = [i for i, c in enumerate(spec) if c not in output]
        if not lost:
            shifted.append(torch.ones((), dtype=operand.dtype, device=operand.device).expand(
                operand.shape))
            shift = operand
        else:
            shift = operand.detach().amax(dim=lost, keepdim=True)
            shift = shift.masked_fill(~torch.isfinite(shift), 0.0)
            shifted.append((operand - shift).exp())
            shift = shift.reshape([s for i, s in enumerate(shift.shape) if i not in lost])
        kept = "".join(c for c in spec if c in output)
        if len(set(kept)) != len(kept):  # a repeated kept dim: take the diagonal of the shift
            unique = "".join(dict.fromkeys(kept))
            shift = torch.einsum(f"{kept}->{unique}", shift)
            kept = unique
        shift = align_to(shift, kept, output) if kept else shift
        total = shift if total is None else total + shift
    result = torch.einsum(",".join(inputs) + "->" + output, *shifted).log()
    if total is not None:
        result = result + total
    return result


def einsum(equation: str, *operands: torch.Tensor) -> torch.Tensor:
    """Log-space einsum: ``log(torch.einsum(equation, *(x.exp() for x in operands)))``."""
    inputs, output = parse_equation(equation)
    return log_einsum(inputs, output, list(operands))


tensordot = Tensordot(einsum)
transpose = make_transpose(einsum)
