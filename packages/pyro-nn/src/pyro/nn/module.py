"""``PyroModule``: a ``torch.nn.Module`` whose attributes can be Pyro params and sample sites.

Naming: a module's sites are named by its attribute path from the root ``PyroModule``:
``model.linear.weight`` reads the site ``"linear.weight"``. A plain ``nn.Module`` attribute of a
``PyroModule`` is registered with :func:`pyro.module` under its path (``"plain$$$weight"``).

Parameters and the store (global mode): a ``PyroParam`` ``x`` is the ``nn.Parameter``
``x_unconstrained``; inside a call it is registered in the param store under its path (the
store holds the module's own tensor) and read with ``pyro.param``. When the store already holds
another tensor under that name (e.g. loaded from a file), the module takes that tensor. A plain
``nn.Parameter`` of a ``PyroModule`` is registered the same way, but there the module's tensor
wins: the store is made to hold it (restore such parameters with ``load_state_dict``).
"""

from __future__ import annotations

import copyreg
import functools
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, TypeVar

import torch
from torch.distributions import constraints, transform_to

import pyro.nn._module_context as _ctx
from pyro.nn._module_attrs import PyroParam, PyroSample, _shown, _unconstrain
from pyro.nn._module_context import (
    _Context,
    _is_module_local_param_enabled,
    _validate_module_local_params,
    module_local_params,
)
from pyro.params.param_store import _MODULE_NAMESPACE_DIVIDER
from pyro.poutine.runtime import _draw
from pyro.primitives import deterministic, module as _pyro_module, param as _pyro_param, sample as _pyro_sample

_STORE = _ctx._PYRO_PARAM_STORE
_SUFFIX = "_unconstrained"
_T = TypeVar("_T")


# ----- PyroModule[SomeModule] ------------------------------------------------------------------

def _mixin_class(module_class: type) -> type:
    """Return ``PyroModule[module_class]`` (how pickle rebuilds a generated class)."""
    return PyroModule[module_class]


def _reduce_class(cls: type) -> Any:
    """Pickle ``PyroModule[M]`` as "the mixin of M"; any other class by its qualified name."""
    base = cls.__dict__.get("_pyro_mixin_of")
    if base is not None:
        return _mixin_class, (base,)
    return cls.__qualname__


class _PyroModuleMeta(type):
    """Metaclass of ``PyroModule``: ``PyroModule[M]`` is the PyroModule version of ``M``."""

    _pyro_mixin_cache: Dict[type, type] = {}

    def __getitem__(cls, module_class: type) -> type:
        if not (isinstance(module_class, type) and issubclass(module_class, torch.nn.Module)):
            raise TypeError(f"PyroModule[...] needs a subclass of torch.nn.Module, got {module_class!r}")
        if issubclass(module_class, PyroModule):
            return module_class
        if module_class is torch.nn.Module:
            return PyroModule
        cache = _PyroModuleMeta._pyro_mixin_cache
        made = cache.get(module_class)
        if made is None:
            made = cache[module_class] = _make_mixin(module_class)
        return made


def _make_mixin(module_class: type) -> type:
    # One generated class per torch class, and its torch bases generated in turn, so that
    # isinstance(PyroModule[nn.LazyLinear](...), PyroModule[nn.Linear]) holds.
    bases = (module_class,) + tuple(PyroModule[b] for b in module_class.__bases__
                                    if issubclass(b, torch.nn.Module))
    meta = type(module_class)
    if not issubclass(_PyroModuleMeta, meta):
        meta = type(f"Pyro{meta.__name__}", (_PyroModuleMeta, meta), {})
        copyreg.pickle(meta, _reduce_class)
    name = "Pyro" + module_class.__name__
    namespace = {"__module__": __name__, "__qualname__": name, "_pyro_mixin_of": module_class,
                 "__doc__": f"PyroModule version of :class:`{module_class.__module__}.{module_class.__qualname__}`."}
    return meta(name, bases, namespace)


copyreg.pickle(_PyroModuleMeta, _reduce_class)


# ----- PyroModule ------------------------------------------------------------------------------

def _init_pyro_attrs(module: torch.nn.Module, name: str) -> None:
    d = module.__dict__
    d["_pyro_name"] = name
    d["_pyro_context"] = _Context()
    d["_pyro_params"] = {}
    d["_pyro_samples"] = {}
    d["_pyro_fullnames"] = {}


def _checked_prior(name: str, prior: Any) -> Any:
    """``prior``, what the prior function of the ``PyroSample`` ``name`` returned, if it is a
    distribution or a tensor; else the ``TypeError`` naming the attribute."""
    if hasattr(prior, "sample") or isinstance(prior, torch.Tensor):
        return prior
    raise TypeError(
        f"PyroSample '{name}': the prior function returned {_shown(prior)}; expected a "
        "distribution (or a tensor, for a deterministic site)"
    )


