"""Plated sum-product contraction (tensor variable elimination) of named tensors.

The tensors are *packed*: each carries its dims' names (one character per dim) in
``._pyro_dims``. A *tensor tree* maps an ordinal (the frozenset of plate names a tensor lives
in) to a list of such tensors. Contraction sums out the named dims, multiplying plates out from
the innermost outward, exactly and in time linear in the plate sizes. It is the same
elimination that ``TraceEnum_ELBO``, ``infer_discrete`` and the marginals use
(:func:`pyro.infer.enum.contract.contract`): pairwise steps along opt_einsum's paths, each a
max-shifted log-space ``torch.einsum`` (:func:`pyro.ops.einsum.torch_log.log_einsum`).

:func:`einsum` is the equation form (``"a,iab->"`` with ``plates="i"``) with Pyro's backends.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

import torch

from pyro.infer.enum.contract import Factor, contract
from pyro.infer.enum.sampling import _draw
from pyro.ops.einsum.adjoint import Backward, _LeafBackward, sample_message
from pyro.ops.einsum.util import align_to
from pyro.util import ignore_jit_warnings

__all__ = ["contract_tensor_tree", "contract_to_tensor", "einsum", "ubersum"]

BACKENDS = (
    "torch",
    "pyro.ops.einsum.torch_log",
    "pyro.ops.einsum.torch_map",
    "pyro.ops.einsum.torch_sample",
    "pyro.ops.einsum.torch_marginal",
)

TensorTree = Dict[FrozenSet[str], List[torch.Tensor]]


def _pack(tensor: torch.Tensor, dims: str) -> torch.Tensor:
    tensor._pyro_dims = dims
    return tensor


def _dims(tensor: torch.Tensor) -> str:
    dims = getattr(tensor, "_pyro_dims", None)
    if dims is None or len(dims) != tensor.dim():
        raise ValueError(
            f"each tensor of a tensor tree needs ._pyro_dims naming its {tensor.dim()} dims, "
            f"got {dims!r} for shape {tuple(tensor.shape)}")
    return dims


def _items(tensor_tree: TensorTree) -> List[Tuple[FrozenSet[str], torch.Tensor]]:
    return [(ordinal, tensor) for ordinal, tensors in tensor_tree.items() for tensor in tensors]


def _terms(items: List[Tuple[FrozenSet[str], torch.Tensor]], sum_dims: Set[str]) -> Tuple[
        list, Dict[str, FrozenSet[str]], Dict[str, int]]:
    """Enumeration's ``(ordinal, factor, scale, name)`` terms of ``(ordinal, packed tensor)``
    pairs (in their order), the ordinal of every non-plate dim (the plates all its tensors
    share; none for a dim not in ``sum_dims``, a free index) and every dim's size."""
    plates: Set[str] = set().union(*(ordinal for ordinal, _ in items))
    sizes: Dict[str, int] = {}
    seen: Dict[str, FrozenSet[str]] = {}
    for ordinal, tensor in items:
        for dim, size in zip(_dims(tensor), tensor.shape):
            if sizes.setdefault(dim, size) != size:
                raise ValueError(f"Dimension size mismatch at dim '{dim}': {size} vs {sizes[dim]}")
            if dim not in plates:
                here = ordinal if dim in sum_dims else frozenset()
                seen[dim] = seen[dim] & here if dim in seen else frozenset(here)
    terms = []
    for ordinal, tensor in items:
        dims = _dims(tensor)
        for plate in sorted(ordinal):  # a plate the tensor does not vary along counts each slice
            if plate not in dims and plate in sizes:
                tensor = tensor.unsqueeze(-1).expand(tensor.shape + (sizes[plate],))
                dims = dims + plate
        terms.append((ordinal, Factor(tensor, tuple(dims)), 1.0, dims))
    return terms, seen, sizes


def _sorted(tensor: torch.Tensor, dims: str) -> torch.Tensor:
    """Pack ``tensor`` with its dims in alphabetical order (Pyro's layout of results)."""
    order = "".join(sorted(dims))
    if order != dims:
        tensor = tensor.permute([dims.index(c) for c in order])
    return _pack(tensor, order)


