"""``RandomWalkKernel``: Gaussian random-walk Metropolis in unconstrained space."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional

import torch

from pyro.infer.mcmc.mcmc_kernel import MCMCKernel
from pyro.infer.mcmc.util import initialize_model

__all__ = ["RandomWalkKernel"]

Params = Dict[str, torch.Tensor]


class RandomWalkKernel(MCMCKernel):
    """Random-walk Metropolis: propose ``z + step_size * Normal(0, 1)`` for every latent
    at once, in unconstrained space.

    During warm-up the step size is tuned (a Robbins-Monro update of its logarithm) towards
    ``target_accept_prob``; 0.234 is optimal for many high-dimensional targets.

    Args:
        model: the model.
        init_step_size: the initial step size.
        target_accept_prob: the acceptance rate the step size aims at during warm-up.
    """

    def __init__(self, model: Callable, init_step_size: float = 0.1,
                 target_accept_prob: float = 0.234) -> None:
        if init_step_size <= 0:
            raise ValueError(f"init_step_size must be positive, got {init_step_size}")
        if not 0 < target_accept_prob < 1:
            raise ValueError(f"target_accept_prob must lie in (0, 1), got {target_accept_prob}")
        self.model = model
        self.init_step_size = init_step_size
        self.target_accept_prob = target_accept_prob
        self._t = 0
        self._log_step_size = math.log(init_step_size)
        self._accept_cnt = 0
        self._mean_accept_prob = 0.0
        self._initial_params: Optional[Params] = None
        self.transforms: Optional[Dict[str, Any]] = None

    @property
    def initial_params(self) -> Optional[Params]:
        """The unconstrained values the chain starts from."""
        return self._initial_params

    @initial_params.setter
    def initial_params(self, params: Params) -> None:
        self._initial_params = params

    def setup(self, warmup_steps: int, *args: Any, **kwargs: Any) -> None:
        """Build the potential of the model and find initial values."""
        self._warmup_steps = warmup_steps
        self._t = 0
        self._accept_cnt = 0
        self._mean_accept_prob = 0.0
        self._log_step_size = math.log(self.init_step_size)
        init, self.potential_fn, self.transforms, _ = initialize_model(
            self.model, args, kwargs, initial_params=self._initial_params)
        if self._initial_params is None:
            self._initial_params = init
        self._energy_cache: Optional[tuple] = None

    def _energy(self, params: Params) -> float:
        cache = self._energy_cache
        if cache is not None and cache[0] is params:
            return cache[1]
        with torch.no_grad():
            energy = float(self.potential_fn(params))
        return energy

    def sample(self, params: Params) -> Params:
        """One Metropolis step from ``params``."""
        energy = self._energy(params)
        step = math.exp(self._log_step_size)
        proposal = {k: v + step * torch.randn_like(v) for k, v in params.items()}
        with torch.no_grad():
            new_energy = float(self.potential_fn(proposal))
        delta = energy - new_energy
        accept_prob = math.exp(min(0.0, delta)) if math.isfinite(new_energy) else 0.0
        accepted = torch.rand(()).item() < accept_prob
        if accepted:
            params, energy = proposal, new_energy
        self._energy_cache = (params, energy)
        self._t += 1
        if self._t <= self._warmup_steps:
            self._log_step_size += (accept_prob - self.target_accept_prob) / math.sqrt(self._t)
        else:
            if accepted:
                self._accept_cnt += 1
            n = self._t - self._warmup_steps
            self._mean_accept_prob += (accept_prob - self._mean_accept_prob) / n
        return params

    def logging(self) -> Dict[str, str]:
        """Step size and mean acceptance probability."""
        return OrderedDict([("step size", "{:.2e}".format(math.exp(self._log_step_size))),
                            ("acc. prob", "{:.3f}".format(self._mean_accept_prob))])

    def diagnostics(self) -> Dict[str, Any]:
        """``acceptance rate`` after warm-up."""
        n = self._t - self._warmup_steps
        return {"acceptance rate": self._accept_cnt / n if n > 0 else 0.0}
