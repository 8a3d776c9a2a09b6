"""Gradient clipping per parameter (``clip_args={"clip_norm": ..., "clip_value": ...}``)."""

from __future__ import annotations

import numbers
from typing import Any, Dict, Iterable, List, Optional, Union

import torch

CLIP_KEYS = frozenset({"clip_norm", "clip_value"})


def check_clip_args(clip_args: Dict[str, Any], name: Optional[str]) -> None:
    """Raise ValueError if ``clip_args`` (of param ``name``, if given) has keys other than :data:`CLIP_KEYS`."""
    unknown = set(clip_args) - CLIP_KEYS
    if unknown:
        where = f" for param '{name}'" if name else ""
        raise ValueError(f"unknown clip_args{where}: {sorted(unknown)}; expected clip_norm and/or clip_value")
    for key in ("clip_norm", "clip_value"):
        value = clip_args.get(key)
        if value is None:
            continue
        where = f" for param '{name}'" if name else ""
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, torch.Tensor)):
            raise TypeError(f"clip_args['{key}']{where} must be a positive number, got {type(value).__name__} {value!r}")
        if not isinstance(value, torch.Tensor) and value < 0:
            raise ValueError(f"clip_args['{key}']{where} must be a positive number, got {value}")


def clip_grads(params: List[torch.Tensor], clip_norm: Optional[float] = None,
               clip_value: Optional[float] = None) -> None:
    """Clip each parameter's gradient on its own, in place, as :func:`torch.nn.utils.clip_grad_norm_`
    and :func:`torch.nn.utils.clip_grad_value_` would applied to that parameter alone."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    if clip_norm is not None:
        by_device: Dict[Any, List[torch.Tensor]] = {}
        for g in grads:
            by_device.setdefault((g.device, g.is_sparse), []).append(g)
        for (device, sparse), gs in by_device.items():
            if sparse:
                for g in gs:
                    torch.nn.utils.clip_grad_norm_([g], clip_norm)  # accepts tensors as params
                continue
            norms = torch.stack([torch.linalg.vector_norm(g, 2) for g in gs])
            # the norm of the one-element vector [n], exactly as clip_grad_norm_ of one tensor
            totals = torch.linalg.vector_norm(norms.unsqueeze(-1), 2, dim=-1)
            coefs = torch.clamp(clip_norm / (totals + 1e-6), max=1.0)
            torch._foreach_mul_(gs, list(coefs.unbind()))
    if clip_value is not None:
        dense = [g for g in grads if not g.is_sparse]
        if dense:
            torch._foreach_clamp_min_(dense, -clip_value)
            torch._foreach_clamp_max_(dense, clip_value)
        for g in grads:
            if g.is_sparse:
                # Clamp the summed entries (an uncoalesced tensor holds duplicates whose sum is
                # the value), then write them back into the gradient itself.
                coalesced = g.coalesce()
                coalesced.values().clamp_(-clip_value, clip_value)
                g.copy_(coalesced)


class GradClipper:
    """Pyro-compatible per-parameter gradient clipping callable (``optim.grad_clip[p](p)``).

    Args:
        clip_args: ``{"clip_norm": ..., "clip_value": ...}``, as for :func:`clip_grads`.
    """

    def __init__(self, clip_args: Dict[str, Any]) -> None:
        self.clip_args = clip_args

    def __call__(self, params: Union[torch.Tensor, Iterable[torch.Tensor]]) -> None:
        """Clip the gradients of ``params`` (one tensor or several) in place."""
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        clip_grads(params, **self.clip_args)