def contract_tensor_tree(tensor_tree: TensorTree, sum_dims: Set[str], cache: Any = None,
                         ring: Any = None) -> "OrderedDict[FrozenSet[str], List[torch.Tensor]]":
    """Sum the dims ``sum_dims`` out of the log-space tensor tree ``tensor_tree`` (plates are
    multiplied out only as far as the summed dims require).

    Returns an ordered ``ordinal -> list of packed log-tensors`` none of which has a dim of
    ``sum_dims``. ``cache`` and ``ring`` are accepted for Pyro's signature; the contraction is
    always the log-space one.
    """
    terms, ordinals, _ = _terms(_items(tensor_tree), set(sum_dims))
    result = contract(terms, {d for d in sum_dims if d in ordinals}, ordinals)
    out: "OrderedDict[FrozenSet[str], List[torch.Tensor]]" = OrderedDict()
    for ordinal in sorted(result, key=len, reverse=True):
        out[ordinal] = [_sorted(f.tensor, "".join(f.labels)) for f in result[ordinal]]
    return out


def _total(terms: list, ordinals: Dict[str, FrozenSet[str]], keep: str, sizes: Dict[str, int],
           linear: bool, maximize: bool = False) -> torch.Tensor:
    """The sum-product (max-product with ``maximize``) of ``terms`` over every dim but ``keep``
    (every plate multiplied out), laid out as ``keep``: a log unless ``linear``."""
    result = contract(terms, {d for d in ordinals if d not in keep}, ordinals, linear=linear,
                      maximize=maximize)
    total = None
    for factors in result.values():
        for f in factors:
            tensor = f.tensor
            drop = [i for i, lab in enumerate(f.labels) if lab not in keep]
            for i in reversed(drop):  # plates: multiply them out
                tensor = tensor.prod(i) if linear else tensor.sum(i)
            labs = "".join(lab for lab in f.labels if lab in keep)
            tensor = _align(tensor, labs, keep)
            if total is None:
                total = tensor
            else:
                total = total * tensor if linear else total + tensor
    shape = [sizes[d] for d in keep]
    return total.expand(shape) if total.shape != tuple(shape) else total


def contract_to_tensor(tensor_tree: TensorTree, sum_dims: Set[str],
                       target_ordinal: Optional[FrozenSet[str]] = None,
                       target_dims: Optional[Set[str]] = None, cache: Any = None,
                       ring: Any = None) -> torch.Tensor:
    """Contract the log-space tensor tree down to one packed log-tensor.

    Args:
        tensor_tree: ordinal -> list of packed log-tensors.
        sum_dims: the dims to sum out; any other dim is a free (batch) index shared by all
            plate slices.
        target_ordinal: the plates the result keeps (default none: every plate multiplied out).
        target_dims: dims of ``sum_dims`` to keep in the result instead.
        cache, ring: accepted for Pyro's signature (the contraction is the log-space one).

    Returns:
        The log of the sum-product over the summed dims, as a function of the free dims and
        ``target_dims`` and, with ``target_ordinal``, at each slice of its plates: there, the
        joint of that slice's ``target_dims`` with everything else summed out (Pyro's result
        may differ from it by a constant per slice of the target plates).
    """
    return _contract_to_tensor(_items(tensor_tree), set(sum_dims), target_ordinal, target_dims,
                               linear=False)


def _contract_to_tensor(items: list, sum_dims: Set[str], target_ordinal: Any, target_dims: Any,
                        linear: bool) -> torch.Tensor:
    target_ordinal = frozenset() if target_ordinal is None else frozenset(target_ordinal)
    target_dims = set() if target_dims is None else set(target_dims)
    if not target_dims <= sum_dims:
        raise ValueError(f"target_dims {sorted(target_dims)} must be a subset of sum_dims "
                         f"{sorted(sum_dims)}")
    terms, ordinals, sizes = _terms(items, sum_dims)
    for d in sorted(target_dims):
        if d in ordinals and not ordinals[d] <= target_ordinal:
            missing = "".join(sorted(ordinals[d] - target_ordinal))
            raise ValueError(
                f"It is nonsensical to preserve a plated dim without preserving all of that "
                f"dim's plates, but found '{{'{d}'}}' without '{missing}'")
    free = "".join(sorted(d for d in ordinals if d not in sum_dims))
    kept = "".join(sorted(d for d in ordinals if d in target_dims))
    plates = "".join(sorted(target_ordinal))
    if not plates:
        return _sorted(_total(terms, ordinals, free + kept, sizes, linear), free + kept)
    # At a slice of the target plates, a kept dim sees the other slices summed out: take the
    # marginal of a probe factor (the unit) over the target plates, kept and free dims.
    dims = plates + kept + free
    base = terms[0][1].tensor
    probe = (base.new_ones if linear else base.new_zeros)([sizes.get(d, 1) for d in dims])
    probe.requires_grad_()
    create_graph = torch.is_grad_enabled() and any(f.tensor.requires_grad for _, f, _, _ in terms)
    with torch.enable_grad():
        probed = [(target_ordinal, Factor(probe, tuple(dims)), 1.0, "probe")] + terms
        total = _total(probed, ordinals, free, sizes, linear)
        (grad,) = torch.autograd.grad(total.sum(), [probe], create_graph=create_graph)
    if linear:
        return _sorted(grad, dims)
    result = grad.log() + _align(total, free, dims)
    return _sorted(result if create_graph else result.detach(), dims)


