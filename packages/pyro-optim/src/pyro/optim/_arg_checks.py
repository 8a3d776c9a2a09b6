"""Checks of optimizer settings, run once when an optimizer is built (or, for per-parameter
settings, once per parameter when it is first seen), with errors naming the optimizer, the
setting and, where there is one, the parameter.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from typing import Any, Callable, Dict, FrozenSet, Optional, Tuple

import torch

__all__ = ["check_optim_args", "check_scheduler_optimizer", "check_scheduler_settings"]

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


#: Settings that must be positive (those of ClippedAdam and DCTAdam).
_POSITIVE = frozenset({"clip_norm", "lrd"})


@functools.lru_cache(maxsize=None)
def _parameters(constructor: Callable[..., Any]) -> Optional[Tuple[FrozenSet[str], FrozenSet[str]]]:
    """``(names, required names)`` of ``constructor``'s keyword settings after its first
    argument (the params or the optimizer), or None when it takes ``**kwargs`` or has no
    readable signature."""
    try:
        params = list(inspect.signature(constructor).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = frozenset(p.name for p in params if p.kind in kinds)
    required = frozenset(p.name for p in params if p.kind in kinds and p.default is p.empty)
    return names, required


def _settings_of(constructor: Any) -> Optional[Tuple[FrozenSet[str], FrozenSet[str]]]:
    try:
        return _parameters(constructor)
    except TypeError:  # unhashable
        return None


def _is_known_optimizer(constructor: Any) -> bool:
    """Whether ``constructor`` is one of torch's or Pyro's optimizers (betas mean Adam's)."""
    return isinstance(constructor, type) and (constructor.__module__ or "").startswith(
        ("torch.optim", "pyro.optim"))


def check_optim_args(args: Dict[str, Any], optimizer: str, name: Optional[str] = None,
                     constructor: Optional[Callable[..., Any]] = None) -> None:
    """Raise ``TypeError`` for a numeric setting (``lr``, ``eps``, ``betas``, ...) that is not a
    number and ``ValueError`` for a negative ``lr``, ``eps``, ``weight_decay`` or ``momentum``,
    or (of torch's and Pyro's optimizers) ``betas`` outside ``[0, 1)`` (torch's words, said when
    the optimizer is built rather than at its first step), and for a ``clip_norm`` or ``lrd``
    that is not positive. Given the ``constructor``, a setting it does not take is a
    ``TypeError`` naming the settings it takes."""
    for key, value in args.items():
        if key in _NUMBER_SETTINGS:
            if not _is_number(value):
                raise TypeError(
                    f"{_where(optimizer, name)}optim_args['{key}'] must be a number, got "
                    f"{type(value).__name__} {value!r}"
                )
            if key in _NON_NEGATIVE and not isinstance(value, torch.Tensor) and value < 0:
                raise ValueError(f"{_where(optimizer, name)}Invalid {_NON_NEGATIVE[key]}: {value}")
            if key in _POSITIVE and not isinstance(value, torch.Tensor) and not value > 0:
                raise ValueError(f"{_where(optimizer, name)}{key} must be positive, got {value}")
        elif key == "betas":
            if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(b) for b in value)):
                raise TypeError(
                    f"{_where(optimizer, name)}optim_args['betas'] must be a pair of numbers, got "
                    f"{type(value).__name__} {value!r}"
                )
            if constructor is not None and _is_known_optimizer(constructor):
                for i, beta in enumerate(value):
                    if not isinstance(beta, torch.Tensor) and not 0.0 <= beta < 1.0:
                        raise ValueError(
                            f"{_where(optimizer, name)}Invalid beta parameter at index {i}: {beta}")
    settings = None if constructor is None else _settings_of(constructor)
    if settings is not None:
        unknown = sorted(k for k in args if k not in settings[0])
        if unknown:
            raise TypeError(
                f"{_where(optimizer, name)}optim_args['{unknown[0]}'] is not a setting of "
                f"{optimizer} (got an unexpected keyword argument '{unknown[0]}'); its settings "
                f"are {', '.join(sorted(settings[0]))}")


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


def check_scheduler_settings(scheduler: Callable[..., Any], settings: Dict[str, Any]) -> None:
    """Raise ``TypeError`` when the scheduler settings in ``optim_args`` (those besides
    ``optimizer`` and ``optim_args``) lack one that ``scheduler`` requires (``milestones`` of
    ``MultiStepLR``) or name one it does not take, when the scheduler is built rather than at
    the first step."""
    found = _settings_of(scheduler)
    if found is None:
        return
    names, required = found
    label = getattr(scheduler, "__name__", "scheduler")
    missing = sorted(required - set(settings))
    if missing:
        raise TypeError(
            f"{label}: optim_args is missing the scheduler setting '{missing[0]}' "
            f"({label} requires {', '.join(sorted(required))}); pass optim_args={{'optimizer': "
            f"..., 'optim_args': {{...}}, '{missing[0]}': ...}}")
    unknown = sorted(k for k in settings if k not in names)
    if unknown:
        raise TypeError(
            f"{label}: optim_args['{unknown[0]}'] is not a setting of {label} (got an "
            f"unexpected keyword argument '{unknown[0]}'); its settings are "
            f"{', '.join(sorted(names))}")
