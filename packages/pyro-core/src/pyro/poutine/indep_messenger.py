"""Pyro 1.9's module path ``pyro.poutine.indep_messenger``: the frame a plate leaves on every
site's ``cond_indep_stack``, and a plate without subsampling."""

from __future__ import annotations

from typing import Any, Optional

from pyro.poutine.plate_messenger import CondIndepStackFrame, PlateMessenger


class IndepMessenger(PlateMessenger):
    """A plate of ``size`` independent elements at ``dim``, never subsampled (Pyro's signature:
    ``IndepMessenger(name, size, dim=None, device=None)``)."""

    def __init__(self, name: str, size: int, dim: Optional[int] = None, device: Any = None) -> None:
        super().__init__(name, size, dim=dim, device=device)


__all__ = ["CondIndepStackFrame", "IndepMessenger"]
