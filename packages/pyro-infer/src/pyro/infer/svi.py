"""``SVI``: stochastic variational inference, one optimizer step at a time."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Optional

import torch

from pyro.infer.arg_checks import EngineArgumentTypeError, check_count, describe
from pyro.infer.util import torch_item, zero_grads
from pyro.optim import DistributedOptimizer, PyroOptim
from pyro.poutine.messenger import Messenger

__all__ = ["SVI"]


class _ParamCapture(Messenger):
    """Collect the unconstrained leaf tensor of every param site that runs inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.params: Dict[str, torch.Tensor] = {}

    def _pyro_post_param(self, msg: Dict[str, Any]) -> None:
        name = msg["name"]
        if name in self.params:
            return
        unconstrained = getattr(msg["value"], "unconstrained", None)
        if unconstrained is not None:
            leaf = unconstrained()
            if leaf is not None:
                self.params[name] = leaf
                return
        # The value was transformed on its way out (e.g. subsampled by a plate): ask the store.
        import pyro

        self.params[name] = pyro.get_param_store()[name].unconstrained()


def _resolve_loss(loss: Any, kwargs: Dict[str, Any]) -> Any:
    """Turn SVI's ``loss`` argument (object, callable, or registered name) into a loss object."""
    if isinstance(loss, str):
        from pyro.plugins import get_registry

        registry = get_registry("inference")
        obj = registry.get(loss)
        if obj is None:
            known = sorted(n for n, o in registry.items() if _looks_like_loss(o))
            raise ValueError(f"SVI: no loss registered under the name {loss!r}; known losses: {known}")
        if inspect.isclass(obj):
            return obj(**kwargs)
        loss = obj
    if kwargs:
        raise TypeError(
            f"SVI got unexpected keyword arguments {sorted(kwargs)}; keyword arguments configure "
            f"a loss given by name, e.g. SVI(model, guide, optim, loss='ELBO', num_particles=10)"
        )
    return loss


def _looks_like_loss(obj: Any) -> bool:
    return hasattr(obj, "loss_and_grads") or (inspect.isclass(obj) and obj.__name__.endswith("ELBO"))


class OptimizerTypeError(TypeError, ValueError):
    """``SVI`` was given something other than a Pyro optimizer (e.g. ``torch.optim.Adam``).

    A ``TypeError``, and a ``ValueError`` as well, the type Pyro raises here.
    """


def _not_a_pyro_optimizer(optim: Any, owner: str = "SVI") -> None:
    """Raise :class:`OptimizerTypeError` for ``optim``, saying what ``owner`` wants instead."""
    if isinstance(optim, type) and issubclass(optim, torch.optim.Optimizer):
        given, name = f"the torch optimizer class torch.optim.{optim.__name__}", optim.__name__
    elif isinstance(optim, torch.optim.Optimizer):
        given, name = f"an instance of the torch optimizer {type(optim).__name__}", type(optim).__name__
    else:
        given, name = f"{type(optim).__name__} {optim!r}"[:100], "Adam"
    raise OptimizerTypeError(
        f"Optimizer should be an instance of pyro.optim.PyroOptim class. {owner} got {given}; pass a "
        f"Pyro optimizer instead, e.g. pyro.optim.{name}({{'lr': 0.01}})"
    )


