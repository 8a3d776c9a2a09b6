"""State-space form of the Matern Gaussian-process kernels of half-integer order.

A Matern GP with ``nu`` in {1/2, 3/2, 5/2} is the first component of a linear SDE
``dx = F x dt + L dW`` whose state has ``nu + 1/2`` components (the value and its derivatives).
Over a time step ``dt`` the state moves by the matrix exponential of ``F dt`` and gains the
Gaussian noise whose covariance keeps the stationary covariance unchanged. ``MaternKernel``
gives those matrices for ``num_gps`` independent GPs, each with a learnable length scale and
kernel scale, in the layout Pyro's GP time-series models use: a transition matrix multiplies
row-vector states from the right (``new_state = old_state @ A``), so it is the transpose of
``expm(F dt)``.

The feedback matrix has one eigenvalue, ``-lam`` with ``lam = sqrt(2 nu) / length_scale``, of
full multiplicity, so ``N = F + lam I`` is nilpotent and ``expm(F dt)`` is ``exp(-lam dt)``
times the truncated series ``I + dt N + dt^2 N^2 / 2``: closed forms, no matrix exponential.
"""

from __future__ import annotations

import math
import numbers
from typing import Tuple, Union

import torch
from torch.distributions import constraints

from pyro.nn.module import PyroModule, PyroParam, pyro_method

root_three = math.sqrt(3.0)
root_five = math.sqrt(5.0)
five_thirds = 5.0 / 3.0

_SUPPORTED_NU = (0.5, 1.5, 2.5)


class MaternKernelShapeError(ValueError, AssertionError):
    """A ``MaternKernel`` initial value or transition matrix of the wrong shape: a ``ValueError``,
    and an ``AssertionError`` too, the type Pyro raises there."""


class MaternKernelTypeError(TypeError, AttributeError):
    """A ``MaternKernel`` initial value that is not a tensor: a ``TypeError``, and an
    ``AttributeError`` too, the type Pyro raises there."""


class MaternKernelArgumentError(ValueError, RuntimeError):
    """A ``num_gps`` below 1 or a ``dt`` whose shape does not broadcast to
    ``(..., num_gps, 1, 1)``: a ``ValueError``, and a ``RuntimeError`` too, the type torch
    raises there under Pyro."""


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _initial_scale(argument: str, init: object, num_gps: int) -> torch.Tensor:
    """The checked initial value of the positive parameter ``argument``: ``init``, or ones."""
    if init is None:
        return torch.ones(num_gps)
    if not isinstance(init, torch.Tensor):
        raise MaternKernelTypeError(
            f"MaternKernel: {argument} must be a tensor of shape ({num_gps},), got "
            f"{type(init).__name__} {init!r}")
    if tuple(init.shape) != (num_gps,):
        raise MaternKernelShapeError(
            f"MaternKernel: {argument} must have shape (num_gps,) = ({num_gps},), got shape "
            f"{tuple(init.shape)}")
    return init


