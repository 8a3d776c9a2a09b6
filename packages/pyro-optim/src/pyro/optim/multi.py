"""Optimizers that differentiate the loss themselves (``pyro.optim.multi``), Pyro 1.9's MultiOptimizer family.

A :class:`MultiOptimizer` is given the ``loss`` tensor and a dict ``{name: unconstrained
value}`` and calls :func:`torch.autograd.grad` itself (as many times as it needs), instead of
stepping after ``loss.backward()``:

- :class:`Newton` takes Newton steps (with optional trust regions) on batches of 1-, 2- or
  3-dimensional variables, through :func:`pyro.ops.newton.newton_step`;
- :class:`PyroMultiOptimizer` / :class:`TorchMultiOptimizer` put a :class:`~pyro.optim.PyroOptim`
  (or a torch optimizer class and its settings) behind the same interface;
- :class:`MixedMultiOptimizer` gives each group of named parameters its own optimizer.

Where this differs from Pyro 1.9.2: a mixed step computes every part's update from the loss
before it changes any parameter (Pyro updates part by part, so a loss that couples parameters
of two parts fails with torch's "modified by an inplace operation" error, after the first part
has already moved); gradients left in ``.grad`` by a Pyro-optimizer part are plain tensors (Pyro
leaves ones that hold the loss's graph); bad parts, names and trust radii are refused when the
optimizer is built, naming them.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch

from pyro.ops.newton import newton_step_from_grad
from pyro.optim.distributed import DistributedOptimizer
from pyro.optim.optim import PyroOptim

__all__ = ["MixedMultiOptimizer", "MultiOptimizer", "Newton", "PyroMultiOptimizer", "TorchMultiOptimizer"]


def _check_step_args(owner: str, loss: Any, params: Any) -> None:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"{owner}: loss must be a torch.Tensor, got {type(loss).__name__}")
    if not isinstance(params, Mapping):
        raise TypeError(f"{owner}: params must be a dict mapping param names to unconstrained tensors, "
                        f"got {type(params).__name__}")
    for name, value in params.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{owner}: params[{name!r}] must be a torch.Tensor, got {type(value).__name__}")


def _assign(owner: str, params: Mapping[str, torch.Tensor], updated: Mapping[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, value in updated.items():
            if name not in params:
                raise KeyError(f"{owner}: get_step returned a value for {name!r}, which is not among the "
                               f"params {sorted(params)}")
            target = params[name]
            if value.shape != target.shape:
                raise ValueError(f"{owner}: the updated value of param {name!r} has shape {tuple(value.shape)}, "
                                 f"the param has shape {tuple(target.shape)}")
            target.copy_(value)


class _Pending:
    """An update computed from the loss and not yet applied (or, for a part that only implements
    ``step``, a step to take later: ``deferred``)."""

    __slots__ = ("apply", "deferred")

    def __init__(self, apply: Callable[[], None], deferred: bool = False) -> None:
        self.apply = apply
        self.deferred = deferred


class MultiOptimizer:
    """Base class of the optimizers that take the ``loss`` itself and differentiate it as needed.

    A subclass implements :meth:`get_step` (the updated values, with their graph), and then
    inherits :meth:`step`, which writes them into the parameters; or it implements :meth:`step`
    alone. Typical use, on a model's trace::

        tr = poutine.trace(model).get_trace(data)
        loss = -tr.log_prob_sum()
        params = {name: site["value"].unconstrained()
                  for name, site in tr.nodes.items() if site["type"] == "param"}
        optim.step(loss, params)
    """

    def step(self, loss: torch.Tensor, params: Dict) -> None:
        """Update ``params`` (``{name: unconstrained leaf tensor}``) in place to lower ``loss``.

        The tensors keep their identity; their new values carry no graph.
        """
        _check_step_args(type(self).__name__, loss, params)
        _assign(type(self).__name__, params, self.get_step(loss, params))

    def get_step(self, loss: torch.Tensor, params: Dict) -> Dict:
        """Return ``{name: updated value}`` for ``params`` without changing them.

        The updated values stay differentiable with respect to whatever ``loss`` and ``params``
        depend on (``loss`` may have to be differentiable several times).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement get_step")

    def _prepare(self, loss: torch.Tensor, params: Dict) -> _Pending:
        """Compute the update from ``loss`` now; return it for applying later."""
        if type(self).step is not MultiOptimizer.step:  # a subclass with its own step only
            return _Pending(lambda: self.step(loss, params), deferred=True)
        updated = {name: value.detach() for name, value in self.get_step(loss, params).items()}
        owner = type(self).__name__
        return _Pending(lambda: _assign(owner, params, updated))


_PYRO_OPTIMS = (PyroOptim, DistributedOptimizer)


