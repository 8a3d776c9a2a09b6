"""Named registries of what plugins provide, one per kind."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Tuple

#: Registry kind -> the module whose attributes resolve to registered names.
NAMESPACES: Dict[str, str] = {
    "distributions": "pyro.distributions",
    "constraints": "pyro.distributions.constraints",
    "transforms": "pyro.distributions.transforms",
    "handlers": "pyro.poutine",
    "inference": "pyro.infer",
    "optimizers": "pyro.optim",
    "nn": "pyro.nn",
    "settings": "pyro.settings",
}

#: Registry kind -> the registration hook that fills it.
HOOKS: Dict[str, str] = {kind: f"pyro_register_{kind}" for kind in NAMESPACES}


class RegistrationError(ValueError):
    """A plugin registered something invalid, e.g. a name another plugin already registered."""


class Registry:
    """The objects of one kind registered by plugins: ``name -> object``, with their owners."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._objects: Dict[str, Any] = {}
        self._owners: Dict[str, str] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._objects

    def __len__(self) -> int:
        return len(self._objects)

    def __iter__(self) -> Iterator[str]:
        return iter(self._objects)

    def get(self, name: str, default: Any = None) -> Any:
        """Return the object registered as ``name``, or ``default``."""
        return self._objects.get(name, default)

    def items(self) -> List[Tuple[str, Any]]:
        """Return ``(name, object)`` pairs in registration order."""
        return list(self._objects.items())

    def owner(self, name: str) -> str:
        """Return the distribution that registered ``name``."""
        return self._owners[name]

    def names_by(self, owner: str) -> List[str]:
        """Return the names registered by the distribution ``owner``."""
        return [n for n, o in self._owners.items() if o == owner]

    def _add(self, name: str, obj: Any, owner: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise RegistrationError(f"{owner}: {self.kind} name {name!r} must be a Python identifier")
        if name in self._objects:
            raise RegistrationError(
                f"{self.kind} '{name}' is registered by both {self._owners[name]} and {owner}; "
                f"one of them must use another name"
            )
        self._objects[name] = obj
        self._owners[name] = owner

    def _remove(self, name: str) -> None:
        self._objects.pop(name, None)
        self._owners.pop(name, None)


class Registrar:
    """What a registration hook receives: adds objects of one kind on behalf of one plugin."""

    def __init__(self, registry: Registry, owner: str) -> None:
        self._registry = registry
        self.owner = owner
        self.kind = registry.kind
        self.added: List[str] = []

    def add(self, name: str, obj: Any) -> None:
        """Register ``obj`` as ``name``; raises RegistrationError if the name is taken."""
        self._registry._add(name, obj, self.owner)
        self.added.append(name)

    def undo(self) -> None:
        """Remove everything this registrar added."""
        for name in self.added:
            self._registry._remove(name)
        self.added = []