def _align(tensor: torch.Tensor, dims: str, target: str) -> torch.Tensor:
    return align_to(tensor, dims, target) if dims else tensor.reshape((1,) * len(target))


def _parse(equation: str, plates: str) -> Tuple[List[str], List[str]]:
    equation = equation.replace(" ", "")
    if "->" not in equation:
        raise ValueError(f"einsum equation {equation!r} needs an explicit output ('->')")
    inputs, outputs = equation.split("->")
    return inputs.split(","), outputs.split(",")


def einsum(equation: str, *operands: torch.Tensor, **kwargs: Any) -> Tuple[torch.Tensor, ...]:
    """Plated einsum: sum-product over the equation's dims, with the dims named in ``plates``
    multiplied out (product reductions), and several comma-separated outputs.

    Keyword args: ``plates`` (string of plate symbols, default ``""``), ``backend`` (one of
    ``"torch"``, ``"pyro.ops.einsum.torch_log"``, ``"pyro.ops.einsum.torch_map"``,
    ``"pyro.ops.einsum.torch_sample"``, ``"pyro.ops.einsum.torch_marginal"``; default
    ``"torch"``, whose operands are nonnegative numbers rather than logs), ``cache`` (accepted,
    unused) and ``modulo_total`` (must be true for a non-scalar output: each result plate may
    be scaled arbitrarily; the result here is the exact joint).

    Returns a tuple with one tensor per output. Raises ``ValueError`` on mismatched sizes or an
    output that keeps a plated dim without its plates, ``NotImplementedError`` for an unknown
    backend or a non-scalar output without ``modulo_total``.
    """
    with ignore_jit_warnings():  # sizes are read as Python ints, also while tracing
        return _einsum(equation, operands, kwargs)


def _einsum(equation: str, operands: Tuple[torch.Tensor, ...],
            kwargs: Dict[str, Any]) -> Tuple[torch.Tensor, ...]:
    plates = kwargs.pop("plates", "")
    backend = kwargs.pop("backend", "torch")
    kwargs.pop("cache", None)
    modulo_total = kwargs.pop("modulo_total", False)
    if kwargs:
        raise TypeError(f"einsum() got unexpected keyword arguments {sorted(kwargs)}")
    if backend not in BACKENDS:
        raise NotImplementedError(
            "Only the following pyro backends are currently implemented:\n" + "\n".join(BACKENDS))
    inputs, outputs = _parse(equation, plates)
    if len(inputs) != len(operands):
        raise ValueError(f"einsum equation {equation!r} names {len(inputs)} operands, "
                         f"got {len(operands)}")
    for spec, x in zip(inputs, operands):
        if len(spec) != x.dim():
            raise ValueError(f"einsum operand {spec!r} has shape {tuple(x.shape)}: "
                             f"{x.dim()} dims for {len(spec)} symbols")
    if not modulo_total and any(outputs):
        raise NotImplementedError(
            "Try setting modulo_total=True and ensuring that your use case allows an arbitrary "
            "scale factor on each result plate.")
    linear = backend == "torch"
    maximize = backend.endswith("torch_map")
    items = []
    for spec, x in zip(inputs, operands):
        y = _pack(x.view(x.shape), spec)  # a view: the caller's tensor keeps its attributes
        items.append((frozenset(c for c in spec if c in plates), y))
    all_dims = {c for spec in inputs for c in spec if c not in plates}
    results = []
    for output in outputs:
        target_ordinal = frozenset(c for c in output if c in plates)
        target_dims = {c for c in output if c not in plates}
        if maximize:
            if target_ordinal:
                raise NotImplementedError("torch_map einsum supports outputs without plates only")
            terms, ordinals, sizes = _terms(items, all_dims)
            result = _total(terms, ordinals, "".join(sorted(target_dims)), sizes, False, True)
            result = _pack(result, "".join(sorted(target_dims)))
        else:
            result = _contract_to_tensor(items, all_dims, target_ordinal, target_dims, linear)
        dims = _dims(result)
        if dims != output:
            result = result.permute([dims.index(c) for c in output])
        results.append(_pack(result, output))
    if backend in BACKENDS[2:] and any(hasattr(x, "_pyro_backward") for x in operands):
        for result in results:
            result._pyro_backward = _PlatedBackward(backend, inputs, plates, list(operands),
                                                    items)
    return tuple(results)


