"""`PyroOptim`: torch optimizers for parameters that appear while a program runs.

Pyro creates parameters lazily, the first time a model or guide calls :func:`pyro.param`, so an
optimizer cannot be handed the full parameter list up front. :class:`PyroOptim` is called with the
parameters of each step instead and takes in the new ones as they come.

Pyro builds one torch optimizer per parameter. Here parameters whose optimizers would be
indistinguishable at the level of a torch param group (same settings, same clipping, same current
hyperparameters and, for schedulers, the same scheduler state) share one torch optimizer, so one
step is one vectorised update. Every optimizer torch ships keeps its state per parameter, so the
numbers are those of one optimizer per parameter. The exception is an optimizer whose state
spans all of its parameters (:class:`torch.optim.LBFGS`): a parameter joins one of those only
before its first step, and otherwise starts an optimizer of its own.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

import torch

import pyro
from pyro.optim._equality import same
from pyro.params import module_from_param_with_module_name, normalize_param_name, user_param_name
from pyro.params import serialization

_FORMAT = "pyro-optim-state"
_CLIP_KEYS = frozenset({"clip_norm", "clip_value"})

#: Optimizers whose state is joint over all their parameters; see the module docstring.
JOINT_STATE_OPTIMIZERS: tuple = (torch.optim.LBFGS,)

OptimArgs = Union[Dict[str, Any], Callable[..., Dict[str, Any]]]

#: Optimizers that run torch's fused kernel (``fused=True``) unless the settings choose an
#: implementation themselves (``fused``, ``foreach``, ``differentiable``, ``capturable``). One
#: kernel updates every parameter of a group: on the CPU a step of Adam over a few parameters
#: costs about a third of torch's default loop over them, and the saving grows with the number
#: of parameters. The numbers equal the default implementation's up to rounding (about one unit
#: in the last place per step); ``{"fused": False}`` restores torch's default exactly.
FUSED_BY_DEFAULT: tuple = (torch.optim.Adam, torch.optim.AdamW)
_IMPLEMENTATION_KEYS = frozenset({"fused", "foreach", "differentiable", "capturable"})
_FUSED_DTYPES = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64})


def _fusable(p: torch.Tensor) -> bool:
    return (p.dtype in _FUSED_DTYPES and p.layout == torch.strided
            and p.device.type in ("cpu", "cuda"))


def _describe(p: torch.Tensor, name: Optional[str]) -> str:
    if name is not None:
        return f"param '{name}'"
    return f"an unnamed tensor of shape {tuple(p.shape)} (not in the param store)"


def _arity(fn: Callable) -> int:
    try:
        return len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return 2


def _check_plain(obj: Any, where: str) -> None:
    """Raise ValueError unless ``obj`` holds only what a safe load can read back."""
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor, torch.dtype, torch.device)):
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_plain(v, f"{where}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise ValueError(f"cannot save optimizer state: key {k!r} at {where} is not a str or int")
            _check_plain(v, f"{where}[{k!r}]")
        return
    raise ValueError(
        f"cannot save optimizer state: {where} holds a {type(obj).__name__}, which a safe load "
        f"could not read back (only tensors, numbers, strings and containers of them are saved)"
    )


def _copy_tensors(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _copy_tensors(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy_tensors(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_copy_tensors(v) for v in obj)
    return obj


def _check_optimizer_state(entry: Any, name: str) -> None:
    if not isinstance(entry, dict) or set(entry) != {"state", "param_groups"}:
        raise ValueError(
            f"optimizer state of param '{name}' must be a torch optimizer state dict with keys "
            f"'state' and 'param_groups'"
        )
    groups = entry["param_groups"]
    if (not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict)
            or list(groups[0].get("params", ())) != [0]):
        raise ValueError(
            f"optimizer state of param '{name}' must describe exactly one parameter (one param "
            f"group with params [0])"
        )
    if not isinstance(entry["state"], dict) or not set(entry["state"]) <= {0}:
        raise ValueError(f"optimizer state of param '{name}' has per-parameter state for other parameters")


class _Group:
    """One torch optimizer (and, for schedulers, its scheduler) shared by several parameters."""

    __slots__ = ("optim_args", "clip_args", "optimizer", "scheduler", "params")

    def __init__(self, optim_args: Dict[str, Any], clip_args: Optional[Dict[str, Any]],
                 optimizer: Any, scheduler: Any, param: torch.Tensor) -> None:
        self.optim_args = optim_args
        self.clip_args = clip_args
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.params: List[torch.Tensor] = [param]

    @property
    def obj(self) -> Any:
        """What Pyro keeps per parameter: the scheduler if there is one, else the optimizer."""
        return self.optimizer if self.scheduler is None else self.scheduler

    def shareable(self) -> bool:
        groups = getattr(self.optimizer, "param_groups", None)
        return isinstance(groups, list) and len(groups) == 1 and groups[0]["params"] is not None

    def hyperparams(self) -> Dict[str, Any]:
        return {k: v for k, v in self.optimizer.param_groups[0].items() if k != "params"}

    def scheduler_state(self) -> Optional[Dict[str, Any]]:
        return None if self.scheduler is None else self.scheduler.state_dict()

    def joint(self) -> bool:
        return isinstance(self.optimizer, JOINT_STATE_OPTIMIZERS)

    def accepts(self, other: "_Group") -> bool:
        """Whether ``other``'s single parameter can join this group without changing any number."""
        if not (self.shareable() and other.shareable()):
            return False
        if type(self.optimizer) is not type(other.optimizer):
            return False
        if self.joint() and (len(self.optimizer.state) or len(other.optimizer.state)):
            return False
        return (
            same(self.optim_args, other.optim_args)
            and same(self.clip_args, other.clip_args)
            and same(self.hyperparams(), other.hyperparams())
            and same(self.scheduler_state(), other.scheduler_state())
        )

    def absorb(self, other: "_Group") -> None:
        """Take in the single parameter of ``other`` together with its per-parameter state."""
        (p,) = other.params
        self.optimizer.param_groups[0]["params"].append(p)
        if p in other.optimizer.state:
            self.optimizer.state[p] = other.optimizer.state[p]
        self.params.append(p)

    def remove(self, p: torch.Tensor) -> None:
        for lst in (self.params, self.optimizer.param_groups[0]["params"]):
            for i, q in enumerate(lst):
                if q is p:
                    del lst[i]
                    break
        self.optimizer.state.pop(p, None)

    def step(self, active: List[torch.Tensor], args: tuple, kwargs: dict) -> Any:
        """Step the optimizer on ``active`` only: other members' gradients are hidden meanwhile."""
        hidden = []
        if len(active) != len(self.params):
            ids = {id(p) for p in active}
            for p in self.params:
                if id(p) not in ids and p.grad is not None:
                    hidden.append((p, p.grad))
                    p.grad = None
        try:
            return self.optimizer.step(*args, **kwargs)
        finally:
            for p, g in hidden:
                p.grad = g


