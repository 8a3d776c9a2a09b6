"""A lazy ``torch.jit.trace`` for functions that read ``pyro.param``.

:func:`torch.jit.trace` bakes every tensor the traced function reads from outside its arguments
into the graph as a constant, so a compiled model would keep using the parameter values it saw
while being compiled. :func:`trace` compiles on the first call instead, after finding out which
parameters the function reads, and makes their values explicit inputs of the compiled graph:
each later call passes the current values, so training updates (and gradients) reach them.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch.utils import _pytree

from pyro import poutine

_DEPRECATION = ".*torch.jit.trace.* is deprecated"


def _split_args(args: tuple, kwargs: dict) -> Tuple[List[torch.Tensor], Any]:
    """Split the call's arguments into their tensors and a hashable key of everything else."""
    leaves, spec = _pytree.tree_flatten((args, kwargs))
    tensors = []
    structure: List[Any] = []
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            tensors.append(leaf)
            structure.append((torch.Tensor, leaf.dim(), leaf.dtype, leaf.device))
        else:
            structure.append(leaf)
    return tensors, (str(spec), tuple(structure))


class CompiledFunction:
    """A function that is traced with :func:`torch.jit.trace` the first time it is called.

    One compiled graph is kept per argument structure (the nesting of the arguments, their
    non-tensor values and their tensors' ranks, dtypes and devices); a call with a new
    structure compiles again. The values of the parameters the function reads are inputs of
    the graph, read from the param store (through any active handlers) at every call.

    Attributes:
        fn: the original function.
        compiled: ``{argument structure: torch.jit.ScriptFunction}``; inspect these for
            diagnostics (``.graph``, ``.code``).
    """

    def __init__(self, fn: Callable, ignore_warnings: bool = False,
                 jit_options: Optional[Dict[str, Any]] = None) -> None:
        self.fn = fn
        self.ignore_warnings = ignore_warnings
        self.jit_options = {"check_trace": False}
        self.jit_options.update(jit_options or {})
        self.compiled: Dict[Any, Any] = {}
        self._param_names: Dict[Any, Tuple[str, ...]] = {}
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tensors, key = _split_args(args, kwargs)
        if key not in self.compiled:
            self._compile(key, args, kwargs)
        names = self._param_names[key]
        # Read each parameter through the handler stack, so that outer handlers (a param
        # capture of an optimiser, substitute, ...) see and may change them.
        param_values = [pyro_param(name) for name in names]
        return self.compiled[key](*param_values, *tensors)

    def _compile(self, key: Any, args: tuple, kwargs: dict) -> None:
        # A first, uncompiled run creates the parameters and tells which ones are read.
        with poutine.block():
            with poutine.trace(param_only=True) as capture:
                self.fn(*args, **kwargs)
        names = tuple(capture.trace.nodes)
        leaves, spec = _pytree.tree_flatten((args, kwargs))
        is_tensor = [isinstance(leaf, torch.Tensor) for leaf in leaves]
        fn = self.fn

        def flat_fn(*inputs: torch.Tensor) -> Any:
            params = dict(zip(names, inputs[: len(names)]))
            it = iter(inputs[len(names):])
            rebuilt = [next(it) if t else leaf for t, leaf in zip(is_tensor, leaves)]
            call_args, call_kwargs = _pytree.tree_unflatten(rebuilt, spec)
            with poutine.block():
                return poutine.replay(fn, params=params)(*call_args, **call_kwargs)

        example = [capture.trace.nodes[name]["value"] for name in names]
        example += [leaf for leaf, t in zip(leaves, is_tensor) if t]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_DEPRECATION, category=DeprecationWarning)
            # The framework's own shape bookkeeping (plates, enumeration dims, contraction paths)
            # is traced as constants on purpose; its tracer warnings tell the user nothing.
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning,
                                    module=r"(pyro|opt_einsum)\.")
            if self.ignore_warnings:
                # Here, not pyro.util.ignore_jit_warnings: that one acts only inside the traced
                # function, and the tracer's check (check_trace) warns after tracing ends.
                warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            compiled = torch.jit.trace(flat_fn, tuple(example), **self.jit_options)
        self._param_names[key] = names
        self.compiled[key] = compiled


def pyro_param(name: str) -> torch.Tensor:
    from pyro.primitives import param

    return param(name)


def trace(fn: Optional[Callable] = None, ignore_warnings: bool = False,
          jit_options: Optional[Dict[str, Any]] = None) -> Any:
    """Lazily compile ``fn`` with :func:`torch.jit.trace`, parameters included.

    Works with functions that call :func:`pyro.param`: the parameters become explicit inputs
    of the compiled function, so their current values (and gradients) are used at every call.

    Args:
        fn: the function to compile; its arguments are tensors, or lists, tuples and dicts of
            them, plus hashable non-tensor values (a new value compiles a new graph). It
            returns tensors (or tuples, lists, dicts of them).
        ignore_warnings: silence :class:`torch.jit.TracerWarning` while compiling.
        jit_options: keyword arguments for :func:`torch.jit.trace` (default
            ``{"check_trace": False}``).

    Returns:
        A :class:`CompiledFunction` (or, without ``fn``, a decorator making one). The compiled
        graphs are in its ``compiled`` attribute.

    Example::

        @pyro.ops.jit.trace
        def log_prob(x, y):
            tr = poutine.trace(poutine.condition(model, data={"y": y})).get_trace(x)
            return tr.log_prob_sum()

    Sample sites inside the compiled function are not seen by handlers outside it; draws are
    random at every call (the graph holds the random ops, not their values).
    """
    if fn is None:
        return lambda f: trace(f, ignore_warnings=ignore_warnings, jit_options=jit_options)
    return CompiledFunction(fn, ignore_warnings=ignore_warnings, jit_options=jit_options)


__all__ = ["CompiledFunction", "trace"]
