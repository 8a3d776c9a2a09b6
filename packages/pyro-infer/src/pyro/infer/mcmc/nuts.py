"""``NUTS``: the No-U-Turn Sampler, with iterative tree building and multinomial sampling.

A trajectory doubles in a random direction until its ends turn back towards each other (the
generalised U-turn criterion on the summed momenta), a leaf diverges, or ``max_tree_depth``
doublings are done. Each new subtree is built leaf by leaf: the U-turn checks of its own
sub-subtrees use checkpoints (the velocity at the start of each level's current sub-subtree
and the momentum sum before it), so memory is linear in the depth and no recursion is needed.
The proposal is drawn uniformly (by weight) within a subtree and with Betancourt's biased
progressive sampling when subtrees merge.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from pyro.infer.autoguide.initialization import init_to_uniform
from pyro.infer.mcmc.hmc import HMC, MAX_ENERGY_ERROR

__all__ = ["NUTS"]

Params = Dict[str, torch.Tensor]


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def _turning(v_left: torch.Tensor, v_right: torch.Tensor, r_sum: torch.Tensor) -> bool:
    """The generalised U-turn criterion: either end's velocity points against the momentum sum."""
    return bool(torch.dot(v_left, r_sum) <= 0) or bool(torch.dot(v_right, r_sum) <= 0)


class _Subtree:
    __slots__ = ("z", "r", "grad", "v", "proposal", "log_weight", "r_sum", "sum_accept",
                 "num_leaves", "turning", "diverging")


