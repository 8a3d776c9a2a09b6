"""``scale``: multiply log-densities by a positive factor."""

from __future__ import annotations

from typing import Any, Dict

import torch

from pyro.poutine.messenger import Messenger


class ScaleMessenger(Messenger):
    """Multiply the log-density of every enclosed sample site by ``scale``.

    Args:
        scale: a positive number or tensor (broadcast against the sites' batch shapes).
    """

    def __init__(self, scale: Any) -> None:
        super().__init__()
        if isinstance(scale, torch.Tensor):
            if not torch._C._get_tracing_state() and scale.numel() == 1 and bool(scale <= 0):
                raise ValueError(f"scale must be positive, got {scale}")
        elif not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale = scale

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        msg["scale"] = self.scale * msg["scale"]

