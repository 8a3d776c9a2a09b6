"""`AdagradRMSProp`: the step-size sequence of automatic differentiation variational inference."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch
from torch.optim import Optimizer

from pyro.optim._step import closure_loss


class AdagradRMSProp(Optimizer):
    """A blend of Adagrad and RMSProp, equations (10) and (11) of Kucukelbir et al.,
    "Automatic Differentiation Variational Inference" (https://arxiv.org/abs/1603.00788).

    With ``g`` the gradient at a parameter's ``k``-th step, a running average of its square is
    kept, ``s_1 = g**2`` and ``s_k = t * g**2 + (1 - t) * s_{k-1}``, and the parameter moves by
    ``-eta * k ** (delta - 1/2) * g / (1 + sqrt(s_k))``.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        eta: scale of the step size (default 1.0).
        delta: small number in the exponent of the step-size decay (default 1e-16).
        t: weight of the newest squared gradient in the running average (default 0.1).
    """

    def __init__(self, params: Iterable[Any], eta: float = 1.0, delta: float = 1.0e-16, t: float = 0.1) -> None:
        if not eta > 0:
            raise ValueError(f"AdagradRMSProp: eta must be positive, got {eta}")
        if not 0 < t < 1:
            raise ValueError(f"AdagradRMSProp: t must lie in (0, 1), got {t}")
        if not delta > 0:
            raise ValueError(f"AdagradRMSProp: delta must be positive, got {delta}")
        super().__init__(params, dict(eta=eta, delta=delta, t=t))

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Take one step; ``closure`` (optional) re-evaluates the model and returns the loss."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.is_sparse:
                    raise RuntimeError("AdagradRMSProp does not support sparse gradients")
                state = self.state[p]
                state["step"] = state.get("step", 0) + 1
                square = grad * grad
                if state["step"] == 1:
                    state["sum"] = square
                else:
                    state["sum"].mul_(1.0 - group["t"]).add_(square, alpha=group["t"])
                lr = group["eta"] * state["step"] ** (group["delta"] - 0.5)
                p.addcdiv_(grad, state["sum"].sqrt().add_(1.0), value=-lr)
        return loss
