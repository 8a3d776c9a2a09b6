"""Strict structural equality of optimizer settings and state, safe for tensors and NaN."""

from __future__ import annotations

import math
from typing import Any

import torch


def same(a: Any, b: Any) -> bool:
    """Return whether ``a`` and ``b`` are the same settings value.

    Unlike ``==`` this never raises on tensors, tells ``True`` from ``1`` and ``1`` from
    ``1.0``, and treats two NaNs as equal. Callables compare by identity.
    """
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return (
            a.shape == b.shape
            and a.dtype == b.dtype
            and a.device == b.device
            and bool(torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                           and torch.equal(a.nan_to_num(), b.nan_to_num())))
        )
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if callable(a):
        return False
    try:
        return bool(a == b)
    except Exception:  # objects whose comparison is not a plain bool
        return False