def _shape_error(fullname: str, stored: torch.Tensor, own: torch.Tensor) -> ValueError:
    return ValueError(
        f"PyroModule param '{fullname}': the param store holds a value of shape "
        f"{tuple(stored.shape)} under this name, the module's has shape {tuple(own.shape)}; "
        "call pyro.clear_param_store() or give the module another name"
    )


class PyroModule(torch.nn.Module, metaclass=_PyroModuleMeta):
    """A ``torch.nn.Module`` whose attributes may be Pyro parameters and random variables.

    Assign :class:`PyroParam` and :class:`PyroSample` objects to attributes to declare them;
    sites are named by the attribute's path from the root module (``"linear.weight"``), prefixed
    by ``name`` if the root has one. ``PyroModule[nn.Linear](3, 1)`` is an ``nn.Linear`` that is
    a PyroModule, so its ``weight`` may be replaced by a prior::

        class BayesianRegression(PyroModule):
            def __init__(self):
                super().__init__()
                self.linear = PyroModule[nn.Linear](3, 1)
                self.linear.weight = PyroSample(dist.Normal(0.0, 1.0).expand([1, 3]).to_event(2))
                self.linear.bias = PyroSample(dist.Normal(0.0, 10.0).expand([1]).to_event(1))

            def forward(self, x, y=None):
                mean = self.linear(x).squeeze(-1)
                with pyro.plate("data", x.shape[0]):
                    return pyro.sample("obs", dist.Normal(mean, 1.0), obs=y)

    Within one call (``forward`` or a :func:`pyro_method`) each ``PyroSample`` attribute is
    drawn once, however often it is read. Outside a call, reading one draws a fresh value
    without recording a site, and reading a ``PyroParam`` gives its constrained value without
    touching the param store.

    Args:
        name: prefix of every site of this module and its PyroModule attributes (used only
            when this module is the root).
    """

    def __init__(self, name: str = "") -> None:
        if not isinstance(name, str):
            raise TypeError(f"PyroModule: name must be a str, got {type(name).__name__}")
        _init_pyro_attrs(self, name)
        super().__init__()

    # ----- names and the shared context ------------------------------------------------------
    def _pyro_set_supermodule(self, name: str, context: _Context) -> None:
        """Make this module (and its PyroModule descendants) part of a tree: path ``name``."""
        d = self.__dict__
        d["_pyro_name"] = name
        d["_pyro_context"] = context
        d["_pyro_fullnames"] = {}
        for key, child in self._modules.items():
            if isinstance(child, PyroModule):
                child._pyro_set_supermodule(self._pyro_get_fullname(key), context)

    def _pyro_get_fullname(self, name: str) -> str:
        """Return the site name of this module's attribute ``name``."""
        fullnames = self.__dict__["_pyro_fullnames"]
        fullname = fullnames.get(name)
        if fullname is None:
            prefix = self.__dict__["_pyro_name"]
            fullname = fullnames[name] = f"{prefix}.{name}" if prefix else name
        return fullname

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.__dict__["_pyro_context"]:
            return super().__call__(*args, **kwargs)

    def add_module(self, name: str, module: Optional[torch.nn.Module]) -> None:
        """Add a child module; a PyroModule child joins this module's tree under ``name``."""
        if isinstance(module, PyroModule):
            module._pyro_set_supermodule(self._pyro_get_fullname(name), self._pyro_context)
        super().add_module(name, module)

    # ----- attribute access -------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        pyro_params = d.get("_pyro_params")
        if pyro_params is None:  # not initialised yet
            return super().__getattr__(name)
        spec = pyro_params.get(name)
        if spec is not None:
            return self._pyro_param_value(name, spec)
        prior = d["_pyro_samples"].get(name)
        if prior is not None:
            return self._pyro_sample_value(name, prior)
        params = d["_parameters"]
        if name in params:
            value = params[name]
            if value is None or not d["_pyro_context"].active:
                return value
            if name.endswith(_SUFFIX) and name[: -len(_SUFFIX)] in pyro_params:
                return value  # the raw unconstrained tensor of a PyroParam
            fullname = self._pyro_get_fullname(name)
            if _STORE.get_unconstrained(fullname) is not value:
                # The module's own tensor wins: the store is made to hold it.
                _STORE.set_state({"params": {fullname: value}, "constraints": {fullname: constraints.real}})
            return _pyro_param(fullname)
        buffers = d["_buffers"]
        if name in buffers:
            return buffers[name]
        modules = d["_modules"]
        if name in modules:
            value = modules[name]
            if (value is not None and d["_pyro_context"].active
                    and not isinstance(value, PyroModule)):
                self._pyro_register_plain_module(name, value)
            return value
        return super().__getattr__(name)

    def _pyro_param_value(self, name: str, spec: Tuple[Any, Optional[int]]) -> torch.Tensor:
        constraint, event_dim = spec
        uname = name + _SUFFIX
        unconstrained = self.__dict__["_parameters"][uname]
        if not self.__dict__["_pyro_context"].active:
            return transform_to(constraint)(unconstrained)
        fullname = self._pyro_get_fullname(name)
        stored = _STORE.get_unconstrained(fullname)
        if stored is not unconstrained:
            if stored is None:
                _STORE.set_state({"params": {fullname: unconstrained},
                                  "constraints": {fullname: constraint}})
            else:
                # The store holds another tensor (loaded, or set by pyro.param): the module
                # takes it, as an nn.Parameter, which the store then holds too.
                if stored.shape != unconstrained.shape:
                    raise _shape_error(fullname, stored, unconstrained)
                if not isinstance(stored, torch.nn.Parameter):
                    stored_constraint = _STORE.get_state()["constraints"].get(fullname, constraint)
                    stored = torch.nn.Parameter(stored)
                    _STORE.set_state({"params": {fullname: stored},
                                      "constraints": {fullname: stored_constraint}})
                self.__dict__["_parameters"][uname] = stored
        return _pyro_param(fullname, event_dim=event_dim)

    def _pyro_sample_value(self, name: str, prior: Any) -> Any:
        context = self.__dict__["_pyro_context"]
        if not context.active:
            if not hasattr(prior, "sample"):
                prior = _checked_prior(name, prior(self))
            return prior if isinstance(prior, torch.Tensor) else _draw(prior, (), {})
        fullname = self._pyro_get_fullname(name)
        value = context.cache.get(fullname)
        if value is None:
            if not hasattr(prior, "sample"):
                prior = _checked_prior(name, prior(self))
            if isinstance(prior, torch.Tensor):
                value = deterministic(fullname, prior)
            else:
                value = _pyro_sample(fullname, prior)
            context.cache[fullname] = value
        return value

    def _pyro_register_plain_module(self, name: str, module: torch.nn.Module) -> None:
        fullname = self._pyro_get_fullname(name)
        _pyro_module(fullname, module)

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        pyro_params = d.get("_pyro_params")
        if pyro_params is None:  # not initialised yet
            super().__setattr__(name, value)
            return
        if isinstance(value, PyroParam):
            init_value, constraint, event_dim = value
            if init_value is None:
                raise ValueError(f"PyroParam '{name}': an init_value is needed to declare the parameter")
            unconstrained = _unconstrain(name, init_value, constraint, event_dim)
            self._pyro_forget(name)
            pyro_params[name] = (constraint, event_dim)
            super().__setattr__(name + _SUFFIX, unconstrained)
        elif isinstance(value, PyroSample):
            self._pyro_forget(name)
            d["_pyro_samples"][name] = value.prior
        elif name in pyro_params and isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter):
            # A new constrained value for an existing PyroParam: written into its tensor, which
            # the param store may share.
            constraint, _ = pyro_params[name]
            unconstrained = d["_parameters"][name + _SUFFIX]
            with torch.no_grad():
                new = transform_to(constraint).inv(value.detach()).contiguous()
            unconstrained.data = new.to(dtype=unconstrained.dtype, device=unconstrained.device)
        else:
            if isinstance(value, (torch.nn.Parameter, torch.nn.Module)):
                if d["_parameters"].get(name) is not value and d["_modules"].get(name) is not value:
                    self._pyro_forget(name)
                if isinstance(value, PyroModule):
                    value._pyro_set_supermodule(self._pyro_get_fullname(name), d["_pyro_context"])
            elif name in pyro_params or name in d["_pyro_samples"]:
                self._pyro_forget(name)
            super().__setattr__(name, value)

    def _pyro_forget(self, name: str) -> None:
        """Remove the attribute ``name`` if it is a PyroParam, PyroSample, parameter or module,
        with its entries in the param store (if this module's tree has used the store)."""
        d = self.__dict__
        if name in d["_pyro_params"]:
            del d["_pyro_params"][name]
            del d["_parameters"][name + _SUFFIX]
            self._pyro_drop_from_store(self._pyro_get_fullname(name))
        elif name in d["_pyro_samples"]:
            del d["_pyro_samples"][name]
        elif name in d["_parameters"]:
            del d["_parameters"][name]
            self._pyro_drop_from_store(self._pyro_get_fullname(name))
        elif name in d["_modules"]:
            module = d["_modules"].pop(name)
            self._pyro_drop_module_from_store(name, module)

    def _pyro_drop_from_store(self, fullname: str) -> None:
        if self.__dict__["_pyro_context"].used and fullname in _STORE:
            del _STORE[fullname]

    def _pyro_drop_module_from_store(self, name: str, module: Optional[torch.nn.Module]) -> None:
        if module is None or not self.__dict__["_pyro_context"].used:
            return
        fullname = self._pyro_get_fullname(name)
        divider = "." if isinstance(module, PyroModule) else _MODULE_NAMESPACE_DIVIDER
        prefix = fullname + divider
        for key in [k for k in _STORE.keys() if k.startswith(prefix)]:
            del _STORE[key]

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if d.get("_pyro_params") is not None and (
                name in d["_pyro_params"] or name in d["_pyro_samples"]
                or name in d["_parameters"] or name in d["_modules"]):
            self._pyro_forget(name)
            return
        super().__delattr__(name)

    def __getstate__(self) -> Dict[str, Any]:
        # The store marks the tensors it returns with a weak reference to their leaf
        # (``value.unconstrained()``); for an unconstrained parameter that is the parameter
        # itself, and weak references do not pickle. The mark is made again at the next read.
        for p in self.parameters():
            p.__dict__.pop("unconstrained", None)
        return super().__getstate__()

    # ----- introspection ----------------------------------------------------------------------
    def named_pyro_params(self, prefix: str = "", recurse: bool = True) -> Iterator[Tuple[str, torch.Tensor]]:
        """Iterate over ``(name, value)`` of the parameters, PyroParams by their own name.

        A ``PyroParam`` ``x`` is yielded as ``"x"`` with its constrained value (where
        ``named_parameters`` yields ``"x_unconstrained"``); other parameters as they are.
        Nothing is registered in the param store.

        Args:
            prefix: prepended to every name, with a dot.
            recurse: include the parameters of submodules.
        """
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for path, module in modules:
            specs = module.__dict__.get("_pyro_params") or {}
            for name, value in module._parameters.items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                base = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else None
                if base is not None and base in specs:
                    name, value = base, transform_to(specs[base][0])(value)
                yield (f"{path}.{name}" if path else name), value

    def _check_module_local_param_usage(self) -> None:
        """Nothing to check: a module works in either mode (kept for Pyro's private name)."""


