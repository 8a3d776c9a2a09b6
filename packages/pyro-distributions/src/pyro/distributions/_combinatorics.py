"""What the matching distributions share: sums over capacity-respecting assignments, and the
distribution base class built on them.

The matching distributions (:mod:`~pyro.distributions.one_one_matching`,
:mod:`~pyro.distributions.one_two_matching`) share these computations on a ``(S, D)`` matrix
of logits where every source picks one destination and every destination is picked exactly
``capacity`` times (``S == capacity * D``):

- the log-sum over all such assignments of ``sum_s logits[s, v[s]]`` (for ``capacity == 1`` the
  log-permanent), by dynamic programming over how full each destination is after the first
  ``k`` sources; exact, differentiable, ``O(S * D * (capacity + 1) ** D)``;
- exact joint draws from the same tables, backwards from the last source;
- the maximum-weight assignment (the Hungarian algorithm, ``O(n ** 3)``);
- a cheap approximation of the log-permanent: the Bethe free energy of the balanced
  (Sinkhorn) marginals;
- :class:`AssignmentDistribution`, the base of ``OneOneMatching`` and ``OneTwoMatching``, and
  :class:`AssignmentConstraint`, their support.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, List, Optional, Sequence, Tuple

import torch
from torch.distributions.utils import lazy_property

from pyro.distributions import constraints
from pyro.distributions.torch_distribution import TorchDistribution


@functools.lru_cache(maxsize=32)
def _state_graph(num_destins: int, capacity: int) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
    """The fill states of ``num_destins`` destinations of capacity ``capacity``, by level.

    A state is how many sources each destination holds (a mixed-radix number); level ``k``
    holds the states with ``k`` sources placed. Returns, for each level ``k >= 1``, a
    ``(states_k, D)`` tensor ``prev`` giving the rank in level ``k - 1`` of the state with one
    source fewer at destination ``j`` (``-1`` where destination ``j`` is empty), and the
    per-level boolean masks ``prev >= 0``.
    """
    base = capacity + 1
    powers = torch.tensor([base ** j for j in range(num_destins)], dtype=torch.long)
    states = torch.arange(base ** num_destins, dtype=torch.long)
    digits = states.unsqueeze(-1) // powers % base
    level = digits.sum(-1)
    rank = torch.empty_like(states)
    prevs, valids = [], []
    for k in range(capacity * num_destins + 1):
        members = (level == k).nonzero().squeeze(-1)
        rank[members] = torch.arange(members.numel())
        if k == 0:
            continue
        valid = digits[members] > 0
        pred = (members.unsqueeze(-1) - powers).clamp(min=0)
        prevs.append(torch.where(valid, rank[pred], -1))
        valids.append(valid)
    return prevs, valids


def assignment_tables(logits: torch.Tensor, capacity: int) -> List[torch.Tensor]:
    """Forward tables of the exact assignment sum.

    ``tables[k][r]`` is the log-sum, over the ways of placing sources ``0..k-1``, of their
    logits, for the ``r``-th fill state of level ``k``; ``tables[-1][0]`` is the log partition
    function. Differentiable in ``logits`` (shape ``(capacity * D, D)``).
    """
    num_destins = logits.size(-1)
    prevs, valids = _state_graph(num_destins, capacity)
    tables = [logits.new_zeros(1)]
    for k, (prev, valid) in enumerate(zip(prevs, valids)):
        prev, valid = prev.to(logits.device), valid.to(logits.device)
        terms = tables[-1][prev.clamp(min=0)] + logits[k]
        tables.append(terms.masked_fill(~valid, -math.inf).logsumexp(-1))
    return tables


def log_assignment_sum(logits: torch.Tensor, capacity: int) -> torch.Tensor:
    """The exact log-sum over capacity-respecting assignments (a scalar tensor)."""
    if logits.size(-1) == 0:
        return logits.new_zeros(())
    return assignment_tables(logits, capacity)[-1][0]


def sample_assignments(logits: torch.Tensor, capacity: int, num_samples: int) -> torch.Tensor:
    """``num_samples`` exact draws, a ``(num_samples, S)`` long tensor of destinations.

    Each draw has probability ``exp(sum_s logits[s, v[s]] - log Z)``: the last source picks
    its destination given everything before it can be completed, and so on backwards.
    """
    num_sources, num_destins = logits.shape
    out = torch.empty(num_samples, num_sources, dtype=torch.long, device=logits.device)
    if num_sources == 0 or num_samples == 0:
        return out
    with torch.no_grad():
        tables = assignment_tables(logits, capacity)
        prevs, valids = _state_graph(num_destins, capacity)
        rank = torch.zeros(num_samples, dtype=torch.long, device=logits.device)
        for k in range(num_sources, 0, -1):
            prev = prevs[k - 1].to(logits.device)[rank]
            valid = valids[k - 1].to(logits.device)[rank]
            scores = tables[k - 1][prev.clamp(min=0)] + logits[k - 1]
            scores = scores.masked_fill(~valid, -math.inf)
            choice = torch.distributions.Categorical(logits=scores).sample()
            out[:, k - 1] = choice
            rank = prev.gather(-1, choice.unsqueeze(-1)).squeeze(-1)
    return out


def max_weight_assignment(logits: torch.Tensor) -> torch.Tensor:
    """The permutation ``v`` maximising ``sum_i logits[i, v[i]]`` of a square matrix.

    The Hungarian algorithm with potentials (shortest augmenting paths), ``O(n ** 3)``, on
    the CPU in float64; ``-inf`` logits (forbidden pairs) are treated as a cost larger than
    any feasible total. Returns a long tensor of shape ``(n,)`` on ``logits``' device.
    """
    n = logits.size(0)
    cost = -logits.detach().to("cpu", torch.float64)
    finite = cost[torch.isfinite(cost)]
    big = (float(finite.abs().max()) + 1.0) * (n + 1) if finite.numel() else 1.0
    cost = torch.nan_to_num(cost, posinf=big, neginf=-big).tolist()
    inf = math.inf
    u = [0.0] * (n + 1)
    v = [0.0] * (n + 1)
    match = [0] * (n + 1)  # match[j] = row (1-based) assigned to column j; 0 = none
    way = [0] * (n + 1)
    for i in range(1, n + 1):
        match[0] = i
        j0 = 0
        minv = [inf] * (n + 1)
        used = [False] * (n + 1)
        while True:
            used[j0] = True
            i0 = match[j0]
            row = cost[i0 - 1]
            ui0 = u[i0]
            delta, j1 = inf, 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = row[j - 1] - ui0 - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[match[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if match[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
    result = [0] * n
    for j in range(1, n + 1):
        result[match[j] - 1] = j - 1
    return torch.tensor(result, dtype=torch.long, device=logits.device)


def bethe_log_permanent(logits: torch.Tensor, iters: int) -> torch.Tensor:
    """An approximate log-permanent of the square matrix ``exp(logits)``.

    Balances ``exp(logits)`` towards a doubly stochastic matrix ``P`` by ``iters`` rounds of
    row then column normalisation (in log space), and returns the Bethe free energy there,
    ``sum P * logits - sum P log P + sum (1 - P) log(1 - P)``. Differentiable.
    """
    u = logits
    for _ in range(iters):
        u = u - u.logsumexp(-1, keepdim=True)
        u = u - u.logsumexp(-2, keepdim=True)
    p = u.exp()
    q = (1 - p).clamp(min=torch.finfo(p.dtype).tiny)
    energy = (p * logits.masked_fill(p == 0, 0.0)).sum()
    return energy - torch.special.xlogy(p, p).sum() + (q * q.log()).sum()


class AssignmentConstraint(constraints.Constraint):
    """Long tensors of shape ``(..., capacity * D)`` with values in ``{0, ..., D-1}`` taking
    every value exactly ``capacity`` times (``check`` answers per assignment)."""

    is_discrete = True
    event_dim = 1

    def __init__(self, num_destins: int, capacity: int) -> None:
        self.num_destins = num_destins
        self.capacity = capacity
        super().__init__()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def check(self, value: torch.Tensor) -> torch.Tensor:
        """A boolean tensor of shape ``value.shape[:-1]``: which rows are valid assignments.

        Warns (as Pyro does) with ``Invalid event_shape``, ``Value out of bounds`` or
        ``Matching is not binary`` when some row is not one.
        """
        size = self.capacity * self.num_destins
        if value.dim() == 0 or value.size(-1) != size:
            warnings.warn(f"Invalid event_shape: {value.shape}")
            return torch.zeros(value.shape[:-1], dtype=torch.bool, device=value.device)
        in_bounds = ((value >= 0) & (value < self.num_destins)).all(-1)
        if not bool(in_bounds.all()):
            warnings.warn("Value out of bounds")
        index = value.clamp(0, max(self.num_destins - 1, 0))
        counts = torch.zeros(value.shape[:-1] + (self.num_destins,), dtype=torch.long,
                             device=value.device)
        counts.scatter_add_(-1, index, torch.ones_like(index))
        full = (counts == self.capacity).all(-1) & in_bounds
        if bool(in_bounds.all()) and not bool(full.all()):
            warnings.warn("Matching is not binary")
        return full


class AssignmentDistribution(TorchDistribution):
    """Base of distributions over assignments of ``S = capacity * D`` sources to ``D``
    destinations, each destination taking exactly ``capacity`` sources, with
    ``log p(v) = sum_s logits[s, v[s]] - log Z``.

    Subclasses set ``_capacity`` and ``_constraint`` (a subclass of
    :class:`AssignmentConstraint`) and call :meth:`_setup`.
    """

    arg_constraints = {"logits": constraints.real}
    has_enumerate_support = True
    _capacity = 1
    _constraint: type = AssignmentConstraint

    def _setup(self, logits: Any, bp_iters: Optional[int], validate_args: Optional[bool],
               shape_text: str) -> None:
        name = type(self).__name__
        logits = torch.as_tensor(logits)
        if logits.dim() > 2:
            raise NotImplementedError(
                f"{name} does not support batching: logits must have shape {shape_text}, "
                f"got shape {tuple(logits.shape)}")
        if logits.dim() != 2 or logits.size(0) != self._capacity * logits.size(1) or \
                logits.size(1) == 0:
            raise ValueError(
                f"{name}: logits must have shape {shape_text} with N >= 1, got shape "
                f"{tuple(logits.shape)}")
        if bp_iters is not None and (isinstance(bp_iters, bool) or not isinstance(bp_iters, int)
                                     or bp_iters < 1):
            raise ValueError(f"{name}: bp_iters must be None or a positive int, got {bp_iters!r}")
        self.logits = logits
        self.bp_iters = bp_iters
        super().__init__(torch.Size(), logits.shape[:1], validate_args=validate_args)

    @constraints.dependent_property
    def support(self) -> AssignmentConstraint:
        """The valid assignments for these logits' shape."""
        return self._constraint(self.logits.size(1), self._capacity)

    def _bethe(self) -> torch.Tensor:
        """The Bethe approximation of the log partition function; each matching defines it."""
        raise NotImplementedError(f"{type(self).__name__} defines no Bethe approximation")

    @lazy_property
    def log_partition_function(self) -> torch.Tensor:
        """``log Z``: exact (by dynamic programming) when ``bp_iters`` is None, else the Bethe
        approximation after ``bp_iters`` balancing rounds."""
        if self.bp_iters is None:
            return log_assignment_sum(self.logits, self._capacity)
        return self._bethe()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``sum_s logits[s, value[..., s]] - log Z``, of shape ``value.shape[:-1]``."""
        if self._validate_args:
            self._validate_sample(value)
        sources = torch.arange(self.logits.size(0), device=self.logits.device)
        return self.logits[sources, value].sum(-1) - self.log_partition_function

    def sample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Exact draws of shape ``sample_shape + (S,)``; needs ``bp_iters=None``.

        Raises:
            NotImplementedError: ``bp_iters`` is set (exact draws would be too costly).
        """
        if self.bp_iters is not None:
            raise NotImplementedError(
                f"{type(self).__name__}.sample() draws exactly and needs bp_iters=None "
                f"(got bp_iters={self.bp_iters})")
        sample_shape = torch.Size(sample_shape)
        draws = sample_assignments(self.logits.detach(), self._capacity, sample_shape.numel())
        return draws.reshape(sample_shape + self.event_shape)


__all__ = [
    "AssignmentConstraint",
    "AssignmentDistribution",
    "assignment_tables",
    "bethe_log_permanent",
    "log_assignment_sum",
    "max_weight_assignment",
    "sample_assignments",
]
