"""One Pyro-style constructor per torch optimizer and per torch learning-rate scheduler.

``pyro.optim.Adam({"lr": 0.01})`` is ``PyroOptim(torch.optim.Adam, {"lr": 0.01})`` and
``pyro.optim.StepLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}, "step_size": 5})``
is ``PyroLRScheduler(torch.optim.lr_scheduler.StepLR, ...)``. The lists are read from the
installed torch, so optimizers added by newer torch releases are wrapped as well.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import torch

from pyro.optim._param_settings import OptimArgs
from pyro.optim.adagrad_rmsprop import AdagradRMSProp as _TorchAdagradRMSProp
from pyro.optim.clipped_adam import ClippedAdam as _TorchClippedAdam
from pyro.optim.dct_adam import DCTAdam as _TorchDCTAdam
from pyro.optim.lr_scheduler import PyroLRScheduler
from pyro.optim.optim import PyroOptim

_SCHEDULER_BASES = ("LRScheduler", "_LRScheduler")


def _constructor(build: Callable[..., PyroOptim], cls: type, name: str, attr: str,
                 doc: str) -> Callable[..., PyroOptim]:
    """Return a function ``name(optim_args, clip_args=None)`` calling ``build(cls, ...)``, with
    ``doc`` as its docstring and ``cls`` as its attribute ``attr``, as in Pyro."""
    def wrapper(optim_args: OptimArgs, clip_args: Optional[OptimArgs] = None) -> PyroOptim:
        return build(cls, optim_args, clip_args)

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__module__ = __name__
    wrapper.__doc__ = doc
    setattr(wrapper, attr, cls)
    return wrapper


def _optimizer_wrapper(cls: type, name: str) -> Callable[..., PyroOptim]:
    return _constructor(PyroOptim, cls, name, "pt_optim_constructor", (
        f"Return a :class:`~pyro.optim.PyroOptim` over :class:`{cls.__module__}.{cls.__name__}`.\n\n"
        f"Args:\n    optim_args: the optimizer's settings, a dict or a per-parameter callable.\n"
        f"    clip_args: optional gradient clipping (``clip_norm``, ``clip_value``).\n"
    ))


def _scheduler_wrapper(cls: type, name: str) -> Callable[..., PyroLRScheduler]:
    return _constructor(PyroLRScheduler, cls, name, "pt_scheduler_constructor", (
        f"Return a :class:`~pyro.optim.PyroLRScheduler` over "
        f":class:`torch.optim.lr_scheduler.{cls.__name__}`.\n\n"
        f"Args:\n    optim_args: ``{{'optimizer': <torch optimizer class>, 'optim_args': {{...}}, "
        f"**scheduler settings}}``.\n    clip_args: optional gradient clipping.\n"
    ))


def _torch_optimizers() -> Dict[str, type]:
    found = {}
    for name in sorted(dir(torch.optim)):
        obj = getattr(torch.optim, name)
        if (not name.startswith("_") and isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer)
                and obj is not torch.optim.Optimizer):
            found[name] = obj
    return found


def _torch_schedulers() -> Dict[str, type]:
    lr = torch.optim.lr_scheduler
    bases = tuple(getattr(lr, n) for n in _SCHEDULER_BASES if hasattr(lr, n))
    found = {}
    for name in sorted(dir(lr)):
        obj = getattr(lr, name)
        # The bases themselves are wrapped as well (``LRScheduler``, ``_LRScheduler``), as Pyro does.
        if (name.startswith("_") and name not in _SCHEDULER_BASES) or not isinstance(obj, type):
            continue
        if issubclass(obj, bases) or issubclass(obj, lr.ReduceLROnPlateau):
            found[name] = obj
    return found


#: name -> torch class of every wrapped torch optimizer
TORCH_OPTIMIZERS = _torch_optimizers()
#: name -> torch class of every wrapped torch learning-rate scheduler
TORCH_SCHEDULERS = _torch_schedulers()

_wrappers: Dict[str, Callable[..., Any]] = {}
for _name, _cls in TORCH_OPTIMIZERS.items():
    _wrappers[_name] = _optimizer_wrapper(_cls, _name)
for _name, _cls in TORCH_SCHEDULERS.items():
    _wrappers[_name] = _scheduler_wrapper(_cls, _name)
_wrappers["ClippedAdam"] = _optimizer_wrapper(_TorchClippedAdam, "ClippedAdam")
_wrappers["AdagradRMSProp"] = _optimizer_wrapper(_TorchAdagradRMSProp, "AdagradRMSProp")
_wrappers["DCTAdam"] = _optimizer_wrapper(_TorchDCTAdam, "DCTAdam")
globals().update(_wrappers)

__all__: List[str] = sorted(_wrappers)
