"""Checks of optimizer settings, run once when an optimizer is built (or, for per-parameter
settings, once per parameter when it is first seen), with errors naming the optimizer, the
setting and, where there is one, the parameter.
"""

from __future__ import annotations

import numbers
from typing import Any, Dict, Optional

import torch

__all__ = ["check_optim_args", "check_scheduler_optimizer"]

#: Settings of torch's optimizers that take one number.
_NUMBER_SETTINGS = frozenset({
    "lr", "eps", "weight_decay", "momentum", "dampening", "alpha", "rho", "lr_decay", "lambd",
    "t0", "initial_accumulator_value", "momentum_decay", "clip_norm", "lrd", "max_eval",
    "tolerance_grad", "tolerance_change", "history_size", "max_iter", "delta",
})
#: torch's words for a negative value of these settings.
_NON_NEGATIVE = {"lr": "learning rate", "eps": "epsilon value", "weight_decay": "weight_decay value",
                 "momentum": "momentum value"}


def _is_number(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and not value.dtype.is_complex
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _where(optimizer: str, name: Optional[str]) -> str:
    return f"{optimizer}: " if name is None else f"{optimizer}: param '{name}': "


def check_optim_args(args: Dict[str, Any], optimizer: str, name: Optional[str] = None) -> None:
    """Raise ``TypeError`` for a numeric setting (``lr``, ``eps``, ``betas``, ...) that is not a
    number and ``ValueError`` for a negative ``lr``, ``eps``, ``weight_decay`` or ``momentum``
    (torch's words, said when the optimizer is built rather than at its first step)."""
    for key, value in args.items():
        if key in _NUMBER_SETTINGS:
            if not _is_number(value):
                raise TypeError(
                    f"{_where(optimizer, name)}optim_args['{key}'] must be a number, got "
                    f"{type(value).__name__} {value!r}"
                )
            if key in _NON_NEGATIVE and not isinstance(value, torch.Tensor) and value < 0:
                raise ValueError(f"{_where(optimizer, name)}Invalid {_NON_NEGATIVE[key]}: {value}")
        elif key == "betas":
            if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(b) for b in value)):
                raise TypeError(
                    f"{_where(optimizer, name)}optim_args['betas'] must be a pair of numbers, got "
                    f"{type(value).__name__} {value!r}"
                )


def check_scheduler_optimizer(scheduler: str, optimizer: Any) -> None:
    """Raise ``TypeError`` unless ``optimizer`` (``optim_args["optimizer"]`` of a scheduler) is a
    torch optimizer class or another callable building one; a Pyro optimizer is named."""
    pyro_ctor = getattr(optimizer, "pt_optim_constructor", None)
    if pyro_ctor is not None:
        torch_name = getattr(pyro_ctor, "__name__", "Adam")
        given = "an instance of " if not callable(optimizer) or hasattr(optimizer, "_groups") else ""
        raise TypeError(
            f"{scheduler}: optim_args['optimizer'] must be a torch optimizer class such as "
            f"torch.optim.{torch_name}, got {given}the Pyro optimizer pyro.optim.{torch_name}; "
            f"pass optim_args={{'optimizer': torch.optim.{torch_name}, 'optim_args': {{...}}, ...}}"
        )
    if isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"{scheduler}: optim_args['optimizer'] must be a torch optimizer class, got an instance "
            f"of {type(optimizer).__name__}; pass the class torch.optim.{type(optimizer).__name__}"
        )
    if not callable(optimizer):
        raise TypeError(
            f"{scheduler}: optim_args['optimizer'] must be a torch optimizer class, got "
            f"{type(optimizer).__name__} {optimizer!r}"
        )
