"""Warm-up adaptation of HMC and NUTS: step size by dual averaging, mass matrix by Welford.

The warm-up follows Stan's windowed schedule: a first window that tunes only the step size, a
series of doubling windows that also estimate the (diagonal or dense) covariance of the
unconstrained positions, and a last window that tunes the step size to the final mass matrix.
The mass matrix is a :class:`BlockMassMatrix` (blocks of sites, each dense or diagonal) or an
:class:`ArrowheadMassMatrix`; the kernels use it on their flat vector of every unconstrained
latent.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from pyro.ops.arrowhead import SymmArrowhead, triu_gram, triu_inverse
from pyro.ops.arrowhead import sqrt as arrowhead_sqrt
from pyro.ops.dual_averaging import DualAveraging
from pyro.ops.welford import WelfordArrowheadCovariance, WelfordCovariance

__all__ = ["ArrowheadMassMatrix", "BlockMassMatrix", "WarmupAdapter", "adapt_window",
           "build_adaptation_schedule"]

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


MassMatrixShape = Dict[Tuple[str, ...], Tuple[int, ...]]



def _tensor_options(options: Dict[str, Any]) -> Dict[str, Any]:
    return {k: options[k] for k in ("dtype", "device") if k in options}


class BlockMassMatrix:
    """The (inverse) mass matrix of HMC/NUTS as blocks of sites, each dense or diagonal.

    :meth:`configure` takes ``{(site, ...): shape}``: a shape ``(n,)`` makes the block's inverse
    mass matrix a diagonal (a vector), ``(n, n)`` a dense matrix; ``n`` is the number of
    unconstrained scalars of the block's sites, in the tuple's order. During warm-up
    :meth:`update` feeds positions to one Welford estimator per block and
    :meth:`end_adaptation` sets every block's inverse mass matrix to its estimated covariance.

    The kernels use the same object on their flat vector of every site (:meth:`bind`,
    :meth:`sample_momentum`, :meth:`velocity`, :meth:`kinetic`): a diagonal over everything is
    a vector, anything with a dense block is one ``size x size`` matrix (zero across blocks).

    Args:
        init_scale: the initial inverse mass matrix is ``init_scale`` times the identity.
    """

    def __init__(self, init_scale: float = 1.0) -> None:
        self._init_scale = init_scale
        self._shapes: MassMatrixShape = {}
        self._inverse: Dict[Tuple[str, ...], torch.Tensor] = {}
        self._welford: Dict[Tuple[str, ...], Any] = {}
        self._adapt = True
        self._options: Dict[str, Any] = {}
        self._index: Optional[Dict[Tuple[str, ...], Optional[torch.Tensor]]] = None
        self.size = 0
        self.dense = False
        self.inverse: Optional[torch.Tensor] = None
        self._momentum_factor: Optional[torch.Tensor] = None

    # ----- Pyro's interface: blocks of named sites ------------------------------------------
    @property
    def mass_matrix_size(self) -> Dict[Tuple[str, ...], int]:
        """``{(site, ...): n}``: the number of scalars of every block."""
        return {k: v[0] for k, v in self._shapes.items()}

    @property
    def inverse_mass_matrix(self) -> Dict[Tuple[str, ...], torch.Tensor]:
        """``{(site, ...): inverse mass matrix}``: a vector (diagonal) or a matrix per block."""
        return dict(self._inverse)

    @inverse_mass_matrix.setter
    def inverse_mass_matrix(self, value: Dict[Tuple[str, ...], torch.Tensor]) -> None:
        for key, inverse in value.items():
            if key not in self._shapes:
                raise KeyError(f"inverse_mass_matrix: no block {key!r}; the blocks are "
                               f"{list(self._shapes)}")
            if tuple(inverse.shape) != tuple(self._shapes[key]):
                raise ValueError(f"inverse_mass_matrix[{key!r}] has shape {tuple(inverse.shape)},"
                                 f" expected {tuple(self._shapes[key])}")
            self._inverse[key] = inverse
        self._rebuild_flat()

    def configure(self, mass_matrix_shape: MassMatrixShape, adapt_mass_matrix: bool = True,
                  options: Dict[str, Any] = {}) -> None:
        """Set up the blocks ``{(site, ...): (n,) or (n, n)}`` (``options``: ``dtype``,
        ``device``) with inverse mass matrices ``init_scale * I``."""
        for key, shape in mass_matrix_shape.items():
            shape = tuple(shape)
            if not isinstance(key, tuple) or len(shape) not in (1, 2) or (
                    len(shape) == 2 and shape[0] != shape[1]):
                raise ValueError(f"mass_matrix_shape: expected (site, ...) -> (n,) or (n, n), "
                                 f"got {key!r} -> {shape}")
        self._options = _tensor_options(options)
        self._adapt = adapt_mass_matrix
        self._shapes = {k: tuple(v) for k, v in mass_matrix_shape.items()}
        self._inverse = {}
        self._welford = {}
        for key, shape in self._shapes.items():
            n = shape[0]
            if len(shape) == 1:
                self._inverse[key] = torch.full((n,), float(self._init_scale), **self._options)
            else:
                self._inverse[key] = self._init_scale * torch.eye(n, **self._options)
            if adapt_mass_matrix:
                self._welford[key] = WelfordCovariance(diagonal=len(shape) == 1)
        self._index = None
        self.size = sum(v[0] for v in self._shapes.values())
        self._rebuild_flat()

    def _cat(self, key: Tuple[str, ...], values: Dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [values[name].reshape(-1) for name in key]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def update(self, z: Dict[str, torch.Tensor], z_grad: Optional[Dict[str, torch.Tensor]]
               ) -> None:
        """Feed the positions ``z`` (``site -> tensor``) to every block's estimator."""
        for key, welford in self._welford.items():
            welford.update(self._cat(key, z).detach())

    def end_adaptation(self) -> None:
        """Replace every block's inverse mass matrix by its estimated covariance and restart
        the estimators."""
        for key, welford in self._welford.items():
            self._inverse[key] = welford.get_covariance(regularize=True)
            welford.reset()
        self._rebuild_flat()

    @staticmethod
    def _split(flat: torch.Tensor, key: Tuple[str, ...], like: Dict[str, torch.Tensor]
               ) -> Dict[str, torch.Tensor]:
        out, offset = {}, 0
        for name in key:
            n = like[name].numel()
            out[name] = flat[offset:offset + n].reshape(like[name].shape)
            offset += n
        return out

    def kinetic_grad(self, r: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``M^{-1} r`` for the momenta ``r`` (``site -> tensor``)."""
        out: Dict[str, torch.Tensor] = {}
        for key, inverse in self._inverse.items():
            x = self._cat(key, r)
            v = inverse @ x if inverse.dim() == 2 else inverse * x
            out.update(self._split(v, key, r))
        return out

    def scale(self, r_unscaled: Dict[Tuple[str, ...], torch.Tensor],
              r_prototype: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Turn standard-normal draws per block into momenta of covariance ``M`` per site
        (shaped like ``r_prototype``)."""
        out: Dict[str, torch.Tensor] = {}
        for key, eps in r_unscaled.items():
            factor = self._block_factor(key)
            r = factor @ eps if factor.dim() == 2 else factor * eps
            out.update(self._split(r, key, r_prototype))
        return out

    def unscale(self, r: Dict[str, torch.Tensor]) -> Dict[Tuple[str, ...], torch.Tensor]:
        """The inverse of :meth:`scale`: momenta per site back to standard normals per block."""
        out = {}
        for key, inverse in self._inverse.items():
            x = self._cat(key, r)
            if inverse.dim() == 2:
                out[key] = torch.linalg.cholesky(inverse).T @ x
            else:
                out[key] = inverse.sqrt() * x
        return out

    def _block_factor(self, key: Tuple[str, ...]) -> torch.Tensor:
        inverse = self._inverse[key]
        if inverse.dim() == 1:
            return inverse.rsqrt()
        # r = L^{-T} eps has covariance (L L^T)^{-1} = M when inverse = L L^T.
        chol = torch.linalg.cholesky(inverse)
        eye = torch.eye(inverse.shape[0], dtype=inverse.dtype, device=inverse.device)
        return torch.linalg.solve_triangular(chol, eye, upper=False).T

    # ----- the kernels' interface: one flat vector of every site ----------------------------
    def bind(self, names: List[str], sizes: List[int]) -> None:
        """Place the blocks in a flat vector holding the sites ``names`` (of ``sizes``
        scalars) in that order; every site must be in exactly one block."""
        start, offsets = 0, {}
        for name, n in zip(names, sizes):
            offsets[name] = (start, n)
            start += n
        seen = [name for key in self._shapes for name in key]
        if sorted(seen) != sorted(names):
            raise ValueError(f"mass matrix: the blocks {list(self._shapes)} do not cover the "
                             f"sites {names} exactly once")
        self._index = {}
        for key, shape in self._shapes.items():
            idx = [i for name in key for i in range(offsets[name][0], sum(offsets[name]))]
            if len(idx) != shape[0]:
                raise ValueError(f"mass matrix: block {key!r} has {len(idx)} scalars, its shape "
                                 f"is {shape}")
            self._index[key] = torch.tensor(idx, device=self._options.get("device"))
        if len(self._shapes) == 1 and names == list(next(iter(self._shapes))):
            self._index = None  # one block, in the flat order: no gather
        self.size = start
        self._rebuild_flat()

    def _rebuild_flat(self) -> None:
        blocks = list(self._inverse.items())
        if not blocks:
            return
        dense = any(v.dim() == 2 for _, v in blocks)
        self.dense = dense
        if len(blocks) == 1 and self._index is None:
            key, inverse = blocks[0]
            self.inverse, self._momentum_factor = inverse, self._block_factor(key)
            return
        index = self._index
        if index is None:  # the blocks in their own order, one after another
            index, offset = {}, 0
            for key, inverse in blocks:
                n = inverse.shape[0]
                index[key] = torch.arange(offset, offset + n, device=inverse.device)
                offset += n
        first = blocks[0][1]
        kw = {"dtype": first.dtype, "device": first.device}
        if dense:
            flat = torch.zeros(self.size, self.size, **kw)
            factor = torch.zeros(self.size, self.size, **kw)
            for key, inverse in blocks:
                idx = index[key]
                block_factor = self._block_factor(key)
                if inverse.dim() == 1:
                    inverse, block_factor = torch.diag(inverse), torch.diag(block_factor)
                flat[idx.unsqueeze(-1), idx] = inverse
                factor[idx.unsqueeze(-1), idx] = block_factor
        else:
            flat = torch.zeros(self.size, **kw)
            factor = torch.zeros(self.size, **kw)
            for key, inverse in blocks:
                flat[index[key]] = inverse
                factor[index[key]] = self._block_factor(key)
        self.inverse, self._momentum_factor = flat, factor

    def update_flat(self, z: torch.Tensor, z_grad: Optional[torch.Tensor] = None) -> None:
        """:meth:`update` from the flat position ``z`` (and gradient ``z_grad``)."""
        index = self._index
        for key, welford in self._welford.items():
            welford.update((z if index is None else z[index[key]]).detach())

    def sample_momentum(self) -> torch.Tensor:
        """A flat draw of ``Normal(0, M)``."""
        eps = torch.randn(self.size, dtype=self.inverse.dtype, device=self.inverse.device)
        if self.dense:
            return self._momentum_factor @ eps
        return self._momentum_factor * eps

    def velocity(self, r: torch.Tensor) -> torch.Tensor:
        """The gradient of the kinetic energy, ``M^{-1} r``, of the flat momentum ``r``."""
        return self.inverse @ r if self.dense else self.inverse * r

    def kinetic(self, r: torch.Tensor) -> torch.Tensor:
        """The kinetic energy ``r M^{-1} r / 2`` of the flat momentum ``r`` (a 0-d tensor)."""
        return 0.5 * torch.dot(r, self.velocity(r))


class ArrowheadMassMatrix(BlockMassMatrix):
    """A mass matrix ``M`` (not its inverse) of arrowhead shape, adapted from gradients.

    The dense blocks given to :meth:`configure` (shapes ``(n, n)``) form the head: ``M`` has
    dense rows and columns there and is diagonal on every other site; all sites become one
    block, the head's sites first. During warm-up ``M`` is estimated by the covariance of the
    potential's gradient (for a Gaussian posterior, its precision) in that pattern; the
    inverse mass matrix is ``M``'s (dense) inverse.

    Args:
        init_scale: the initial inverse mass matrix is ``init_scale`` times the identity.
    """

    def __init__(self, init_scale: float = 1.0) -> None:
        super().__init__(init_scale)
        self._head_size = 0
        self._mass_matrix: Dict[Tuple[str, ...], SymmArrowhead] = {}

    @property
    def mass_matrix(self) -> Dict[Tuple[str, ...], SymmArrowhead]:
        """``{(site, ...): SymmArrowhead(top, bottom_diag)}``: the arrowhead mass matrix."""
        return dict(self._mass_matrix)

    def configure(self, mass_matrix_shape: MassMatrixShape, adapt_mass_matrix: bool = True,
                  options: Dict[str, Any] = {}) -> None:
        """Set up one block of every site, the dense blocks' sites first (the head)."""
        head = [k for k, v in mass_matrix_shape.items() if len(v) == 2]
        tail = [k for k, v in mass_matrix_shape.items() if len(v) != 2]
        key = tuple(name for k in head + tail for name in k)
        self._head_size = sum(mass_matrix_shape[k][0] for k in head)
        n = sum(v[0] for v in mass_matrix_shape.values())
        super().configure({key: (n, n)}, adapt_mass_matrix=False, options=options)
        self._adapt = adapt_mass_matrix
        eye = torch.eye(n, **self._options) / self._init_scale
        self._mass_matrix = {key: SymmArrowhead(eye[:self._head_size],
                                                eye.diagonal()[self._head_size:].clone())}
        if adapt_mass_matrix:
            self._welford = {key: WelfordArrowheadCovariance(head_size=self._head_size)}

    def update(self, z: Dict[str, torch.Tensor], z_grad: Optional[Dict[str, torch.Tensor]]
               ) -> None:
        """Feed the potential's gradient ``z_grad`` (``site -> tensor``) to the estimator."""
        if z_grad is None:
            raise ValueError("ArrowheadMassMatrix.update needs z_grad, the potential's gradient")
        for key, welford in self._welford.items():
            welford.update(self._cat(key, z_grad).detach())

    def update_flat(self, z: torch.Tensor, z_grad: Optional[torch.Tensor] = None) -> None:
        """:meth:`update` from the flat gradient ``z_grad``."""
        if z_grad is None:
            raise ValueError("ArrowheadMassMatrix.update_flat needs z_grad, the potential's "
                             "gradient")
        index = self._index
        for key, welford in self._welford.items():
            welford.update((z_grad if index is None else z_grad[index[key]]).detach())

    def end_adaptation(self) -> None:
        """Set ``M`` to the estimated arrowhead and the inverse mass matrix to its inverse."""
        for key, welford in self._welford.items():
            top, bottom = welford.get_covariance(regularize=True)
            welford.reset()
            self._mass_matrix[key] = mass = SymmArrowhead(top, bottom)
            # M = U U^T, so M^-1 = U^-T U^-1: the Gram matrix of U's inverse
            self._inverse[key] = triu_gram(triu_inverse(arrowhead_sqrt(mass)))
        self._rebuild_flat()


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
        self.mass: Optional[BlockMassMatrix] = None
        self._averager = DualAveraging()

    @property
    def adaptation_schedule(self) -> List[adapt_window]:
        """The warm-up windows."""
        return self._adaptation_schedule

    def configure(self, warmup_steps: int, initial_step_size: Optional[float] = None,
                  mass_matrix: Optional[BlockMassMatrix] = None,
                  find_reasonable_step_size_fn: Optional[Callable[[], float]] = None) -> None:
        """Prepare a warm-up of ``warmup_steps`` steps.

        Args:
            warmup_steps: the number of warm-up steps.
            initial_step_size: the step size to start from.
            mass_matrix: the configured and bound mass matrix to adapt (updated in the
                middle windows, its inverse replaced at each of their ends).
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

    @property
    def mass_matrix_adapter(self) -> Optional[BlockMassMatrix]:
        """The mass matrix being adapted."""
        return self.mass

    @mass_matrix_adapter.setter
    def mass_matrix_adapter(self, value: BlockMassMatrix) -> None:
        self.mass = value

    def step(self, t: int, z: torch.Tensor, accept_prob: float,
             z_grad: Optional[torch.Tensor] = None) -> None:
        """Adapt after warm-up step ``t`` (0-based) ended at flat position ``z`` (with
        potential gradient ``z_grad``) with acceptance probability ``accept_prob``."""
        if t >= self._warmup_steps:
            return
        schedule = self._adaptation_schedule
        window = 0
        while schedule[window].end < t:
            window += 1
        if self.adapt_step_size:
            self._update_step_size(accept_prob)
        middle = 0 < window < len(schedule) - 1
        if middle and self.adapt_mass_matrix and self.mass is not None:
            self.mass.update_flat(z, z_grad)
            if t == schedule[window].end:
                self.mass.end_adaptation()
                if self.adapt_step_size:
                    self.reset_step_size_adaptation()
                return
        if t == self._warmup_steps - 1 and self.adapt_step_size:
            self._end_step_size_adaptation()
