"""Helpers of the transforms (Pyro 1.9's ``pyro.distributions.transforms.utils``)."""

import torch


def clamp_preserve_gradients(x: torch.Tensor, min: float, max: float) -> torch.Tensor:
    """Return ``x`` clamped to ``[min, max]`` in value, with the gradient of the identity.

    The forward value is bounded (a flow's log-scale cannot explode) while the backward pass sees
    ``d out / d x = 1`` everywhere, so a parameter pushed past a bound still gets a gradient.
    """
    return x + (x.clamp(min=min, max=max) - x).detach()


__all__ = ["clamp_preserve_gradients"]
