"""Warm-up adaptation of HMC and NUTS: step size by dual averaging, mass matrix by Welford.

The warm-up follows Stan's windowed schedule: a first window that tunes only the step size, a
series of doubling windows that also estimate the (diagonal or dense) covariance of the
unconstrained positions, and a last window that tunes the step size to the final mass matrix.
The kernels work on one flat vector of every unconstrained latent; :class:`FlatMassMatrix`
holds the inverse mass matrix of that vector.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Callable, List, Optional

import torch

from pyro.ops.dual_averaging import DualAveraging
from pyro.ops.welford import WelfordCovariance

__all__ = ["FlatMassMatrix", "WarmupAdapter", "adapt_window", "build_adaptation_schedule"]

adapt_window = namedtuple("adapt_window", ["start", "end"])

_START_BUFFER = 75
_END_BUFFER = 50
_INITIAL_WINDOW = 25


def build_adaptation_schedule(warmup_steps: int) -> List[adapt_window]:
    """Stan's warm-up windows for ``warmup_steps`` steps (inclusive ``start``/``end``).

    Fewer than 20 steps form one window (step size only). Fewer than 150 shrink the buffers to
    15% and 10% of the warm-up around one middle window. Otherwise: 75 steps, then windows of
    25, 50, 100, ... steps (the last one stretched to fill), then 50 steps.
    """
    if warmup_steps <= 0:
        return []
    if warmup_steps < 20:
        return [adapt_window(0, warmup_steps - 1)]
    start, end, size = _START_BUFFER, _END_BUFFER, _INITIAL_WINDOW
    if warmup_steps < start + end + size:
        start, end = int(0.15 * warmup_steps), int(0.1 * warmup_steps)
        return [adapt_window(0, start - 1), adapt_window(start, warmup_steps - end - 1),
                adapt_window(warmup_steps - end, warmup_steps - 1)]
    windows = [adapt_window(0, start - 1)]
    last = warmup_steps - end
    cur = start
    while cur < last:
        stop = last - 1 if cur + 3 * size > last else cur + size - 1
        windows.append(adapt_window(cur, stop))
        cur = stop + 1
        size *= 2
    windows.append(adapt_window(last, warmup_steps - 1))
    return windows


class FlatMassMatrix:
    """The inverse mass matrix of one flat momentum vector: diagonal or dense.

    The kinetic energy is ``r @ inverse_mass_matrix @ r / 2``; momenta are drawn from
    ``Normal(0, mass_matrix)``.

    Args:
        size: the length of the flat vector.
        dense: a full matrix (``True``) or a diagonal (``False``).
        dtype, device: of the vectors.
    """

    def __init__(self, size: int, dense: bool, dtype: torch.dtype, device: torch.device) -> None:
        self.size = size
        self.dense = dense
        self.dtype = dtype
        self.device = device
        if dense:
            self.set_inverse(torch.eye(size, dtype=dtype, device=device))
        else:
            self.set_inverse(torch.ones(size, dtype=dtype, device=device))

    def set_inverse(self, inverse: torch.Tensor) -> None:
        """Use ``inverse`` (a vector for a diagonal, a matrix for a dense mass matrix)."""
        self.inverse = inverse
        if self.dense:
            # r = L^{-T} eps has covariance (L L^T)^{-1} = M when inverse = L L^T.
            chol = torch.linalg.cholesky(inverse)
            eye = torch.eye(self.size, dtype=self.dtype, device=self.device)
            self._momentum_factor = torch.linalg.solve_triangular(chol, eye, upper=False).T
        else:
            self._momentum_factor = inverse.rsqrt()

    def sample_momentum(self) -> torch.Tensor:
        """A draw of ``Normal(0, M)``."""
        eps = torch.randn(self.size, dtype=self.dtype, device=self.device)
        if self.dense:
            return self._momentum_factor @ eps
        return self._momentum_factor * eps

    def velocity(self, r: torch.Tensor) -> torch.Tensor:
        """The gradient of the kinetic energy, ``M^{-1} r``."""
        return self.inverse @ r if self.dense else self.inverse * r

    def kinetic(self, r: torch.Tensor) -> torch.Tensor:
        """The kinetic energy ``r M^{-1} r / 2`` (a 0-d tensor)."""
        return 0.5 * torch.dot(r, self.velocity(r))


class WarmupAdapter:
    """Adapts the step size and the mass matrix of HMC/NUTS during warm-up.

    Args:
        step_size: the initial step size.
        adapt_step_size: tune the step size by dual averaging towards ``target_accept_prob``.
        target_accept_prob: the acceptance probability the step size aims at.
        adapt_mass_matrix: estimate the mass matrix in the middle windows.
        dense_mass: a dense (``True``) or diagonal (``False``) mass matrix.
    """

    def __init__(self, step_size: float = 1, adapt_step_size: bool = False,
                 target_accept_prob: float = 0.8, adapt_mass_matrix: bool = False,
                 dense_mass: bool = False) -> None:
        self.adapt_step_size = adapt_step_size
        self.adapt_mass_matrix = adapt_mass_matrix
        self.target_accept_prob = target_accept_prob
        self.dense_mass = dense_mass
        self.step_size = step_size
        self._init_step_size = step_size
        self._adaptation_schedule: List[adapt_window] = []
        self._warmup_steps = 0
        self._find_step_size: Optional[Callable[[], float]] = None
        self.mass: Optional[FlatMassMatrix] = None
        self._welford: Optional[WelfordCovariance] = None
        self._averager = DualAveraging()

    @property
    def adaptation_schedule(self) -> List[adapt_window]:
        """The warm-up windows."""
        return self._adaptation_schedule

    def configure(self, warmup_steps: int, initial_step_size: Optional[float] = None,
                  mass_matrix: Optional[FlatMassMatrix] = None,
                  find_reasonable_step_size_fn: Optional[Callable[[], float]] = None) -> None:
        """Prepare a warm-up of ``warmup_steps`` steps.

        Args:
            warmup_steps: the number of warm-up steps.
            initial_step_size: the step size to start from.
            mass_matrix: the mass matrix to adapt (its inverse is replaced at window ends).
            find_reasonable_step_size_fn: a function returning a step size that gives an
                acceptance probability near one half from the current state; called when
                step-size adaptation (re)starts.
        """
        if initial_step_size is not None:
            self.step_size = initial_step_size
            self._init_step_size = initial_step_size
        self._warmup_steps = warmup_steps
        self._find_step_size = find_reasonable_step_size_fn
        self.mass = mass_matrix
        if mass_matrix is not None:
            self._welford = WelfordCovariance(diagonal=not mass_matrix.dense)
        self._adaptation_schedule = build_adaptation_schedule(warmup_steps)
        if self.adapt_step_size:
            self.reset_step_size_adaptation()

    def reset_step_size_adaptation(self) -> None:
        """Restart dual averaging from a reasonable step size for the current state."""
        if self._find_step_size is not None:
            self.step_size = self._find_step_size()
        self._averager = DualAveraging(prox_center=math.log(10 * self.step_size))

    def _update_step_size(self, accept_prob: float) -> None:
        self._averager.step(self.target_accept_prob - accept_prob)
        log_step, _ = self._averager.get_state()
        self.step_size = math.exp(log_step)

    def _end_step_size_adaptation(self) -> None:
        _, log_step_avg = self._averager.get_state()
        self.step_size = math.exp(log_step_avg)

    def step(self, t: int, z: torch.Tensor, accept_prob: float) -> None:
        """Adapt after warm-up step ``t`` (0-based) ended at flat position ``z`` with
        acceptance probability ``accept_prob``."""
        if t >= self._warmup_steps:
            return
        schedule = self._adaptation_schedule
        window = 0
        while schedule[window].end < t:
            window += 1
        if self.adapt_step_size:
            self._update_step_size(accept_prob)
        middle = 0 < window < len(schedule) - 1
        if middle and self.adapt_mass_matrix and self._welford is not None:
            self._welford.update(z.detach())
            if t == schedule[window].end:
                self.mass.set_inverse(self._welford.get_covariance(regularize=True))
                self._welford.reset()
                if self.adapt_step_size:
                    self.reset_step_size_adaptation()
                return
        if t == self._warmup_steps - 1 and self.adapt_step_size:
            self._end_step_size_adaptation()
