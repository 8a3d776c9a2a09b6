"""``SplitReparam``: draw a site's event in pieces, each its own site."""

from __future__ import annotations

import numbers
from typing import Any, Callable, List, Sequence

import torch

import pyro
import pyro.distributions as dist
from pyro.distributions import constraints
from pyro.infer.arg_checks import EngineArgumentTypeError, describe
from pyro.infer.reparam.reparam import Reparam, ReparamMessage, ReparamResult


def default_support(fn: Any, slice: slice, dim: int) -> Any:
    """The support of one piece of ``fn``'s value cut along ``dim``: ``fn.support`` itself
    for constraints that act element by element (the usual case), in the event dims of the
    piece."""
    support = fn.support
    while isinstance(support, constraints.independent):
        support = support.base_constraint
    if support.event_dim != 0:
        raise NotImplementedError(
            f"SplitReparam cannot split a value whose support {support} couples its elements; "
            f"pass a support_fn")
    return constraints.independent(support, len(fn.event_shape)) if fn.event_shape else support


class SplitReparam(Reparam):
    """Draw a site's value as pieces along an event dim, at ``<name>_split_<i>``.

    The pieces have improper uniform priors on their supports; the site gets a ``Delta`` at
    the joined value carrying the original log-density. Useful to give parts of one vector
    different guides or reparameterizers. The pieces must be given values (by a guide, an
    initialisation or conditioning): improper distributions cannot be sampled.

    Args:
        sections: the sizes of the pieces, summing to the size of ``dim``.
        dim: the (negative) event dim to split along.
        support_fn: ``(fn, slice, dim) -> constraint``, the support of each piece (default
            :func:`default_support`).
    """

    def __init__(self, sections: Sequence[int], dim: int,
                 support_fn: Callable = default_support) -> None:
        if not isinstance(dim, int) or dim >= 0:
            raise ValueError(f"SplitReparam: dim must be a negative int, got {dim}")
        if (isinstance(sections, (str, bytes)) or not isinstance(sections, (list, tuple))
                or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sections)):
            raise EngineArgumentTypeError(
                f"SplitReparam: sections must be a list of positive ints, got {describe(sections)}")
        if not sections or any(int(s) <= 0 for s in sections):
            raise ValueError(f"SplitReparam: sections must be positive sizes, got {sections}")
        self.sections = [int(s) for s in sections]
        self.dim = dim
        self.event_dim = -dim
        self.support_fn = support_fn

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Draw the pieces; give the site a ``Delta`` at their concatenation."""
        name, fn, value = msg["name"], msg["fn"], msg["value"]
        event_shape = fn.event_shape
        if len(event_shape) < self.event_dim:
            raise ValueError(
                f"SplitReparam at sample site '{name}': dim {self.dim} is not an event dim of "
                f"event shape {tuple(event_shape)}")
        size = event_shape[self.dim]
        if sum(self.sections) != size:
            raise ValueError(
                f"SplitReparam at sample site '{name}': sections {self.sections} sum to "
                f"{sum(self.sections)}, but dim {self.dim} has size {size}")
        pieces: List[torch.Tensor] = []
        start = 0
        for i, width in enumerate(self.sections):
            cut = slice(start, start + width)
            start += width
            piece_event = list(event_shape)
            piece_event[self.dim] = width
            support = self.support_fn(fn, cut, self.dim)
            prior = dist.ImproperUniform(support, fn.batch_shape, torch.Size(piece_event))
            obs = None if value is None else value.narrow(self.dim, cut.start, width)
            pieces.append(pyro.sample(f"{name}_split_{i}", prior, obs=obs))
        joined = torch.cat(pieces, dim=self.dim)
        delta = dist.Delta(joined, log_density=fn.log_prob(joined), event_dim=len(event_shape))
        return {"fn": delta, "value": joined, "is_observed": True}
