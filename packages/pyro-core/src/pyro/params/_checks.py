"""Checks of ``pyro.param``'s arguments: the initial value, ``event_dim`` and redeclarations.

The store calls :func:`check_new_param` and :func:`checked_init_value` once, when a parameter
is created; the others only once something is already known to be wrong, so a read of an
existing parameter pays for nothing but an identity test of its constraint.
"""

from __future__ import annotations

from typing import Any, Callable, Union

import torch
from torch.distributions import constraints
from torch.distributions.constraints import Constraint

from pyro.util import short_repr as _shown

__all__ = ["bad_event_dim", "check_new_param", "check_redeclared", "checked_init_value"]




def check_new_param(name: Any, init_tensor: Any, constraint: Any) -> None:
    """Raise ``TypeError`` unless ``name`` is a string, ``init_tensor`` a tensor or a callable
    and ``constraint`` a torch ``Constraint``."""
    if not isinstance(name, str):
        raise TypeError(f"pyro.param: the name must be a str, got {type(name).__name__} {_shown(name)}")
    if not (isinstance(init_tensor, torch.Tensor) or callable(init_tensor)):
        raise TypeError(
            f"pyro.param('{name}'): init_tensor must be a tensor or a callable returning one, "
            f"got {type(init_tensor).__name__} {_shown(init_tensor)}"
        )
    if not isinstance(constraint, Constraint):
        raise TypeError(
            f"pyro.param('{name}'): constraint must be a torch.distributions.constraints "
            f"Constraint, got {type(constraint).__name__} {_shown(constraint)}"
        )


def checked_init_value(name: str, init_tensor: Union[torch.Tensor, Callable[[], Any]]) -> torch.Tensor:
    """Return the initial value of the new param ``name``: ``init_tensor`` itself, or what the
    callable returns; an error raised by the callable is raised again naming the param."""
    if isinstance(init_tensor, torch.Tensor):
        return init_tensor
    try:
        value = init_tensor()
    except Exception as e:
        message = f"pyro.param('{name}'): the init_tensor function raised {type(e).__name__}: {e}"
        try:
            renamed = type(e)(message)
        except Exception:  # an exception type that takes other arguments: keep it, add a note
            e.add_note(message)
            raise
        raise renamed.with_traceback(e.__traceback__) from e
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"pyro.param('{name}'): the init_tensor function must return a tensor, got "
            f"{type(value).__name__} {_shown(value)}"
        )
    return value


def _same_constraint(a: Constraint, b: Constraint) -> bool:
    return a is b or (type(a) is type(b) and _plain_vars(a) == _plain_vars(b))


def _plain_vars(c: Constraint) -> dict:
    out = {}
    for key, value in vars(c).items():
        if isinstance(value, torch.Tensor):
            value = (tuple(value.shape), value.detach().cpu().tolist())
        elif isinstance(value, Constraint):
            value = (type(value), tuple(sorted(_plain_vars(value).items(), key=str)))
        out[key] = value
    return out


def check_redeclared(name: str, value: torch.Tensor, stored: Constraint, init_tensor: Any,
                     constraint: Constraint) -> None:
    """Raise ``ValueError`` if the param ``name``, stored with ``value`` and constraint
    ``stored``, is declared again with an initial value of another shape or another (explicit,
    non-default) constraint."""
    if isinstance(init_tensor, torch.Tensor) and init_tensor.shape != value.shape:
        raise ValueError(
            f"pyro.param('{name}') is declared with an initial value of shape "
            f"{tuple(init_tensor.shape)}, but the param store already holds it with shape "
            f"{tuple(value.shape)}; use another name or pyro.clear_param_store()"
        )
    # ``real`` is the default: a call that gives no constraint reads the stored one (as Pyro's
    # does); only a different constraint given explicitly is an error.
    if constraint is not constraints.real and not _same_constraint(stored, constraint):
        raise ValueError(
            f"pyro.param('{name}') is declared with constraint {constraint}, but the param store "
            f"already holds it with constraint {stored}; use another name or "
            f"pyro.clear_param_store()"
        )


def bad_event_dim(name: str, event_dim: Any, value: torch.Tensor) -> None:
    """Raise the error for an ``event_dim`` that is not an int in ``0..value.dim()``."""
    if type(event_dim) is not int and not isinstance(event_dim, int):
        raise TypeError(f"pyro.param('{name}'): event_dim must be an int, got {type(event_dim).__name__}")
    if not 0 <= event_dim <= value.dim():
        raise ValueError(
            f"pyro.param('{name}'): event_dim={event_dim} must be in 0..{value.dim()} for a value "
            f"of shape {tuple(value.shape)}"
        )
