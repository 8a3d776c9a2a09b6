"""One chain's recorded potential graph run for ``C`` chains at once, op by op.

For a model that does not broadcast over a chain plate (``x @ w`` with ``w`` of shape
``(D,)``), the single-chain potential and its gradient are recorded once as a list of ATen ops
(:mod:`~pyro.infer.mcmc.compiled`), and each op is then applied to tensors with a leading
chain dim by a small rule: pointwise ops broadcast (a batched operand of lower rank gets unit
dims after the chain dim), reductions and shape ops shift their dims by one, ``mv``/``mm``
become batched products, ``binary_cross_entropy_with_logits`` broadcasts its operands. Tensors
that do not depend on the position (the data) stay unbatched. The graph keeps the ops the
model was written with, where ``torch.func.vmap`` may rewrite one into many smaller ops (it
does so for the Bernoulli log-density with logits), so it is the cheaper batch.

An op without a rule raises :class:`Unbatchable`, and the caller maps the potential with
``torch.func.vmap`` instead; the result is checked per chain against the single-chain
potential before use, as every batched route is.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten

from pyro.infer.mcmc.compiled import _Recorder, _simplify

__all__ = ["Unbatchable", "batch_recorded"]

EnergyGrad = Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]
aten = torch.ops.aten


class Unbatchable(Exception):
    """An op of the recorded graph has no batching rule here."""


def _norm(d: int, rank: int) -> int:
    return d + rank if d < 0 else d


def _pad(x: torch.Tensor, rank: int) -> torch.Tensor:
    """A batched ``x`` with unit dims after the chain dim up to logical rank ``rank``."""
    extra = rank - (x.dim() - 1)
    return x.reshape((x.shape[0],) + (1,) * extra + tuple(x.shape[1:])) if extra > 0 else x


def _broadcast(shapes: List[Tuple[int, ...]]) -> Tuple[int, ...]:
    # (torch.broadcast_shapes imports sympy on first use: seconds.)
    rank = max(len(s) for s in shapes)
    out = [1] * rank
    for s in shapes:
        for i, n in enumerate(s, rank - len(s)):
            if n != 1:
                if out[i] not in (1, n):
                    raise Unbatchable(f"shapes {shapes} do not broadcast")
                out[i] = n
    return tuple(out)


class _Rules:
    """The batching rules; ``batched`` holds the ids of the batched tensors of one op."""

    def __init__(self, num_chains: int) -> None:
        self.C = num_chains
        self.batched: set = set()
        self.table: Dict[Any, Callable[..., Any]] = {
            aten.sum.default: self._reduce, aten.sum.dim_IntList: self._reduce,
            aten.mean.default: self._reduce, aten.mean.dim: self._reduce,
            aten.amax.default: self._reduce, aten.amin.default: self._reduce,
            aten.logsumexp.default: self._reduce,
            aten.view.default: self._view, aten._unsafe_view.default: self._view,
            aten.reshape.default: self._view,
            aten.expand.default: self._expand, aten.unsqueeze.default: self._unsqueeze,
            aten.squeeze.dim: self._squeeze, aten.permute.default: self._permute,
            aten.transpose.int: self._transpose, aten.t.default: self._t,
            aten.select.int: self._dim_at_1, aten.slice.Tensor: self._dim_at_1,
            aten.split_with_sizes.default: self._split, aten.split.Tensor: self._split,
            aten.cat.default: self._cat, aten.stack.default: self._stack,
            aten._log_softmax.default: self._dim_at_1, aten._softmax.default: self._dim_at_1,
            aten._log_softmax_backward_data.default: self._dim_at_2,
            aten._softmax_backward_data.default: self._dim_at_2,
            aten.mv.default: self._mv, aten.mm.default: self._mm, aten.dot.default: self._dot,
            aten.binary_cross_entropy_with_logits.default: self._bce,
            aten.clone.default: self._same, aten.alias.default: self._same,
            aten.detach.default: self._same, aten._to_copy.default: self._same,
            aten.zeros_like.default: self._same, aten.ones_like.default: self._same,
            aten.empty_like.default: self._same, aten.full_like.default: self._same,
        }

    def isb(self, x: Any) -> bool:
        return isinstance(x, torch.Tensor) and id(x) in self.batched

    def rank(self, x: torch.Tensor) -> int:
        return x.dim() - 1 if self.isb(x) else x.dim()

    def apply(self, func: Any, flat: List[Any], spec: Any) -> Any:
        rule = self.table.get(func)
        if rule is not None:
            args, kwargs = tree_unflatten(flat, spec)
            return rule(func, *args, **kwargs)
        if torch.Tag.pointwise in func.tags:
            return self._pointwise(func, flat, spec)
        raise Unbatchable(f"no batching rule for {func}")

    # ----- rules ----------------------------------------------------------------------------
    def _pointwise(self, func: Any, flat: List[Any], spec: Any) -> Any:
        rank = max(self.rank(x) for x in flat if isinstance(x, torch.Tensor))
        flat = [_pad(x, rank) if self.isb(x) else x for x in flat]
        args, kwargs = tree_unflatten(flat, spec)
        return func(*args, **kwargs)

    def _same(self, func: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        return func(x, *args, **kwargs)

    def _reduce(self, func: Any, x: torch.Tensor, dims: Any = None, keepdim: bool = False,
                **kwargs: Any) -> Any:
        rank = x.dim() - 1
        if isinstance(dims, int):
            dims = [dims]
        if not dims:
            dims = list(range(rank))
        if rank == 0:
            if func in (aten.sum.default, aten.sum.dim_IntList, aten.mean.default,
                        aten.mean.dim, aten.amax.default, aten.amin.default):
                dtype = kwargs.get("dtype")
                return x.clone() if dtype is None else x.to(dtype)
            raise Unbatchable(f"{func} of a scalar")
        new = [_norm(d, rank) + 1 for d in dims]
        if func in (aten.sum.default, aten.sum.dim_IntList):
            return aten.sum.dim_IntList(x, new, keepdim, **kwargs)
        if func in (aten.mean.default, aten.mean.dim):
            return aten.mean.dim(x, new, keepdim, **kwargs)
        if func is aten.amax.default:
            return aten.amax.default(x, new, keepdim)
        if func is aten.amin.default:
            return aten.amin.default(x, new, keepdim)
        return aten.logsumexp.default(x, new, keepdim)

    def _view(self, func: Any, x: torch.Tensor, shape: Sequence[int]) -> Any:
        return x.reshape((self.C,) + tuple(shape))

    def _expand(self, func: Any, x: torch.Tensor, size: Sequence[int],
                implicit: bool = False) -> Any:
        return _pad(x, len(size)).expand((self.C,) + tuple(size))

    def _unsqueeze(self, func: Any, x: torch.Tensor, d: int) -> Any:
        return x.unsqueeze(_norm(d, x.dim()) + 1)

    def _squeeze(self, func: Any, x: torch.Tensor, d: int) -> Any:
        return x.squeeze(_norm(d, x.dim() - 1) + 1)

    def _permute(self, func: Any, x: torch.Tensor, dims: Sequence[int]) -> Any:
        rank = x.dim() - 1
        return x.permute([0] + [_norm(d, rank) + 1 for d in dims])

    def _transpose(self, func: Any, x: torch.Tensor, a: int, b: int) -> Any:
        rank = x.dim() - 1
        return x.transpose(_norm(a, rank) + 1, _norm(b, rank) + 1)

    def _t(self, func: Any, x: torch.Tensor) -> Any:
        return x.transpose(1, 2) if x.dim() == 3 else x

    def _dim_at_1(self, func: Any, x: torch.Tensor, dim: int = 0, *args: Any,
                  **kwargs: Any) -> Any:
        return func(x, _norm(dim, x.dim() - 1) + 1, *args, **kwargs)

    def _dim_at_2(self, func: Any, a: torch.Tensor, b: torch.Tensor, dim: int,
                  *args: Any) -> Any:
        if not (self.isb(a) and self.isb(b)):
            raise Unbatchable(f"{func} of a batched and an unbatched tensor")
        return func(a, b, _norm(dim, a.dim() - 1) + 1, *args)

    def _split(self, func: Any, x: torch.Tensor, sizes: Any, dim: int = 0) -> Any:
        return func(x, sizes, _norm(dim, x.dim() - 1) + 1)

    def _batch_all(self, tensors: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        out = []
        for t in tensors:
            out.append(t if self.isb(t) else t.unsqueeze(0).expand((self.C,) + tuple(t.shape)))
        return out

    def _cat(self, func: Any, tensors: Sequence[torch.Tensor], dim: int = 0) -> Any:
        ref = next(t for t in tensors if self.isb(t))
        return torch.cat(self._batch_all(tensors), _norm(dim, ref.dim() - 1) + 1)

    def _stack(self, func: Any, tensors: Sequence[torch.Tensor], dim: int = 0) -> Any:
        ref = next(t for t in tensors if self.isb(t))
        return torch.stack(self._batch_all(tensors), _norm(dim, ref.dim()) + 1)

    def _mv(self, func: Any, a: torch.Tensor, x: torch.Tensor) -> Any:
        if self.isb(a) and self.isb(x):
            return (a @ x.unsqueeze(-1)).squeeze(-1)
        if self.isb(a):
            return a @ x
        return x @ a.transpose(0, 1)

    def _mm(self, func: Any, a: torch.Tensor, b: torch.Tensor) -> Any:
        return torch.matmul(a, b)

    def _dot(self, func: Any, a: torch.Tensor, b: torch.Tensor) -> Any:
        return (a * b).sum(-1)

    def _bce(self, func: Any, x: torch.Tensor, target: torch.Tensor, weight: Any = None,
             pos_weight: Any = None, reduction: int = 1) -> Any:
        if reduction != 0:
            raise Unbatchable("a reduced binary_cross_entropy_with_logits")
        parts = [t for t in (x, target, weight, pos_weight) if isinstance(t, torch.Tensor)]
        rank = max(self.rank(t) for t in parts)
        padded = [_pad(t, rank) if self.isb(t) else t for t in parts]
        shape = _broadcast([tuple(t.shape) for t in padded])
        x, target, *rest = [t.expand(shape) for t in padded]
        weight = rest.pop(0) if weight is not None else None
        pos_weight = rest.pop(0) if pos_weight is not None else None
        return func(x, target, weight, pos_weight, reduction)


def batch_recorded(energy_and_grad: EnergyGrad, z: torch.Tensor) -> EnergyGrad:
    """``(C, D) -> ((C,), (C, D))`` from the single-chain ``energy_and_grad`` recorded at
    ``z[0]``: its ops replayed with the chain as a batch dim (see the module docstring).

    Raises :class:`Unbatchable` when an op has no rule or the recording fails."""
    num_chains = z.shape[0]
    point = z[0].detach().clone()
    try:
        recorder = _Recorder([point])
        with recorder:
            outs = energy_and_grad(point)
        slots = [recorder.slot(o) for o in outs]
        if any(s is None for s in slots):
            raise Unbatchable("an output was not made by the recorded ops")
        steps, out_slots, num_slots = _simplify(recorder, slots)
    except Unbatchable:
        raise
    except Exception as e:  # a dynamic potential: value-dependent ops
        raise Unbatchable(str(e)) from e
    if any(func._schema.is_mutable for func, _, _, _ in steps):
        raise Unbatchable("an in-place op")
    constants = recorder.constants

    def batched(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if x.shape != z.shape:
            raise ValueError(f"batched potential: expected positions of shape "
                             f"{tuple(z.shape)}, got {tuple(x.shape)}")
        rules = _Rules(num_chains)
        values: List[Any] = [None] * num_slots
        is_batched = [False] * num_slots
        values[0], is_batched[0] = x, True
        for func, template, spec, outs in steps:
            flat = []
            rules.batched = set()
            for kind, i in template:
                if kind == "s":
                    flat.append(values[i])
                    if is_batched[i]:
                        rules.batched.add(id(values[i]))
                else:
                    flat.append(constants[i] if kind == "c" else i)
            if rules.batched:
                result, _ = tree_flatten(rules.apply(func, flat, spec))
                out_batched = True
            else:
                args, kwargs = tree_unflatten(flat, spec)
                result, _ = tree_flatten(func(*args, **kwargs))
                out_batched = False
            for slot, value in zip(outs, result):
                if slot is not None:
                    values[slot], is_batched[slot] = value, out_batched
        if not all(is_batched[s] for s in out_slots):
            raise Unbatchable("an output does not depend on the position")
        energy, grad = (values[s] for s in out_slots)
        return energy, grad

    return batched
