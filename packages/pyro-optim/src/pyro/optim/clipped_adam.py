"""`ClippedAdam`: Adam with element-wise gradient clipping and learning-rate decay."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, List, Optional, Tuple

import torch
from torch.optim import Optimizer

from pyro.optim._step import closure_loss, decayed_params_with_grads


def check_adam_settings(name: str, lr: float, betas: Tuple[float, float], eps: float, clip_norm: float,
                        lrd: float) -> None:
    """Raise ValueError naming optimizer ``name`` if a setting shared by ClippedAdam and DCTAdam is out of range."""
    if not lr >= 0.0:
        raise ValueError(f"{name}: invalid learning rate {lr}")
    if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
        raise ValueError(f"{name}: betas must lie in [0, 1), got {betas}")
    if not eps >= 0.0:
        raise ValueError(f"{name}: invalid eps {eps}")
    if not clip_norm > 0.0:
        raise ValueError(f"{name}: clip_norm must be positive, got {clip_norm}")
    if not lrd > 0.0:
        raise ValueError(f"{name}: lrd must be positive, got {lrd}")


def adam_update_(params: List[torch.Tensor], grads: List[torch.Tensor], exp_avgs: List[torch.Tensor],
                 exp_avg_sqs: List[torch.Tensor], steps: List[int], lr: float, betas: Tuple[float, float],
                 eps: float, centered_variance: bool = False) -> None:
    """Apply one bias-corrected Adam update in place to each of ``params`` (vectorised).

    Args:
        params: the tensors to update.
        grads: their (already clipped) gradients.
        exp_avgs, exp_avg_sqs: the running averages of the gradient and of its square, updated.
        steps: each tensor's step count, this step included.
        lr: the learning rate of this step.
        betas: the two averaging coefficients.
        eps: added to the root of the second moment.
        centered_variance: average ``(g - m)^2`` instead of ``g^2``, ``m`` the new first moment.
    """
    beta1, beta2 = betas
    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    if centered_variance:
        deviations = torch._foreach_sub(grads, exp_avgs)
        torch._foreach_addcmul_(exp_avg_sqs, deviations, deviations, value=1 - beta2)
    else:
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    denoms = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_add_(denoms, eps)
    step_sizes = [-(lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)) for t in steps]
    torch._foreach_addcdiv_(params, exp_avgs, denoms, step_sizes)


class ClippedAdam(Optimizer):
    """Adam (Kingma and Ba, https://arxiv.org/abs/1412.6980) with gradient clamping and a decaying rate.

    At every :meth:`step` each param group's ``lr`` is first multiplied by its ``lrd`` (so the
    ``k``-th step of a group uses ``lr * lrd ** k``, and ``param_groups[i]["lr"]`` shows the
    decayed rate, as in Pyro); then every gradient element is clamped to
    ``[-clip_norm, clip_norm]`` in place, the L2 penalty is added, and Adam's update is applied.
    The state of a parameter is Pyro's: ``step`` (an int), ``exp_avg`` and ``exp_avg_sq``.

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
        centered_variance: average the squared deviation of the gradient from the new first
            moment instead of the squared gradient (default False).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, clip_norm: float = 10.0, lrd: float = 1.0,
                 centered_variance: bool = False) -> None:
        check_adam_settings("ClippedAdam", lr, betas, eps, clip_norm, lrd)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, clip_norm=clip_norm, lrd=lrd,
                        centered_variance=centered_variance)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Take one step; ``closure`` (optional) re-evaluates the model and returns the loss."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
            for p in decayed_params_with_grads(group, "ClippedAdam"):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                steps.append(state["step"])
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
            adam_update_(params, grads, exp_avgs, exp_avg_sqs, steps, group["lr"], group["betas"], group["eps"],
                         group.get("centered_variance", False))
        return loss
