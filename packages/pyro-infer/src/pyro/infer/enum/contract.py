"""Sum-product contraction of log-factors over enumerated variables and plates.

A :class:`Factor` is a log-density tensor whose every dim carries a *label*: the name of an
enumerated site (a discrete variable) or ``("plate", name)`` for a plate. Keeping labels per dim
(rather than tensor positions) lets two sites that share a tensor dim, as Markov chains do after
dims are recycled, be told apart.

:func:`contract` eliminates a set of variables from a collection of factors, each living in an
*ordinal* (the frozenset of plate labels enclosing it). Variables local to a plate are summed
out inside it (``logsumexp``); the plate is then multiplied out (a ``sum`` of log-factors along
its dim) before the variables outside it are summed. This is tensor variable elimination:
exact, and linear in the plate sizes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, FrozenSet, Hashable, Iterable, List, Optional, Sequence, Set, Tuple

import torch

Label = Hashable
Ordinal = FrozenSet[Label]

# Above this many variables to eliminate at once, greedy ordering costs more Python time than it
# saves; fall back to eliminating the newest variables first.
_GREEDY_LIMIT = 12


class Factor:
    """A tensor with one label per dim (no two dims share a label)."""

    __slots__ = ("tensor", "labels")

    def __init__(self, tensor: torch.Tensor, labels: Tuple[Label, ...]) -> None:
        self.tensor = tensor
        self.labels = labels

    def __repr__(self) -> str:
        return f"Factor(labels={self.labels}, shape={tuple(self.tensor.shape)})"

    def sizes(self) -> Dict[Label, int]:
        """``{label: size}`` of the factor's dims."""
        return dict(zip(self.labels, self.tensor.shape))


def plate_label(name: str) -> Tuple[str, str]:
    """The label of the plate named ``name``."""
    return ("plate", name)


def pack(tensor: Any, dim_labels: Dict[int, Label], plate_sizes: Dict[Label, int],
         site_name: str) -> Factor:
    """Turn a batch-shaped log-density into a :class:`Factor`.

    Args:
        tensor: the log-density (batch-shaped tensor or number).
        dim_labels: negative dim -> label, for every dim that may vary (plates, enum dims).
        plate_sizes: plate label -> size for the plates enclosing the site; a plate the tensor
            does not vary along is broadcast to its size, so multiplying the plate out counts
            every element.
        site_name: used in error messages.

    Returns:
        A Factor whose labels are the varying dims of ``tensor`` plus any broadcast plates.
    """
    if not isinstance(tensor, torch.Tensor):
        tensor = torch.as_tensor(tensor)
    shape = tensor.shape
    n = len(shape)
    labels: List[Label] = []
    sizes: List[int] = []
    for i in range(n):
        size = shape[i]
        if size == 1:
            continue
        label = dim_labels.get(i - n)
        if label is None:
            raise ValueError(
                f"site '{site_name}': its log-density has shape {tuple(shape)}, and dim "
                f"{i - n} (size {size}) belongs to no plate and no enumerated site; declare the "
                f"batch dims with pyro.plate (or .to_event()) and check max_plate_nesting"
            )
        labels.append(label)
        sizes.append(size)
    if len(sizes) != n:
        tensor = tensor.reshape(sizes)
    for label, size in plate_sizes.items():
        if size > 1 and label not in labels:
            tensor = tensor.unsqueeze(-1).expand(tensor.shape + (size,))
            labels.append(label)
    return Factor(tensor, tuple(labels))


def align(factor: Factor, labels: Sequence[Label], positions: Dict[Label, int]) -> torch.Tensor:
    """View ``factor.tensor`` with dims laid out as ``labels`` (size 1 where it lacks one)."""
    own = factor.labels
    if own == tuple(labels):
        return factor.tensor
    tensor = factor.tensor
    order = sorted(range(len(own)), key=lambda i: positions[own[i]])
    if order != list(range(len(own))):
        tensor = tensor.permute(order)
    shape = [1] * len(labels)
    for i in order:
        shape[positions[own[i]]] = factor.tensor.shape[i]
    return tensor.reshape(shape)


