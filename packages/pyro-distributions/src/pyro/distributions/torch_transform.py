"""Transforms with learnable parameters: :class:`TransformModule` and its composition."""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions.transforms import ComposeTransform, Transform


class TransformModule(Transform, torch.nn.Module):
    """A :class:`~torch.distributions.transforms.Transform` that is also a
    :class:`torch.nn.Module`, so its parameters can be learned (normalising flows)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

    def __hash__(self) -> int:
        return torch.nn.Module.__hash__(self)


class ComposeTransformModule(ComposeTransform, torch.nn.ModuleList):
    """A composition of transforms that is a :class:`torch.nn.ModuleList` of the learnable ones."""

    def __init__(self, parts: Any, cache_size: int = 0) -> None:
        super().__init__(parts, cache_size=cache_size)
        for part in parts:
            if isinstance(part, torch.nn.Module):
                self.append(part)

    def __hash__(self) -> int:
        return torch.nn.Module.__hash__(self)


__all__ = ["ComposeTransformModule", "TransformModule"]
