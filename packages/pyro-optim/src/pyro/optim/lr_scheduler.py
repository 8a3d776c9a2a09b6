"""`PyroLRScheduler`: torch learning-rate schedulers over lazily created parameters."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import torch

from pyro.optim._arg_checks import check_scheduler_optimizer, check_scheduler_settings
from pyro.optim._param_groups import Group
from pyro.optim._param_settings import OptimArgs
from pyro.optim._state_files import check_optimizer_state, copy_tensors
from pyro.optim.optim import PyroOptim

_COMPOSITE = ("SequentialLR", "ChainedScheduler")


_SHAPE = ("optim_args = {'optimizer': <torch optimizer class>, 'optim_args': <its settings>, "
          "...scheduler settings}")


class SchedulerArgsError(ValueError, KeyError):
    """A scheduler's ``optim_args`` lacks ``optimizer`` or ``optim_args``: a ``ValueError``, and
    the ``KeyError`` Pyro raises."""

    __str__ = ValueError.__str__


class SchedulerArgsTypeError(TypeError, ValueError):
    """A scheduler's ``optim_args`` is not a dict: a ``TypeError``, and a ``ValueError``."""


def _is_composite(constructor: Any) -> bool:
    lr = torch.optim.lr_scheduler
    return any(isinstance(constructor, type) and issubclass(constructor, getattr(lr, n, ())) for n in _COMPOSITE)


class PyroLRScheduler(PyroOptim):
    """A :class:`PyroOptim` whose torch optimizers are driven by a torch learning-rate scheduler.

    Stepping the instance with parameters steps the optimizers, as for :class:`PyroOptim`; the
    schedule advances only when you call :meth:`step` (typically once per epoch).

    Args:
        scheduler_constructor: a class from :mod:`torch.optim.lr_scheduler`.
        optim_args: ``{"optimizer": <torch optimizer class>, "optim_args": <its settings, a dict
            or per-parameter callable>, **scheduler settings}``. For ``SequentialLR`` and
            ``ChainedScheduler``, ``"schedulers"`` is a list of ``(scheduler class, settings)``
            pairs, each built on the same optimizer.
        clip_args: gradient clipping, as for :class:`PyroOptim`.

    Example::

        scheduler = pyro.optim.ExponentialLR(
            {"optimizer": torch.optim.SGD, "optim_args": {"lr": 0.1}, "gamma": 0.9})
        for epoch in range(10):
            for batch in data:
                svi.step(batch)
            scheduler.step()
    """

    def __init__(self, scheduler_constructor: Callable[..., Any], optim_args: Dict[str, Any],
                 clip_args: Optional[OptimArgs] = None) -> None:
        label = getattr(scheduler_constructor, "__name__", "PyroLRScheduler")
        if not isinstance(optim_args, dict):
            raise SchedulerArgsTypeError(
                f"PyroLRScheduler ({label}) needs {_SHAPE}; got {type(optim_args).__name__} "
                f"{optim_args!r}"[:300])
        for key in ("optimizer", "optim_args"):
            if key not in optim_args:
                raise SchedulerArgsError(
                    f"PyroLRScheduler ({label}) needs {_SHAPE}; optim_args has no '{key}' (its "
                    f"keys: {sorted(map(str, optim_args))})")
        kwargs = dict(optim_args)  # the caller's dict is left as it was
        optimizer = kwargs.pop("optimizer")
        inner_args = kwargs.pop("optim_args")
        if not (isinstance(inner_args, dict) or callable(inner_args)):
            raise TypeError(f"{label}: optim_args['optim_args'] (the optimizer's settings) must be "
                            f"a dict or a callable, got {type(inner_args).__name__} "
                            f"{inner_args!r}"[:200])
        check_scheduler_optimizer(getattr(scheduler_constructor, "__name__", "PyroLRScheduler"), optimizer)
        if _is_composite(scheduler_constructor):
            parts = kwargs.get("schedulers")
            if not isinstance(parts, (list, tuple)) or not all(
                isinstance(s, (list, tuple)) and len(s) == 2 and callable(s[0]) and isinstance(s[1], dict)
                for s in parts
            ):
                raise ValueError(
                    f"{scheduler_constructor.__name__} needs 'schedulers': a list of "
                    f"(scheduler class, settings dict) pairs"
                )
        else:
            check_scheduler_settings(scheduler_constructor, kwargs)
        self.pt_scheduler_constructor = scheduler_constructor
        self.kwargs = kwargs
        super().__init__(optimizer, inner_args, clip_args)

    def _make_scheduler(self, optimizer: Any) -> Any:
        if _is_composite(self.pt_scheduler_constructor):
            kwargs = dict(self.kwargs)
            parts = [cls(optimizer, **settings) for cls, settings in kwargs.pop("schedulers")]
            lr = torch.optim.lr_scheduler
            if issubclass(self.pt_scheduler_constructor, lr.ChainedScheduler):
                return self.pt_scheduler_constructor(parts, optimizer=optimizer, **kwargs)
            return self.pt_scheduler_constructor(optimizer, parts, **kwargs)
        return self.pt_scheduler_constructor(optimizer, **self.kwargs)

    def step(self, *args: Any, **kwargs: Any) -> None:
        """Advance every scheduler; takes what the torch scheduler's ``step`` takes (e.g. the
        metric for :class:`~torch.optim.lr_scheduler.ReduceLROnPlateau`)."""
        for group in self._groups:
            group.scheduler.step(*args, **kwargs)

    def _state_label(self) -> str:
        scheduler = getattr(self.pt_scheduler_constructor, "__name__", "scheduler")
        return f"{scheduler}({super()._state_label()})"

    # ----- state: {"scheduler": ..., "optimizer": ...} per parameter, as in Pyro ------------
    def _entry(self, group: Group, p: torch.Tensor) -> Dict[str, Any]:
        return {"scheduler": group.scheduler.state_dict(), "optimizer": group.param_state(p)}

    def _check_entry(self, name: str, entry: Any) -> None:
        if not isinstance(entry, dict) or set(entry) != {"scheduler", "optimizer"} \
                or not isinstance(entry["scheduler"], dict):
            raise ValueError(
                f"scheduler state of param '{name}' must be a dict with keys 'scheduler' and 'optimizer'"
            )
        check_optimizer_state(entry["optimizer"], name)

    def _load_into(self, group: Group, saved: Dict[str, Any], name: Optional[str]) -> None:
        self._check_entry(str(name), saved)
        super()._load_into(group, saved["optimizer"], name)
        try:
            group.scheduler.load_state_dict(copy_tensors(saved["scheduler"]))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"cannot restore the scheduler state of param '{name}': {e}") from e
