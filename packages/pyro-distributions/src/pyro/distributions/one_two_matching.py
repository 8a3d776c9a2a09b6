"""``OneTwoMatching``: a random matching of ``2 N`` sources to ``N`` destinations, two each."""

from __future__ import annotations

import math
from typing import Any, Optional

import torch

from pyro.distributions._combinatorics import (
    AssignmentConstraint,
    AssignmentDistribution,
    bethe_log_permanent,
    max_weight_assignment,
)


class OneTwoMatchingConstraint(AssignmentConstraint):
    """Long tensors of shape ``(..., 2 N)`` taking every value of ``{0, ..., N-1}`` twice."""


def maximum_weight_matching(logits: torch.Tensor) -> torch.Tensor:
    """The assignment ``v`` (a long tensor of shape ``(2 N,)``, every destination taken
    twice) maximising ``sum_s logits[s, v[s]]`` for a ``(2 N, N)`` matrix of logits."""
    num_destins = logits.size(-1)
    return max_weight_assignment(torch.cat([logits, logits], -1)) % num_destins


def enumerate_one_two_matchings(num_destins: int) -> torch.Tensor:
    """Every one-two matching of ``2 * num_destins`` sources, a long tensor of shape
    ``((2N)! / 2 ** N, 2N)``.

    The order is Pyro's: the sources of the last destination run over the pairs
    ``(a, b)``, ``a < b``, in colexicographic order (``(0,1), (0,2), (1,2), (0,3), ...``),
    and for each pair the other sources, in order, take the matchings of one destination
    fewer.
    """
    if num_destins == 0:
        return torch.zeros(1, 0, dtype=torch.long)
    top = num_destins - 1
    size = 2 * num_destins
    rest = enumerate_one_two_matchings(top)
    blocks = []
    for b in range(size):
        for a in range(b):
            block = torch.full((rest.size(0), size), top, dtype=torch.long)
            others = [s for s in range(size) if s != a and s != b]
            block[:, others] = rest
            blocks.append(block)
    return torch.cat(blocks)


class OneTwoMatching(AssignmentDistribution):
    """A random matching of ``2 N`` sources to ``N`` destinations: every source goes to one
    destination and every destination receives exactly two sources.

    A value is a long tensor ``v`` of shape ``(2 N,)`` with values in ``{0, ..., N-1}``, each
    taken twice, and ``log p(v) = sum_s logits[s, v[s]] - log Z``.

    Exact computations (``bp_iters=None``) cost ``O(N ** 2 * 3 ** N)`` (dynamic programming
    over how full every destination is). With ``bp_iters`` set,
    :attr:`log_partition_function` (and so :meth:`log_prob`) is approximate: ``Z`` equals the
    permanent of the ``(2 N, 2 N)`` matrix ``exp([logits, logits])`` divided by ``2 ** N``, and
    that permanent is approximated as :class:`~pyro.distributions.OneOneMatching` does.
    :meth:`sample` is then unavailable.

    Args:
        logits: a ``(2 N, N)`` tensor of edge logits (no batch dimensions).
        bp_iters: None (exact) or the number of balancing iterations (a positive int).
        validate_args: as for every distribution.

    Raises:
        ValueError: ``logits`` is not of shape ``(2 N, N)``, or ``bp_iters`` is not a positive
            int.
        NotImplementedError: ``logits`` has batch dimensions.
    """

    _capacity = 2
    _constraint = OneTwoMatchingConstraint

    def __init__(self, logits: Any, *, bp_iters: Optional[int] = None,
                 validate_args: Optional[bool] = None) -> None:
        self._setup(logits, bp_iters, validate_args, "(2 * N, N)")
        self.num_sources, self.num_destins = self.logits.shape

    def _bethe(self) -> torch.Tensor:
        doubled = torch.cat([self.logits, self.logits], -1)
        return bethe_log_permanent(doubled, self.bp_iters) - self.num_destins * math.log(2)

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        """All one-two matchings in Pyro's order (see :func:`enumerate_one_two_matchings`)."""
        return enumerate_one_two_matchings(self.num_destins).to(self.logits.device)

    def mode(self) -> torch.Tensor:
        """The most probable matching (maximum weight), shape ``(2 N,)``."""
        return maximum_weight_matching(self.logits)


__all__ = [
    "OneTwoMatching",
    "OneTwoMatchingConstraint",
    "enumerate_one_two_matchings",
    "maximum_weight_matching",
]
