"""The Pyro 0.1 names of the seed manual: :class:`Bijector` and
:class:`InverseAutoRegressiveFlow` (registered as ``pyro.distributions.<name>``).

Both are torch transforms, so they plug into ``dist.TransformedDistribution`` directly; the
0.1 method names ``inverse(y)`` and ``log_det_jacobian(y)`` are kept beside torch's
``inv`` and ``log_abs_det_jacobian(x, y)``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import torch

from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule
from pyro.nn.auto_reg_nn import AutoRegressiveNN
from pyro.nn.flows.affine_autoregressive import AffineAutoregressive


class Bijector(TransformModule):
    """A learnable bijection of real vectors with a computable log-Jacobian (Pyro 0.1's name).

    A modern subclass implements torch's ``_call(x)``, ``_inverse(y)`` and
    ``log_abs_det_jacobian(x, y)``. A subclass written for Pyro 0.1 may instead implement
    ``forward(x)``, ``inverse(y)`` and ``log_det_jacobian(y)``; each is then used for the
    matching torch method. The transform caches its last pair (``cache_size=1``).

    Methods (the 0.1 names):

    * ``inverse(y)``: the ``x`` with ``self(x) == y``; the cached input when ``y`` is the
      last value the bijector produced.
    * ``log_det_jacobian(y)``: ``log |det dy/dx|`` at ``x = inverse(y)``, one value per vector.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("cache_size", 1)
        super().__init__(*args, **kwargs)

    def _overrides(self, name: str) -> bool:
        return getattr(type(self), name) is not getattr(Bijector, name)

    # the 0.1 names, in terms of torch's
    def inverse(self, y: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Return ``x`` such that ``self(x)`` is ``y`` (the cached input when it produced ``y``)."""
        return self.inv(y)

    def log_det_jacobian(self, y: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Return ``log |det dy/dx|`` at ``x = self.inverse(y)``, one value per vector."""
        return self.log_abs_det_jacobian(self.inverse(y), y)

    # torch's names, for a subclass written with the 0.1 ones
    def _call(self, x: torch.Tensor) -> torch.Tensor:
        if type(self).forward is not torch.nn.Module.forward:
            return self.forward(x)
        raise NotImplementedError(f"{type(self).__name__} implements neither _call nor forward")

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        if self._overrides("inverse"):
            return self.inverse(y)
        raise NotImplementedError(f"{type(self).__name__} implements neither _inverse nor inverse")

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self._overrides("log_det_jacobian"):
            return self.log_det_jacobian(y)
        raise NotImplementedError(
            f"{type(self).__name__} implements neither log_abs_det_jacobian nor log_det_jacobian"
        )


def _order(input_dim: int, permutation: Union[None, bool, Sequence[int], torch.Tensor]) -> torch.Tensor:
    if permutation is None or permutation is False:
        return torch.arange(input_dim)
    if permutation is True:
        return torch.randperm(input_dim)
    return torch.as_tensor(permutation, dtype=torch.long)


class InverseAutoRegressiveFlow(AffineAutoregressive, Bijector):
    """Pyro 0.1's inverse autoregressive flow: the gated affine autoregressive map
    ``y = sigmoid(s + sigmoid_bias) * x + (1 - sigmoid(s + sigmoid_bias)) * mu`` with
    ``(mu, s)`` from an ``AutoRegressiveNN`` of one hidden layer.

    It is :class:`~pyro.distributions.transforms.AffineAutoregressive` with ``stable=True``,
    under the seed's name and arguments. Use it as the manual does::

        iaf = InverseAutoRegressiveFlow(10, 40)
        pyro.module("my_iaf", iaf)
        iaf_dist = dist.TransformedDistribution(base_dist, iaf)

    ``inverse(y)`` returns the cached input when ``y`` is the last value the flow produced; any
    other ``y`` is inverted exactly with ``input_dim`` passes of the network (Pyro 0.1 could not
    invert such values).

    Args:
        input_dim: size of the vectors.
        hidden_dim: width of the network's hidden layer (a list gives several layers).
        sigmoid_bias: added to the scale output before the sigmoid (default 2.0: the flow starts
            close to the identity).
        permutation: the autoregressive order. ``None`` or ``False`` (default): the sequential
            order ``0, 1, ..., input_dim - 1``; ``True``: a random order; a sequence or
            ``LongTensor``: that order.
    """

    def __init__(self, input_dim: int, hidden_dim: Union[int, Sequence[int]],
                 sigmoid_bias: float = 2.0,
                 permutation: Optional[Union[bool, Sequence[int], torch.Tensor]] = None) -> None:
        hidden_dims = [hidden_dim] if isinstance(hidden_dim, int) else list(hidden_dim)
        arn = AutoRegressiveNN(input_dim, hidden_dims, param_dims=[1, 1],
                               permutation=_order(input_dim, permutation))
        super().__init__(arn, sigmoid_bias=sigmoid_bias, stable=True)
        self.input_dim = input_dim

    def get_arn(self) -> AutoRegressiveNN:
        """Return the ``AutoRegressiveNN`` that gives the flow its locations and scales."""
        return self.arn


__all__ = ["Bijector", "InverseAutoRegressiveFlow"]
