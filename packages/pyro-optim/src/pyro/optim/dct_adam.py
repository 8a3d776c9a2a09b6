"""`DCTAdam`: ClippedAdam that also takes its steps in the frequency domain of a time dimension.

A parameter of a time-series model (a curve over ``T`` time steps) is often fitted badly by
element-wise Adam: a smooth change of the whole curve needs many small, correlated steps. DCTAdam
runs Adam on the *augmented* gradient ``[g, dct(pad(g))]`` along the parameter's time dimension (its
values and its orthonormal cosine coefficients, the time axis padded with zeros to a fast FFT
length), and maps the step back by adding the time-domain half to the inverse transform of the
frequency-domain half. Parameters without a time dimension are stepped exactly as by
:class:`~pyro.optim.clipped_adam.ClippedAdam` (without weight decay).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import torch
from torch.optim import Optimizer

from pyro.optim._step import closure_loss, decayed_params_with_grads
from pyro.ops.tensor_utils import dct, idct, next_fast_len
from pyro.optim.clipped_adam import adam_update_, check_adam_settings

__all__ = ["DCTAdam"]


def _time_dim(p: torch.Tensor) -> Optional[int]:
    """The parameter's time dimension (its ``_pyro_dct_dim``) counted from the right, or None."""
    dim = getattr(p, "_pyro_dct_dim", None)
    if dim is None:
        return None
    if not -p.dim() <= dim < p.dim():
        raise ValueError(
            f"DCTAdam: _pyro_dct_dim={dim} is out of range for a parameter of shape {tuple(p.shape)}"
        )
    return dim - p.dim() if dim >= 0 else dim


