"""Parameter groups: parameters that share one torch optimizer, and when they may.

A :class:`Group` is one torch optimizer (and, for schedulers, its scheduler) over the parameters
whose optimizers would be indistinguishable at the level of a torch param group; see
:mod:`pyro.optim.optim` for why this gives the numbers of one optimizer per parameter.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import torch

from pyro.optim._equality import same
from pyro.optim.clipped_adam import ClippedAdam
from pyro.optim.dct_adam import DCTAdam

#: Optimizers whose state is joint over all their parameters: a parameter joins one of those only
#: before its first step, and otherwise starts an optimizer of its own.
JOINT_STATE_OPTIMIZERS: tuple = (torch.optim.LBFGS,)

#: Optimizers whose ``step`` changes their own hyperparameters (the learning rate decays by
#: ``lrd`` at every step): a param group of one of those with ``lrd != 1`` is split when only
#: some of its members are stepped, so each parameter's rate decays only with its own steps.
DECAYING_OPTIMIZERS: tuple = (ClippedAdam, DCTAdam)

#: Optimizers that run torch's fused kernel (``fused=True``) unless the settings choose an
#: implementation themselves (``fused``, ``foreach``, ``differentiable``, ``capturable``). One
#: kernel updates every parameter of a group: on the CPU a step of Adam over a few parameters
#: costs about a third of torch's default loop over them, and the saving grows with the number
#: of parameters. The numbers equal the default implementation's up to rounding (about one unit
#: in the last place per step); ``{"fused": False}`` restores torch's default exactly.
FUSED_BY_DEFAULT: tuple = (torch.optim.Adam, torch.optim.AdamW)
_IMPLEMENTATION_KEYS = frozenset({"fused", "foreach", "differentiable", "capturable"})
_FUSED_DTYPES = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64})


def fusable(p: torch.Tensor) -> bool:
    """Return whether torch's fused optimizer kernels can update ``p`` (dtype, layout, device)."""
    return (p.dtype in _FUSED_DTYPES and p.layout == torch.strided
            and p.device.type in ("cpu", "cuda"))


def with_default_implementation(constructor: Callable[..., Any], optim_args: Dict[str, Any],
                                p: torch.Tensor) -> Dict[str, Any]:
    """Return ``optim_args`` with ``fused=True`` added where :data:`FUSED_BY_DEFAULT` applies.

    Args:
        constructor: the torch optimizer class (or factory) about to be built.
        optim_args: its settings for ``p``; left unchanged.
        p: the parameter the optimizer is built for.

    Returns:
        ``optim_args`` itself, or a copy that also sets ``fused=True``.
    """
    if constructor in FUSED_BY_DEFAULT and not _IMPLEMENTATION_KEYS & optim_args.keys() and fusable(p):
        return {**optim_args, "fused": True}
    return optim_args


class Group:
    """One torch optimizer (and, for schedulers, its scheduler) shared by several parameters.

    Args:
        optim_args: the optimizer settings every member was given.
        clip_args: the gradient clipping of every member, or None.
        optimizer: the torch optimizer, built over ``[param]``.
        scheduler: its learning-rate scheduler, or None.
        param: the group's first parameter.
    """

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
        """Whether the optimizer has the single, list-valued param group that others may join."""
        groups = getattr(self.optimizer, "param_groups", None)
        return isinstance(groups, list) and len(groups) == 1 and groups[0]["params"] is not None

    def hyperparams(self) -> Dict[str, Any]:
        """The current settings of the optimizer's param group, without its parameters."""
        return {k: v for k, v in self.optimizer.param_groups[0].items() if k != "params"}

    def scheduler_state(self) -> Optional[Dict[str, Any]]:
        """The scheduler's state dict, or None without a scheduler."""
        return None if self.scheduler is None else self.scheduler.state_dict()

    def joint(self) -> bool:
        """Whether the optimizer's state spans all its parameters (see :data:`JOINT_STATE_OPTIMIZERS`)."""
        return isinstance(self.optimizer, JOINT_STATE_OPTIMIZERS)

    def decays_on_step(self) -> bool:
        """Whether a step changes the optimizer's hyperparameters (see :data:`DECAYING_OPTIMIZERS`)."""
        return isinstance(self.optimizer, DECAYING_OPTIMIZERS) and any(
            g.get("lrd", 1.0) != 1.0 for g in self.optimizer.param_groups)

    def accepts(self, other: "Group") -> bool:
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

    def absorb(self, other: "Group") -> None:
        """Take in the single parameter of ``other`` together with its per-parameter state."""
        (p,) = other.params
        self.optimizer.param_groups[0]["params"].append(p)
        if p in other.optimizer.state:
            self.optimizer.state[p] = other.optimizer.state[p]
        self.params.append(p)

    def remove(self, p: torch.Tensor) -> None:
        """Drop the member ``p`` and its per-parameter state."""
        for lst in (self.params, self.optimizer.param_groups[0]["params"]):
            for i, q in enumerate(lst):
                if q is p:
                    del lst[i]
                    break
        self.optimizer.state.pop(p, None)

    def param_state(self, p: torch.Tensor) -> Dict[str, Any]:
        """Return what a torch optimizer holding only the member ``p`` would give as ``state_dict()``."""
        state = self.optimizer.state
        per_param = {0: dict(state[p])} if p in state else {}
        return {"state": per_param, "param_groups": [dict(self.hyperparams(), params=[0])]}

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