class NUTS(HMC):
    """The No-U-Turn Sampler: HMC whose trajectory length adapts to each transition.

    Args:
        model, potential_fn, step_size, adapt_step_size, adapt_mass_matrix, full_mass,
        transforms, max_plate_nesting, jit_compile, jit_options, ignore_jit_warnings,
        target_accept_prob, init_strategy: as in :class:`~pyro.infer.mcmc.HMC`.
        use_multinomial_sampling: draw the proposal from the trajectory by multinomial
            sampling (``True``) or by slice sampling (``False``).
        max_tree_depth: at most ``2 ** max_tree_depth`` leapfrog steps per transition.
    """

    def __init__(self, model: Optional[Callable] = None,
                 potential_fn: Optional[Callable[[Params], torch.Tensor]] = None,
                 step_size: float = 1, adapt_step_size: bool = True,
                 adapt_mass_matrix: bool = True,
                 full_mass: Union[bool, Sequence[Tuple[str, ...]]] = False,
                 use_multinomial_sampling: bool = True, transforms: Optional[Dict[str, Any]] = None,
                 max_plate_nesting: Optional[int] = None, jit_compile: bool = False,
                 jit_options: Optional[Dict[str, Any]] = None, ignore_jit_warnings: bool = False,
                 target_accept_prob: float = 0.8, max_tree_depth: int = 10,
                 init_strategy: Callable = init_to_uniform) -> None:
        super().__init__(model, potential_fn, step_size, adapt_step_size=adapt_step_size,
                         adapt_mass_matrix=adapt_mass_matrix, full_mass=full_mass,
                         transforms=transforms, max_plate_nesting=max_plate_nesting,
                         jit_compile=jit_compile, jit_options=jit_options,
                         ignore_jit_warnings=ignore_jit_warnings,
                         target_accept_prob=target_accept_prob, init_strategy=init_strategy)
        if isinstance(max_tree_depth, bool) or not isinstance(max_tree_depth, int) or max_tree_depth < 1:
            raise ValueError(f"NUTS: max_tree_depth must be a positive int, got {max_tree_depth!r}")
        self.use_multinomial_sampling = use_multinomial_sampling
        self._max_tree_depth = max_tree_depth
        self._tree_depths: List[int] = []

    def _build_subtree(self, z: torch.Tensor, r: torch.Tensor, grad: torch.Tensor, step: float,
                       depth: int, h0: float, log_slice: float) -> _Subtree:
        """Integrate ``2 ** depth`` leaves from ``(z, r)`` with signed step ``step``."""
        mass = self._mass
        velocity = mass.velocity
        half = 0.5 * step
        multinomial = self.use_multinomial_sampling
        tree = _Subtree()
        tree.proposal = None
        tree.log_weight = -math.inf
        tree.sum_accept = 0.0
        tree.num_leaves = 0
        tree.turning = tree.diverging = False
        checkpoints: List[Any] = [None] * (depth + 1)
        r_sum = torch.zeros_like(r)
        v = None
        for n in range(1 << depth):
            r = r - half * grad
            v = velocity(r)
            z = z + step * v
            energy, grad = self._energy_and_grad(z)
            r = r - half * grad
            v = velocity(r)
            h = float(energy) + 0.5 * float(torch.dot(r, v))
            delta = h - h0
            if delta != delta:  # NaN
                delta = math.inf
            tree.num_leaves += 1
            tree.sum_accept += math.exp(min(0.0, -delta))
            if multinomial:
                leaf_log_weight = -delta
                diverging = delta > MAX_ENERGY_ERROR
            else:
                leaf_log_weight = 0.0 if -h >= log_slice else -math.inf
                diverging = -h < log_slice - MAX_ENERGY_ERROR
            if diverging:
                tree.diverging = True
                break
            new_weight = _logaddexp(tree.log_weight, leaf_log_weight)
            if leaf_log_weight > -math.inf and (
                    tree.proposal is None
                    or math.log(torch.rand(()).item() + 1e-300) < leaf_log_weight - new_weight):
                tree.proposal = (z, energy, grad)
            tree.log_weight = new_weight
            for k in range(1, depth + 1):
                if n % (1 << k) == 0:
                    checkpoints[k] = (v, r_sum)
            r_sum = r_sum + r
            for k in range(1, depth + 1):
                if n % (1 << k) == (1 << k) - 1:
                    v_first, sum_before = checkpoints[k]
                    if _turning(v_first, v, r_sum - sum_before):
                        tree.turning = True
                        break
            if tree.turning:
                break
        tree.z, tree.r, tree.grad, tree.v, tree.r_sum = z, r, grad, v, r_sum
        return tree

    def sample(self, params: Params) -> Params:
        """One NUTS transition from ``params``."""
        self._sync(params)
        with torch.no_grad():
            mass = self._mass
            z0, grad0 = self._z, self._grad
            r0 = mass.sample_momentum()
            v0 = mass.velocity(r0)
            h0 = float(self._energy) + 0.5 * float(torch.dot(r0, v0))
            log_slice = 0.0
            if not self.use_multinomial_sampling:
                log_slice = math.log(torch.rand(()).item() + 1e-300) - h0
            left = right = (z0, r0, grad0, v0)
            proposal = (z0, self._energy, grad0)
            log_weight = 0.0 if self.use_multinomial_sampling else (
                0.0 if -h0 >= log_slice else -math.inf)
            r_sum = r0
            sum_accept = 0.0
            num_leaves = 0
            diverging = False
            depth = 0
            step_size = self.step_size
            while depth < self._max_tree_depth:
                forward = torch.rand(()).item() < 0.5
                start = right if forward else left
                tree = self._build_subtree(start[0], start[1], start[2],
                                           step_size if forward else -step_size, depth, h0,
                                           log_slice)
                depth += 1
                sum_accept += tree.sum_accept
                num_leaves += tree.num_leaves
                if tree.diverging:
                    diverging = True
                    break
                if tree.turning:
                    break
                if tree.proposal is not None and (
                        tree.log_weight >= log_weight
                        or torch.rand(()).item() < math.exp(tree.log_weight - log_weight)):
                    proposal = tree.proposal
                log_weight = _logaddexp(log_weight, tree.log_weight)
                end = (tree.z, tree.r, tree.grad, tree.v)
                if forward:
                    right = end
                else:
                    left = end
                r_sum = r_sum + tree.r_sum
                if _turning(left[3], right[3], r_sum):
                    break
            if diverging and self._t >= self._warmup_steps:
                self._divergences.append(self._t - self._warmup_steps)
            accept_prob = sum_accept / num_leaves if num_leaves else 0.0
            if proposal[0] is not z0 and self._t >= self._warmup_steps:
                self._accept_cnt += 1
            self._z, self._energy, self._grad = proposal
            self._tree_depths.append(depth)
        self._adapt(accept_prob)
        return self._output()
