"""The optional ``closure`` of a torch optimizer's ``step``, shared by Pyro's own optimizers."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch


def closure_loss(closure: Optional[Callable[[], Any]]) -> Any:
    """Re-evaluate the model with gradients enabled and return its loss (None without a closure).

    ``step`` runs under :func:`torch.no_grad`; the closure needs gradients to call ``backward``.
    """
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()
