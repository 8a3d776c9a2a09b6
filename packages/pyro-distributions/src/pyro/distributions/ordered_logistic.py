"""``OrderedLogistic``: the ordinal-regression likelihood (cumulative logit model)."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions._params import check_params
from pyro.distributions.torch import Categorical
from pyro.distributions.util import broadcast_shape
from pyro.distributions.validation import expand_error


class OrderedLogistic(Categorical):
    """A categorical distribution over ``K + 1`` ordered classes, from ``K`` cutpoints.

    ``P(y <= k) = sigmoid(cutpoints[k] - predictor)`` for ``k < K``: a latent
    ``predictor + Logistic(0, 1)`` value falls between consecutive cutpoints. It is a
    :class:`~pyro.distributions.Categorical` (``probs``, ``logits``, ``enumerate_support``).

    Args:
        predictor: the latent location, shape ``batch_shape`` (a tensor or a number).
        cutpoints: strictly increasing thresholds, shape ``batch_shape + (K,)`` (a scalar is
            one cutpoint); the two shapes are broadcast.
        validate_args: as for every distribution (checks that the cutpoints are ordered).

    Raises:
        ValueError: the batch shapes of ``predictor`` and ``cutpoints`` do not broadcast.
    """

    arg_constraints = {"predictor": constraints.real, "cutpoints": constraints.ordered_vector}

    def __init__(self, predictor: Any, cutpoints: Any, validate_args: Optional[bool] = None) -> None:
        cutpoints = torch.as_tensor(cutpoints)
        if cutpoints.dim() == 0:
            cutpoints = cutpoints.unsqueeze(-1)
        predictor = torch.as_tensor(predictor, dtype=cutpoints.dtype, device=cutpoints.device)
        try:
            batch_shape = torch.Size(broadcast_shape(predictor.shape, cutpoints.shape[:-1]))
        except ValueError:
            raise ValueError(
                f"OrderedLogistic: predictor of shape {tuple(predictor.shape)} does not broadcast "
                f"with cutpoints of shape {tuple(cutpoints.shape)} (batch shape "
                f"{tuple(cutpoints.shape[:-1])})") from None
        self.predictor = predictor.expand(batch_shape)
        self.cutpoints = cutpoints.expand(batch_shape + cutpoints.shape[-1:])
        super().__init__(probs=self._class_probs(), validate_args=False)
        check_params(self, validate_args)

    def _class_probs(self) -> torch.Tensor:
        below = torch.sigmoid(self.cutpoints - self.predictor.unsqueeze(-1))
        first, last = below[..., :1], 1 - below[..., -1:]
        return torch.cat([first, below[..., 1:] - below[..., :-1], last], dim=-1)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "OrderedLogistic":
        """Return this distribution with ``predictor`` and ``cutpoints`` broadcast to
        ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(OrderedLogistic, _instance)
        try:
            new.predictor = self.predictor.expand(batch_shape)
            new.cutpoints = self.cutpoints.expand(batch_shape + self.cutpoints.shape[-1:])
        except RuntimeError:
            raise expand_error(self, batch_shape) from None
        return Categorical.expand(self, batch_shape, _instance=new)


__all__ = ["OrderedLogistic"]
