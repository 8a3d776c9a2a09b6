"""The backward step shared by ``torch_map`` and ``torch_sample``: given values of some of a
step's result dims (a sample message), choose its contracted dims jointly (argmax or a draw
from their conditional) and pass each operand the values of its own dims."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Tuple

import torch

from pyro.ops.einsum.adjoint import Backward, sample_message
from pyro.ops.einsum.torch_log import log_einsum
from pyro.ops.einsum.util import align_to, parse_equation, rename_equation

__all__ = ["SampleBackward", "adjoint_einsum"]


def _condition(operand: torch.Tensor, spec: str, values: Dict[str, torch.Tensor],
               batch: str, sizes: Dict[str, int]) -> Tuple[torch.Tensor, str]:
    """Index ``operand`` at the chosen ``values`` and along the batch dims: the result is laid
    out as ``batch`` followed by its remaining (free) dims, which it returns by name."""
    spec_u = "".join(dict.fromkeys(spec))
    if len(spec_u) != len(spec):
        operand = torch.einsum(f"{spec}->{spec_u}", operand)
        spec = spec_u
    indexed = [c for c in spec if c in values or c in batch]
    free = "".join(c for c in spec if c not in values and c not in batch)
    operand = operand.permute([spec.index(c) for c in indexed] + [spec.index(c) for c in free])
    batch_shape = [sizes[c] for c in batch]
    index = []
    for c in indexed:
        if c in values:
            index.append(values[c].expand(batch_shape))
        else:
            shape = [1] * len(batch)
            shape[batch.index(c)] = sizes[c]
            index.append(torch.arange(sizes[c], device=operand.device).reshape(shape))
    if index:
        operand = operand[tuple(index)]
    else:
        operand = operand.reshape([1] * len(batch) + list(operand.shape))
    return operand, free


class SampleBackward(Backward):
    """Chooses a step's contracted dims given its result dims' values (see module doc)."""

    def __init__(self, inputs: List[str], output: str, operands: List[torch.Tensor],
                 maximize: bool) -> None:
        self.inputs = inputs
        self.output = output
        self.operands = operands
        self.maximize = maximize

    def process(self, message: Any) -> Iterable[Tuple[Backward, Any]]:
        sizes: Dict[str, int] = {}
        for spec, operand in zip(self.inputs, self.operands):
            sizes.update(zip(spec, operand.shape))
        if message is None:
            batch = self.output
            values: Dict[str, torch.Tensor] = {}
        else:
            batch = message._pyro_dims[1:]  # after the SAMPLE_SYMBOL row dim
            values = dict(zip(message._pyro_sample_dims, message.unbind(0)))
            sizes.update(zip(batch, message.shape[1:]))
        contracted = "".join(dict.fromkeys(
            c for spec in self.inputs for c in spec if c not in values and c not in batch))
        batch_shape = [sizes[c] for c in batch]
        joint = None
        for spec, operand in zip(self.inputs, self.operands):
            conditioned, free = _condition(operand.detach(), spec, values, batch, sizes)
            shape = list(conditioned.shape[: len(batch)]) + [1] * len(contracted)
            for c, s in zip(free, conditioned.shape[len(batch):]):
                shape[len(batch) + contracted.index(c)] = s
            perm = list(range(len(batch))) + sorted(
                range(len(batch), conditioned.dim()), key=lambda i: contracted.index(free[i - len(batch)]))
            term = conditioned.permute(perm).reshape(shape)
            joint = term if joint is None else joint + term
        values = dict(values)
        if contracted:
            joint = joint.expand(batch_shape + [sizes[c] for c in contracted])
            flat = joint.reshape(batch_shape + [-1])
            if self.maximize:
                index = flat.argmax(-1)
            else:
                index = torch.distributions.Categorical(logits=flat).sample()
            for c in reversed(contracted):
                values[c] = index % sizes[c]
                index = torch.div(index, sizes[c], rounding_mode="floor")
        out = []
        for spec, operand in zip(self.inputs, self.operands):
            backward = getattr(operand, "_pyro_backward", None)
            if backward is None:
                continue
            dims = "".join(c for c in dict.fromkeys(spec) if c in values)
            out.append((backward, sample_message([values[c].expand(batch_shape) for c in dims],
                                                 dims, batch, batch_shape)))
        return out


def adjoint_einsum(equation: str, operands: Tuple[torch.Tensor, ...], maximize: bool) -> torch.Tensor:
    """Forward pass of ``torch_map`` (max-plus) or ``torch_sample`` (log-sum-exp), attaching a
    :class:`SampleBackward` when some operand has a backward."""
    equation = rename_equation(equation, operands)
    inputs, output = parse_equation(equation)
    if maximize:
        result = _max_einsum(inputs, output, list(operands))
    else:
        result = log_einsum(inputs, output, list(operands))
    result._pyro_dims = output
    if any(hasattr(x, "_pyro_backward") for x in operands):
        result._pyro_backward = SampleBackward(inputs, output, list(operands), maximize)
    return result


def _max_einsum(inputs: List[str], output: str, operands: List[torch.Tensor]) -> torch.Tensor:
    """``max`` over the lost dims of the sum of the log-operands (the max-plus einsum)."""
    dims = "".join(dict.fromkeys(output + "".join(inputs)))
    total = None
    for spec, operand in zip(inputs, operands):
        spec_u = "".join(dict.fromkeys(spec))
        if spec_u != spec:
            operand = torch.einsum(f"{spec}->{spec_u}", operand)
        term = align_to(operand, spec_u, dims)
        total = term if total is None else total + term
    lost = list(range(len(output), len(dims)))
    if lost:
        total = total.amax(dim=lost)
    return total