class _PlatedBackward(Backward):
    """The backward pass of a plated einsum: marginals by autograd, MAP values or posterior
    draws by replaying the elimination (see :mod:`pyro.infer.enum.sampling`)."""

    def __init__(self, backend: str, inputs: List[str], plates: str,
                 operands: List[torch.Tensor], items: list) -> None:
        self.backend = backend
        self.inputs = inputs
        self.plates = plates
        self.operands = operands
        self.items = items

    def process(self, message: Any) -> Sequence[Tuple[Backward, Any]]:
        sum_dims = {c for spec in self.inputs for c in spec if c not in self.plates}
        terms, ordinals, sizes = _terms(self.items, sum_dims)
        marked = [(k, x._pyro_backward) for k, x in enumerate(self.operands)
                  if isinstance(getattr(x, "_pyro_backward", None), _LeafBackward)]
        out = []
        if self.backend.endswith("torch_marginal"):
            leaves = [terms[k][1].tensor for k, _ in marked]
            with torch.enable_grad():
                detached = [t.detach().requires_grad_() for t in leaves]
                swapped = list(terms)
                for (k, _), t in zip(marked, detached):
                    o, f, s, n = terms[k]
                    swapped[k] = (o, Factor(t, f.labels), s, n)
                log_z = _total(swapped, ordinals, "", sizes, False)
                grads = torch.autograd.grad(log_z, detached)
            for (k, backward), grad in zip(marked, grads):
                n = self.operands[k].dim()
                if grad.dim() > n:  # plates the operand was broadcast along
                    grad = grad.sum(list(range(n, grad.dim())))
                out.append((backward, log_z.detach() + grad.log()))
            return out
        tape: list = []
        with torch.no_grad():
            contract(terms, set(ordinals), ordinals, tape=tape,
                     maximize=self.backend.endswith("torch_map"))
            drawn: Dict[Any, Factor] = {}
            for step, labels in reversed(tape):
                drawn.update(_draw(step, labels, drawn, 0 if self.backend.endswith("torch_map") else 1))
        for k, backward in marked:
            spec = self.inputs[k]
            batch = "".join(c for c in spec if c in self.plates)
            sample_dims = "".join(c for c in spec if c not in self.plates)
            shape = [sizes[c] for c in batch]
            values = []
            for c in sample_dims:
                f = drawn[c]
                labs = "".join(f.labels)
                values.append(_align(f.tensor, labs, batch).expand(shape) if labs else
                              f.tensor.expand(shape))
            out.append((backward, sample_message(values, sample_dims, batch, shape)))
        return out


def ubersum(equation: str, *operands: torch.Tensor, **kwargs: Any) -> Tuple[torch.Tensor, ...]:
    """Deprecated name of :func:`einsum` (``batch_dims`` is the old name of ``plates``)."""
    warnings.warn("'ubersum' is deprecated, use 'pyro.ops.contract.einsum' instead",
                  DeprecationWarning)
    if "batch_dims" in kwargs:
        warnings.warn("'batch_dims' is deprecated, use 'plates' instead", DeprecationWarning)
        kwargs["plates"] = kwargs.pop("batch_dims")
    return einsum(equation, *operands, **kwargs)