def to_frequency(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Return ``x`` with its cosine coefficients appended along ``dim`` (``T`` grows to ``T + n``).

    The time axis is padded with zeros to ``n = next_fast_len(T)`` before the transform.
    """
    duration = x.size(dim)
    padded = x.movedim(dim, -1)
    padded = torch.nn.functional.pad(padded, (0, next_fast_len(duration) - duration))
    return torch.cat([x, dct(padded, -1).movedim(-1, dim)], dim=dim)


def from_frequency(y: torch.Tensor, dim: int, duration: int) -> torch.Tensor:
    """Map a step on the augmented values of :func:`to_frequency` back to ``duration`` time steps."""
    values, coefficients = y.split([duration, y.size(dim) - duration], dim=dim)
    return values + idct(coefficients, dim).narrow(dim, 0, duration)


def _subsample_mask(p: torch.Tensor) -> Optional[torch.Tensor]:
    """The elements of ``p`` inside its subsample (``p._pyro_subsample = {dim: indices}``), or None."""
    subsample = getattr(p, "_pyro_subsample", None)
    if not subsample:
        return None
    mask = torch.ones(p.shape, dtype=torch.bool, device=p.device)
    for dim, indices in subsample.items():
        if not -p.dim() <= dim < p.dim():
            raise ValueError(
                f"DCTAdam: subsample dim {dim} is out of range for a parameter of shape {tuple(p.shape)}"
            )
        inside = torch.zeros(p.size(dim), dtype=torch.bool, device=p.device)
        inside[torch.as_tensor(indices, device=p.device)] = True
        shape = [1] * p.dim()
        shape[dim] = -1
        mask = mask & inside.reshape(shape)
    return mask


class DCTAdam(Optimizer):
    """ClippedAdam that, for parameters with a time dimension, also steps in the frequency domain.

    A parameter marks its time dimension with the attribute ``_pyro_dct_dim`` (an int, e.g.
    ``p._pyro_dct_dim = -2`` for a ``(T, D)`` parameter), as in Pyro. At every :meth:`step`
    each group's ``lr`` is first multiplied by ``lrd`` (shown in ``param_groups[i]["lr"]``), each
    gradient element is clamped to ``[-clip_norm, clip_norm]`` in place, and then:

    - without a time dimension, the parameter takes ClippedAdam's step;
    - with time dimension of length ``T``, Adam runs on ``[g, dct(g padded to n)]`` (length
      ``T + n`` along that dimension, ``n = next_fast_len(T)``); the step is the time-domain half
      plus the first ``T`` entries of the inverse transform of the frequency-domain half.

    With ``subsample_aware=True`` a parameter carrying ``_pyro_subsample = {dim: indices}`` (the
    elements a subsampled plate used) updates its moments, its step counts and its values only
    inside that subsample; ``state["step"]`` is then a tensor of per-element step counts. That
    mode is not defined together with a time dimension and raises ValueError.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and of its square
            (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        clip_norm: bound on the magnitude of each gradient element (default 10.0).
        lrd: learning-rate decay factor per step (default 1.0, no decay).
        subsample_aware: update only the subsampled elements of parameters that carry
            ``_pyro_subsample`` (default False).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, clip_norm: float = 10.0, lrd: float = 1.0,
                 subsample_aware: bool = False) -> None:
        check_adam_settings("DCTAdam", lr, betas, eps, clip_norm, lrd)
        defaults = dict(lr=lr, betas=betas, eps=eps, clip_norm=clip_norm, lrd=lrd, subsample_aware=subsample_aware)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Take one step; ``closure`` (optional) re-evaluates the model and returns the loss."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            plain: Dict[str, List[Any]] = {"params": [], "grads": [], "m": [], "v": [], "steps": []}
            for p in decayed_params_with_grads(group, "DCTAdam"):
                grad = p.grad
                grad.clamp_(-group["clip_norm"], group["clip_norm"])
                dim = _time_dim(p)
                mask = _subsample_mask(p) if group["subsample_aware"] else None
                if mask is not None:
                    if dim is not None:
                        raise ValueError(
                            f"DCTAdam: subsample_aware steps of a parameter with a time dimension "
                            f"(_pyro_dct_dim={dim}, shape {tuple(p.shape)}) are not supported"
                        )
                    self._masked_step(group, p, grad, mask)
                    continue
                state = self.state[p]
                if isinstance(state.get("step"), torch.Tensor):
                    # per-element counts from subsampled steps: this step touches every element
                    self._masked_step(group, p, grad, torch.ones_like(p, dtype=torch.bool))
                    continue
                if dim is not None:
                    self._frequency_step(group, p, grad, dim)
                    continue
                self._init_state(state, p)
                state["step"] += 1
                plain["params"].append(p)
                plain["grads"].append(grad)
                plain["m"].append(state["exp_avg"])
                plain["v"].append(state["exp_avg_sq"])
                plain["steps"].append(state["step"])
            if plain["params"]:
                adam_update_(plain["params"], plain["grads"], plain["m"], plain["v"], plain["steps"],
                             group["lr"], group["betas"], group["eps"])
        return loss

    @staticmethod
    def _init_state(state: Dict[str, Any], like: torch.Tensor) -> None:
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(like, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(like, memory_format=torch.preserve_format)

    def _frequency_step(self, group: Dict[str, Any], p: torch.Tensor, grad: torch.Tensor, dim: int) -> None:
        duration = p.size(dim)
        augmented = to_frequency(grad, dim)
        state = self.state[p]
        self._init_state(state, augmented)
        if state["exp_avg"].shape != augmented.shape:
            raise ValueError(
                f"DCTAdam: a parameter of shape {tuple(p.shape)} with time dim {dim} has moments of "
                f"shape {tuple(state['exp_avg'].shape)}, expected {tuple(augmented.shape)}"
            )
        state["step"] += 1
        update = torch.zeros_like(augmented)
        adam_update_([update], [augmented], [state["exp_avg"]], [state["exp_avg_sq"]], [state["step"]],
                     group["lr"], group["betas"], group["eps"])
        p.add_(from_frequency(update, dim, duration))

    def _masked_step(self, group: Dict[str, Any], p: torch.Tensor, grad: torch.Tensor, mask: torch.Tensor) -> None:
        state = self.state[p]
        self._init_state(state, p)
        step = state["step"]
        if not isinstance(step, torch.Tensor):
            step = torch.full_like(p, float(step))
        step = step.to(p.device).add_(mask)
        state["step"] = step
        beta1, beta2 = group["betas"]
        m = torch.where(mask, state["exp_avg"] * beta1 + grad * (1 - beta1), state["exp_avg"])
        v = torch.where(mask, state["exp_avg_sq"] * beta2 + grad * grad * (1 - beta2), state["exp_avg_sq"])
        state["exp_avg"].copy_(m)
        state["exp_avg_sq"].copy_(v)
        t = step.clamp(min=1)  # elements never stepped are masked out below
        step_size = group["lr"] * torch.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        delta = step_size * m / (v.sqrt() + group["eps"])
        p.sub_(torch.where(mask, delta, torch.zeros_like(delta)))


