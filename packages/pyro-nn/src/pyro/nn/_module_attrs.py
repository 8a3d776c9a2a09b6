"""The two attribute declarations of a ``PyroModule``: ``PyroParam`` and ``PyroSample``.

Assigning one to a ``PyroModule`` attribute turns that attribute into a learnable parameter (a
``pyro.param`` site) or a random variable (a ``pyro.sample`` site). Both also work as
decorators of a method that builds the initial value or the prior from the module.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from typing import Any, Callable, NamedTuple, Optional, Union

import torch
from torch.distributions import constraints, transform_to
from torch.distributions.constraints import Constraint

from pyro.params._checks import bad_event_dim
from pyro.util import describe_value as _shown
from pyro.util import is_validation_enabled

InitValue = Union[torch.Tensor, Callable[[], torch.Tensor], None]


class PyroParamTypeError(TypeError, AttributeError):
    """A ``PyroParam`` given an initial value that is not a tensor: a ``TypeError``, and an
    ``AttributeError`` too, the type Pyro raises there."""




def _unconstrain(name: str, constrained_value: Union[torch.Tensor, Callable[[], torch.Tensor]],
                 constraint: Constraint, event_dim: Optional[int] = None) -> torch.nn.Parameter:
    """Return the ``nn.Parameter`` of the unconstrained value whose transform is
    ``constrained_value``, the initial value of the ``PyroParam`` ``name`` (checked: a tensor or
    a number, ``constraint`` a ``Constraint``, ``event_dim`` within its dims and, with
    validation on, the value within the constraint)."""
    if not isinstance(constraint, Constraint):
        # torch's NotImplementedError (what Pyro raises here), naming the attribute
        raise NotImplementedError(
            f"PyroParam '{name}': constraint must be a torch.distributions.constraints "
            f"Constraint, got {_shown(constraint)} (Cannot transform {type(constraint).__name__} "
            "constraints)"
        )
    if callable(constrained_value) and not isinstance(constrained_value, torch.Tensor):
        constrained_value = constrained_value()
    if not isinstance(constrained_value, torch.Tensor):
        if not isinstance(constrained_value, numbers.Number) or isinstance(constrained_value, bool):
            raise PyroParamTypeError(
                f"PyroParam '{name}': init_value must be a tensor or a number (or a function "
                f"returning one), got {_shown(constrained_value)}"
            )
        constrained_value = torch.as_tensor(constrained_value, dtype=torch.get_default_dtype())
    if event_dim is not None and (isinstance(event_dim, bool) or not isinstance(event_dim, numbers.Integral)
                                  or not 0 <= event_dim <= constrained_value.dim()):
        try:
            bad_event_dim(name, event_dim, constrained_value)
        except (TypeError, ValueError) as e:  # pyro.param's check, named for the attribute
            raise type(e)(f"PyroParam '{name}': {str(e).split(': ', 1)[-1]}") from None
    if is_validation_enabled():
        _check_in_support(name, constrained_value, constraint)
    with torch.no_grad():
        unconstrained = transform_to(constraint).inv(constrained_value.detach())
    return torch.nn.Parameter(unconstrained.contiguous())


def _check_in_support(name: str, value: torch.Tensor, constraint: Constraint) -> None:
    """Raise ``ValueError`` if the initial value of ``name`` lies outside ``constraint`` (once,
    at assignment: its unconstrained value would be NaN or infinite)."""
    try:
        inside = constraint.check(value.detach())
    except (NotImplementedError, RuntimeError, TypeError):
        return  # a constraint that cannot check (or not this shape): transform_to decides
    if not bool(inside.all()):
        raise ValueError(
            f"PyroParam '{name}': init_value of shape {tuple(value.shape)} is outside the "
            f"constraint {constraint}; its unconstrained value would not be finite"
        )


class PyroParam(NamedTuple):
    """Declare a learnable, optionally constrained parameter of a ``PyroModule``.

    ``module.x = PyroParam(init_value, constraint, event_dim)`` keeps the unconstrained value
    as the ``nn.Parameter`` ``module.x_unconstrained``; reading ``module.x`` inside a call of
    the module is the site ``pyro.param(<module path>.x, event_dim=event_dim)`` and returns the
    constrained value.

    Args:
        init_value: the initial value in constrained space, or a function of no arguments
            returning it (called at assignment).
        constraint: the set the parameter lives in (default: the real line).
        event_dim: number of rightmost dims that a subsampling plate leaves alone.

    Used as a decorator, ``@PyroParam(constraint=...)`` on a method ``def x(self)`` makes the
    method the initialiser: it runs the first time ``module.x`` is read.
    """

    init_value: InitValue = None
    constraint: Constraint = constraints.real
    event_dim: Optional[int] = None

    def __call__(self, init_fn: Callable[[Any], torch.Tensor]) -> "PyroParam":
        """Decorate ``init_fn(module)``: a lazily initialised parameter named after the method."""
        return PyroParam(init_fn, self.constraint, self.event_dim)

    def __get__(self, obj: Any, obj_type: Any = None) -> Any:
        if obj is None:
            return self
        name = getattr(self.init_value, "__name__", None)
        if name is None:
            raise TypeError("a PyroParam class attribute must decorate a method def name(self)")
        if name not in obj.__dict__["_pyro_params"]:
            init = self.init_value(obj) if callable(self.init_value) else self.init_value
            setattr(obj, name, PyroParam(init, self.constraint, self.event_dim))
        return obj.__getattr__(name)


def _takes_one_argument(fn: Callable) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True  # a builtin without a signature: let the call decide
    required = [p for p in params if p.default is p.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(required) <= 1 and (len(positional) >= 1 or varargs)


@dataclasses.dataclass(frozen=True)
class PyroSample:
    """Declare a random attribute of a ``PyroModule``.

    ``module.x = PyroSample(prior)`` makes each call of the module draw ``module.x`` once, as
    the site ``pyro.sample(<module path>.x, prior)``; reading it again within the same call
    returns the same value.

    Args:
        prior: a distribution, or a function of the module (``lambda self: dist.Normal(self.loc,
            1.0)``) returning a distribution, or a tensor (recorded as a ``pyro.deterministic``
            site).

    Used as a decorator, ``@PyroSample`` on a method ``def x(self)`` declares the prior ``x``.
    """

    prior: Any

    def __post_init__(self) -> None:
        prior = self.prior
        if hasattr(prior, "sample"):
            return
        if not callable(prior):
            raise TypeError(
                f"PyroSample: prior must be a distribution or a function of the module, got "
                f"{type(prior).__name__}"
            )
        if not _takes_one_argument(prior):
            raise TypeError(
                "PyroSample: a prior function must take the single argument 'self' (the module), "
                f"got {getattr(prior, '__name__', prior)}{inspect.signature(prior)}"
            )

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __get__(self, obj: Any, obj_type: Any = None) -> Any:
        if obj is None:
            return self
        name = getattr(self, "_name", None) or getattr(self.prior, "__name__", None)
        if name is None:
            raise TypeError("a PyroSample class attribute must have a name")
        if name not in obj.__dict__["_pyro_samples"]:
            setattr(obj, name, PyroSample(self.prior))
        return obj.__getattr__(name)


__all__ = ["PyroParam", "PyroSample"]
