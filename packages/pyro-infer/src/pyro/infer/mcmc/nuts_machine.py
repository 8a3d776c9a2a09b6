"""The NUTS transitions of several chains as one tensor state, advanced one leaf per call.

Each chain is at its own point of its own trajectory: a chain whose transition ends starts its
next one (after the caller has adapted it) while the others go on, so no chain waits for the
deepest tree of a batch and every leaf evaluates the potential of (nearly) every chain. The
whole bookkeeping of a leaf lives in tensors: the leapfrog step, the energy error and the
divergence test, the multinomial sampling within the subtree, the U-turn checkpoints of the
subtree's sub-subtrees (one slot per level, set and checked by the bits of the leaf index), the
merge of a finished subtree into the tree with biased progressive sampling, the U-turn test of
the whole tree and the choice of the next direction. One leaf is thus one graph without host
syncs (:mod:`~pyro.infer.mcmc.compiled` captures it); the caller reads one flag per leaf.

The state is a tuple of tensors in the order of :data:`FIELDS`. The two ends of a trajectory
are held as ``tip`` (the end the current subtree grows from, which the new leaves replace) and
``other``, each ``(C, 4, D)``: position, momentum, potential gradient and velocity; the
proposals (``s_prop`` of the subtree, ``prop`` of the tree) are such points too. Random numbers
come in as arguments (log-uniforms of shape ``(C, 3)`` per leaf), so a leaf is a deterministic
function of its inputs. Every step is written in few tensor ops (each op costs a microsecond
or two whatever its size: the bookkeeping of a leaf is about half of its time).

Each transition is exactly the transition of :class:`~pyro.infer.mcmc.NUTS` with multinomial
sampling: the same doubling, the same generalised U-turn criterion on the momentum sums, the
same divergence threshold and the same proposal probabilities.
"""

from __future__ import annotations

import math
from typing import Callable, Tuple

import torch

from pyro.infer.mcmc.hmc import MAX_ENERGY_ERROR

__all__ = ["FIELDS", "begin", "initial_state", "leaf"]

#: The names of the state tensors, in order.
FIELDS = ("tip", "other", "sign", "n", "size", "s_log_w", "s_r_sum", "s_prop", "s_pe", "ck", "h0",
          "log_w", "r_sum", "prop", "pe", "sum_accept", "n_leaves", "moved", "diverged", "live")

State = Tuple[torch.Tensor, ...]
EnergyGrad = Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]

_LOG_HALF = math.log(0.5)


