""":func:`iterated`: one transform repeated, composed into a :class:`ComposeTransformModule`."""

from __future__ import annotations

from typing import Any, Callable

from torch.distributions.transforms import Transform

from pyro.distributions.torch_transform import ComposeTransformModule


def iterated(repeats: int, base_fn: Callable[..., Transform], *args: Any,
             **kwargs: Any) -> ComposeTransformModule:
    """Compose ``repeats`` transforms, each a fresh ``base_fn(*args, **kwargs)`` (so learnable
    ones get their own parameters), e.g. ``iterated(3, T.planar, 4)``.

    Returns:
        A :class:`~pyro.distributions.ComposeTransformModule` applying them in order.
    """
    if not isinstance(repeats, int) or repeats < 1:
        # Pyro's type for this check
        raise AssertionError(f"iterated: repeats must be a positive int, got {repeats!r}")
    if not callable(base_fn):
        raise TypeError(f"iterated: base_fn must be a function returning a transform, got "
                        f"{type(base_fn).__name__} {base_fn!r}")
    return ComposeTransformModule([base_fn(*args, **kwargs) for _ in range(repeats)])


__all__ = ["iterated"]
