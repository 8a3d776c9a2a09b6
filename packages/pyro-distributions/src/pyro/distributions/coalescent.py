"""Kingman's coalescent: densities of the coalescence times of a phylogeny given its leaf times.

Time runs forward: leaves are sampled at ``leaf_times`` and their lineages merge, going back in
time, at the ``coal_times``, which are earlier. Between events, ``k`` lineages coalesce at total
rate ``rate * k * (k - 1) / 2`` (``rate`` is the pairwise rate of coalescence), so a phylogeny
of ``n`` leaves has ``n - 1`` coalescence times and its log-density is, over events,

    ``sum_coalescences log(rate(c) * C(k_c, 2)) - integral rate(t) * C(k(t), 2) dt``

with ``k_c`` the lineages just after (above) the coalescence ``c``. Every family here reduces a
phylogeny to the same three per-cell statistics on a unit time grid (:func:`_grid_statistics`)
so that a rate piecewise constant on the grid enters linearly: the log-density is
``sum_t const[t] + events[t] * log(rate[t]) - exposure[t] * rate[t]``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.validation import expand_error

__all__ = [
    "CoalescentRateLikelihood",
    "CoalescentTimes",
    "CoalescentTimesConstraint",
    "CoalescentTimesWithRate",
    "bio_phylo_to_times",
]


def _safe_log(x: torch.Tensor) -> torch.Tensor:
    """``log(x)`` with zeros clamped to the smallest positive normal number (finite)."""
    return x.clamp(min=torch.finfo(x.dtype).tiny).log()


def _events(leaf_times: torch.Tensor, coal_times: torch.Tensor) -> tuple:
    """Leaves and coalescences merged in increasing time.

    Returns ``(times, is_coal, k_above)``, each of shape ``batch + (2n - 1,)``: ``k_above[i]``
    is the number of lineages on the interval just after event ``i`` (the events later than
    it). At equal times a leaf comes first, so a coalescence never uses a leaf sampled at its
    own time.
    """
    batch = torch.broadcast_shapes(leaf_times.shape[:-1], coal_times.shape[:-1])
    leaf = leaf_times.expand(batch + leaf_times.shape[-1:])
    coal = coal_times.expand(batch + coal_times.shape[-1:])
    times = torch.cat([leaf, coal], -1)
    step = torch.cat([torch.ones_like(leaf), -torch.ones_like(coal)], -1)
    times, order = times.sort(dim=-1, stable=True)
    step = step.gather(-1, order)
    # Lineages after event i: the leaves later than it minus the coalescences later than it.
    k_above = step.flip(-1).cumsum(-1).flip(-1) - step
    return times, step < 0, k_above


def _pairs(k: torch.Tensor) -> torch.Tensor:
    return k * (k - 1) / 2


def _grid_statistics(leaf_times: torch.Tensor, coal_times: torch.Tensor,
                     duration: int) -> tuple:
    """The per-cell statistics of a phylogeny on the cells ``(-inf, 1), [1, 2), ...,
    [duration - 1, inf)``.

    Returns ``(const, events, exposure)`` of shape ``batch + (duration,)``: in each cell, the
    sum of ``log C(k, 2)`` over its coalescences, their number, and the integral of
    ``C(k(t), 2)`` over the cell.
    """
    times, is_coal, k_above = _events(leaf_times, coal_times)
    dtype = times.dtype
    pairs_above = _pairs(k_above)
    shape = times.shape[:-1] + (duration,)
    cell = times.floor().clamp(0, duration - 1).long()
    # A coalescence with fewer than two lineages after it is impossible: log-density -inf.
    merge_log = torch.where(k_above >= 2, pairs_above.clamp(min=1).log(),
                            times.new_full((), -float("inf")))
    const = times.new_zeros(shape).scatter_add_(
        -1, cell, torch.where(is_coal, merge_log, times.new_zeros(())))
    events = times.new_zeros(shape).scatter_add_(-1, cell, is_coal.to(dtype))
    # W(x) = integral from x to +inf of C(k(t), 2) dt is piecewise linear with breakpoints at
    # the events; a cell's exposure is W(left edge) - W(right edge).
    gaps = times[..., 1:] - times[..., :-1]
    pieces = pairs_above[..., :-1] * gaps
    tail = torch.cat([pieces.flip(-1).cumsum(-1).flip(-1),
                      pieces.new_zeros(pieces.shape[:-1] + (1,))], -1)
    edges = torch.arange(1, duration, dtype=dtype, device=times.device)
    edges = edges.expand(times.shape[:-1] + (duration - 1,)).contiguous()
    idx = torch.searchsorted(times.contiguous(), edges, right=True) - 1  # last event <= edge
    safe = idx.clamp(min=0)
    later = tail.gather(-1, (safe + 1).clamp(max=times.size(-1) - 1))
    w_edge = later + pairs_above.gather(-1, safe) * (times.gather(
        -1, (safe + 1).clamp(max=times.size(-1) - 1)) - edges)
    w_edge = torch.where(idx < 0, tail[..., :1].expand_as(w_edge), w_edge)
    w_edge = torch.where(idx >= times.size(-1) - 1, w_edge.new_zeros(()), w_edge)
    w = torch.cat([tail[..., :1], w_edge, tail.new_zeros(tail.shape[:-1] + (1,))], -1)
    exposure = w[..., :-1] - w[..., 1:]
    return const, events, exposure


def _check_sizes(owner: str, leaf_times: torch.Tensor, coal_times: torch.Tensor) -> None:
    if leaf_times.dim() < 1 or coal_times.dim() < 1 or (
            coal_times.size(-1) != leaf_times.size(-1) - 1):
        raise ValueError(
            f"{owner}: coal_times must have one time fewer than leaf_times along the last dim; "
            f"got leaf_times of shape {tuple(leaf_times.shape)} and coal_times of shape "
            f"{tuple(coal_times.shape)}")


class CoalescentTimesConstraint(constraints.Constraint):
    """The coalescence times that form a binary phylogeny with the given ``leaf_times``:
    at every coalescence at least two lineages exist after it (a leaf sampled at the same
    time does not count), and with ``ordered`` the times are sorted increasingly."""

    event_dim = 1

    def __init__(self, leaf_times: torch.Tensor, *, ordered: bool = True) -> None:
        self.leaf_times = leaf_times
        self.ordered = ordered
        super().__init__()

    def check(self, value: torch.Tensor) -> torch.Tensor:
        """A boolean per phylogeny (the last dim of ``value`` reduced)."""
        _check_sizes("CoalescentTimesConstraint", self.leaf_times, value)
        _, is_coal, k_above = _events(self.leaf_times, value)
        ok = (~is_coal | (k_above >= 2)).all(-1)
        if self.ordered:
            ok = ok & (value[..., 1:] >= value[..., :-1]).all(-1)
        return ok

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ordered={self.ordered})"


class CoalescentTimes(TorchDistribution):
    """The coalescence times of a phylogeny under Kingman's coalescent with a constant
    population size, given irregularly sampled leaves.

    Args:
        leaf_times: the sampling times of the ``n`` leaves, shape ``batch + (n,)``, in any
            order, ties allowed.
        rate: the pairwise rate of coalescence (positive), broadcastable to the batch shape.
        validate_args: as for every distribution.

    A value is the sorted vector of the ``n - 1`` coalescence times (``event_shape == (n - 1,)``),
    so that the phylogeny is a complete binary tree; ``log_prob`` is the density of the times,
    summed over tree topologies (it sorts its argument). :meth:`sample` simulates the
    coalescent backwards from the latest leaf.
    """

    arg_constraints = {"leaf_times": constraints.real, "rate": constraints.positive}

    def __init__(self, leaf_times: torch.Tensor, rate: Any = 1.0, *,
                 validate_args: Optional[bool] = None) -> None:
        if not isinstance(leaf_times, torch.Tensor) or leaf_times.dim() < 1:
            raise ValueError(
                "CoalescentTimes: leaf_times must be a tensor with the leaves along its last dim, "
                f"got shape {tuple(getattr(leaf_times, 'shape', ()))}")
        rate = torch.as_tensor(rate, dtype=leaf_times.dtype, device=leaf_times.device)
        try:
            batch_shape = torch.broadcast_shapes(leaf_times.shape[:-1], rate.shape)
        except RuntimeError:
            raise ValueError(
                f"CoalescentTimes: rate of shape {tuple(rate.shape)} does not broadcast with "
                f"leaf_times' batch shape {tuple(leaf_times.shape[:-1])}") from None
        self.leaf_times = leaf_times
        self.rate = rate
        event_shape = torch.Size((leaf_times.size(-1) - 1,))
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @constraints.dependent_property
    def support(self) -> CoalescentTimesConstraint:
        """Sorted coalescence times that form a phylogeny with ``leaf_times``."""
        return CoalescentTimesConstraint(self.leaf_times)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-density of the coalescence times ``value`` (shape ``... + (n - 1,)``)."""
        if self._validate_args:
            self._validate_sample(value)
        const, events, exposure = _grid_statistics(self.leaf_times, value, 1)
        rate = self.rate
        return (const + events * rate.log().unsqueeze(-1) - exposure * rate.unsqueeze(-1)).squeeze(-1)

    def sample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Simulate the coalescent back in time from the latest leaf: with ``k`` lineages the
        next merger comes after an ``Exponential(rate * C(k, 2))`` wait unless the next leaf
        is reached first (the wait is memoryless, so it is redrawn there)."""
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            leaves = self.leaf_times.expand(shape[:-1] + self.leaf_times.shape[-1:])
            leaves = leaves.sort(-1, descending=True).values
            rate = self.rate.expand(shape[:-1])
            n = leaves.size(-1)
            t = leaves[..., 0].clone()
            k = torch.ones_like(t)
            next_leaf = torch.ones(shape[:-1], dtype=torch.long, device=t.device)
            merged = torch.zeros(shape[:-1], dtype=torch.long, device=t.device)
            out = leaves.new_zeros(shape)
            no_leaf = torch.full_like(t, -float("inf"))
            # Every row has exactly n - 1 mergers and n - 1 further leaves: 2n - 2 events.
            for _ in range(2 * n - 2):
                pairs = _pairs(k)
                wait = torch.where(pairs > 0, torch.empty_like(t).exponential_() / (rate * pairs),
                                   -no_leaf)
                upcoming = leaves.gather(-1, next_leaf.clamp(max=n - 1).unsqueeze(-1)).squeeze(-1)
                upcoming = torch.where(next_leaf < n, upcoming, no_leaf)
                merge = t - wait > upcoming
                t = torch.where(merge, t - wait, upcoming)
                k = torch.where(merge, k - 1, k + 1)
                next_leaf = next_leaf + (~merge).long()
                # Mergers come latest first: fill the output from its end.
                slot = (n - 2 - merged).clamp(min=0).unsqueeze(-1)
                current = out.gather(-1, slot).squeeze(-1)
                out.scatter_(-1, slot, torch.where(merge, t, current).unsqueeze(-1))
                merged = merged + merge.long()
            return out


class CoalescentTimesWithRate(TorchDistribution):
    """The coalescence times of a phylogeny under Kingman's coalescent with a pairwise rate
    that is piecewise constant on a unit time grid.

    Args:
        leaf_times: the sampling times of the ``n`` leaves, shape ``batch + (n,)``, any order.
        rate_grid: the pairwise rates, shape ``batch + (T,)``: ``rate_grid[..., 0]`` holds on
            ``(-inf, 1)``, ``rate_grid[..., t]`` on ``[t, t + 1)``, the last one on
            ``[T - 1, inf)``.
        validate_args: as for every distribution.

    Values as for :class:`CoalescentTimes`. Only ``log_prob`` is implemented (no sampler).
    """

    arg_constraints = {"leaf_times": constraints.real, "rate_grid": constraints.positive}

    def __init__(self, leaf_times: torch.Tensor, rate_grid: torch.Tensor, *,
                 validate_args: Optional[bool] = None) -> None:
        if not isinstance(leaf_times, torch.Tensor) or leaf_times.dim() < 1 or (
                not isinstance(rate_grid, torch.Tensor)) or rate_grid.dim() < 1:
            raise ValueError(
                "CoalescentTimesWithRate: leaf_times and rate_grid must be tensors with leaves "
                "and time along their last dims, got shapes "
                f"{tuple(getattr(leaf_times, 'shape', ()))} and {tuple(getattr(rate_grid, 'shape', ()))}")
        try:
            batch_shape = torch.broadcast_shapes(leaf_times.shape[:-1], rate_grid.shape[:-1])
        except RuntimeError:
            raise ValueError(
                f"CoalescentTimesWithRate: the batch shapes of leaf_times {tuple(leaf_times.shape)} "
                f"and rate_grid {tuple(rate_grid.shape)} do not broadcast") from None
        self.leaf_times = leaf_times
        self.rate_grid = rate_grid
        event_shape = torch.Size((leaf_times.size(-1) - 1,))
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @property
    def duration(self) -> int:
        """The number of grid cells, ``rate_grid.size(-1)``."""
        return self.rate_grid.size(-1)

    @constraints.dependent_property
    def support(self) -> CoalescentTimesConstraint:
        """Sorted coalescence times that form a phylogeny with ``leaf_times``."""
        return CoalescentTimesConstraint(self.leaf_times)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "CoalescentTimesWithRate":
        """This distribution with its batch dims broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(CoalescentTimesWithRate, _instance)
        try:
            new.leaf_times = self.leaf_times.expand(batch_shape + self.leaf_times.shape[-1:])
            new.rate_grid = self.rate_grid.expand(batch_shape + self.rate_grid.shape[-1:])
        except RuntimeError:
            raise expand_error(self, batch_shape) from None
        TorchDistribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-density of the coalescence times ``value`` (shape ``... + (n - 1,)``)."""
        if self._validate_args:
            self._validate_sample(value)
        const, events, exposure = _grid_statistics(self.leaf_times, value, self.duration)
        rate = self.rate_grid
        return (const + events * _safe_log(rate) - exposure * rate).sum(-1)


class CoalescentRateLikelihood:
    """The likelihood of a rate grid given one phylogeny: :class:`CoalescentTimesWithRate`'s
    density read as a function of ``rate_grid``, split into one term per grid cell.

    The cells' terms are independent given the rates, so the likelihood can be a
    ``pyro.factor`` inside a time ``plate`` or one factor per step of a ``pyro.markov`` loop::

        likelihood = CoalescentRateLikelihood(leaf_times, coal_times, duration)
        with pyro.plate("time", duration):
            pyro.factor("coalescent", likelihood(rate_grid))

    Args:
        leaf_times: the leaves' sampling times, shape ``batch + (n,)``, any order.
        coal_times: the coalescence times, shape ``batch + (n - 1,)``.
        duration: the number of grid cells ``T``.
        validate_args: check that the times form a phylogeny (default: the global setting).

    Not a distribution: the statistics of the phylogeny are computed once here and each call
    costs a few elementwise operations.
    """

    def __init__(self, leaf_times: torch.Tensor, coal_times: torch.Tensor, duration: int, *,
                 validate_args: Optional[bool] = None) -> None:
        _check_sizes("CoalescentRateLikelihood", leaf_times, coal_times)
        if isinstance(duration, bool) or not isinstance(duration, int) or duration < 1:
            raise ValueError(
                f"CoalescentRateLikelihood: duration must be a positive int, got {duration!r}")
        validate = torch.distributions.Distribution._validate_args if validate_args is None \
            else validate_args
        if validate:
            ok = CoalescentTimesConstraint(leaf_times, ordered=False).check(coal_times)
            if not bool(ok.all()):
                raise ValueError(
                    "CoalescentRateLikelihood: coal_times do not form a phylogeny with leaf_times "
                    "(a coalescence has fewer than two lineages after it)")
        self.duration = duration
        self._const, self._events, self._exposure = _grid_statistics(
            leaf_times, coal_times, duration)

    def __call__(self, rate_grid: torch.Tensor, t: Any = slice(None)) -> torch.Tensor:
        """The log-likelihood terms of ``rate_grid``, one per grid cell.

        Args:
            rate_grid: the pairwise rates, shape ``batch + (T,)``, or the slice of them at time
                index ``t`` (``rate_grid[..., t]``).
            t: the index the rates were sliced by: ``slice(None)`` (every cell) or an int.

        Returns:
            ``const[t] + events[t] * log(rate) - exposure[t] * rate``, of shape
            ``broadcast(batch) + (T,)`` for a slice, ``broadcast(batch)`` for an int.
        """
        const, events, exposure = self._const[..., t], self._events[..., t], self._exposure[..., t]
        if isinstance(t, slice) and rate_grid.dim() >= 1 and rate_grid.size(-1) not in (
                1, const.size(-1)):
            raise ValueError(
                f"CoalescentRateLikelihood: rate_grid has {rate_grid.size(-1)} time steps along "
                f"its last dim, expected {const.size(-1)} (duration={self.duration}, t={t})")
        return const + events * _safe_log(rate_grid) - exposure * rate_grid


def bio_phylo_to_times(tree: Any, *, get_time: Optional[Callable[[Any], Any]] = None) -> tuple:
    """The leaf and coalescence times of a phylogenetic tree, e.g. a ``Bio.Phylo`` clade.

    Args:
        tree: the root clade; a clade has a list ``clades`` of children (empty for a leaf) and,
            when ``get_time`` is not given, a ``branch_length`` (``None`` counts as zero).
        get_time: a function from a clade to its time; by default a clade's time is the sum of
            the branch lengths from the root to it (the root at time zero, the leaves latest).

    Returns:
        ``(leaf_times, coal_times)``: tensors of the leaves' times in depth-first order and of
        the coalescence times, sorted; a clade with ``c`` children gives ``c - 1`` coalescences
        at its time, so a binary tree of ``n`` leaves gives ``n - 1``.
    """
    leaf_times: list = []
    coal_times: list = []
    stack = [(tree, 0.0)]
    while stack:
        clade, start = stack.pop()
        if get_time is not None:
            time = float(get_time(clade))
        else:
            time = start + float(getattr(clade, "branch_length", None) or 0.0)
        children = list(getattr(clade, "clades", ()) or ())
        if not children:
            leaf_times.append(time)
            continue
        coal_times.extend([time] * (len(children) - 1))
        stack.extend((child, time) for child in reversed(children))
    return torch.tensor(leaf_times), torch.tensor(coal_times).sort().values
