"""An autoguide's learnable tensors as ``nn.Parameter`` s of the guide, shared with the param store.

A guide declares each of its parameters once, when it first sees the model: the parameter
becomes an ``nn.Parameter`` of the guide (or of one of its :class:`ParamBank` children, as
``guide.locs``) in unconstrained space, registered as ``<name>_unconstrained`` (or under its
own name when it has no constraint to undo), and the param store holds that very tensor under
the guide's Pyro name (``AutoNormal.locs.x``). So ``guide.parameters()``, ``state_dict()``,
pickling and torch optimizers see the same tensors that ``pyro.param`` and SVI see.

Each read keeps the two in step, as Pyro's ``PyroModule`` does: when the store holds another
tensor under the name (loaded from a file, or set with ``pyro.get_param_store()[name] = ...``)
the guide takes that tensor; when the store has lost the name (``pyro.clear_param_store()``)
the guide's tensor goes back into it. Writing ``guide.locs.x = value`` writes the unconstrained
value into the guide's tensor in place (an optimizer holding it keeps working) and makes the
store hold it.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
from torch.distributions import constraints, transform_to

import pyro

SUFFIX = "_unconstrained"


class ParamSlot:
    """Where one guide parameter lives: its owner module, its key there, its store name.

    Attributes:
        owner: the module whose ``_parameters`` holds the tensor.
        key: the tensor's name in ``owner._parameters``.
        store_name: the parameter's name in the param store.
        constraint: the constraint of the constrained value.
        event_dim: the parameter's event dim (for subsampling plates), or None.
    """

    __slots__ = ("owner", "key", "store_name", "constraint", "event_dim")

    def __init__(self, owner: torch.nn.Module, key: str, store_name: str, constraint: Any,
                 event_dim: Optional[int]) -> None:
        self.owner = owner
        self.key = key
        self.store_name = store_name
        self.constraint = constraint
        self.event_dim = event_dim

    def __getstate__(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)


def _as_store_parameter(store: Any, name: str, leaf: torch.Tensor,
                        constraint: Any) -> torch.nn.Parameter:
    """Return ``leaf`` as an ``nn.Parameter`` that the store holds under ``name``."""
    if not isinstance(leaf, torch.nn.Parameter):
        leaf = torch.nn.Parameter(leaf.detach())
        store.set_state({"params": {name: leaf}, "constraints": {name: constraint}})
    return leaf


def _stored_constraint(store: Any, name: str, default: Any) -> Any:
    return store.get_state()["constraints"].get(name, default)


def declare(owner: torch.nn.Module, attr: str, store_name: str, init: torch.Tensor,
            constraint: Any = constraints.real, event_dim: Optional[int] = None,
            suffix: bool = True) -> ParamSlot:
    """Make ``owner.<attr>`` a guide parameter, stored as ``store_name``; return its slot.

    A tensor the store already holds under ``store_name`` wins over ``init`` (with its own
    constraint and shape), as a ``pyro.param`` call would return it.

    Args:
        owner: the guide, or a :class:`ParamBank` of it.
        attr: the attribute users read (``guide.locs.<attr>``).
        store_name: the name in the param store.
        init: the initial constrained value.
        constraint: its constraint.
        event_dim: its event dim, or None.
        suffix: register the tensor as ``<attr>_unconstrained`` (else as ``<attr>``).
    """
    store = pyro.get_param_store()
    stored = store.get_unconstrained(store_name)
    if stored is None:
        store.get_param(store_name, init, constraint, event_dim)
        stored = store.get_unconstrained(store_name)
    else:
        constraint = _stored_constraint(store, store_name, constraint)
    param = _as_store_parameter(store, store_name, stored, constraint)
    owner, attr = _nested_owner(owner, attr)
    key = attr + SUFFIX if suffix else attr
    owner.__dict__["_parameters"][key] = param
    slot = ParamSlot(owner, key, store_name, constraint, event_dim)
    owner.__dict__["_site_slots"][attr] = slot
    return slot


def _nested_owner(owner: torch.nn.Module, attr: str) -> Tuple[torch.nn.Module, str]:
    """For a dotted site name (``linear.weight``, from a PyroModule model) return the nested
    :class:`ParamBank` (``owner.linear``, made if new) and the last part, as Pyro nests them."""
    *path, last = attr.split(".")
    for part in path:
        child = owner.__dict__["_modules"].get(part)
        if child is None and part and part not in owner.__dict__:
            label = owner.__dict__.get("_label") or owner.__dict__.get("_pyro_name")
            child = ParamBank(f"{label or type(owner).__name__}.{part}")
            owner.__dict__["_modules"][part] = child
        if not isinstance(child, ParamBank):
            return owner, attr  # a name taken by something else: keep the dotted key flat
        owner = child
    return owner, last


def _sync(slot: ParamSlot, store: Any, param: torch.Tensor) -> None:
    """Make the store and the guide hold one tensor for ``slot`` (they differ on entry).

    The store's tensor wins (shape and constraint included, as ``pyro.param`` returns it); the
    guide's goes into the store only when the store has none.
    """
    name = slot.store_name
    stored = store.get_unconstrained(name)
    if stored is None:
        store.set_state({"params": {name: param}, "constraints": {name: slot.constraint}})
        return
    slot.constraint = _stored_constraint(store, name, slot.constraint)
    slot.owner.__dict__["_parameters"][slot.key] = _as_store_parameter(
        store, name, stored, slot.constraint)


def value(slot: ParamSlot) -> torch.Tensor:
    """Return the constrained value of ``slot`` through ``pyro.param`` (a ``param`` site)."""
    store = pyro.get_param_store()
    param = slot.owner.__dict__["_parameters"][slot.key]
    if store.get_unconstrained(slot.store_name) is not param:
        _sync(slot, store, param)
    return pyro.param(slot.store_name, None, slot.constraint, slot.event_dim)


def peek(slot: ParamSlot) -> torch.Tensor:
    """Return the constrained value of ``slot`` without making a ``param`` site."""
    store = pyro.get_param_store()
    param = slot.owner.__dict__["_parameters"][slot.key]
    stored = store.get_unconstrained(slot.store_name)
    if stored is None:
        return transform_to(slot.constraint)(param)
    if stored is not param:
        _sync(slot, store, param)
    return store[slot.store_name]


def assign(slot: ParamSlot, new_value: Any) -> None:
    """Write the constrained ``new_value`` into ``slot``'s tensor (in place) and the store."""
    param = slot.owner.__dict__["_parameters"][slot.key]
    new_value = torch.as_tensor(new_value, dtype=param.dtype, device=param.device)
    with torch.no_grad():
        unconstrained = transform_to(slot.constraint).inv(new_value.detach()).contiguous()
    if not bool(torch.isfinite(unconstrained).all()):
        raise ValueError(
            f"autoguide param '{slot.store_name}': the value of shape "
            f"{tuple(new_value.shape)} is outside its constraint {slot.constraint}")
    param.data = unconstrained
    store = pyro.get_param_store()
    name = slot.store_name
    store.set_state({"params": {name: param}, "constraints": {name: slot.constraint}})