def _velocity(inverse: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    if inverse.dim() == 3:  # dense (C, D, D)
        return (inverse @ r.unsqueeze(-1)).squeeze(-1)
    return inverse * r


def initial_state(z: torch.Tensor, energy: torch.Tensor, grad: torch.Tensor,
                  max_tree_depth: int) -> State:
    """A state of ``C`` idle chains at positions ``z`` ``(C, D)`` with their energies and
    gradients; :func:`begin` starts their transitions."""
    C, D = z.shape
    levels = max(max_tree_depth - 1, 1)
    zeros = torch.zeros(C, dtype=z.dtype, device=z.device)
    false = torch.zeros(C, dtype=torch.bool, device=z.device)
    point = torch.stack([z, torch.zeros_like(z), grad, torch.zeros_like(z)], 1)
    ints = torch.ones(C, dtype=torch.long, device=z.device)
    ck = torch.zeros(C, levels, 2, D, dtype=z.dtype, device=z.device)
    return (point, point.clone(), zeros + 1, ints - 1, ints, zeros.clone(), torch.zeros_like(z),
            point.clone(), energy, ck, zeros.clone(), zeros.clone(), torch.zeros_like(z),
            point.clone(), energy.clone(), zeros.clone(), zeros.clone(), false, false.clone(),
            false.clone())


def begin(state: State, start: torch.Tensor, inverse: torch.Tensor, factor: torch.Tensor,
          noise: torch.Tensor, log_u: torch.Tensor) -> State:
    """Start a new transition from the current sample of every chain where ``start`` ``(C,)``
    is true: fresh momenta ``factor @ noise`` (``noise`` standard normal ``(C, D)``) and the
    first direction from the log-uniforms ``log_u`` ``(C,)``."""
    (tip, other, sign, n, size, s_log_w, s_r_sum, s_prop, s_pe, ck, h0, log_w, r_sum, prop, pe,
     sum_accept, n_leaves, moved, diverged, live) = state
    r0 = _velocity(factor, noise)
    v0 = _velocity(inverse, r0)
    s = start.unsqueeze(-1)
    point = torch.stack([prop[:, 0], r0, prop[:, 2], v0], 1)
    s3 = s.unsqueeze(-1)
    tip = torch.where(s3, point, tip)
    other = torch.where(s3, point, other)
    h0 = torch.where(start, torch.add(pe, (r0 * v0).sum(-1), alpha=0.5), h0)
    sign = torch.where(start, torch.where(log_u < _LOG_HALF, 1.0, -1.0), sign)
    n = torch.where(start, 0, n)
    size = torch.where(start, 1, size)
    s_log_w = torch.where(start, -math.inf, s_log_w)
    s_r_sum = torch.where(s, 0.0, s_r_sum)
    log_w = torch.where(start, 0.0, log_w)
    r_sum = torch.where(s, r0, r_sum)
    sum_accept = torch.where(start, 0.0, sum_accept)
    n_leaves = torch.where(start, 0.0, n_leaves)
    moved = moved & ~start
    diverged = diverged & ~start
    live = live | start
    return (tip, other, sign, n, size, s_log_w, s_r_sum, s_prop, s_pe, ck, h0, log_w, r_sum, prop,
            pe, sum_accept, n_leaves, moved, diverged, live)


def leaf(energy_and_grad: EnergyGrad, max_tree_depth: int, state: State, eps: torch.Tensor,
         inverse: torch.Tensor, log_u: torch.Tensor) -> Tuple[State, torch.Tensor]:
    """One leapfrog leaf of every live chain and all that follows from it; returns the new
    state and ``done`` ``(C,)``: the chains whose transition ended at this leaf (their sample
    is ``prop``, energy ``pe``; they stay idle until :func:`begin`).

    Args:
        energy_and_grad: ``(C, D) -> ((C,), (C, D))`` potentials and gradients.
        max_tree_depth: at most this many doublings per transition.
        state: the state (:data:`FIELDS`).
        eps: the step sizes ``(C,)``.
        inverse: the inverse mass matrices ``(C, D)`` or ``(C, D, D)``.
        log_u: log-uniforms ``(C, 3)``: the leaf's proposal draw, the merge's and the next
            direction's.
    """
    (tip, other, sign, n, size, s_log_w, s_r_sum, s_prop, s_pe, ck, h0, log_w, r_sum, prop, pe,
     sum_accept, n_leaves, moved, diverged, live) = state
    livef = live.to(eps.dtype)
    step = (eps * sign * livef).unsqueeze(-1)  # idle chains stay put (step 0)
    half = 0.5 * step
    r1 = torch.addcmul(tip[:, 1], half, tip[:, 2], value=-1.0)
    z1 = torch.addcmul(tip[:, 0], step, _velocity(inverse, r1))
    e1, g1 = energy_and_grad(z1)
    r1 = torch.addcmul(r1, half, g1, value=-1.0)
    v1 = _velocity(inverse, r1)
    # Minus the energy error (-inf for NaN), the acceptance statistic and the divergence test.
    nd = torch.sub(h0 - e1, (r1 * v1).sum(-1), alpha=0.5)
    nd = torch.nan_to_num(nd, nan=-math.inf, posinf=math.inf, neginf=-math.inf)
    sum_accept = torch.addcmul(sum_accept, livef, torch.clamp(nd, max=0.0).exp())
    n_leaves = n_leaves + livef
    valid = live & (nd >= -MAX_ENERGY_ERROR)
    div = live ^ valid
    # Multinomial sampling within the subtree (an invalid leaf has weight zero).
    leaf_w = torch.where(valid, nd, -math.inf)
    new_w = torch.logaddexp(s_log_w, leaf_w)
    take = log_u[:, 0] < leaf_w - new_w
    point = torch.stack([z1, r1, g1, v1], 1)
    s_prop = torch.where(take[:, None, None], point, s_prop)
    s_pe = torch.where(take, e1, s_pe)
    s_log_w = new_w
    vl = valid.unsqueeze(-1)
    sum_before = s_r_sum
    s_r_sum = torch.where(vl, s_r_sum + r1, s_r_sum)
    tip = torch.where(vl.unsqueeze(-1), point, tip)
    # U-turn checkpoints of the sub-subtrees: level k (slot k - 1) starts at the leaves
    # n = 0 mod 2^k, where it saves the velocity and the momentum sum before the leaf, and
    # ends at n = -1 mod 2^k, where it is checked.
    levels = ck.shape[1]
    sizes = 2 ** torch.arange(1, levels + 1, device=n.device)
    pos = n.unsqueeze(-1) % sizes
    first = (pos == 0) & vl
    saved = torch.stack([v1, sum_before], 1).unsqueeze(1)
    ck = torch.where(first[:, :, None, None], saved, ck)
    rho = s_r_sum.unsqueeze(1) - ck[:, :, 1]
    turn = torch.minimum((ck[:, :, 0] * rho).sum(-1), (v1.unsqueeze(1) * rho).sum(-1)) <= 0
    turning = valid & (turn & (pos == sizes - 1)).any(-1)
    n = n + valid
    bad = div | turning
    sub_end = bad | (live & (n == size))
    sub_ok = sub_end ^ bad  # (bad implies sub_end; likewise below, xor is "and not")
    # A finished subtree joins the tree (biased progressive sampling), then the U-turn test of
    # the whole trajectory.
    take_sub = sub_ok & (log_u[:, 1] < s_log_w - log_w)
    prop = torch.where(take_sub[:, None, None], s_prop, prop)
    pe = torch.where(take_sub, s_pe, pe)
    moved = moved | take_sub
    log_w = torch.where(sub_ok, torch.logaddexp(log_w, s_log_w), log_w)
    r_sum = torch.where(sub_ok.unsqueeze(-1), r_sum + s_r_sum, r_sum)
    ends = torch.stack([tip[:, 3], other[:, 3]], 1)
    no_turn = (ends * r_sum.unsqueeze(1)).sum(-1).amin(-1) > 0
    size = torch.where(sub_ok, 2 * size, size)
    more = sub_ok & no_turn & (size < 2 ** max_tree_depth)
    done = sub_end ^ more
    diverged = diverged | div
    # The next subtree: a random direction (the ends swap roles when it turns around).
    new_sign = torch.where(log_u[:, 2] < _LOG_HALF, 1.0, -1.0)
    swap = (more & (new_sign != sign))[:, None, None]
    tip, other = torch.where(swap, other, tip), torch.where(swap, tip, other)
    sign = torch.where(more, new_sign, sign)
    n = torch.where(more, 0, n)
    s_log_w = torch.where(more, -math.inf, s_log_w)
    s_r_sum = torch.where(more.unsqueeze(-1), 0.0, s_r_sum)
    live = live ^ done
    state = (tip, other, sign, n, size, s_log_w, s_r_sum, s_prop, s_pe, ck, h0, log_w, r_sum,
             prop, pe, sum_accept, n_leaves, moved, diverged, live)
    return state, done
