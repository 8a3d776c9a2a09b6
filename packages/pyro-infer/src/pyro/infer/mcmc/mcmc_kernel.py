"""``MCMCKernel``: the base class of every Markov kernel that :class:`~pyro.infer.mcmc.MCMC` runs."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any, Dict, Optional

import torch

__all__ = ["MCMCKernel"]


class MCMCKernel(object, metaclass=ABCMeta):
    """A Markov transition kernel over a dict of (unconstrained) tensors.

    A kernel knows nothing of chains, progress bars or storage: the runner calls
    :meth:`setup` once per chain, then :meth:`sample` once per step (warm-up first), then
    :meth:`cleanup`. Only :meth:`sample` must be implemented.
    """

    def setup(self, warmup_steps: int, *args: Any, **kwargs: Any) -> None:
        """Prepare a chain of ``warmup_steps`` warm-up steps; ``args``/``kwargs`` are the
        model's arguments."""

    def cleanup(self) -> None:
        """Release what :meth:`setup` built (called when the chain ends)."""

    def logging(self) -> Optional[Dict[str, str]]:
        """Short strings shown in the progress bar (e.g. step size, acceptance rate)."""
        return None

    def diagnostics(self) -> Dict[str, Any]:
        """Per-chain diagnostics collected by the kernel (e.g. divergences)."""
        return {}

    def end_warmup(self) -> None:
        """Called once when the warm-up phase is over."""

    @property
    def initial_params(self) -> Optional[Dict[str, torch.Tensor]]:
        """The parameters the chain starts from (``None`` until known)."""
        raise NotImplementedError

    @initial_params.setter
    def initial_params(self, params: Dict[str, torch.Tensor]) -> None:
        raise NotImplementedError

    @abstractmethod
    def sample(self, params: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Take one step of the chain from ``params`` and return the new parameters."""
        raise NotImplementedError

    def __call__(self, params: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Alias of :meth:`sample`."""
        return self.sample(params)
