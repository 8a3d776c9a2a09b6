"""`ClippedAdam`: Adam with element-wise gradient clipping and learning-rate decay."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Optional, Tuple

import torch
from torch.optim import Optimizer

from pyro.optim._closure import closure_loss


class ClippedAdam(Optimizer):
    """Adam (Kingma and Ba, https://arxiv.org/abs/1412.6980) with two additions.

    Before each update every gradient element is clamped to ``[-clip_norm, clip_norm]`` (in
    place), and the learning rate is multiplied by ``lrd`` once per step of each parameter, before
    the update: a parameter's ``k``-th update uses ``lr * lrd ** k``. The decay is tracked per
    parameter, so a parameter that joins late starts from ``lr`` as it would with an optimizer of
    its own; ``param_groups[i]["lr"]`` stays the base rate (and a scheduler may change it).

    The update of all parameters of a group is vectorised with ``torch._foreach_*`` kernels.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and of its square
            (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty added to the gradient after clipping (default 0).
        clip_norm: bound on the magnitude of each gradient element (default 10.0).
        lrd: learning-rate decay factor per step (default 1.0, no decay).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, clip_norm: float = 10.0, lrd: float = 1.0) -> None:
        if not lr >= 0.0:
            raise ValueError(f"ClippedAdam: invalid learning rate {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"ClippedAdam: betas must lie in [0, 1), got {betas}")
        if not eps >= 0.0:
            raise ValueError(f"ClippedAdam: invalid eps {eps}")
        if not clip_norm > 0.0:
            raise ValueError(f"ClippedAdam: clip_norm must be positive, got {clip_norm}")
        if not lrd > 0.0:
            raise ValueError(f"ClippedAdam: lrd must be positive, got {lrd}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, clip_norm=clip_norm, lrd=lrd)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Take one step; ``closure`` (optional) re-evaluates the model and returns the loss."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, step_sizes = [], [], [], [], []
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("ClippedAdam does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["lr_decay"] = 1.0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                state["lr_decay"] *= group["lrd"]
                t = state["step"]
                lr = group["lr"] * state["lr_decay"]
                step_sizes.append(-(lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)))
                params.append(p)
                grads.append(p.grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
            if not params:
                continue
            clip = group["clip_norm"]
            torch._foreach_clamp_min_(grads, -clip)
            torch._foreach_clamp_max_(grads, clip)
            if group["weight_decay"] != 0:
                grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
            torch._foreach_mul_(exp_avgs, beta1)
            torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
            denoms = torch._foreach_sqrt(exp_avg_sqs)
            torch._foreach_add_(denoms, group["eps"])
            torch._foreach_addcdiv_(params, exp_avgs, denoms, step_sizes)
        return loss
