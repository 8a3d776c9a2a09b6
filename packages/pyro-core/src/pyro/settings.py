"""``pyro.settings``: global switches by name, wherever the package owning each keeps it.

A setting is an alias for a module-level value (``modulename`` + dotted ``deepname``), with an
optional validator. pyro-core registers its own here; other packages (and third-party plugins)
register theirs through the ``pyro_register_settings`` hook, as
``registry.add(alias, Setting(modulename, deepname, validator))``, so that reading the list of
settings imports no package until a setting is read or written::

    pyro.settings.get()                         # {alias: value} of every setting
    pyro.settings.set(module_local_params=True)
    with pyro.settings.context(module_local_params=True):
        ...
"""

from __future__ import annotations

import contextlib
from importlib import import_module
from typing import Any, Callable, Dict, Iterator, NamedTuple, Optional


class Setting(NamedTuple):
    """Where a setting lives: ``getattr(import_module(modulename), *deepname.split("."))``,
    and the validator its new values must pass (it raises on a bad value)."""

    modulename: str
    deepname: str
    validator: Optional[Callable[[Any], Any]] = None


_REGISTERED: Dict[str, Setting] = {}


def register(alias: str, modulename: str, deepname: str,
             validator: Optional[Callable[[Any], Any]] = None) -> Callable:
    """Register the setting ``alias`` for the value ``deepname`` of module ``modulename``.

    Returns a decorator that installs the function it decorates as the validator (and returns
    it), so a module may write ``@register("x", __name__, "_X") def _check(value): ...``.
    """
    _REGISTERED[alias] = Setting(modulename, deepname, validator)

    def set_validator(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _REGISTERED[alias] = Setting(modulename, deepname, fn)
        return fn

    return set_validator


def _settings() -> Dict[str, Setting]:
    from pyro.plugins import get_registry

    found = {name: setting for name, setting in get_registry("settings").items()}
    found.update(_REGISTERED)
    return found


def _lookup(alias: str) -> Setting:
    settings = _settings()
    if alias not in settings:
        raise KeyError(f"pyro.settings: unknown setting {alias!r}; known: {sorted(settings)}")
    return settings[alias]


def _owner(setting: Setting) -> Any:
    obj = import_module(setting.modulename)
    for part in setting.deepname.split(".")[:-1]:
        obj = getattr(obj, part)
    return obj


def get(alias: Optional[str] = None) -> Any:
    """The value of the setting ``alias``; without it, ``{alias: value}`` of every setting."""
    if alias is None:
        return {name: get(name) for name in sorted(_settings())}
    setting = _lookup(alias)
    return getattr(_owner(setting), setting.deepname.rsplit(".", 1)[-1])


def set(**kwargs: Any) -> None:
    """Set settings by alias (each value checked by its validator first)."""
    resolved = {alias: _lookup(alias) for alias in kwargs}
    for alias, value in kwargs.items():
        setting = resolved[alias]
        if setting.validator is not None:
            setting.validator(value)
    for alias, value in kwargs.items():
        setting = resolved[alias]
        setattr(_owner(setting), setting.deepname.rsplit(".", 1)[-1], value)


@contextlib.contextmanager
def context(**kwargs: Any) -> Iterator[None]:
    """Set settings inside a ``with`` block and restore the old values on leaving it."""
    old = {alias: get(alias) for alias in kwargs}
    set(**kwargs)
    try:
        yield
    finally:
        set(**old)


def _check_bool(value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool, got {type(value).__name__} {value!r}")


register("validate_distributions_torch", "torch.distributions.distribution",
         "Distribution._validate_args", _check_bool)
# One switch covers pyro's own checks (distributions, handlers, inference): pyro.enable_validation.
for _alias in ("validate_distributions_pyro", "validate_infer", "validate_poutine"):
    register(_alias, "pyro.util", "_VALIDATION_ENABLED", _check_bool)

__all__ = ["Setting", "context", "get", "register", "set"]
