"""Sum-product contraction of log-factors over enumerated variables and plates.

A :class:`Factor` is a log-density tensor whose every dim carries a *label*: the name of an
enumerated site (a discrete variable) or ``("plate", name)`` for a plate. Keeping labels per dim
(rather than tensor positions) lets two sites that share a tensor dim, as Markov chains do after
dims are recycled, be told apart.

:func:`contract` eliminates a set of variables from a collection of factors, each living in an
*ordinal* (the frozenset of plate labels enclosing it). Variables local to a plate are summed
out inside it (in log space, pairwise along opt_einsum's path: a broadcast ``logsumexp`` for
small steps, a max-shifted ``torch.einsum`` for large ones); the plate is then multiplied out
(a ``sum`` of log-factors along its dim) before the variables outside it are summed. This is tensor variable elimination:
exact, and linear in the plate sizes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Dict, FrozenSet, Hashable, Iterable, List, Optional, Sequence, Set, Tuple

import torch

from pyro.ops.einsum.torch_log import log_einsum

Label = Hashable
Ordinal = FrozenSet[Label]

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
               maximize: bool = False, linear: bool = False) -> List[Factor]:
    """Sum out (or, with ``maximize``, maximise out) the variables ``local`` from the product of
    ``factors``.

    The factors are split into groups connected through ``local`` variables; factors holding
    none pass through. Each group is contracted pairwise along opt_einsum's path (cached per
    structure), each step in log space (:func:`_log_contract`). With ``tape``, every step that
    sums variables out appends ``(product of its two factors, labels summed out)``. With
    ``linear``, the factors are plain (not log) tensors: products multiply and sums add.
    """
    local = set(local).intersection([lab for f in factors for lab in f.labels])
    if not local:
        return list(factors)
    if len(local) == 1:  # the common case (a mixture, one step of a chain): one step
        label = next(iter(local))
        involved = [f for f in factors if label in f.labels]
        return [f for f in factors if label not in f.labels] + [
            _step(involved, local, tape, maximize, linear)]
    uf = _UnionFind()
    out: List[Factor] = []
    groups: Dict[Any, List[Factor]] = defaultdict(list)
    for f in factors:
        mine = [label for label in f.labels if label in local]
        if not mine:
            out.append(f)
            continue
        for label in mine[1:]:
            uf.union(mine[0], label)
        groups[mine[0]].append(f)
    merged: Dict[Any, List[Factor]] = defaultdict(list)
    for key, group in groups.items():
        merged[uf.find(key)].extend(group)
    for group in merged.values():
        out.append(_eliminate_group(group, local, tape, maximize, linear))
    return out


def _eliminate_group(factors: List[Factor], local: Set[Label],
                     tape: Optional[List[Tuple[Factor, FrozenSet[Label]]]],
                     maximize: bool, linear: bool) -> Factor:
    """Contract a connected group of factors, summing out its ``local`` labels."""
    if len(factors) == 1 or len({lab for f in factors for lab in f.labels if lab in local}) == 1:
        return _step(factors, {lab for f in factors for lab in f.labels if lab in local},
                     tape, maximize, linear)
    factors = list(factors)
    holders: Dict[Label, int] = defaultdict(int)  # how many of ``factors`` hold each label
    for f in factors:
        for lab in f.labels:
            holders[lab] += 1
    for positions in _path(factors, local):
        involved = [factors[i] for i in positions]
        for i in sorted(positions, reverse=True):
            del factors[i]
        gone = set()
        for f in involved:
            for lab in f.labels:
                holders[lab] -= 1
                if not holders[lab] and lab in local:
                    gone.add(lab)
        result = _step(involved, gone, tape, maximize, linear)
        for lab in result.labels:
            holders[lab] += 1
        factors.append(result)
    return factors[0]


_PATHS: Dict[Any, Any] = {}


def _path(factors: Sequence[Factor], local: Set[Label]) -> Any:
    """opt_einsum's pairwise contraction path for ``factors`` (``local`` summed out), cached by
    the group's structure and sizes."""
    index: Dict[Label, int] = {}
    sizes: Dict[Label, int] = {}
    inputs = []
    for f in factors:
        inputs.append(tuple(index.setdefault(lab, len(index)) for lab in f.labels))
        sizes.update(zip(f.labels, f.tensor.shape))
    output = frozenset(index[lab] for lab in index if lab not in local)
    key = (tuple(inputs), output, tuple(sizes[lab] for lab in index))
    path = _PATHS.get(key)
    if path is None:
        import opt_einsum  # only groups of several variables need a path

        symbols = {i: opt_einsum.get_symbol(i) for i in index.values()}
        size_dict = {symbols[index[lab]]: size for lab, size in sizes.items()}
        path = opt_einsum.paths.auto([frozenset(symbols[i] for i in inp) for inp in inputs],
                                     frozenset(symbols[i] for i in output), size_dict)
        path = _PATHS[key] = [tuple(step) for step in path]
    return path