def _clip_grads(params: List[torch.Tensor], clip_norm: Optional[float] = None,
                clip_value: Optional[float] = None) -> None:
    """Clip each parameter's gradient on its own, as :func:`torch.nn.utils.clip_grad_norm_` and
    :func:`torch.nn.utils.clip_grad_value_` would applied to that parameter alone."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    if clip_norm is not None:
        by_device: Dict[Any, List[torch.Tensor]] = {}
        for g in grads:
            by_device.setdefault((g.device, g.is_sparse), []).append(g)
        for (device, sparse), gs in by_device.items():
            if sparse:
                for g in gs:
                    torch.nn.utils.clip_grad_norm_([g], clip_norm)  # accepts tensors as params
                continue
            norms = torch.stack([torch.linalg.vector_norm(g, 2) for g in gs])
            # the norm of the one-element vector [n], exactly as clip_grad_norm_ of one tensor
            totals = torch.linalg.vector_norm(norms.unsqueeze(-1), 2, dim=-1)
            coefs = torch.clamp(clip_norm / (totals + 1e-6), max=1.0)
            torch._foreach_mul_(gs, list(coefs.unbind()))
    if clip_value is not None:
        dense = [g for g in grads if not g.is_sparse]
        if dense:
            torch._foreach_clamp_min_(dense, -clip_value)
            torch._foreach_clamp_max_(dense, clip_value)
        for g in grads:
            if g.is_sparse:
                g.coalesce().values().clamp_(-clip_value, clip_value)


class _GradClipper:
    """Pyro-compatible per-parameter gradient clipping callable (``optim.grad_clip[p](p)``)."""

    def __init__(self, clip_args: Dict[str, Any]) -> None:
        self.clip_args = clip_args

    def __call__(self, params: Union[torch.Tensor, Iterable[torch.Tensor]]) -> None:
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        _clip_grads(params, **self.clip_args)


class PyroOptim:
    """Wrap a torch optimizer so that it handles parameters created while a program runs.

    Call the instance with the (unconstrained, leaf) parameters of a step after ``backward()``:
    parameters seen for the first time are taken in, every given parameter with a gradient is
    updated, and their gradients are then cleared (set to ``None``).

    Args:
        optim_constructor: a :class:`torch.optim.Optimizer` class, or any callable taking a list
            of parameters and keyword settings and returning one.
        optim_args: keyword settings of the optimizer (``{"lr": 0.01}``), or a callable giving
            per-parameter settings: called with ``(module_name, param_name)`` (for a parameter
            of a module registered with :func:`pyro.module` the module's name and the
            parameter's own name; otherwise the store name twice), or, if it takes one
            argument, with the store name written with dots (``"module.weight"``).
        clip_args: ``{"clip_norm": ..., "clip_value": ...}`` (either may be left out) to clip each
            parameter's gradient before the step, or a callable giving them per parameter like
            ``optim_args``. ``clip_norm`` bounds the norm of each parameter's gradient
            separately.

    Example::

        optim = PyroOptim(torch.optim.Adam, {"lr": 0.01})
        loss.backward()
        optim(params)  # steps, then clears the gradients
    """

    def __init__(self, optim_constructor: Callable[..., Any], optim_args: OptimArgs,
                 clip_args: Optional[OptimArgs] = None) -> None:
        if not callable(optim_constructor):
            raise TypeError(f"optim_constructor must be an optimizer class or callable, got {optim_constructor!r}")
        if not (isinstance(optim_args, dict) or callable(optim_args)):
            raise TypeError(f"optim_args must be a dict or a callable, got {type(optim_args).__name__}")
        if not (clip_args is None or isinstance(clip_args, dict) or callable(clip_args)):
            raise TypeError(f"clip_args must be None, a dict or a callable, got {type(clip_args).__name__}")
        if isinstance(clip_args, dict):
            self._check_clip_args(clip_args, None)
        self.pt_optim_constructor = optim_constructor
        self.pt_optim_args = optim_args
        self.pt_optim_args_argc = _arity(optim_args) if callable(optim_args) else None
        self.pt_clip_args = clip_args
        self.pt_clip_args_argc = _arity(clip_args) if callable(clip_args) else None
        self._groups: List[_Group] = []
        self._group_of: Dict[int, _Group] = {}
        self._names: Dict[int, Optional[str]] = {}
        self._by_name: Dict[str, int] = {}
        self._state_waiting_to_be_consumed: Dict[str, Dict[str, Any]] = {}

    # ----- stepping -------------------------------------------------------------------------
    def __call__(self, params: Iterable[torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        """Step the optimizers of ``params`` and clear their gradients.

        Args:
            params: unconstrained leaf tensors, e.g. the parameters of a step's trace.
            *args, **kwargs: passed to each torch optimizer's ``step``, e.g. a ``closure`` for
                :class:`torch.optim.LBFGS`.

        Returns:
            What the last torch optimizer's ``step`` returned (the closure's loss, or None).
        """
        order: List[torch.Tensor] = []
        seen = set()
        for p in params:
            if id(p) in seen:
                continue
            seen.add(id(p))
            order.append(p)
            if id(p) not in self._group_of:
                self._add_param(p)
        active: Dict[int, List[torch.Tensor]] = {}
        groups: Dict[int, _Group] = {}
        for p in order:
            group = self._group_of[id(p)]
            groups[id(group)] = group
            active.setdefault(id(group), []).append(p)
        result = None
        for key, group in groups.items():
            if group.clip_args:
                _clip_grads(active[key], **group.clip_args)
            result = group.step(active[key], args, kwargs)
        for p in order:
            p.grad = None
        return result

    def _add_param(self, p: torch.Tensor, saved: Optional[Dict[str, Any]] = None) -> None:
        name = pyro.get_param_store().param_name(p)
        if not isinstance(p, torch.Tensor) or not p.is_leaf or not p.requires_grad:
            raise ValueError(
                f"PyroOptim can only optimize leaf tensors that require grad; got "
                f"{_describe(p, name) if isinstance(p, torch.Tensor) else repr(p)}"
            )
        if name is not None:
            self._forget_stale(name, p)
            if saved is None:
                saved = self._state_waiting_to_be_consumed.pop(name, None)
        candidate = self._new_group(p, name, saved)
        for group in self._groups:
            if group.accepts(candidate):
                group.absorb(candidate)
                break
        else:
            group = candidate
            self._groups.append(group)
        self._group_of[id(p)] = group
        self._names[id(p)] = name
        if name is not None:
            self._by_name[name] = id(p)

    def _new_group(self, p: torch.Tensor, name: Optional[str], saved: Optional[Dict[str, Any]]) -> _Group:
        optim_args = self._get_optim_args(p, name)
        if (self.pt_optim_constructor in FUSED_BY_DEFAULT and not _IMPLEMENTATION_KEYS & optim_args.keys()
                and _fusable(p)):
            optim_args = {**optim_args, "fused": True}
        clip_args = self._get_grad_clip_args(p, name)
        optimizer = self.pt_optim_constructor([p], **optim_args)
        scheduler = self._make_scheduler(optimizer)
        group = _Group(optim_args, clip_args, optimizer, scheduler, p)
        if saved is not None:
            self._load_into(group, saved, name)
        return group

    def _make_scheduler(self, optimizer: Any) -> Any:
        return None

    def _load_into(self, group: _Group, saved: Dict[str, Any], name: Optional[str]) -> None:
        _check_optimizer_state(saved, str(name))
        # torch keeps the given tensors where it can: copy them, so two optimizers loaded from
        # one state (or from another optimizer's get_state()) never update each other's buffers
        saved = _copy_tensors(saved)
        try:
            group.optimizer.load_state_dict(saved)
        except (ValueError, KeyError, TypeError, RuntimeError) as e:
            raise ValueError(f"cannot restore the optimizer state of param '{name}': {e}") from e

    def _forget_stale(self, name: str, p: torch.Tensor) -> None:
        """Drop the tensor that was once stored as ``name`` if the store has replaced it."""
        old_id = self._by_name.get(name)
        if old_id is None or old_id == id(p):
            return
        group = self._group_of[old_id]
        old = next(q for q in group.params if id(q) == old_id)
        if pyro.get_param_store().param_name(old) is None:
            self._remove_param(old)

    def _remove_param(self, p: torch.Tensor) -> None:
        group = self._group_of.pop(id(p))
        name = self._names.pop(id(p), None)
        if name is not None and self._by_name.get(name) == id(p):
            del self._by_name[name]
        group.remove(p)
        if not group.params:
            self._groups = [g for g in self._groups if g is not group]

    # ----- per-parameter settings -----------------------------------------------------------
    def _call_per_param(self, fn: Callable, argc: Optional[int], p: torch.Tensor, name: Optional[str],
                        what: str) -> Dict[str, Any]:
        if name is None:
            raise ValueError(
                f"{what} is a callable of the parameter's name, but {_describe(p, name)} has no name"
            )
        if argc == 1:
            args = fn(normalize_param_name(name))
        else:
            args = fn(module_from_param_with_module_name(name), user_param_name(name))
        if not isinstance(args, dict):
            raise TypeError(f"{what} for param '{name}' must return a dict, got {type(args).__name__}")
        return args

    def _get_optim_args(self, p: torch.Tensor, name: Optional[str] = None) -> Dict[str, Any]:
        if callable(self.pt_optim_args):
            return self._call_per_param(self.pt_optim_args, self.pt_optim_args_argc, p, name, "optim_args")
        return self.pt_optim_args

    def _get_grad_clip_args(self, p: torch.Tensor, name: Optional[str] = None) -> Optional[Dict[str, Any]]:
        if callable(self.pt_clip_args):
            args = self._call_per_param(self.pt_clip_args, self.pt_clip_args_argc, p, name, "clip_args")
            self._check_clip_args(args, name)
            return args or None
        return self.pt_clip_args or None

    @staticmethod
    def _check_clip_args(clip_args: Dict[str, Any], name: Optional[str]) -> None:
        unknown = set(clip_args) - _CLIP_KEYS
        if unknown:
            where = f" for param '{name}'" if name else ""
            raise ValueError(f"unknown clip_args{where}: {sorted(unknown)}; expected clip_norm and/or clip_value")

    # ----- Pyro-compatible views ------------------------------------------------------------
    @property
    def optim_objs(self) -> Dict[torch.Tensor, Any]:
        """``{parameter: torch optimizer}`` (the scheduler for schedulers), as in Pyro.

        Parameters that share settings map to the same object.
        """
        return {p: g.obj for g in self._groups for p in g.params}

    @property
    def grad_clip(self) -> Dict[torch.Tensor, Optional[Callable]]:
        """``{parameter: clipping function or None}``, as in Pyro."""
        return {p: (_GradClipper(g.clip_args) if g.clip_args else None) for g in self._groups for p in g.params}

    # ----- state ------------------------------------------------------------------------------
    def _param_state(self, group: _Group, p: torch.Tensor) -> Dict[str, Any]:
        state = group.optimizer.state
        per_param = {0: dict(state[p])} if p in state else {}
        return {"state": per_param, "param_groups": [dict(group.hyperparams(), params=[0])]}

    def _entry(self, group: _Group, p: torch.Tensor) -> Dict[str, Any]:
        return self._param_state(group, p)

    def get_state(self) -> Dict[str, Dict[str, Any]]:
        """Return ``{param name: state dict}`` for every parameter seen so far.

        Each value is what a torch optimizer holding only that parameter would return from
        ``state_dict()`` (for schedulers ``{"scheduler": ..., "optimizer": ...}``), as in Pyro.
        State loaded by :meth:`set_state` for parameters that have not appeared yet is included.
        Tensors not in the param store are left out.
        """
        store = pyro.get_param_store()
        result: Dict[str, Dict[str, Any]] = dict(self._state_waiting_to_be_consumed)
        for group in self._groups:
            for p in group.params:
                name = store.param_name(p)
                if name is not None:
                    result[name] = self._entry(group, p)
        return result

    def _check_entry(self, name: str, entry: Any) -> None:
        _check_optimizer_state(entry, name)

    def set_state(self, state_dict: Dict[str, Dict[str, Any]]) -> None:
        """Restore state from :meth:`get_state`.

        Parameters already being optimized take their state now; the others take it when they
        first appear in a step.

        Raises:
            ValueError: a malformed entry; nothing is changed then.
        """
        if not isinstance(state_dict, dict) or not all(isinstance(k, str) for k in state_dict):
            raise ValueError("optimizer state must be a dict keyed by param name")
        for name, entry in state_dict.items():
            self._check_entry(name, entry)
        store = pyro.get_param_store()
        live = {}
        for group in self._groups:
            for p in group.params:
                name = store.param_name(p)
                if name is not None:
                    live[name] = p
        for name, entry in state_dict.items():
            p = live.get(name)
            if p is None:
                self._state_waiting_to_be_consumed[name] = entry
                continue
            self._remove_param(p)
            self._add_param(p, saved=entry)

    def save(self, filename: Union[str, os.PathLike]) -> None:
        """Write :meth:`get_state` to ``filename`` atomically (a crash leaves an old file intact).

        Raises:
            ValueError: the state holds objects a safe load could not read back (e.g. a
                scheduler's lambda); nothing is written then.
        """
        state = self.get_state()
        _check_plain(state, "state")
        serialization.atomic_save({"format": _FORMAT, "version": 1, "state": state}, filename)

    def load(self, filename: Union[str, os.PathLike], map_location: Any = None) -> None:
        """Read state written by :meth:`save` and :meth:`set_state` it.

        The file is read with ``torch.load(weights_only=True)``: nothing in it can run code.

        Args:
            filename: a file written by :meth:`save`.
            map_location: where to put the tensors, as for :func:`torch.load`. State is moved to
                each parameter's device and dtype when it is restored anyway.

        Raises:
            pyro.params.StateFileError: the file is truncated, corrupt, not an optimizer state
                file, or holds anything but tensors and plain data; the optimizer is unchanged.
        """
        obj = serialization.safe_load(filename, map_location, kind=_FORMAT)
        state = obj.get("state")
        try:
            self.set_state(state)
        except ValueError as e:
            raise serialization.StateFileError(f"{os.fspath(filename)!r}: {e}") from e

    def __repr__(self) -> str:
        ctor = getattr(self.pt_optim_constructor, "__name__", repr(self.pt_optim_constructor))
        n = sum(len(g.params) for g in self._groups)
        return f"{type(self).__name__}({ctor}, {n} params in {len(self._groups)} optimizers)"
