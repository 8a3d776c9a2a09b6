"""A potential and its gradient captured once as a flat list of tensor ops and compiled.

:func:`capture` runs an eager ``z -> (energy, grad)`` function once under a dispatch mode that
records every ATen op the forward pass and the backward pass execute (the Python work of the
model, of the handlers and of the autograd engine is not recorded). The recorded ops are
replayed on a new ``z`` by a small function that ``torch.jit.trace`` turns into one graph, so
a later call costs the tensor ops alone. Tensors the function reads but did not make (the
model's data) are kept as constants.

The capture is checked against the eager function at two more points (values and gradients
within a tight tolerance); a model whose ops depend on the values (a branch on a sample, an
``.item()``), an op the recorder cannot replay, or a mismatch gives ``None`` and the caller
keeps the eager function. Nothing is warned.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["capture", "capture_fn", "check_points"]

EnergyGrad = Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]


class _Dynamic(Exception):
    """The function's ops depend on the values: it cannot be captured."""


def _key(t: torch.Tensor) -> Tuple[Any, ...]:
    # Autograd saves some outputs as new tensor objects over the same memory: find those by
    # where they lie rather than by identity.
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(),
            t.dtype)


class _Recorder(TorchDispatchMode):
    """Record ``(op, args template, kwargs template, output slots)`` of every op."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Wrapping the handler to keep dynamo out would import dynamo (seconds) on first use.
        return False

    def __init__(self, inputs: List[torch.Tensor]) -> None:
        super().__init__()
        self.steps: List[Any] = []
        self.constants: List[torch.Tensor] = []
        self._by_id: Dict[int, int] = {}
        self._by_key: Dict[Tuple[Any, ...], int] = {}
        self.alive: List[torch.Tensor] = []  # slot -> tensor; keeps ids from being reused
        self.num_slots = 0
        self.num_inputs = len(inputs)
        for t in inputs:
            self._slot_of_new(t)

    def _slot_of_new(self, t: torch.Tensor) -> int:
        slot = self.num_slots
        self.num_slots += 1
        self.alive.append(t)
        self._by_id[id(t)] = slot
        if t.layout == torch.strided and t.device.type != "meta":
            self._by_key[_key(t)] = slot
        return slot

    def slot(self, t: torch.Tensor) -> Optional[int]:
        """The slot holding ``t`` (``None`` when the recording did not make it)."""
        slot = self._by_id.get(id(t))
        if slot is None and t.layout == torch.strided:
            slot = self._by_key.get(_key(t))
        return slot

    def _template(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            slot = self.slot(value)
            if slot is not None:
                return ("s", slot)
            self.constants.append(value.detach())
            return ("c", len(self.constants) - 1)
        return ("v", value)

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: Optional[dict] = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.ops.aten._local_scalar_dense.default:
            raise _Dynamic("a value is read back into Python")
        flat, spec = tree_flatten((args, kwargs))
        template = [self._template(v) for v in flat]
        out = func(*args, **kwargs)
        outs, out_spec = tree_flatten(out)
        out_slots = []
        for o in outs:
            if not isinstance(o, torch.Tensor):
                raise _Dynamic(f"{func} returns a non-tensor")
            existing = self._by_id.get(id(o))
            if existing is not None and any(o is a for a in flat):
                out_slots.append(None)  # an in-place op: the slot already holds it
            else:
                out_slots.append(self._slot_of_new(o))
        self.steps.append((func, template, spec, out_slots))
        return out


_ALIASES = {"aten.detach.default", "aten.alias.default", "aten.lift_fresh.default"}


def _functional(func: Any) -> Any:
    """The out-of-place twin of an in-place op ``aten.f_`` (``None`` when there is none)."""
    name = func._schema.name.split("::")[-1]
    if not name.endswith("_") or name.startswith("_"):
        return None
    packet = getattr(torch.ops.aten, name[:-1], None)
    return getattr(packet, func._overloadname, None) if packet is not None else None


# Ops that return their first (or, commutative, either) tensor operand when the other operand
# is this number: x * 1, x / 1, x + 0, x - 0, x ** 1 (the autograd engine and the scoring of
# standard distributions make many).
_NEUTRAL = {"aten.mul.Tensor": (1, True), "aten.mul.Scalar": (1, True),
            "aten.div.Tensor": (1, False), "aten.div.Scalar": (1, False),
            "aten.add.Tensor": (0, True), "aten.add.Scalar": (0, True),
            "aten.sub.Tensor": (0, False), "aten.sub.Scalar": (0, False),
            "aten.pow.Tensor_Scalar": (1, False)}
_SAME_SHAPE_VIEWS = {"aten.view.default", "aten.reshape.default", "aten._unsafe_view.default",
                     "aten.expand.default"}


def _identity_of(func: Any, recorded: List[Tuple[str, Any]], template: List[Tuple[str, Any]],
                 outs: List[Optional[int]], alive: List[torch.Tensor],
                 constants: List[torch.Tensor]) -> Optional[Tuple[str, Any]]:
    """The operand an op returns unchanged (same shape and dtype), or ``None``."""
    name = str(func)
    if len(outs) != 1 or outs[0] is None or outs[0] >= len(alive):
        return None
    out = alive[outs[0]]

    def same(k: int) -> bool:
        kind, i = recorded[k]
        return (kind == "s" and i < len(alive) and alive[i].shape == out.shape
                and alive[i].dtype == out.dtype)

    if name in _SAME_SHAPE_VIEWS:
        return template[0] if same(0) else None
    neutral = _NEUTRAL.get(name)
    if neutral is None or len(template) < 2:
        return None
    value, commutative = neutral
    # (The swapped order only without an ``alpha``: add(0, x, alpha=2) is 2 x.)
    for k in ((0, 1), (1, 0)) if commutative and len(template) == 2 else ((0, 1),):
        kind, other = template[k[1]]
        if kind == "c" and constants[other].dim() == 0 and constants[other].is_floating_point():
            other = float(constants[other])
        elif kind != "v" or not isinstance(other, (int, float)) or isinstance(other, bool):
            continue
        if other == value and same(k[0]):
            return template[k[0]]
    return None


def _simplify(recorder: _Recorder, out_slots: List[int]) -> Tuple[List[Any], List[int], int]:
    """The recorded steps with in-place ops made out-of-place (where the written tensor shares
    its memory with no other), what does not depend on the inputs precomputed (the model's
    constants), no-op aliases dropped and unused steps removed. Where nothing writes in place,
    ops that return an operand unchanged (``x * 1``, ``x + 0``, a view to the same shape) are
    dropped and an op repeated on the same operands is computed once. Left as recorded when
    an op writes in a way this cannot undo."""
    steps = recorder.steps
    unchanged = (steps, out_slots, recorder.num_slots)
    num_inputs = recorder.num_inputs
    constants = recorder.constants
    alive = recorder.alive
    sharing: Dict[int, List[int]] = {}  # memory -> the slots over it
    for slot, t in enumerate(alive):
        if t.layout == torch.strided:
            sharing.setdefault(t.untyped_storage().data_ptr(), []).append(slot)
    num_slots = recorder.num_slots
    rename: Dict[int, Any] = {}
    kept = []
    made = num_inputs  # the slots made before the current step
    aliases = set(_ALIASES)
    pure = not any(func._schema.is_mutable for func, _, _, _ in steps)
    if pure:
        aliases.add("aten.clone.default")  # a copy is an alias where nothing writes in place
    seen: Dict[Tuple[Any, str, str], List[int]] = {}

    def resolve(kind: str, i: Any) -> Tuple[str, Any]:
        while kind == "s" and i in rename:
            kind, i = rename[i]
        return kind, i

    for func, recorded, spec, outs in steps:
        template = [resolve(kind, i) for kind, i in recorded]
        if func._schema.is_mutable:
            # Safe to write out of place when no other tensor made so far (a view, an alias)
            # lies over the written memory: later aliases then read the new value.
            twin = _functional(func)
            kind, target = recorded[0]
            if (twin is None or outs != [None] or kind != "s" or target < num_inputs
                    or any(other != target and other < made for other in
                           sharing[alive[target].untyped_storage().data_ptr()])):
                return unchanged
            outs = [num_slots]
            rename[target] = ("s", num_slots)
            num_slots += 1
            func = twin
        else:
            made = max([made] + [o + 1 for o in outs if o is not None])
        tensors = [(kind, i) for kind, i in template if kind in ("s", "c")]
        if str(func) in aliases and len(outs) == 1 and tensors:
            rename[outs[0]] = tensors[0]
            continue
        if (all(kind == "c" for kind, _ in tensors)
                and torch.Tag.nondeterministic_seeded not in func.tags):
            flat = [constants[i] if kind == "c" else i for kind, i in template]
            args, kwargs = tree_unflatten(flat, spec)
            values, _ = tree_flatten(func(*args, **kwargs))
            for slot, value in zip(outs, values):
                constants.append(value)
                rename[slot] = ("c", len(constants) - 1)
            continue
        if pure:
            same = _identity_of(func, recorded, template, outs, alive, constants)
            if same is not None:
                rename[outs[0]] = same
                continue
            if torch.Tag.nondeterministic_seeded not in func.tags:
                key = (func, repr(template), str(spec))
                earlier = seen.get(key)
                if earlier is not None:  # the same op on the same values: computed already
                    for slot, prev in zip(outs, earlier):
                        rename[slot] = ("s", prev)
                    continue
                seen[key] = outs
        kept.append((func, template, spec, outs))
    outputs = [resolve("s", s) for s in out_slots]
    if any(kind != "s" for kind, _ in outputs):
        raise _Dynamic("an output does not depend on the inputs")
    outputs = [i for _, i in outputs]
    needed_slots = set(outputs) | set(range(num_inputs))
    live = []
    for step in reversed(kept):
        if any(slot in needed_slots for slot in step[3]):
            live.append(step)
            needed_slots.update(i for kind, i in step[1] if kind == "s")
    return list(reversed(live)), outputs, num_slots


def _replayer(recorder: _Recorder, out_slots: List[int]) -> Callable[..., Any]:
    steps, out_slots, num_slots = _simplify(recorder, out_slots)
    constants = recorder.constants

    def replay(*inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        slots: List[Any] = [None] * num_slots
        slots[:len(inputs)] = inputs
        for func, template, spec, outs in steps:
            flat = [slots[i] if kind == "s" else constants[i] if kind == "c" else i
                    for kind, i in template]
            args, kwargs = tree_unflatten(flat, spec)
            result, _ = tree_flatten(func(*args, **kwargs))
            for slot, value in zip(outs, result):
                if slot is not None:
                    slots[slot] = value
        return tuple(slots[i] for i in out_slots)

    return replay


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype == torch.bool:
        return bool((a == b).all())
    return bool(torch.allclose(a, b, rtol=1e-5, atol=1e-5, equal_nan=True))


def check_points(z: torch.Tensor, n: int) -> List[torch.Tensor]:
    """``n`` positions near ``z`` (from a fixed generator, so the global stream is untouched)."""
    g = torch.Generator(device=z.device).manual_seed(0)
    return [z + torch.randn(z.shape, generator=g, dtype=z.dtype, device=z.device)
            for _ in range(n)]


def capture_fn(fn: Callable[..., Tuple[torch.Tensor, ...]], inputs: Tuple[torch.Tensor, ...],
               check_inputs: List[Tuple[torch.Tensor, ...]]
               ) -> Optional[Callable[..., Tuple[torch.Tensor, ...]]]:
    """``fn`` (tensors in, a tuple of tensors out) compiled from one run on ``inputs``, or
    ``None`` when it cannot be (see the module docstring).

    Args:
        fn: an eager function of tensors only; nothing else it reads may change later.
        inputs: where to record it.
        check_inputs: more inputs (of the same shapes) where the compiled function must agree
            with ``fn``.
    """
    inputs = tuple(t.detach().clone() for t in inputs)
    try:
        recorder = _Recorder(list(inputs))
        with recorder:
            outs = fn(*inputs)
        slots = [recorder.slot(o) for o in outs]
        if any(s is None for s in slots):
            return None
        replay = _replayer(recorder, slots)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.no_grad():
                compiled = torch.jit.trace(replay, inputs, check_trace=False)
        for point in [inputs] + list(check_inputs):
            point = tuple(t.detach() for t in point)
            expected = fn(*point)
            with torch.no_grad():
                got = compiled(*point)
            if len(got) != len(expected) or not all(_close(a, b) for a, b in zip(got, expected)):
                return None
    except Exception:  # a dynamic model, or an op the recorder cannot replay: stay eager
        return None

    def run(*args: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        with torch.no_grad():
            return compiled(*args)

    return run


def capture(energy_and_grad: EnergyGrad, z: torch.Tensor,
            check_points: List[torch.Tensor]) -> Optional[EnergyGrad]:
    """``energy_and_grad`` compiled from one run at ``z``, or ``None`` when it cannot be.

    Args:
        energy_and_grad: eager ``z -> (energy, grad)``; ``z`` is a flat position (or a batch
            of them) and must be the only input that changes between calls.
        z: where to record it.
        check_points: more positions (of ``z``'s shape) where the compiled function must agree
            with the eager one.
    """
    compiled = capture_fn(energy_and_grad, (z,), [(p,) for p in check_points])
    if compiled is None:
        return None

    def run(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return compiled(x)

    return run