class SiteParams:
    """Mixin for an ``nn.Module`` with guide parameters read and set by name.

    ``module.<attr>`` returns the parameter's constrained value (``guide.locs.x``); assigning a
    tensor or a number to it writes the value (see :func:`assign`). Other attributes behave as
    usual.
    """

    def _init_site_params(self) -> None:
        self.__dict__["_site_slots"] = {}

    def __getattr__(self, name: str) -> Any:
        slots = self.__dict__.get("_site_slots")
        if slots is not None:
            slot = slots.get(name)
            if slot is not None:
                return peek(slot)
        return super().__getattr__(name)  # type: ignore[misc]

    def __setattr__(self, name: str, new_value: Any) -> None:
        slots = self.__dict__.get("_site_slots")
        if slots and name in slots and (isinstance(new_value, (torch.Tensor, float, int))
                                        and not isinstance(new_value, bool)):
            assign(slots[name], new_value)
            return
        super().__setattr__(name, new_value)

    def __getstate__(self) -> Dict[str, Any]:
        # The store marks the tensors it returns with a weak reference to their leaf; for an
        # unconstrained param that is the param itself, and weak references do not pickle.
        for param in self._parameters.values():  # type: ignore[attr-defined]
            if param is not None:
                param.__dict__.pop("unconstrained", None)
        return super().__getstate__()  # type: ignore[misc]


class ParamBank(SiteParams, torch.nn.Module):
    """A child module holding one kind of a guide's site parameters (``guide.locs``).

    Args:
        label: what the bank holds, for error messages (``"AutoNormal.locs"``).
    """

    def __init__(self, label: str) -> None:
        super().__init__()
        self._init_site_params()
        self._label = label

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_"):
                raise
            raise AttributeError(
                f"{self.__dict__.get('_label', 'ParamBank')} has no parameter '{name}'; call the "
                f"guide with the model's arguments first") from None

    def forward(self) -> None:
        """Not callable: a bank only holds parameters."""
        raise TypeError(f"{self._label} holds parameters and cannot be called")

    def extra_repr(self) -> str:
        return ", ".join(self.__dict__["_site_slots"])


__all__ = ["ParamBank", "ParamSlot", "SiteParams", "assign", "declare", "peek", "value"]
