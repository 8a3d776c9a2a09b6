""":class:`SimplexToOrderedTransform`: probability vectors to ordered cut-points."""

from __future__ import annotations

from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from torch.distributions.transforms import Transform

from pyro.distributions import constraints
from pyro.distributions.validation import check_tensor_args


class SimplexToOrderedTransform(Transform):
    r"""Map a probability vector ``p`` of size ``K`` to ``K - 1`` increasing cut-points,

    .. math:: y_k = \operatorname{logit}\Big(\sum_{j \le k} p_j\Big) + a, \qquad k < K - 1,

    ``a`` the ``anchor_point``: the cut-points under which an ordered logistic model with
    predictor ``a`` has category probabilities ``p``. The inverse takes differences of
    ``sigmoid(y - a)``. The map drops one coordinate (the simplex has ``K - 1`` free ones), so it
    is not ``bijective`` in torch's sense; ``log_abs_det_jacobian`` is that of ``y`` with
    respect to ``p[..., :-1]``, ``-sum_k log(c_k (1 - c_k))`` with ``c`` the partial sums.
    (Pyro 1.9 computes it from ``y`` without removing the anchor, which is wrong when
    ``a != 0``; this one does not depend on ``a``, as the true Jacobian does not.)

    Args:
        anchor_point: the anchor ``a``, a scalar or a tensor of the batch shape (default 0).
    """

    domain = constraints.simplex
    codomain = constraints.ordered_vector
    bijective = False

    def __init__(self, anchor_point: Optional[Union[torch.Tensor, float]] = None) -> None:
        super().__init__()
        if anchor_point is None:
            anchor_point = torch.tensor(0.0)
        check_tensor_args("SimplexToOrderedTransform", anchor_point=anchor_point)
        self.anchor_point = torch.as_tensor(anchor_point)

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and torch.equal(
            self.anchor_point, other.anchor_point.to(self.anchor_point)
        )

    def with_cache(self, cache_size: int = 1) -> "SimplexToOrderedTransform":
        if self._cache_size == cache_size:
            return self
        new = type(self)(self.anchor_point)
        Transform.__init__(new, cache_size=cache_size)
        return new

    def _anchor(self, x: torch.Tensor) -> torch.Tensor:
        return self.anchor_point.to(dtype=x.dtype, device=x.device).unsqueeze(-1)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        cum = x[..., :-1].cumsum(-1)
        return cum.log() - (-cum).log1p() + self._anchor(x)

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        cum = torch.sigmoid(y - self._anchor(y))
        zero = cum.new_zeros(cum.shape[:-1] + (1,))
        return torch.cat([cum, zero + 1], dim=-1) - torch.cat([zero, cum], dim=-1)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``-sum log(c (1 - c))`` over the partial sums ``c``, one value per vector."""
        z = y - self._anchor(y)
        # -log(sigmoid(z) * sigmoid(-z)) = softplus(-z) + softplus(z)
        return (F.softplus(z) + F.softplus(-z)).sum(-1)

    def forward_shape(self, shape: torch.Size) -> torch.Size:
        return torch.Size(shape[:-1]) + (shape[-1] - 1,)

    def inverse_shape(self, shape: torch.Size) -> torch.Size:
        return torch.Size(shape[:-1]) + (shape[-1] + 1,)


__all__ = ["SimplexToOrderedTransform"]