class PyroMultiOptimizer(MultiOptimizer):
    """Use a :class:`~pyro.optim.PyroOptim` (e.g. ``pyro.optim.Adam({"lr": 0.01})``) as a
    :class:`MultiOptimizer`: :meth:`step` takes the gradients of ``loss``, puts them in the
    params' ``.grad`` (where they stay, as after a Pyro optimizer step) and steps the optimizer.

    Args:
        optim: the Pyro optimizer (a :class:`~pyro.optim.DistributedOptimizer` too).

    ``loss``'s graph is kept, so other optimizers can still differentiate it. :meth:`get_step`
    is not available (first-order optimizers update in place).
    """

    def __init__(self, optim: PyroOptim) -> None:
        if not isinstance(optim, _PYRO_OPTIMS):
            hint = ""
            if isinstance(optim, type) and issubclass(optim, torch.optim.Optimizer):
                hint = f" (for a torch optimizer class use TorchMultiOptimizer({optim.__name__}, optim_args))"
            raise TypeError(f"Expected a PyroOptim object but got a {type(optim)}{hint}")
        self.optim = optim

    def step(self, loss: torch.Tensor, params: Dict) -> None:
        """Differentiate ``loss`` with respect to ``params`` and step the wrapped optimizer."""
        self._prepare(loss, params).apply()

    def _prepare(self, loss: torch.Tensor, params: Dict) -> _Pending:
        _check_step_args(type(self).__name__, loss, params)
        values = list(params.values())
        if not values:
            return _Pending(lambda: None)
        grads = torch.autograd.grad(loss, values, retain_graph=True, allow_unused=True)

        def apply() -> None:
            for value, grad in zip(values, grads):
                value.grad = grad
            self.optim(values)

        return _Pending(apply)


class TorchMultiOptimizer(PyroMultiOptimizer):
    """A :class:`PyroMultiOptimizer` over ``PyroOptim(optim_constructor, optim_args)``.

    Args:
        optim_constructor: a :class:`torch.optim.Optimizer` class (e.g. ``torch.optim.Adam``).
        optim_args: its settings (``{"lr": 0.01}``), or a callable giving them per parameter,
            as for :class:`~pyro.optim.PyroOptim`.
    """

    def __init__(self, optim_constructor: torch.optim.Optimizer, optim_args: Dict) -> None:
        super().__init__(PyroOptim(optim_constructor, optim_args))


def _check_names(index: int, names: Any) -> List[str]:
    if isinstance(names, str):
        raise TypeError(f"MixedMultiOptimizer: parts[{index}] names must be a list of param names, got the "
                        f"string {names!r} (write [{names!r}] for one param)")
    if not isinstance(names, (list, tuple, set, frozenset)):
        raise TypeError(f"MixedMultiOptimizer: parts[{index}] names must be a list of param names, got "
                        f"{type(names).__name__}")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"MixedMultiOptimizer: parts[{index}] names must be strings, got "
                            f"{type(name).__name__} {name!r}")
    return list(names)


class MixedMultiOptimizer(MultiOptimizer):
    """Optimize disjoint groups of named parameters, each with its own optimizer.

    Args:
        parts: a list of ``(names, optim)`` pairs: ``names`` a list of param names and
            ``optim`` a :class:`MultiOptimizer` or a :class:`~pyro.optim.PyroOptim` (wrapped in
            a :class:`PyroMultiOptimizer`). A name may belong to one part only.

    Raises:
        ValueError: for a name given in two parts (or a part that is not a pair).
        TypeError: for names that are not a list of strings, or an ``optim`` of another kind.

    Every name of every part must be among the ``params`` of a step (a ``KeyError`` otherwise);
    params that no part names are left as they are. All parts' updates are computed from the
    same ``loss`` before any parameter changes, so parts may share terms of the loss.

    Example::

        optim = MixedMultiOptimizer([(["w"], pyro.optim.Adam({"lr": 0.1})),
                                     (["loc", "scale"], Newton(trust_radii={"loc": 1.0}))])
        optim.step(loss, params)
    """

    def __init__(self, parts: List) -> None:
        if not isinstance(parts, (list, tuple)):
            raise TypeError(f"MixedMultiOptimizer: parts must be a list of (names, optim) pairs, got "
                            f"{type(parts).__name__}")
        self.parts: List[Tuple[List[str], MultiOptimizer]] = []
        owner: Dict[str, MultiOptimizer] = {}
        for index, part in enumerate(parts):
            if not isinstance(part, (list, tuple)) or len(part) != 2:
                raise ValueError(f"MixedMultiOptimizer: parts[{index}] must be a (names, optim) pair, got "
                                 f"{part!r}"[:200])
            names, optim = part
            names = _check_names(index, names)
            if isinstance(optim, _PYRO_OPTIMS):
                optim = PyroMultiOptimizer(optim)
            elif not isinstance(optim, MultiOptimizer):
                raise TypeError(f"MixedMultiOptimizer: parts[{index}] (params {names}) needs a MultiOptimizer "
                                f"or a PyroOptim, got {type(optim).__name__}")
            for name in names:
                if name in owner:
                    raise ValueError(f"Attempted to optimize parameter '{name}' by two different optimizers: "
                                     f"{owner[name]} vs {optim}")
                owner[name] = optim
            self.parts.append((names, optim))

    def _split(self, params: Mapping[str, torch.Tensor]) -> List[Tuple[MultiOptimizer, Dict]]:
        missing = [name for names, _ in self.parts for name in names if name not in params]
        if missing:
            raise KeyError(f"MixedMultiOptimizer: params {missing} of its parts are missing from the "
                           f"params given ({sorted(params)})")
        return [(optim, {name: params[name] for name in names}) for names, optim in self.parts]

    def step(self, loss: torch.Tensor, params: Dict) -> None:
        """Step every part on its own params; all updates are computed before any is applied."""
        self._prepare(loss, params).apply()

    def get_step(self, loss: torch.Tensor, params: Dict) -> Dict:
        """The updated values of every part (each part must implement ``get_step``)."""
        _check_step_args(type(self).__name__, loss, params)
        updated: Dict[str, torch.Tensor] = {}
        for optim, part_params in self._split(params):
            updated.update(optim.get_step(loss, part_params))
        return updated

    def _prepare(self, loss: torch.Tensor, params: Dict) -> _Pending:
        _check_step_args(type(self).__name__, loss, params)
        pending = [optim._prepare(loss, part_params) for optim, part_params in self._split(params)]
        # parts that can only step run first, while the params still hold the values of the loss
        order = [p for p in pending if p.deferred] + [p for p in pending if not p.deferred]

        def apply() -> None:
            for p in order:
                p.apply()

        return _Pending(apply, deferred=any(p.deferred for p in pending))


