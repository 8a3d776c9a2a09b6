"""Einsum through opt_einsum's contraction paths, with Pyro's backends.

``contract(equation, *operands, backend=..., cache_path=True, **kwargs)`` is
:func:`opt_einsum.contract` with the contraction path cached per equation and shapes (and
opt_einsum's options passed on). ``backend`` is ``"torch"`` (the default) or one of the module
names ``"pyro.ops.einsum.torch_log"`` (log-space sum-product), ``"pyro.ops.einsum.torch_marginal"``,
``"pyro.ops.einsum.torch_map"``, ``"pyro.ops.einsum.torch_sample"`` (see
:mod:`pyro.ops.einsum.adjoint` for their backward passes).
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import torch

from pyro.util import ignore_jit_warnings

__all__ = ["contract", "contract_expression"]

_PATH_CACHE: Dict[Tuple[Any, ...], Any] = {}


def contract_expression(equation: str, *shapes: Tuple[int, ...], **kwargs: Any) -> Any:
    """:func:`opt_einsum.contract_expression` for ``shapes``, cached per equation, shapes and
    options unless ``cache_path=False``."""
    import opt_einsum  # imported on first use: enumeration imports this package's kernels

    if not kwargs.pop("cache_path", True):
        return opt_einsum.contract_expression(equation, *shapes, **kwargs)
    key = (equation, tuple(tuple(s) for s in shapes), tuple(sorted(kwargs.items())))
    expr = _PATH_CACHE.get(key)
    if expr is None:
        expr = _PATH_CACHE[key] = opt_einsum.contract_expression(equation, *shapes, **kwargs)
    return expr


def contract(equation: str, *operands: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """Contract ``operands`` by ``equation`` along opt_einsum's path (cached unless
    ``cache_path=False``), with the einsum backend ``backend`` (default ``"torch"``)."""
    backend = kwargs.pop("backend", "torch")
    out = kwargs.pop("out", None)
    shapes = [tuple(x.shape) for x in operands]
    with ignore_jit_warnings():
        expr = contract_expression(equation, *shapes, **kwargs)
    return expr(*operands, backend=backend, out=out)
