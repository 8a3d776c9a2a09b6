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
before its first step, and otherwise starts an optimizer of its own. An optimizer whose step
changes its own learning rate (:class:`~pyro.optim.ClippedAdam` and :class:`~pyro.optim.DCTAdam`
with ``lrd != 1``) is split when only some of its parameters are stepped, for the same reason.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import torch

import pyro
from pyro.optim._arg_checks import check_optim_args
from pyro.optim._grad_clipping import GradClipper, check_clip_args, clip_grads
from pyro.optim._param_groups import (
    DECAYING_OPTIMIZERS,
    FUSED_BY_DEFAULT,
    JOINT_STATE_OPTIMIZERS,
    Group,
    with_default_implementation,
)
from pyro.optim._param_settings import OptimArgs, arity, describe_param, settings_for
from pyro.optim._state_files import check_optimizer_state, copy_tensors, read_state_file, write_state_file
from pyro.params import StateFileError

__all__ = ["DECAYING_OPTIMIZERS", "FUSED_BY_DEFAULT", "JOINT_STATE_OPTIMIZERS", "OptimArgs", "PyroOptim",
           "is_scheduler"]


def _label(constructor: Any) -> str:
    """The name of an optimizer class for messages and state files (``"Adam"``)."""
    return getattr(constructor, "__name__", type(constructor).__name__)


def is_scheduler(optimizer: Any) -> bool:
    """Return True if ``optimizer`` is a torch learning-rate scheduler instance, as Pyro's helper does.

    That is an instance of a subclass of :class:`torch.optim.lr_scheduler.LRScheduler` (which
    includes ``SequentialLR`` and ``ChainedScheduler``) or of
    :class:`~torch.optim.lr_scheduler.ReduceLROnPlateau`. A torch optimizer, a :class:`PyroOptim`
    (even one driven by a scheduler), a class or anything else gives False.
    """
    lr = torch.optim.lr_scheduler
    bases = tuple(getattr(lr, n) for n in ("LRScheduler", "_LRScheduler") if hasattr(lr, n))
    return isinstance(optimizer, bases + (lr.ReduceLROnPlateau,))


