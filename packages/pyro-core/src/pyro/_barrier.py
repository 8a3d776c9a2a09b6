"""``pyro.barrier``: a point in a program where every value must be concrete."""

from __future__ import annotations

import torch

from pyro.poutine.runtime import effectful


def _identity(data: torch.Tensor) -> torch.Tensor:
    return data


_barrier = effectful(_identity, type="barrier")


def barrier(data: torch.Tensor) -> torch.Tensor:
    """Mark a point where ``data`` must be a concrete value; return ``data``.

    The call sends a ``"barrier"`` message (name ``None``, ``args=(data,)``) through the handler
    stack, so a handler that evaluates lazily can force its values here; traces do not record
    it. With the handlers of this package it returns ``data`` itself. Experimental in Pyro.
    """
    return _barrier(data)