class SVI:
    """Stochastic variational inference: fit the guide's params by stochastic gradient steps.

    Args:
        model: the model, a callable with pyro primitives.
        guide: the guide (variational family), with the same signature as the model.
        optim: a :class:`~pyro.optim.PyroOptim` (every ``pyro.optim`` optimizer and scheduler
            is one) or a :class:`~pyro.optim.DistributedOptimizer`; called as ``optim(params)``
            with the unconstrained params of each step after their gradients are computed. A
            torch optimizer (class or instance) or anything else is an
            :class:`OptimizerTypeError` (a ``TypeError`` that is also the ``ValueError`` Pyro
            raises) saying which ``pyro.optim`` optimizer to pass instead.
        loss: an ELBO instance (anything with ``loss`` and ``loss_and_grads``), a callable
            ``loss(model, guide, *args, **kwargs)`` returning a tensor, or the name of a loss
            in the ``inference`` registry (``"Trace_ELBO"``, the seed's ``"ELBO"``, or one a
            plugin registered). A registered class is instantiated with ``**kwargs``.
        loss_and_grads: for a callable ``loss``: a callable that computes the loss and
            accumulates gradients (default: ``loss(...).backward()``).
        num_samples: kept for compatibility with Pyro's signature; unused.
        num_steps: default number of steps of :meth:`run`.
        **kwargs: arguments of the loss class when ``loss`` is a name, e.g.
            ``SVI(model, guide, optim, loss="ELBO", num_particles=10, trace_graph=True)``.

    Example::

        svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.01}), loss=Trace_ELBO())
        for step in range(1000):
            loss = svi.step(data)
    """

    def __init__(self, model: Callable, guide: Callable, optim: Any, loss: Any,
                 loss_and_grads: Optional[Callable] = None, num_samples: int = 0,
                 num_steps: int = 0, **kwargs: Any) -> None:
        if not isinstance(optim, (PyroOptim, DistributedOptimizer)):
            _not_a_pyro_optimizer(optim)
        if loss_and_grads is not None and not callable(loss_and_grads):
            raise EngineArgumentTypeError(
                f"SVI: loss_and_grads must be a callable or None, got {describe(loss_and_grads)}")
        self.model = model
        self.guide = guide
        self.optim = optim
        self.num_samples = num_samples
        self.num_steps = num_steps
        loss = _resolve_loss(loss, kwargs)
        if inspect.isclass(loss):
            raise EngineArgumentTypeError(
                f"SVI: loss is the class {loss.__name__}; pass an instance, e.g. "
                f"loss={loss.__name__}()")
        self.loss_object = loss
        if hasattr(loss, "loss_and_grads") and hasattr(loss, "loss") and loss_and_grads is None:
            self.loss = loss.loss
            self.loss_and_grads = loss.loss_and_grads
        elif callable(loss):
            self.loss = loss
            if loss_and_grads is None:
                def _loss_and_grads(*args: Any, **kwargs: Any) -> Any:
                    value = loss(*args, **kwargs)
                    if getattr(value, "requires_grad", False):
                        value.backward(retain_graph=True)
                    return value

                loss_and_grads = _loss_and_grads
            self.loss_and_grads = loss_and_grads
        else:
            raise EngineArgumentTypeError(
                f"SVI: loss must be an ELBO, a callable or a registered name, got {describe(loss)}")
        self._step_count = 0
        self._refresh_hook()

    # ----- the lifecycle hook -----------------------------------------------------------------
    def _refresh_hook(self) -> None:
        """Look up (once) whether any plugin implements ``pyro_svi_step``; cache the caller."""
        from pyro.plugins import get_plugin_manager

        caller = get_plugin_manager().hook.pyro_svi_step
        self._hook = caller if caller.get_hookimpls() else None

    # ----- stepping ---------------------------------------------------------------------------
    def step(self, *args: Any, **kwargs: Any) -> float:
        """Take one gradient step on the loss; return the loss estimate before the step.

        Args and kwargs are passed to the model and the guide.
        """
        with _ParamCapture() as capture:
            loss = self.loss_and_grads(self.model, self.guide, *args, **kwargs)
        params = capture.params.values()
        self.optim(params)
        zero_grads(params)
        loss = torch_item(loss)
        hook = self._hook
        if hook is not None:
            hook(svi=self, step=self._step_count, loss=loss)
        self._step_count += 1
        return loss

    def evaluate_loss(self, *args: Any, **kwargs: Any) -> float:
        """Return an estimate of the loss without taking a step (and without gradients)."""
        with torch.no_grad():
            loss = self.loss(self.model, self.guide, *args, **kwargs)
        if isinstance(loss, tuple):
            return type(loss)(map(torch_item, loss))
        return torch_item(loss)

    def run(self, *args: Any, num_steps: Optional[int] = None, progress_bar: bool = True,
            **kwargs: Any) -> List[float]:
        """Take ``num_steps`` steps and return the list of their losses.

        Args:
            *args, **kwargs: passed to the model and guide at every step.
            num_steps: number of steps (default: the ``num_steps`` given to the constructor).
            progress_bar: show a tqdm progress bar with the running loss.

        Returns:
            The loss of every step, as floats.
        """
        if num_steps is None:
            num_steps = self.num_steps
        check_count("SVI.run", "num_steps", num_steps)
        self._refresh_hook()
        losses: List[float] = []
        if not progress_bar:
            step = self.step
            for _ in range(num_steps):
                losses.append(step(*args, **kwargs))
            return losses
        from tqdm.auto import tqdm

        running: Optional[float] = None
        with tqdm(total=num_steps, desc="SVI", unit="step") as bar:
            for _ in range(num_steps):
                loss = self.step(*args, **kwargs)
                losses.append(loss)
                # An exponential moving average over roughly the last 20 steps.
                running = loss if running is None else 0.95 * running + 0.05 * loss
                bar.set_postfix_str(f"loss={running:.4g}", refresh=False)
                bar.update()
        return losses