def _step(involved: List[Factor], gone: Set[Label],
          tape: Optional[List[Tuple[Factor, FrozenSet[Label]]]], maximize: bool,
          linear: bool = False) -> Factor:
    """One elimination step: the product of ``involved`` with ``gone`` summed (maximised) out."""
    if linear:
        return _linear_contract(involved, gone)
    if not gone:
        return product(involved)
    if tape is not None or maximize:
        combined = product(involved)
        if tape is not None:
            tape.append((combined, frozenset(gone)))
        return max_out(combined, gone) if maximize else sum_out(combined, gone, log=True)
    return _log_contract(involved, gone)


# Up to this many elements, a step adds its factors out (broadcasting) and takes a logsumexp:
# fewer kernels than the max-shifted einsum, and the product is small anyway. Above it, the step
# is one torch.einsum of the shifted exponentials, whose memory is that of its inputs and output.
FAST_PATH_NUMEL = 1 << 15


def _log_contract(involved: List[Factor], gone: Set[Label]) -> Factor:
    """``logsumexp`` over ``gone`` of the sum of the log-factors ``involved``."""
    if len(involved) == 1:
        return sum_out(involved[0], gone, log=True)
    sizes: Dict[Label, int] = {}
    for f in involved:
        sizes.update(zip(f.labels, f.tensor.shape))
    if math.prod(sizes.values()) <= FAST_PATH_NUMEL:
        return sum_out(product(involved), gone, log=True)
    labels = tuple(sizes)
    letters = {lab: _LETTERS[i] for i, lab in enumerate(labels)}
    keep = tuple(lab for lab in labels if lab not in gone)
    tensor = log_einsum(["".join(letters[lab] for lab in f.labels) for f in involved],
                        "".join(letters[lab] for lab in keep), [f.tensor for f in involved])
    return Factor(tensor, keep)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _linear_contract(involved: List[Factor], gone: Set[Label]) -> Factor:
    """``sum`` over ``gone`` of the product of the plain (not log) factors ``involved``."""
    labels = _union(involved)
    letters = {lab: _LETTERS[i] for i, lab in enumerate(labels)}
    keep = tuple(lab for lab in labels if lab not in gone)
    equation = ",".join("".join(letters[lab] for lab in f.labels) for f in involved) + "->" + \
        "".join(letters[lab] for lab in keep)
    return Factor(torch.einsum(equation, *[f.tensor for f in involved]), keep)


def _plate_product(factor: Factor, plates: List[Label], linear: bool) -> Factor:
    """Multiply the plates ``plates`` out of ``factor`` (a ``sum`` of logs, or a ``prod``)."""
    if not linear:
        return sum_out(factor, plates, log=False)
    tensor = factor.tensor
    for i in sorted((i for i, lab in enumerate(factor.labels) if lab in plates), reverse=True):
        tensor = tensor.prod(i)
    return Factor(tensor, tuple(lab for lab in factor.labels if lab not in plates))


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
             maximize: bool = False, linear: bool = False) -> Dict[Ordinal, List[Factor]]:
    """Eliminate the variables ``sum_labels`` from the plated product of ``terms``.

    Args:
        terms: ``(ordinal, factor, scale, site_name)`` per log-factor; ``factor`` is unscaled.
        sum_labels: labels of the variables to sum out.
        label_ordinals: for every variable label (summed or kept), the ordinal of its site.
        rank: optional label -> creation index (kept for callers; the elimination order
            comes from opt_einsum's contraction path).
        tape: optional list; every elimination step appends ``(product, labels)``: the
            (unscaled) product of the log-factors involved and the labels it summed out, in
            order, so that the variables can be drawn back in reverse (see ``sampling``).
        maximize: maximise the variables out instead of summing them (max-product: the
            result is the log-density of the most probable joint value).
        linear: the factors are plain tensors, not logs (``pyro.ops.contract``'s ``"torch"``
            backend): products multiply, sums add, plates multiply out by ``prod``; scales
            must be 1.

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
                                                    rank, tape, maximize, linear).items():
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
                        maximize: bool = False, linear: bool = False) -> Dict[Ordinal, List[Factor]]:
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
        for f in _eliminate(factors, local, rank, tape, maximize, linear):
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
            buckets[parent_ord].append(_plate_product(f, plates, linear))
            names.setdefault(parent_ord, names.get(leaf, "?"))
    return done
