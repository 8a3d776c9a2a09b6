"""``OneOneMatching``: a random perfect matching (a permutation) weighted by edge logits."""

from __future__ import annotations

import itertools
from typing import Any, Optional

import torch

from pyro.distributions._combinatorics import (
    AssignmentConstraint,
    AssignmentDistribution,
    bethe_log_permanent,
    max_weight_assignment,
)


class OneOneMatchingConstraint(AssignmentConstraint):
    """Permutations of ``{0, ..., N-1}`` (long tensors of shape ``(..., N)``)."""


def maximum_weight_matching(logits: torch.Tensor) -> torch.Tensor:
    """The permutation ``v`` (a long tensor of shape ``(N,)``) maximising
    ``sum_s logits[s, v[s]]`` for an ``(N, N)`` matrix of logits."""
    return max_weight_assignment(logits)


class OneOneMatching(AssignmentDistribution):
    """A random matching of ``N`` sources to ``N`` destinations, one to one.

    A value is a long tensor ``v`` of shape ``(N,)``, a permutation of ``{0, ..., N-1}``
    (source ``s`` goes to destination ``v[s]``), with
    ``log p(v) = sum_s logits[s, v[s]] - log Z``: ``Z`` is the permanent of ``exp(logits)``.

    Exact computations (``bp_iters=None``) cost ``O(N ** 2 * 2 ** N)``: the log-permanent by
    dynamic programming over the sets of destinations taken, and exact draws from the same
    tables. With ``bp_iters`` set, :attr:`log_partition_function` (and so :meth:`log_prob`)
    is the Bethe free energy at the marginals that ``bp_iters`` rounds of row and column
    balancing give (cheap for large ``N``, a lower estimate of the exact value), and
    :meth:`sample` is unavailable.

    Args:
        logits: an ``(N, N)`` tensor of edge logits (no batch dimensions).
        bp_iters: None (exact) or the number of balancing iterations (a positive int).
        validate_args: as for every distribution.

    Raises:
        ValueError: ``logits`` is not square, or ``bp_iters`` is not a positive int.
        NotImplementedError: ``logits`` has batch dimensions.
    """

    _capacity = 1
    _constraint = OneOneMatchingConstraint

    def __init__(self, logits: Any, *, bp_iters: Optional[int] = None,
                 validate_args: Optional[bool] = None) -> None:
        self._setup(logits, bp_iters, validate_args, "(N, N)")
        self.num_nodes = self.logits.size(0)

    def _bethe(self) -> torch.Tensor:
        return bethe_log_permanent(self.logits, self.bp_iters)

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        """All ``N!`` permutations in lexicographic order, shape ``(N!, N)``."""
        perms = list(itertools.permutations(range(self.num_nodes)))
        return torch.tensor(perms, dtype=torch.long, device=self.logits.device)

    def mode(self) -> torch.Tensor:
        """The most probable matching (the maximum-weight permutation), shape ``(N,)``."""
        return maximum_weight_matching(self.logits)


__all__ = ["OneOneMatching", "OneOneMatchingConstraint", "maximum_weight_matching"]
