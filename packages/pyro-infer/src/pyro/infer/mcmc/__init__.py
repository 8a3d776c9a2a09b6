"""Markov chain Monte Carlo (``pyro.infer.mcmc``): kernels, the runner and their helpers.

- :mod:`~pyro.infer.mcmc.mcmc_kernel`: :class:`MCMCKernel`, the base of every kernel;
- :mod:`~pyro.infer.mcmc.hmc` / :mod:`~pyro.infer.mcmc.nuts`: :class:`HMC`, :class:`NUTS`;
- :mod:`~pyro.infer.mcmc.rwkernel`: :class:`RandomWalkKernel`;
- :mod:`~pyro.infer.mcmc.adaptation`: the warm-up schedule, step size and mass matrix;
- :mod:`~pyro.infer.mcmc.potential`: the potential energy built from a model's trace;
- :mod:`~pyro.infer.mcmc.compiled`: that potential and its gradient captured once and compiled;
- :mod:`~pyro.infer.mcmc.vectorized`: several NUTS chains as one batch;
- :mod:`~pyro.infer.mcmc.util`: ``initialize_model``, ``summary``, ``diagnostics``, ...;
- :mod:`~pyro.infer.mcmc.api`: :class:`MCMC`, the runner.
"""

from pyro.infer.mcmc.adaptation import ArrowheadMassMatrix, BlockMassMatrix
from pyro.infer.mcmc.api import MCMC, StreamingMCMC
from pyro.infer.mcmc.hmc import HMC
from pyro.infer.mcmc.mcmc_kernel import MCMCKernel
from pyro.infer.mcmc.nuts import NUTS
from pyro.infer.mcmc.rwkernel import RandomWalkKernel

__all__ = ["ArrowheadMassMatrix", "BlockMassMatrix", "HMC", "MCMC", "MCMCKernel", "NUTS",
           "RandomWalkKernel", "StreamingMCMC"]


def __getattr__(name: str) -> type:
    """A third-party kernel (an :class:`MCMCKernel` subclass registered through
    ``pyro_register_inference``) by name: ``pyro.infer.mcmc.MyKernel``."""
    from pyro.plugins import get_registry

    obj = None if name.startswith("_") else get_registry("inference").get(name)
    if isinstance(obj, type) and issubclass(obj, MCMCKernel):
        return obj
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