def pyro_method(fn: Callable[..., _T]) -> Callable[..., _T]:
    """Decorate a method of a PyroModule so that it runs as a call of the module.

    Inside it, ``PyroSample`` attributes are drawn once (shared with any call it makes) and
    ``PyroParam`` attributes are param sites, as in ``forward``.
    """

    @functools.wraps(fn)
    def method(self: PyroModule, *args: Any, **kwargs: Any) -> _T:
        with self.__dict__["_pyro_context"]:
            return fn(self, *args, **kwargs)

    return method


class PyroModuleList(torch.nn.ModuleList, PyroModule):
    """``torch.nn.ModuleList`` as a PyroModule: its PyroModule items are named ``"<path>.<i>"``.

    A slice is a plain ``nn.ModuleList`` of the same items, so they keep their names.
    """

    def __init__(self, modules: Any = None) -> None:
        super().__init__(modules)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return torch.nn.ModuleList(list(self._modules.values())[idx])
        return super().__getitem__(idx)


_PyroModuleMeta._pyro_mixin_cache[torch.nn.ModuleList] = PyroModuleList


def to_pyro_module_(m: torch.nn.Module, recurse: bool = True) -> None:
    """Turn the ``nn.Module`` ``m`` into a ``PyroModule`` in place (its class becomes
    ``PyroModule[type(m)]``), and, with ``recurse``, every submodule too.

    Its parameters then become param sites named by their path; assign ``PyroSample``s to make
    some of them random.
    """
    if not isinstance(m, torch.nn.Module):
        raise TypeError(f"to_pyro_module_ needs a torch.nn.Module, got {type(m).__name__}")
    if not isinstance(m, PyroModule):
        m.__class__ = PyroModule[type(m)]
        _init_pyro_attrs(m, "")
    if recurse:
        for name, child in m._modules.items():
            if child is None:
                continue
            to_pyro_module_(child, recurse=True)
            child._pyro_set_supermodule(m._pyro_get_fullname(name), m._pyro_context)


def clear(mod: PyroModule) -> None:
    """Remove every PyroParam, PyroSample, parameter and submodule of ``mod``, and their entries
    in the param store. Buffers stay."""
    if not isinstance(mod, PyroModule):
        raise TypeError(f"clear needs a PyroModule, got {type(mod).__name__}")
    for name in list(mod._pyro_params):
        delattr(mod, name)
    for name in list(mod._pyro_samples):
        delattr(mod, name)
    for name in list(mod._parameters):
        delattr(mod, name)
    for name in list(mod._modules):
        delattr(mod, name)


__all__ = [
    "PyroModule",
    "PyroModuleList",
    "PyroParam",
    "PyroSample",
    "clear",
    "module_local_params",
    "pyro_method",
    "to_pyro_module_",
]

# Private names Pyro users reach for (the settings of local mode).
_ = (_is_module_local_param_enabled, _validate_module_local_params)