def _union(factors: Iterable[Factor]) -> Tuple[Label, ...]:
    seen: Dict[Label, None] = {}
    for f in factors:
        for label in f.labels:
            seen[label] = None
    return tuple(seen)


def product(factors: Sequence[Factor]) -> Factor:
    """Multiply log-factors (add them, broadcasting by label)."""
    if len(factors) == 1:
        return factors[0]
    labels = _union(factors)
    positions = {label: i for i, label in enumerate(labels)}
    total = align(factors[0], labels, positions)
    for f in factors[1:]:
        total = total + align(f, labels, positions)
    return Factor(total, labels)


def sum_out(factor: Factor, labels: Iterable[Label], log: bool) -> Factor:
    """Sum out ``labels``: ``logsumexp`` over them when ``log``, else a plain ``sum``."""
    labels = set(labels)
    drop = [i for i, label in enumerate(factor.labels) if label in labels]
    if not drop:
        return factor
    keep = tuple(label for label in factor.labels if label not in labels)
    if log:
        tensor = torch.logsumexp(factor.tensor, dim=drop)
    else:
        tensor = factor.tensor.sum(drop)
    return Factor(tensor, keep)


def max_out(factor: Factor, labels: Iterable[Label]) -> Factor:
    """Maximise out ``labels`` (the max-product counterpart of ``sum_out(..., log=True)``)."""
    labels = set(labels)
    keep = tuple(label for label in factor.labels if label not in labels)
    tensor = factor.tensor
    for i in sorted((i for i, label in enumerate(factor.labels) if label in labels), reverse=True):
        tensor = tensor.max(i).values
    return Factor(tensor, keep)


def expectation(cost: Factor, log_weights: Sequence[Factor], rank: Dict[Label, int],
                cache: Optional[Dict[Any, Factor]] = None) -> torch.Tensor:
    """``sum(exp(sum(log_weights)) * cost)`` over every label, by variable elimination.

    The weights are exponentiated and the labels summed out in ``rank`` order (labels without a
    rank, such as plates, last): each step multiplies only the factors that hold the label. For a
    chain of guide-enumerated variables, upstream first, every intermediate is a message over
    one or two variables. With a ``cache`` shared by the expectations of one loss, a step that
    involves the same factors as an earlier one reuses its result: the costs along a chain share
    the forward messages of its upstream part, so all of them together cost time linear in the
    chain's length.
    """
    cache = {} if cache is None else cache
    factors: List[Factor] = []
    for w in log_weights:
        key = ("exp", id(w))
        linear = cache.get(key)
        if linear is None:
            linear = cache[key] = Factor(w.tensor.exp(), w.labels)
            cache[("keep", id(w))] = w  # keeps the id valid while the cache lives
        factors.append(linear)
    factors.append(cost)
    last = len(rank)
    # Which factors hold each label, kept up to date as factors are replaced by messages.
    holders: Dict[Label, Dict[int, Factor]] = {}
    for f in factors:
        for lab in f.labels:
            holders.setdefault(lab, {})[id(f)] = f
    scalars: List[Factor] = [f for f in factors if not f.labels]
    for label in sorted(holders, key=lambda lab: rank.get(lab, last)):
        group = list(holders.pop(label).values())
        for f in group:
            for lab in f.labels:
                if lab != label:
                    del holders[lab][id(f)]
        key = (label, tuple(sorted(id(f) for f in group)))
        message = cache.get(key)
        if message is None:
            joint = _union(group)
            positions = {lab: i for i, lab in enumerate(joint)}
            tensor = align(group[0], joint, positions)
            for f in group[1:]:
                tensor = tensor * align(f, joint, positions)
            message = Factor(tensor.sum(positions[label]),
                             tuple(lab for lab in joint if lab != label))
            cache[key] = message
            cache[("keep", id(message))] = group  # the group's ids stay valid too
        if message.labels:
            for lab in message.labels:
                holders[lab][id(message)] = message
        else:
            scalars.append(message)
    total = scalars[0].tensor
    for f in scalars[1:]:
        total = total * f.tensor
    return total


