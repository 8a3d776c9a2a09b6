"""``mask``: zero the log-density of enclosed sites where a boolean mask is False."""

from __future__ import annotations

from typing import Any, Dict

import torch

from pyro.poutine._handler_checks import check_broadcasts
from pyro.poutine.messenger import Messenger


class MaskMessenger(Messenger):
    """Combine ``mask`` (logical and) into the mask of every enclosed sample site.

    Args:
        mask: a bool or a bool tensor broadcastable to the sites' batch shapes.
    """

    def __init__(self, mask: Any) -> None:
        super().__init__()
        if isinstance(mask, torch.Tensor):
            if mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor, got dtype {mask.dtype}")
        elif not isinstance(mask, bool):
            raise TypeError(f"mask must be a bool or a bool tensor, got {type(mask).__name__}")
        self.mask = mask
        # A tensor with batch dims is checked against each sample site's batch shape.
        self._shape = mask.shape if isinstance(mask, torch.Tensor) and mask.dim() else None

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if self._shape is not None:
            check_broadcasts("mask", "mask", self._shape, msg)
        msg["mask"] = self.mask if msg["mask"] is None else msg["mask"] & self.mask

    # pyro.poutine.get_mask() asks with a message of this type (no distribution to check).
    def _pyro_get_mask(self, msg: Dict[str, Any]) -> None:
        msg["mask"] = self.mask if msg["mask"] is None else msg["mask"] & self.mask
