"""How a :mod:`torch.distributions` class becomes Pyro's: :func:`wrap_torch_distribution`.

The wrapper is a subclass of the torch class and of a mixin (Pyro's
:class:`~pyro.distributions.torch_distribution.TorchDistributionMixin`), named and documented as
the torch class and living, for pickling and ``repr``, in :mod:`pyro.distributions.torch`. It
adds, with no per-class code: constructor errors that name the distribution and the shapes of
its parameters, parameter checks done once and cheaply (:mod:`pyro.distributions.validation`),
and an ``expand`` that also works for subclasses with their own ``__init__`` (falling back to an
expanded-distribution class when torch's own ``expand`` cannot). The mixin and the
expanded-distribution class are arguments, so this module imports neither: it sits below
:mod:`pyro.distributions.torch_distribution`, which wraps ``Independent`` with it.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Dict, Sequence

import torch
import torch.distributions as _td

from pyro.distributions.distribution import keep_rsample_override, override_aware_has_rsample
from pyro.distributions.util import broadcast_shape
from pyro.distributions.validation import (
    argument_kind_error,
    construction_error,
    expand_error,
    validate_args,
    validate_sample,
)

#: The module every wrapper class names as its own (where the wrappers are public names).
WRAPPER_MODULE = "pyro.distributions.torch"

_BASE_EXPAND = _td.Distribution.expand

# Their constructors use the validation flag for more than torch's parameter checks (a check
# before clamping, an extra check after construction): they keep torch's own validation.
_TORCH_VALIDATED = frozenset({"ContinuousBernoulli", "Geometric", "VonMises"})


def _bound_arguments(init: Any, args: tuple, kwargs: dict) -> Dict[str, Any]:
    """``{name: value}`` of a constructor call's arguments (``self`` left out), or ``{}``."""
    try:
        bound = inspect.signature(init).bind_partial(None, *args, **kwargs).arguments
    except TypeError:
        return {}
    return dict(list(bound.items())[1:])


def _describe_args(init: Any, args: tuple, kwargs: dict) -> str:
    parts = []
    for name, value in _bound_arguments(init, args, kwargs).items():
        if name == "validate_args":
            continue
        if isinstance(value, torch.Tensor):
            parts.append(f"{name}: shape {tuple(value.shape)}")
        elif isinstance(value, (int, float)):
            parts.append(f"{name}: {value!r}")
    return ", ".join(parts)


def _make_init(torch_cls: type, name: str, check: Any = None, precheck: Any = None) -> Any:
    base_init = torch_cls.__init__
    signature = inspect.signature(base_init)
    params = list(signature.parameters)[1:]
    optional = frozenset(n for n, p in signature.parameters.items() if p.default is None)
    # Position of ``validate_args`` among the positional arguments, or None to leave torch's
    # validation in charge.
    pos = None
    if name not in _TORCH_VALIDATED and "validate_args" in params:
        pos = params.index("validate_args")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        validate = False
        if pos is not None:
            # Build with torch's validation off, then check the parameters once, cheaply
            # (pyro.distributions.validation); inner distributions are not checked again.
            if len(args) > pos:
                validate = args[pos]
                args = args[:pos] + (False,) + args[pos + 1:]
            else:
                validate = kwargs.get("validate_args")
                kwargs["validate_args"] = False
            if validate is None:
                validate = _td.Distribution._validate_args
        if precheck is not None:
            precheck(validate, *args, **kwargs)
        try:
            base_init(self, *args, **kwargs)
            if check is not None:
                check(self, validate)
            if validate:
                self._validate_args = True
                validate_args(self)
        except (AttributeError, TypeError, RuntimeError, ValueError) as e:
            # An argument of the wrong kind is named first; other failures keep their type.
            # A subclass (e.g. ExtendedBinomial) is named as itself.
            own = type(self).__name__
            kind_error = argument_kind_error(own, _bound_arguments(base_init, args, kwargs),
                                             optional)
            if kind_error is not None:
                raise kind_error from e
            if isinstance(e, (AttributeError, TypeError)):
                raise
            _reraise_construction_error(e, own, base_init, args, kwargs)

    functools.update_wrapper(__init__, base_init)
    __init__.__qualname__ = f"{name}.__init__"
    return __init__


def _reraise_construction_error(e: Exception, name: str, base_init: Any, args: tuple,
                                kwargs: dict) -> None:
    if isinstance(e, NotImplementedError):  # torch's type (e.g. Multinomial's total_count)
        raise NotImplementedError(
            f"{name}({_describe_args(base_init, args, kwargs)}): {e}") from e
    if isinstance(e, RuntimeError):
        raise construction_error(
            f"{name}: parameters of incompatible shapes ({_describe_args(base_init, args, kwargs)}): {e}"
        ) from e
    message = str(e)
    if name not in message:
        message = f"{name}({_describe_args(base_init, args, kwargs)}): {message}"
    raise construction_error(message) from e