def _eliminate(factors: List[Factor], local: Set[Label], rank: Dict[Label, int],
               tape: Optional[List[Tuple[Factor, FrozenSet[Label]]]] = None,
               maximize: bool = False) -> List[Factor]:
    """Sum out (or, with ``maximize``, maximise out) the variables ``local`` from the product of
    ``factors`` (variable elimination).

    With ``tape``, each step appends ``(product of the factors involved, labels summed out)``.
    """
    factors = list(factors)
    local = set(local)
    while local:
        if len(local) == 1:
            label = next(iter(local))
        elif len(local) <= _GREEDY_LIMIT:
            best, best_cost = None, None
            for label in local:
                involved = [f for f in factors if label in f.labels]
                sizes: Dict[Label, int] = {}
                for f in involved:
                    sizes.update(f.sizes())
                cost = 1
                for other, size in sizes.items():
                    if other != label:
                        cost *= size
                key = (cost, -rank.get(label, 0))
                if best_cost is None or key < best_cost:
                    best, best_cost = label, key
            label = best
        else:
            label = max(local, key=lambda lab: rank.get(lab, 0))
        involved = [f for f in factors if label in f.labels]
        factors = [f for f in factors if label not in f.labels]
        local.discard(label)
        if not involved:
            continue
        combined = product(involved)
        # Any other local variable found only in this product can go at the same time.
        elsewhere = {lab for f in factors for lab in f.labels}
        also = {lab for lab in combined.labels if lab in local and lab not in elsewhere}
        local -= also
        if tape is not None:
            tape.append((combined, frozenset({label} | also)))
        out = {label} | also
        factors.append(max_out(combined, out) if maximize else sum_out(combined, out, log=True))
    return factors


