"""The global store of named, optionally constrained, learnable parameters."""

from __future__ import annotations

import contextlib
import os
import re
import warnings
import weakref
from typing import Any, Callable, Dict, ItemsView, Iterable, Iterator, KeysView, Optional, Set, Tuple, TypedDict, Union

import torch
from torch.distributions import constraints, transform_to
from torch.distributions.constraints import Constraint
from torch.distributions.transforms import AffineTransform, ComposeTransform, Transform

from pyro.params import serialization
from pyro.params._checks import bad_event_dim, check_new_param, check_redeclared, checked_init_value

_MODULE_NAMESPACE_DIVIDER = "$$$"
_FORMAT = "pyro-param-store"
_DEFAULT_TAG = "default"


def param_with_module_name(pyro_name: str, param_name: str) -> str:
    """Return the store name of parameter ``param_name`` of the module registered as ``pyro_name``."""
    return pyro_name + _MODULE_NAMESPACE_DIVIDER + param_name


def module_from_param_with_module_name(param_name: str) -> str:
    """Return the module part of a module-prefixed store name."""
    return param_name.split(_MODULE_NAMESPACE_DIVIDER)[0]


def user_param_name(param_name: str) -> str:
    """Return the name a user gave: the part after the module prefix, if there is one."""
    if _MODULE_NAMESPACE_DIVIDER in param_name:
        return param_name.split(_MODULE_NAMESPACE_DIVIDER)[1]
    return param_name


def normalize_param_name(name: str) -> str:
    """Return ``name`` with the module divider written as a dot, as torch modules name things."""
    return name.replace(_MODULE_NAMESPACE_DIVIDER, ".")


class StateDict(TypedDict):
    """The state of a :class:`ParamStoreDict`: unconstrained values and constraints by name."""

    params: Dict[str, torch.Tensor]
    constraints: Dict[str, Constraint]


def _is_noop_affine(part: Transform) -> bool:
    return (
        isinstance(part, AffineTransform)
        and isinstance(part.loc, (int, float)) and part.loc == 0
        and isinstance(part.scale, (int, float)) and part.scale == 1
    )


def _read_transform(constraint: Constraint) -> Optional[Transform]:
    """Return the map from unconstrained to constrained values, stripped of no-op parts.

    ``None`` stands for the identity. torch's ``transform_to(positive)`` is ``exp`` followed by
    an affine map with loc 0 and scale 1; dropping that part gives the same values and gradients
    for a fifth of the cost of every parameter read.
    """
    transform = transform_to(constraint)
    if isinstance(transform, ComposeTransform):
        parts = [part for part in transform.parts if not _is_noop_affine(part)]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        return ComposeTransform(parts)
    return transform


def _satisfies(constraint: Constraint, value: torch.Tensor) -> bool:
    try:
        return bool(constraint.check(value.detach()).all())
    except (NotImplementedError, ValueError):
        return True  # dependent constraints cannot be checked without their distribution


def _as_tags(tags: Union[str, Iterable[str]]) -> Set[str]:
    return {tags} if isinstance(tags, str) else set(tags)


def _as_names(names: Union[str, Iterable[str]]) -> list:
    return [names] if isinstance(names, str) else list(names)


