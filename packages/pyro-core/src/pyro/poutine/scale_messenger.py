"""``scale``: multiply log-densities by a positive factor."""

from __future__ import annotations

from typing import Any, Dict

import torch

from pyro.poutine._handler_checks import check_broadcasts, check_scale
from pyro.poutine.messenger import Messenger


class ScaleMessenger(Messenger):
    """Multiply the log-density of every enclosed sample site by ``scale``.

    Args:
        scale: a positive number or tensor (broadcast against the sites' batch shapes).
    """

    def __init__(self, scale: Any) -> None:
        super().__init__()
        check_scale(scale)
        self.scale = scale
        # A tensor with batch dims is checked against each site's batch shape.
        self._shape = scale.shape if isinstance(scale, torch.Tensor) and scale.dim() else None

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if self._shape is not None:
            check_broadcasts("scale", "scale", self._shape, msg)
        msg["scale"] = self.scale * msg["scale"]