def _same_scale(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        a = torch.as_tensor(a)
        b = torch.as_tensor(b)
        return a.shape == b.shape and bool((a == b).all())
    return a == b


class _UnionFind:
    def __init__(self) -> None:
        self.parent: Dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def contract(terms: Sequence[Tuple[Ordinal, Factor, Any, str]], sum_labels: Set[Label],
             label_ordinals: Dict[Label, Ordinal],
             rank: Optional[Dict[Label, int]] = None,
             tape: Optional[List[Tuple[Factor, FrozenSet[Label]]]] = None,
             maximize: bool = False) -> Dict[Ordinal, List[Factor]]:
    """Eliminate the variables ``sum_labels`` from the plated product of ``terms``.

    Args:
        terms: ``(ordinal, factor, scale, site_name)`` per log-factor; ``factor`` is unscaled.
        sum_labels: labels of the variables to sum out.
        label_ordinals: for every variable label (summed or kept), the ordinal of its site.
        rank: optional label -> creation index, to order eliminations.
        tape: optional list; every elimination step appends ``(product, labels)``: the
            (unscaled) product of the log-factors involved and the labels it summed out, in
            order, so that the variables can be drawn back in reverse (see ``sampling``).
        maximize: maximise the variables out instead of summing them (max-product: the
            result is the log-density of the most probable joint value).

    Returns:
        ordinal -> list of scaled log-factors that no longer involve ``sum_labels``. Factors that
        never involved a summed variable come back unchanged (scaled) in their own ordinal;
        the others are contracted only as far down the plate tree as their variables require.

    Raises:
        ValueError: when terms that share summed variables have different scales, or when the
            plate structure makes exact elimination impossible (a variable must be summed
            outside a plate while a factor inside it also depends on a variable local to
            another plate, or on a kept variable local to that plate).
    """
    rank = {} if rank is None else rank
    out: Dict[Ordinal, List[Factor]] = defaultdict(list)
    uf = _UnionFind()
    grouped: Dict[Any, List[Tuple[Ordinal, Factor, Any, str]]] = defaultdict(list)
    pending = []
    for term in terms:
        ordinal, factor, scale, name = term
        mine = [label for label in factor.labels if label in sum_labels]
        if not mine:
            out[ordinal].append(_scaled(factor, scale))
            continue
        for label in mine[1:]:
            uf.union(mine[0], label)
        pending.append((mine[0], term))
    for key, term in pending:
        grouped[uf.find(key)].append(term)
    for component in grouped.values():
        scale = component[0][2]
        for _, _, other, name in component[1:]:
            if not _same_scale(scale, other):
                raise ValueError(
                    f"sites '{component[0][3]}' and '{name}' share enumerated variables but have "
                    f"different scales ({scale} vs {other}); exact enumeration needs one "
                    f"poutine.scale / subsampling scale for all sites that depend on the same "
                    f"enumerated variables"
                )
        for ordinal, factors in _contract_component(component, sum_labels, label_ordinals,
                                                    rank, tape, maximize).items():
            out[ordinal].extend(_scaled(f, scale) for f in factors)
    return out


def _scaled(factor: Factor, scale: Any) -> Factor:
    if isinstance(scale, (int, float)) and scale == 1.0:
        return factor
    if isinstance(scale, torch.Tensor) and scale.dim() > 0 and scale.numel() > 1:
        raise NotImplementedError(
            "enumeration with a non-scalar tensor scale is not supported; use a scalar scale"
        )
    return Factor(factor.tensor * scale, factor.labels)


def _contract_component(component: Sequence[Tuple[Ordinal, Factor, Any, str]],
                        sum_labels: Set[Label], label_ordinals: Dict[Label, Ordinal],
                        rank: Dict[Label, int],
                        tape: Optional[List[Tuple[Factor, FrozenSet[Label]]]] = None,
                        maximize: bool = False) -> Dict[Ordinal, List[Factor]]:
    buckets: Dict[Ordinal, List[Factor]] = defaultdict(list)
    names: Dict[Ordinal, str] = {}
    for ordinal, factor, _, name in component:
        buckets[ordinal].append(factor)
        names.setdefault(ordinal, name)
    done: Dict[Ordinal, List[Factor]] = defaultdict(list)
    while buckets:
        leaf = max(buckets, key=len)
        factors = buckets.pop(leaf)
        local = {
            label for f in factors for label in f.labels
            if label in sum_labels and label_ordinals[label] == leaf
        }
        for f in _eliminate(factors, local, rank, tape, maximize):
            if not any(label in sum_labels for label in f.labels):
                done[leaf].append(f)
                continue
            parent: Set[Label] = set()
            for label in f.labels:
                if label in label_ordinals:
                    parent |= label_ordinals[label]
            parent_ord = frozenset(parent)
            if parent_ord == leaf or not parent_ord <= leaf:
                blocked = sorted(str(label) for label in f.labels
                                 if label in label_ordinals and label not in sum_labels)
                raise ValueError(
                    f"cannot sum out enumerated variables {sorted(str(lab) for lab in f.labels if lab in sum_labels)} "
                    f"exactly: a factor of site '{names.get(leaf, '?')}' in plates "
                    f"{sorted(str(p[1]) if isinstance(p, tuple) else str(p) for p in leaf)} also "
                    f"depends on {blocked or 'variables local to other plates'}; the plates of "
                    f"enumerated variables must nest like a tree, and a variable enumerated in "
                    f"the guide cannot sit inside a plate outside which the model enumerates"
                )
            plates = [label for label in f.labels if label in leaf and label not in parent_ord
                      and label not in label_ordinals]
            buckets[parent_ord].append(sum_out(f, plates, log=False))
            names.setdefault(parent_ord, names.get(leaf, "?"))
    return done