def _make_expand(torch_cls: type, name: str, expanded: type) -> Any:
    if torch_cls.expand is _BASE_EXPAND:
        def expand(self: Any, batch_shape: Sequence[int], _instance: Any = None) -> Any:
            batch_shape = torch.Size(batch_shape)
            if batch_shape == self.batch_shape:
                return self
            return expanded(self, batch_shape)
    else:
        torch_expand = torch_cls.expand

        def expand(self: Any, batch_shape: Sequence[int], _instance: Any = None) -> Any:
            if _instance is None:
                _instance = type(self).__new__(type(self))
            try:
                result = torch_expand(self, batch_shape, _instance)
            except NotImplementedError:
                return expanded(self, batch_shape)
            except RuntimeError as e:
                raise expand_error(self, batch_shape) from e
            if result.batch_shape != self.batch_shape:
                # Remember the small parameters: log_prob broadcasts them against the value
                # instead of computing e.g. log(scale) once per element of a plate.
                result._unexpanded = self.__dict__.get("_unexpanded", self)
            return result

    expand._names_expand_errors = True  # type: ignore[attr-defined]
    expand.__doc__ = "Return this distribution broadcast to ``batch_shape``."
    expand.__module__ = WRAPPER_MODULE
    expand.__qualname__ = f"{name}.expand"
    return expand


def _make_log_prob(torch_log_prob: Any) -> Any:

    def log_prob(self: Any, value: torch.Tensor) -> torch.Tensor:
        base = self.__dict__.get("_unexpanded")
        # Only when log_prob is not overridden further down: an override calling super()
        # would otherwise run twice.
        if base is None or type(self).log_prob is not log_prob:
            return torch_log_prob(self, value)
        lp = base.log_prob(value)
        batch_shape = self.batch_shape
        n = len(batch_shape)
        if lp.dim() < n or lp.shape[lp.dim() - n:] != batch_shape:
            try:
                lp = lp.expand(broadcast_shape(lp.shape, batch_shape))
            except ValueError as e:
                raise ValueError(
                    f"{type(self).__name__}.log_prob: value of shape {tuple(value.shape)} does not "
                    f"broadcast with batch_shape {tuple(batch_shape)} and event_shape "
                    f"{tuple(self.event_shape)}"
                ) from e
        return lp

    functools.update_wrapper(log_prob, torch_log_prob)
    return log_prob


def not_enumerable(self: Any, expand: Any = True) -> torch.Tensor:
    """Raise ``NotImplementedError`` (torch's type) naming the distribution without support."""
    raise NotImplementedError(
        f"{type(self).__name__} does not implement enumerate_support (has_enumerate_support is "
        f"{self.has_enumerate_support}): only discrete distributions with finite support can be "
        f"enumerated")


def _get_checked_instance(self: Any, cls: type, _instance: Any = None) -> Any:
    # torch's, plus the instance's has_rsample_ override: every expand built on it keeps it.
    new = _td.Distribution._get_checked_instance(self, cls, _instance)
    return keep_rsample_override(self, new)


def wrap_torch_distribution(
    torch_cls: type, mixin: type, expanded: type, namespace: Dict[str, Any] | None = None
) -> type:
    """Return Pyro's subclass of the torch distribution class ``torch_cls``.

    Args:
        torch_cls: a subclass of :class:`torch.distributions.Distribution`.
        mixin: the class mixed in after ``torch_cls`` (Pyro's ``TorchDistributionMixin``).
        expanded: what ``expand`` returns, as ``expanded(dist, batch_shape)``, when torch's own
            ``expand`` is the base class's or raises ``NotImplementedError``
            (Pyro's ``ExpandedDistribution``).
        namespace: methods that replace torch's in the new class (e.g. a faster ``log_prob``);
            the key ``"_check_construction"`` is not a method but ``check(dist, validate)``,
            called after torch's constructor to refuse what torch lets through, and
            ``"_check_arguments"`` a function ``precheck(validate, *args, **kwargs)`` of the
            constructor's arguments called before it.

    Returns:
        A class named ``torch_cls.__name__`` whose ``__module__`` is
        :mod:`pyro.distributions.torch`, with bases ``(torch_cls, mixin)``.
    """
    name = torch_cls.__name__
    namespace = dict(namespace or {})
    check = namespace.pop("_check_construction", None)
    precheck = namespace.pop("_check_arguments", None)
    ns: Dict[str, Any] = {
        "__module__": WRAPPER_MODULE,
        "__qualname__": name,
        "__doc__": f"Pyro's :class:`torch.distributions.{name}` (same arguments), with the "
                   f"methods of :class:`~pyro.distributions.TorchDistributionMixin`.",
        "__init__": _make_init(torch_cls, name, check, precheck),
        "expand": _make_expand(torch_cls, name, expanded),
        "_validate_sample": validate_sample,
        "_get_checked_instance": _get_checked_instance,
    }
    has_rsample = inspect.getattr_static(torch_cls, "has_rsample")
    if isinstance(has_rsample, property):
        ns["has_rsample"] = override_aware_has_rsample(has_rsample.fget)
    if torch_cls.expand is not _BASE_EXPAND:
        ns["log_prob"] = _make_log_prob(namespace.pop("log_prob", torch_cls.log_prob))
    if torch_cls.enumerate_support is _td.Distribution.enumerate_support:
        ns["enumerate_support"] = not_enumerable
    ns.update(namespace)
    return type(name, (torch_cls, mixin), ns)


__all__ = ["wrap_torch_distribution"]
