"""Sylvester flows (van den Berg et al., 2018) with an orthogonal matrix made of Householder
reflections: ``y = x + Q R tanh(S Q^T x + b)``, ``R`` and ``S`` upper-triangular, so that
``log |det dy/dx| = sum_i log(1 + tanh'(.)_i R_ii S_ii)`` costs ``O(input_dim)``.

There is no analytic inverse.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from pyro.nn.dense_nn import check_int
from pyro.nn.flows.householder import Householder
from pyro.nn.flows.util import OnePassNoInverse, PassCache


class Sylvester(OnePassNoInverse, Householder):
    r"""A Sylvester flow,

    .. math:: y = x + Q R \tanh(S Q^\top x + b),

    where ``Q = H_K ... H_1`` is the product of the :class:`Householder` reflections this class
    inherits (``u_unnormed``, ``count_transforms`` of them), ``R = R_dense * triangular_mask +
    diag(tanh(R_diag))`` and ``S`` likewise (``triangular_mask`` is the strictly upper triangle),
    and ``b`` a bias. The diagonals lie in ``(-1, 1)``, so every ``1 + tanh'(.) R_ii S_ii`` is
    positive and the map is invertible. The log-det is kept for the pair in torch's cache
    (``cache_size=1``). There is no analytic inverse: ``inv`` of the value the flow last produced
    returns its input, any other value raises ``KeyError``.

    Args:
        input_dim: size of the vectors the flow maps.
        count_transforms: number of Householder reflections in ``Q``.

    Example::

        flow = Sylvester(4, count_transforms=2)
        flow_dist = dist.TransformedDistribution(dist.Normal(torch.zeros(4), 1.0).to_event(1),
                                                 [flow])
        flow_dist.log_prob(flow_dist.rsample((10,)))
    """

    volume_preserving = False

    def __init__(self, input_dim: int, count_transforms: int = 1) -> None:
        super().__init__(input_dim, count_transforms)
        self.R_dense = torch.nn.Parameter(torch.empty(input_dim, input_dim))
        self.S_dense = torch.nn.Parameter(torch.empty(input_dim, input_dim))
        self.R_diag = torch.nn.Parameter(torch.empty(input_dim))
        self.S_diag = torch.nn.Parameter(torch.empty(input_dim))
        self.b = torch.nn.Parameter(torch.empty(input_dim))
        self.register_buffer("triangular_mask", torch.ones(input_dim, input_dim).triu(1))
        self._reset_sylvester_parameters()
        # (x, log-det at x) of the last forward pass
        self._log_det = PassCache()

    def reset_parameters(self) -> None:
        """Redraw the reflections (as :class:`Householder`) and ``R``, ``S``, ``b`` (uniform in
        ``[-0.01, 0.01]``)."""
        super().reset_parameters()
        if "b" in self._parameters:  # Householder's constructor calls this before they exist
            self._reset_sylvester_parameters()

    def _reset_sylvester_parameters(self) -> None:
        with torch.no_grad():
            for p in (self.R_dense, self.S_dense, self.R_diag, self.S_diag, self.b):
                p.uniform_(-0.01, 0.01)

    def R(self) -> torch.Tensor:
        """The upper-triangular matrix ``R``."""
        return self.R_dense * self.triangular_mask + torch.diag(torch.tanh(self.R_diag))

    def S(self) -> torch.Tensor:
        """The upper-triangular matrix ``S``."""
        return self.S_dense * self.triangular_mask + torch.diag(torch.tanh(self.S_diag))

    def _forward_and_log_det(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] != self.input_dim:
            raise ValueError(
                f"Sylvester: input of shape {tuple(x.shape)}, expected its last dim to be "
                f"input_dim={self.input_dim}"
            )
        r, s = self.R(), self.S()
        rotated = Householder._inverse(self, x)  # Q^T x: the reflections in reverse
        pre = rotated @ s.T + self.b
        act = torch.tanh(pre)
        y = x + Householder._call(self, act @ r.T)  # Q (R act)
        diag = torch.diagonal(r) * torch.diagonal(s)
        log_det = torch.log1p((1 - act * act) * diag).sum(-1)
        return y, log_det


def sylvester(input_dim: int, count_transforms: Optional[int] = None) -> Sylvester:
    """Build a :class:`Sylvester` flow.

    Args:
        input_dim: size of the vectors the flow maps.
        count_transforms: number of Householder reflections (default ``input_dim // 2 + 1``).
    """
    if count_transforms is None:
        check_int("sylvester", "input_dim", input_dim)
        count_transforms = input_dim // 2 + 1
    return Sylvester(input_dim, count_transforms=count_transforms)


__all__ = ["Sylvester", "sylvester"]