def _check_trust_radii(trust_radii: Any) -> None:
    if not isinstance(trust_radii, Mapping):
        raise TypeError(f"Newton: trust_radii must be a dict mapping param names to radii, got "
                        f"{type(trust_radii).__name__} {trust_radii!r}"[:200])
    for name, radius in trust_radii.items():
        if isinstance(radius, torch.Tensor):
            continue
        if isinstance(radius, bool) or not isinstance(radius, numbers.Real):
            raise TypeError(f"Newton: trust_radii[{name!r}] must be a positive number or a tensor, got "
                            f"{type(radius).__name__} {radius!r}"[:200])
        if not radius > 0:
            raise ValueError(f"Newton: trust_radii[{name!r}] must be > 0, got {radius}")


class Newton(MultiOptimizer):
    """Newton steps on batches of small variables, through :func:`pyro.ops.newton.newton_step`.

    Each param is a batch of variables along its rightmost dim, which must have size 1, 2 or 3
    (a ``NotImplementedError`` otherwise, a ``ValueError`` for a 0-dim param); ``loss`` must
    sum independent terms per batch element and param (the Hessian's blocks between params and
    between elements are not used).

    Args:
        trust_radii: ``{param name: trust radius}``; a param without one takes a plain Newton
            step. A radius is a positive number or a tensor broadcasting with the param's batch
            shape.

    :meth:`get_step`'s values are differentiable (``loss`` must be twice differentiable in the
    params, three times for a derivative of the result); :meth:`step` writes them, detached,
    into the params.
    """

    def __init__(self, trust_radii: Dict = {}) -> None:  # noqa: B006  (Pyro's signature; never mutated)
        _check_trust_radii(trust_radii)
        self.trust_radii = trust_radii

    def get_step(self, loss: torch.Tensor, params: Dict) -> Dict:
        """``{name: mode}`` after one (trust-region) Newton step of each param."""
        _check_step_args("Newton", loss, params)
        if loss.numel() != 1:
            raise ValueError(f"Expected loss to be a scalar, actual shape {loss.shape}")
        names = list(params)
        values = [params[name] for name in names]
        for name, value in zip(names, values):
            _check_newton_param(name, value)
        if not values:
            return {}
        grads = torch.autograd.grad(loss, values, create_graph=True, allow_unused=True)
        updated: Dict[str, torch.Tensor] = {}
        for name, value, grad in zip(names, values, grads):
            if grad is None:
                raise RuntimeError(f"Newton: loss does not depend on param {name!r}")
            radius: Optional[Any] = self.trust_radii.get(name)
            updated[name] = newton_step_from_grad(grad, value, radius)[0]
        return updated


def _check_newton_param(name: str, value: torch.Tensor) -> None:
    if value.dim() < 1:
        raise ValueError(f"Newton: param {name!r} must have at least one dimension (its rightmost dim holds "
                         f"the variables), actual shape {value.shape}")
    if not 1 <= value.shape[-1] <= 3:
        raise NotImplementedError(f"newton_step_nd is not implemented: Newton takes params whose rightmost "
                                  f"size is 1, 2 or 3, but param {name!r} has shape {tuple(value.shape)}")
    if not value.requires_grad:
        raise RuntimeError(f"Newton: param {name!r} does not require grad")

