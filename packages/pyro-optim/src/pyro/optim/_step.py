"""What the ``step`` methods of Pyro's own torch optimizers share: the closure and the prologue."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import torch


def closure_loss(closure: Optional[Callable[[], Any]]) -> Any:
    """Re-evaluate the model with gradients enabled and return its loss (None without a closure).

    ``step`` runs under :func:`torch.no_grad`; the closure needs gradients to call ``backward``.
    """
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def decayed_params_with_grads(group: Dict[str, Any], optimizer: str) -> List[torch.Tensor]:
    """Apply the group's learning-rate decay (``lr *= lrd``) and return its parameters that have
    a gradient, raising the ``RuntimeError`` of ``optimizer`` for a sparse one."""
    group["lr"] *= group["lrd"]
    params = [p for p in group["params"] if p.grad is not None]
    for p in params:
        if p.grad.is_sparse:
            raise RuntimeError(f"{optimizer} does not support sparse gradients")
    return params