class PyroOptim:
    """Wrap a torch optimizer so that it handles parameters created while a program runs.

    Call the instance with the (unconstrained, leaf) parameters of a step after ``backward()``:
    parameters seen for the first time are taken in and the optimizers of the given parameters
    step. Gradients stay in place afterwards (clipped in place when ``clip_args`` are given), as
    in Pyro; :class:`~pyro.infer.SVI` clears them after each step.

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
        optim(params)  # steps; the gradients are left for the caller to clear
    """

    def __init__(self, optim_constructor: Callable[..., Any], optim_args: OptimArgs,
                 clip_args: Optional[OptimArgs] = None) -> None:
        if not callable(optim_constructor):
            raise TypeError(f"PyroOptim: optim_constructor must be an optimizer class or callable, "
                            f"got {optim_constructor!r}")
        label = _label(optim_constructor)
        if not (isinstance(optim_args, dict) or callable(optim_args)):
            raise TypeError(f"{label}: optim_args must be a dict or a callable, got "
                            f"{type(optim_args).__name__} {optim_args!r}"[:200])
        if not (clip_args is None or isinstance(clip_args, dict) or callable(clip_args)):
            raise TypeError(f"{label}: clip_args must be None, a dict or a callable, got "
                            f"{type(clip_args).__name__} {clip_args!r}"[:200])
        if isinstance(clip_args, dict):
            check_clip_args(clip_args, None)
        if isinstance(optim_args, dict):
            check_optim_args(optim_args, _label(optim_constructor), constructor=optim_constructor)
        self.pt_optim_constructor = optim_constructor
        self.pt_optim_args = optim_args
        self.pt_optim_args_argc = arity(optim_args) if callable(optim_args) else None
        self.pt_clip_args = clip_args
        self.pt_clip_args_argc = arity(clip_args) if callable(clip_args) else None
        self._groups: List[Group] = []
        self._group_of: Dict[int, Group] = {}
        self._names: Dict[int, Optional[str]] = {}
        self._by_name: Dict[str, int] = {}
        self._state_waiting_to_be_consumed: Dict[str, Dict[str, Any]] = {}

    # ----- stepping -------------------------------------------------------------------------
    def __call__(self, params: Iterable[torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        """Step the optimizers of ``params``; their gradients are left in place (clipped, with clip_args).

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
        groups: Dict[int, Group] = {}
        for p in order:
            group = self._group_of[id(p)]
            groups[id(group)] = group
            active.setdefault(id(group), []).append(p)
        for key, group in list(groups.items()):
            if len(active[key]) < len(group.params) and group.decays_on_step():
                self._split(group, active[key])
        result = None
        for key, group in groups.items():
            if group.clip_args:
                clip_grads(active[key], **group.clip_args)
            result = group.step(active[key], args, kwargs)
        return result

    def _split(self, group: Group, keep: List[torch.Tensor]) -> None:
        """Move the members of ``group`` not in ``keep`` to a new group with the same state.

        Used before a step of a group whose step changes its hyperparameters, so that the members
        left out of the step keep theirs, as with one optimizer per parameter.
        """
        keep_ids = {id(p) for p in keep}
        new: Optional[Group] = None
        for q in [p for p in group.params if id(p) not in keep_ids]:
            name = self._names.get(id(q))
            entry = self._entry(group, q)
            group.remove(q)
            part = self._new_group(q, name, entry)
            if new is None:
                new = part
                self._groups.append(new)
            else:
                new.absorb(part)
            self._group_of[id(q)] = new

    def _add_param(self, p: torch.Tensor, saved: Optional[Dict[str, Any]] = None) -> None:
        name = pyro.get_param_store().param_name(p)
        if not isinstance(p, torch.Tensor) or not p.is_leaf or not p.requires_grad:
            raise ValueError(
                f"PyroOptim can only optimize leaf tensors that require grad; got "
                f"{describe_param(p, name) if isinstance(p, torch.Tensor) else repr(p)}"
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

    def _new_group(self, p: torch.Tensor, name: Optional[str], saved: Optional[Dict[str, Any]]) -> Group:
        optim_args = with_default_implementation(self.pt_optim_constructor, self._get_optim_args(p, name), p)
        clip_args = self._get_grad_clip_args(p, name)
        optimizer = self.pt_optim_constructor([p], **optim_args)
        scheduler = self._make_scheduler(optimizer)
        group = Group(optim_args, clip_args, optimizer, scheduler, p)
        if saved is not None:
            self._load_into(group, saved, name)
        return group

    def _make_scheduler(self, optimizer: Any) -> Any:
        return None

    def _load_into(self, group: Group, saved: Dict[str, Any], name: Optional[str]) -> None:
        check_optimizer_state(saved, str(name))
        # torch keeps the given tensors where it can: copy them, so two optimizers loaded from
        # one state (or from another optimizer's get_state()) never update each other's buffers
        saved = copy_tensors(saved)
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
    def _get_optim_args(self, p: torch.Tensor, name: Optional[str] = None) -> Dict[str, Any]:
        if callable(self.pt_optim_args):
            args = settings_for(self.pt_optim_args, self.pt_optim_args_argc, p, name, "optim_args")
            check_optim_args(args, _label(self.pt_optim_constructor), name,
                             constructor=self.pt_optim_constructor)
            return args
        return self.pt_optim_args

    def _get_grad_clip_args(self, p: torch.Tensor, name: Optional[str] = None) -> Optional[Dict[str, Any]]:
        if callable(self.pt_clip_args):
            args = settings_for(self.pt_clip_args, self.pt_clip_args_argc, p, name, "clip_args")
            check_clip_args(args, name)
            return args or None
        return self.pt_clip_args or None

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
        return {p: (GradClipper(g.clip_args) if g.clip_args else None) for g in self._groups for p in g.params}

    # ----- state ------------------------------------------------------------------------------
    def _named_params(self) -> Iterator[Tuple[str, Group, torch.Tensor]]:
        """Yield ``(store name, group, parameter)`` for every parameter still in the param store."""
        store = pyro.get_param_store()
        for group in self._groups:
            for p in group.params:
                name = store.param_name(p)
                if name is not None:
                    yield name, group, p

    def _entry(self, group: Group, p: torch.Tensor) -> Dict[str, Any]:
        return group.param_state(p)

    def get_state(self) -> Dict[str, Dict[str, Any]]:
        """Return ``{param name: state dict}`` for every parameter seen so far.

        Each value is what a torch optimizer holding only that parameter would return from
        ``state_dict()`` (for schedulers ``{"scheduler": ..., "optimizer": ...}``), as in Pyro.
        State loaded by :meth:`set_state` for parameters that have not appeared yet is included.
        Tensors not in the param store are left out.
        """
        result: Dict[str, Dict[str, Any]] = dict(self._state_waiting_to_be_consumed)
        for name, group, p in self._named_params():
            result[name] = self._entry(group, p)
        return result

    def _check_entry(self, name: str, entry: Any) -> None:
        check_optimizer_state(entry, name)

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
        live = {name: p for name, _, p in self._named_params()}
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
        write_state_file(self.get_state(), filename, self._state_label())

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
        state = read_state_file(filename, map_location, self._state_label())
        try:
            self.set_state(state)
        except ValueError as e:
            raise StateFileError(f"{os.fspath(filename)!r}: {e}") from e

    def _state_label(self) -> str:
        """Which optimizer a state file was saved by, e.g. ``"Adam"`` (checked on load)."""
        return _label(self.pt_optim_constructor)

    def __repr__(self) -> str:
        ctor = getattr(self.pt_optim_constructor, "__name__", repr(self.pt_optim_constructor))
        n = sum(len(g.params) for g in self._groups)
        return f"{type(self).__name__}({ctor}, {n} params in {len(self._groups)} optimizers)"
