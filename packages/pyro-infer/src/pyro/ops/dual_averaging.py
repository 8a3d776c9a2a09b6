"""Nesterov's dual averaging, the step-size adaptation scheme of Hoffman and Gelman's NUTS."""

from __future__ import annotations

import math
from typing import Tuple

__all__ = ["DualAveraging"]


class DualAveraging:
    """Minimise a noisy objective from its gradients by dual averaging, with iterate averaging.

    Used to tune ``log(step_size)``: the gradient is ``target_accept_prob - accept_prob``.

    Args:
        prox_center: the point the iterates are pulled towards (``log(10 * step_size)``).
        t0: a positive offset that damps the first iterations.
        kappa: the decay exponent of the averaging weights, in ``(0.5, 1]``.
        gamma: the scale of the pull towards ``prox_center``.
    """

    def __init__(self, prox_center: float = 0, t0: float = 10, kappa: float = 0.75,
                 gamma: float = 0.05) -> None:
        self.prox_center = prox_center
        self.t0 = t0
        self.kappa = kappa
        self.gamma = gamma
        self.reset()

    def reset(self) -> None:
        """Start again from iteration zero."""
        self._x_avg = 0.0
        self._g_avg = 0.0
        self._t = 0
        self._x_t = 0.0

    def step(self, g: float) -> None:
        """Take one iteration given the (noisy) gradient ``g`` at the current point."""
        self._t += 1
        t = self._t
        shift = 1.0 / (t + self.t0)
        self._g_avg = (1 - shift) * self._g_avg + shift * g
        self._x_t = self.prox_center - math.sqrt(t) / self.gamma * self._g_avg
        weight = t ** (-self.kappa)
        self._x_avg = (1 - weight) * self._x_avg + weight * self._x_t

    def get_state(self) -> Tuple[float, float]:
        """Return ``(x_t, x_avg)``: the latest iterate and the weighted average of iterates."""
        return self._x_t, self._x_avg
