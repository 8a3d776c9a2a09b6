"""Pyro 1.9's module path ``pyro.distributions.transforms.basic``: the activation transforms
(:mod:`pyro.distributions.transforms.activations`) and :func:`tanh`."""

from torch.distributions.transforms import TanhTransform

from pyro.distributions.transforms.activations import ELUTransform, LeakyReLUTransform, elu, leaky_relu


def tanh() -> TanhTransform:
    """A :class:`~torch.distributions.transforms.TanhTransform`, as the flow helpers build one."""
    return TanhTransform()


__all__ = ["ELUTransform", "LeakyReLUTransform", "TanhTransform", "elu", "leaky_relu", "tanh"]