class ParamStoreDict:
    """A key-value store of learnable parameters, kept in unconstrained space.

    Each parameter has a name, an unconstrained leaf tensor (what optimizers update) and a
    constraint; reading it returns ``transform_to(constraint)(unconstrained)``, whose
    ``.unconstrained()`` gives back the leaf. Users normally reach it through :func:`pyro.param`
    and :func:`pyro.get_param_store`.
    """

    def __init__(self) -> None:
        self._params: Dict[str, torch.Tensor] = {}
        self._param_to_name: Dict[int, str] = {}
        self._constraints: Dict[str, Constraint] = {}
        self._transforms: Dict[str, Optional[Transform]] = {}
        self._tags: Dict[str, Set[str]] = {}
        self._inactive: Set[str] = set()
        # name -> the init_tensor of the latest pyro.param call found to fit the stored param.
        self._last_init: Dict[str, Any] = {}

    # ----- dict-like interface ------------------------------------------------------------
    def clear(self) -> None:
        """Remove every parameter."""
        self._params = {}
        self._param_to_name = {}
        self._constraints = {}
        self._transforms = {}
        self._tags = {}
        self._inactive = set()
        self._last_init = {}

    def items(self) -> Iterator[Tuple[str, torch.Tensor]]:
        """Iterate over ``(name, constrained value)`` pairs."""
        for name in list(self._params):
            yield name, self[name]

    def keys(self) -> KeysView[str]:
        """Return the parameter names."""
        return self._params.keys()

    def values(self) -> Iterator[torch.Tensor]:
        """Iterate over constrained values."""
        for name in list(self._params):
            yield self[name]

    def __bool__(self) -> bool:
        return bool(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __contains__(self, name: str) -> bool:
        return name in self._params

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._params))

    def __delitem__(self, name: str) -> None:
        unconstrained = self._params.pop(name)
        self._param_to_name.pop(id(unconstrained), None)
        self._constraints.pop(name, None)
        self._transforms.pop(name, None)
        self._tags.pop(name, None)
        self._inactive.discard(name)
        self._last_init.pop(name, None)

    def __getitem__(self, name: str) -> torch.Tensor:
        """Return the constrained value of ``name``; its ``.unconstrained()`` is the leaf tensor."""
        unconstrained = self._params[name]
        transform = self._transforms[name]
        constrained = unconstrained if transform is None else transform(unconstrained)
        constrained.unconstrained = weakref.ref(unconstrained)
        return constrained

    def __setitem__(self, name: str, new_constrained_value: torch.Tensor) -> None:
        """Store ``new_constrained_value`` (in constrained space) under ``name``."""
        if not isinstance(new_constrained_value, torch.Tensor):
            new_constrained_value = torch.as_tensor(new_constrained_value)
        constraint = self._constraints.setdefault(name, constraints.real)
        transform = transform_to(constraint)
        with torch.no_grad():
            unconstrained = transform.inv(new_constrained_value).contiguous()
        if not _satisfies(constraint, new_constrained_value):
            # As in Pyro, a value the inverse transform maps to finite numbers is accepted
            # silently (e.g. an unnormalised positive vector for a simplex, 3.0 for the unit
            # interval); one it cannot represent (NaN, -1.0 for a positive param) is an error,
            # where Pyro would store NaN.
            if not bool(torch.isfinite(unconstrained).all()):
                raise ValueError(
                    f"param '{name}': initial value of shape {tuple(new_constrained_value.shape)} "
                    f"is outside its constraint {constraint}"
                )
        if not unconstrained.is_leaf:
            unconstrained = unconstrained.detach()
        unconstrained.requires_grad_(True)
        old = self._params.get(name)
        if old is not None:
            self._param_to_name.pop(id(old), None)
        self._params[name] = unconstrained
        self._param_to_name[id(unconstrained)] = name
        self._transforms[name] = _read_transform(constraint)
        self._tags.setdefault(name, {_DEFAULT_TAG})
        self._last_init.pop(name, None)

    def setdefault(
        self,
        name: str,
        init_constrained_value: Union[torch.Tensor, Callable[[], torch.Tensor]],
        constraint: Constraint = constraints.real,
    ) -> torch.Tensor:
        """Return the constrained value of ``name``, creating it from the initial value if new.

        Args:
            name: parameter name.
            init_constrained_value: initial value (constrained space) or a function returning
                it, called only if the parameter does not exist yet.
            constraint: the parameter's constraint (used only when it is created).

        Returns:
            The constrained value.
        """
        if name not in self._params:
            if callable(init_constrained_value) and not isinstance(init_constrained_value, torch.Tensor):
                init_constrained_value = init_constrained_value()
            self._constraints[name] = constraint
            self[name] = init_constrained_value
        return self[name]

    # ----- parameters -----------------------------------------------------------------------
    def named_parameters(self) -> ItemsView[str, torch.Tensor]:
        """Return ``(name, unconstrained leaf tensor)`` pairs."""
        return self._params.items()

    def get_unconstrained(self, name: str) -> Optional[torch.Tensor]:
        """Return the unconstrained leaf tensor stored as ``name`` (nothing computed), or None.

        For code that keeps its own leaf tensors in sync with the store (``PyroModule``).
        """
        return self._params.get(name)

    def get_all_param_names(self) -> KeysView[str]:
        """Return all parameter names (deprecated, as in Pyro: use :meth:`keys`)."""
        warnings.warn(
            "ParamStore.get_all_param_names() is deprecated; use .keys() instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._params.keys()

    def replace_param(self, param_name: str, new_param: torch.Tensor, old_param: torch.Tensor) -> None:
        """Replace ``old_param`` (the current constrained value of ``param_name``) by ``new_param``.

        Deprecated, as in Pyro: use ``store[param_name] = new_param``.
        """
        warnings.warn(
            "ParamStore.replace_param() is deprecated; use .__setitem__() instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        unconstrained = getattr(old_param, "unconstrained", None)
        current = self._params.get(param_name)
        if current is None or (unconstrained is not None and unconstrained() is not current):
            raise ValueError(f"replace_param: '{param_name}' does not currently hold old_param")
        self[param_name] = new_param

    def get_param(
        self,
        name: str,
        init_tensor: Optional[Union[torch.Tensor, Callable[[], torch.Tensor]]] = None,
        constraint: Constraint = constraints.real,
        event_dim: Optional[int] = None,
        tags: Optional[Union[str, Iterable[str]]] = None,
    ) -> torch.Tensor:
        """Return the constrained value of ``name``, creating it from ``init_tensor`` if new.

        Args:
            name: parameter name.
            init_tensor: initial value or a function returning it; needed if the parameter does
                not exist yet.
            constraint: constraint of a new parameter.
            event_dim: read by plates to subsample the parameter; ignored by the store.
            tags: tag(s) to attach to the parameter (Pyro 0.1 API).

        Raises:
            KeyError: the parameter does not exist and no ``init_tensor`` was given.
        """
        if init_tensor is None:
            try:
                value = self[name]
            except KeyError:
                raise KeyError(
                    f"param '{name}' is not in the param store; give an initial value the first "
                    f"time pyro.param('{name}', ...) is called"
                ) from None
        elif name in self._params:
            value = self[name]
            # The initial value last seen passes without a look at its shape.
            if self._constraints[name] is not constraint or (
                    self._last_init.get(name) is not init_tensor and isinstance(init_tensor, torch.Tensor)):
                check_redeclared(name, value, self._constraints[name], init_tensor, constraint)
                self._last_init[name] = init_tensor
        else:
            check_new_param(name, init_tensor, constraint)
            value = self.setdefault(name, checked_init_value(name, init_tensor), constraint)
            self._last_init[name] = init_tensor
        if event_dim is not None and (type(event_dim) is not int or not 0 <= event_dim <= value.dim()):
            bad_event_dim(name, event_dim, value)
        if tags is not None:
            self.tag_params(name, tags)
        return value

    def match(self, name: str) -> Dict[str, torch.Tensor]:
        """Return ``{param name: constrained value}`` for names matching the regex ``name``."""
        pattern = re.compile(name)
        return {key: value for key, value in self.items() if pattern.match(key)}

    def param_name(self, p: torch.Tensor) -> Optional[str]:
        """Return the name of the unconstrained leaf tensor ``p``, or None if it is not stored."""
        name = self._param_to_name.get(id(p))
        if name is not None and self._params.get(name) is p:
            return name
        return None

    # ----- state ------------------------------------------------------------------------------
    def get_state(self) -> StateDict:
        """Return the store's state: unconstrained values and constraints by name."""
        return {"params": dict(self._params), "constraints": dict(self._constraints)}

    def set_state(self, state: StateDict) -> None:
        """Add the parameters of ``state`` (from :meth:`get_state`) to the store."""
        if not isinstance(state, dict) or set(state) != {"params", "constraints"}:
            raise ValueError("malformed ParamStore state: expected keys 'params' and 'constraints'")
        for name, unconstrained in state["params"].items():
            constraint = state["constraints"].get(name, constraints.real)
            old = self._params.get(name)
            if old is not None:
                self._param_to_name.pop(id(old), None)
            self._params[name] = unconstrained
            self._param_to_name[id(unconstrained)] = name
            self._constraints[name] = constraint
            self._transforms[name] = _read_transform(constraint)
            self._tags.setdefault(name, {_DEFAULT_TAG})
            self._last_init.pop(name, None)

    def save(self, filename: Union[str, os.PathLike]) -> None:
        """Write the parameters, constraints and tags to ``filename`` atomically.

        A crash during the write leaves an existing file untouched. Constraints are saved by
        their registered name, so :meth:`load` never needs to unpickle code.
        """
        state = {
            "format": _FORMAT,
            "version": 1,
            "params": {name: p.detach() for name, p in self._params.items()},
            "constraints": serialization.encode_constraints(self._constraints),
            "tags": {name: sorted(tags) for name, tags in self._tags.items()},
        }
        serialization.atomic_save(state, filename)

    def load(self, filename: Union[str, os.PathLike], map_location: Any = None) -> None:
        """Add the parameters saved in ``filename`` to the store.

        Args:
            filename: a file written by :meth:`save`.
            map_location: where to put the tensors, as for :func:`torch.load`.

        Raises:
            StateFileError: the file is truncated, corrupt, not a param-store file, or holds
                anything but tensors and plain data. The store is then left unchanged.
        """
        obj = serialization.safe_load(filename, map_location, kind=_FORMAT)
        params = serialization.check_tensor_dict(obj.get("params"), "params")
        specs = obj.get("constraints", {})
        decoded = serialization.decode_constraints(specs)
        tags = obj.get("tags", {})
        if set(decoded) - set(params) or not isinstance(tags, dict):
            raise serialization.StateFileError(f"{os.fspath(filename)!r}: malformed param store file")
        # Everything parsed; only now touch the store.
        for name, value in params.items():
            leaf = value.detach().requires_grad_(True)
            state: StateDict = {
                "params": {name: leaf},
                "constraints": {name: decoded.get(name, constraints.real)},
            }
            self.set_state(state)
            if name in tags:
                self._tags[name] = set(tags[name])

    @contextlib.contextmanager
    def scope(self, state: Optional[StateDict] = None) -> Iterator[StateDict]:
        """Use a separate set of parameters inside the block, restoring the current ones after.

        Args:
            state: parameters to start the block with (e.g. one yielded by an earlier scope).

        Yields:
            A state dict that holds the block's parameters once the block ends.
        """
        if state is None:
            state = {"params": {}, "constraints": {}}
        saved = self.get_state()
        saved_tags = {k: set(v) for k, v in self._tags.items()}
        try:
            self.clear()
            self.set_state(state)
            yield state
            state.update(self.get_state())
        finally:
            self.clear()
            self.set_state(saved)
            self._tags.update(saved_tags)

    # ----- tags (Pyro 0.1) ------------------------------------------------------------------
    def get_param_tags(self, param_name: str) -> Set[str]:
        """Return the set of tags of ``param_name``."""
        return set(self._tags.get(param_name, ()))

    def tag_params(self, param_names: Union[str, Iterable[str]], tags: Union[str, Iterable[str]]) -> None:
        """Add the tag(s) ``tags`` to the parameter(s) ``param_names``."""
        new = _as_tags(tags)
        for name in _as_names(param_names):
            if name not in self._params:
                raise KeyError(f"cannot tag unknown param '{name}'")
            self._tags.setdefault(name, set()).update(new)

    def untag_params(self, param_names: Union[str, Iterable[str]], tags: Union[str, Iterable[str]]) -> None:
        """Remove the tag(s) ``tags`` from the parameter(s) ``param_names``."""
        old = _as_tags(tags)
        for name in _as_names(param_names):
            self._tags.get(name, set()).difference_update(old)

    def delete_tag(self, tag: str) -> None:
        """Remove ``tag`` from every parameter; the parameters themselves stay."""
        for tags in self._tags.values():
            tags.discard(tag)

    def mark_params_active(self, params: Iterable[torch.Tensor]) -> None:
        """Mark the given unconstrained parameters as active (optimised)."""
        for p in params:
            name = self.param_name(p)
            if name is not None:
                self._inactive.discard(name)

    def mark_params_inactive(self, params: Iterable[torch.Tensor]) -> None:
        """Mark the given unconstrained parameters as inactive."""
        for p in params:
            name = self.param_name(p)
            if name is not None:
                self._inactive.add(name)

    def get_active_params(self, tags: Optional[Union[str, Iterable[str]]] = None) -> Set[torch.Tensor]:
        """Return the active unconstrained parameters, optionally only those with any of ``tags``."""
        wanted = None if tags is None else _as_tags(tags)
        return {
            p for name, p in self._params.items()
            if name not in self._inactive and (wanted is None or self._tags.get(name, set()) & wanted)
        }

    # ----- module-prefixed names --------------------------------------------------------------
    param_with_module_name = staticmethod(param_with_module_name)
    module_from_param_with_module_name = staticmethod(module_from_param_with_module_name)
    user_param_name = staticmethod(user_param_name)
    normalize_param_name = staticmethod(normalize_param_name)