class MaternKernel(PyroModule):
    """State-space building blocks of ``num_gps`` independent univariate GPs with a Matern
    kernel ``k(t) = kernel_scale^2 * matern_nu(t / length_scale)``.

    Args:
        nu: the order of the kernel, 0.5, 1.5 or 2.5 (state dimensions 1, 2 and 3).
        num_gps: the number of independent GPs (at least 1).
        length_scale_init: optional positive tensor of shape ``(num_gps,)``, the initial length
            scales (default ones).
        kernel_scale_init: optional positive tensor of shape ``(num_gps,)``, the initial kernel
            scales (default ones).

    Attributes ``nu``, ``num_gps`` and ``state_dim`` hold the sizes; ``length_scale`` and
    ``kernel_scale`` are ``PyroParam``s constrained positive (stored as
    ``length_scale_unconstrained`` and ``kernel_scale_unconstrained``).

    Raises:
        NotImplementedError: ``nu`` is not one of 0.5, 1.5, 2.5 (Pyro's type).
        TypeError: ``num_gps`` is not an int, or an init is not a tensor.
        ValueError: ``num_gps`` below 1, or an init not of shape ``(num_gps,)``.
    """

    def __init__(self, nu: float = 1.5, num_gps: int = 1, length_scale_init: torch.Tensor = None,
                 kernel_scale_init: torch.Tensor = None) -> None:
        if not isinstance(nu, numbers.Real) or isinstance(nu, bool) or nu not in _SUPPORTED_NU:
            raise NotImplementedError(
                f"The only supported values of nu are 0.5, 1.5 and 2.5 (MaternKernel got nu={nu!r})")
        if not _is_int(num_gps):
            raise TypeError(f"MaternKernel: num_gps must be an int, got {type(num_gps).__name__} "
                            f"{num_gps!r}")
        if num_gps < 1:
            raise MaternKernelArgumentError(f"MaternKernel: num_gps must be >= 1, got {num_gps}")
        length_scale_init = _initial_scale("length_scale_init", length_scale_init, num_gps)
        kernel_scale_init = _initial_scale("kernel_scale_init", kernel_scale_init, num_gps)
        super().__init__()
        self.nu = nu
        self.state_dim = {0.5: 1, 1.5: 2, 2.5: 3}[nu]
        self.num_gps = num_gps
        self.length_scale = PyroParam(length_scale_init, constraint=constraints.positive)
        self.kernel_scale = PyroParam(kernel_scale_init, constraint=constraints.positive)

    def _rate(self) -> torch.Tensor:
        """``lam = sqrt(2 nu) / length_scale`` shaped ``(num_gps, 1, 1)``."""
        return math.sqrt(2.0 * self.nu) / self.length_scale[:, None, None]

    def _check_dt(self, dt: object) -> None:
        if isinstance(dt, torch.Tensor):
            shape = dt.shape
            if (dt.dim() >= 1 and shape[-1] != 1) or (dt.dim() >= 2 and shape[-2] != 1) or (
                    dt.dim() >= 3 and shape[-3] not in (1, self.num_gps)):
                raise MaternKernelArgumentError(
                    f"MaternKernel.transition_matrix: dt must be a number or a tensor that "
                    f"broadcasts to (..., num_gps, 1, 1) = (..., {self.num_gps}, 1, 1), got shape "
                    f"{tuple(shape)}")
        elif not isinstance(dt, numbers.Real) or isinstance(dt, bool):
            raise TypeError(f"MaternKernel.transition_matrix: dt must be a number or a tensor, "
                            f"got {type(dt).__name__} {dt!r}")

    @pyro_method
    def transition_matrix(self, dt: Union[float, torch.Tensor]) -> torch.Tensor:
        """Return the transition matrices over the time step ``dt``, the transpose of
        ``expm(F dt)``, laid out ``(..., num_gps, old_state, new_state)`` so that they multiply
        row-vector states from the right.

        ``dt`` is a number or a tensor broadcasting to ``(..., num_gps, 1, 1)``; the result has
        shape ``(..., num_gps, state_dim, state_dim)``.
        """
        self._check_dt(dt)
        lam = self._rate()
        decay = torch.exp(-lam * dt)
        if self.nu == 0.5:
            return decay
        if self.nu == 1.5:
            # (F + lam I)^T with F = [[0, 1], [-lam^2, -2 lam]]; its square is zero
            lam_dt = lam * dt
            entries = [1.0 + lam_dt, -lam * lam_dt, dt * torch.ones_like(lam), 1.0 - lam_dt]
            top = torch.cat(torch.broadcast_tensors(*entries[:2]), dim=-1)
            bottom = torch.cat(torch.broadcast_tensors(*entries[2:]), dim=-1)
            return decay * torch.cat([top, bottom], dim=-2)
        # nu = 2.5: F = [[0, 1, 0], [0, 0, 1], [-lam^3, -3 lam^2, -3 lam]]
        nil_t = self._nilpotent_transposed(lam)
        eye = torch.eye(3, dtype=lam.dtype, device=lam.device)
        series = eye + dt * nil_t + (0.5 * dt * dt) * (nil_t @ nil_t)
        return decay * series

    @staticmethod
    def _nilpotent_transposed(lam: torch.Tensor) -> torch.Tensor:
        """``(F + lam I)^T`` of the order-5/2 SDE, shaped ``(num_gps, 3, 3)``."""
        one, zero = torch.ones_like(lam), torch.zeros_like(lam)
        lam2 = lam * lam
        rows = [[lam, zero, -lam * lam2], [one, lam, -3.0 * lam2], [zero, one, -2.0 * lam]]
        return torch.cat([torch.cat(row, dim=-1) for row in rows], dim=-2)

    @pyro_method
    def stationary_covariance(self) -> torch.Tensor:
        """Return the stationary covariance ``P`` of the state, the solution of the Lyapunov
        equation ``F P + P F^T + L q L^T = 0``, shaped ``(num_gps, state_dim, state_dim)``."""
        variance = self.kernel_scale.pow(2)[:, None, None]
        if self.nu == 0.5:
            return variance
        lam2 = self._rate().pow(2)
        one, zero = torch.ones_like(lam2), torch.zeros_like(lam2)
        if self.nu == 1.5:
            rows = [[one, zero], [zero, lam2]]
        else:
            third = lam2 / 3.0
            rows = [[one, zero, -third], [zero, third, zero], [-third, zero, lam2 * lam2]]
        return variance * torch.cat([torch.cat(row, dim=-1) for row in rows], dim=-2)

    @pyro_method
    def process_covariance(self, A: torch.Tensor) -> torch.Tensor:
        """Return the covariance of the noise added over a step whose transition matrix is
        ``A`` (from ``transition_matrix``): ``P - A^T P A`` in the row layout, which keeps the
        stationary covariance ``P`` unchanged. ``A`` has shape ``(..., num_gps, state_dim,
        state_dim)``; so has the result."""
        d = self.state_dim
        if not isinstance(A, torch.Tensor) or A.dim() < 2 or tuple(A.shape[-2:]) != (d, d):
            shown = tuple(A.shape) if isinstance(A, torch.Tensor) else type(A).__name__
            raise MaternKernelShapeError(
                f"MaternKernel.process_covariance: A must be a tensor of shape (..., num_gps, "
                f"{d}, {d}), got {shown}")
        P = self.stationary_covariance()
        return P - A.transpose(-1, -2) @ P @ A

    @pyro_method
    def transition_matrix_and_covariance(
            self, dt: Union[float, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(transition_matrix(dt), process_covariance(...))`` for the time step
        ``dt``, both shaped ``(..., num_gps, state_dim, state_dim)``."""
        A = self.transition_matrix(dt)
        return A, self.process_covariance(A)
