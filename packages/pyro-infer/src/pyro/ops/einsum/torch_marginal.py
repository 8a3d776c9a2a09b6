"""The marginal backend: ``backend="pyro.ops.einsum.torch_marginal"``.

The forward pass is the log-space einsum of :mod:`pyro.ops.einsum.torch_log`. The backward
pass (``result._pyro_backward()``, see :mod:`pyro.ops.einsum.adjoint`) leaves on every input
marked by ``require_backward`` its unnormalised log-marginal: the input plus the log-sum of
everything else over all the other dims (the result's dims included), shaped like the input.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Tuple

import torch

from pyro.ops.einsum.adjoint import Backward, _LeafBackward
from pyro.ops.einsum.torch_log import log_einsum
from pyro.ops.einsum.util import Tensordot, make_transpose, parse_equation

__all__ = ["einsum", "tensordot", "transpose"]


class _MarginalBackward(Backward):
    """Passes each operand the log-sum of the other operands and the incoming message."""

    def __init__(self, inputs: List[str], output: str, operands: List[torch.Tensor]) -> None:
        self.inputs = inputs
        self.output = output
        self.operands = operands

    def process(self, message: Any) -> Iterable[Tuple[Backward, Any]]:
        out = []
        for k, (spec, operand) in enumerate(zip(self.inputs, self.operands)):
            backward = getattr(operand, "_pyro_backward", None)
            if backward is None:
                continue
            specs = [s for j, s in enumerate(self.inputs) if j != k]
            others = [o for j, o in enumerate(self.operands) if j != k]
            if message is not None:
                specs.append(self.output)
                others.append(message)
            present = set("".join(specs))
            target = "".join(c for c in dict.fromkeys(spec) if c in present)
            if specs:
                outside = log_einsum(specs, target, others)
            else:
                outside = torch.zeros((), dtype=operand.dtype, device=operand.device)
            shape = [outside.shape[target.index(c)] if c in target else 1 for c in spec]
            perm = [target.index(c) for c in spec if c in target]
            outside = outside.permute(perm).reshape(shape) if target else outside.reshape(shape)
            if isinstance(backward, _LeafBackward):  # an input receives its own marginal
                out.append((backward, operand.detach() + outside.detach()))
            else:
                out.append((backward, outside))
        return out


def einsum(equation: str, *operands: torch.Tensor) -> torch.Tensor:
    """Log-space einsum whose result can run a marginal backward pass."""
    inputs, output = parse_equation(equation)
    result = log_einsum(inputs, output, list(operands))
    if any(hasattr(x, "_pyro_backward") for x in operands):
        result._pyro_backward = _MarginalBackward(inputs, output, list(operands))
    return result


tensordot = Tensordot(einsum)
transpose = make_transpose(einsum)
