"""Inference algorithms (``pyro.infer``, package pyro-infer).

Every public name listed in ``__all__`` is also registered in the ``inference`` registry, so
``SVI(..., loss="Trace_ELBO")`` and third-party engines resolve by name.
"""

from typing import Any

__all__ = []

# --- SVI and the ELBO family -------------------------------------------------------------
from pyro.infer.elbo import ELBO
from pyro.infer.svi import SVI
from pyro.infer.trace_elbo import JitTrace_ELBO, Trace_ELBO
from pyro.infer.trace_mean_field_elbo import TraceMeanField_ELBO
from pyro.infer.tracegraph_elbo import TraceGraph_ELBO

__all__ += ["ELBO", "JitTrace_ELBO", "SVI", "TraceGraph_ELBO", "TraceMeanField_ELBO", "Trace_ELBO"]

# --- enumeration ---------------------------------------------------------------------------
from pyro.infer.enum import JitTraceEnum_ELBO, TraceEnum_ELBO, config_enumerate

__all__ += ["JitTraceEnum_ELBO", "TraceEnum_ELBO", "config_enumerate"]

# --- sampling-based inference, guides, prediction ------------------------------------------
from pyro.infer.abstract_infer import EmpiricalMarginal, TracePosterior
from pyro.infer.importance import Importance, vectorized_importance_weights
from pyro.infer.predictive import Predictive
from pyro.infer.search import Search

__all__ += ["EmpiricalMarginal", "Importance", "Predictive", "Search", "TracePosterior",
            "vectorized_importance_weights"]

# --- Markov chain Monte Carlo ----------------------------------------------------------------
from pyro.infer.mcmc import HMC, MCMC, NUTS, RandomWalkKernel

__all__ += ["HMC", "MCMC", "NUTS", "RandomWalkKernel"]

# --- predictive sampling and seeing the model --------------------------------------------------
from pyro.infer import inspect  # noqa: E402,F401  (pyro.infer.inspect, as Pyro has it)
from pyro.infer.plotting import plot_losses  # noqa: E402
from pyro.infer.predictive import MHResampler, WeighedPredictive, WeighedPredictiveResults  # noqa: E402
from pyro.infer.trace_predictive import TracePredictive  # noqa: E402

__all__ += ["MHResampler", "TracePredictive", "WeighedPredictive", "WeighedPredictiveResults",
            "plot_losses"]

# --- more variational objectives and particle methods ---------------------------------------------
from pyro.infer.csis import CSIS  # noqa: E402
from pyro.infer.energy_distance import EnergyDistance  # noqa: E402
from pyro.infer.renyi_elbo import RenyiELBO  # noqa: E402
from pyro.infer.rws import ReweightedWakeSleep  # noqa: E402
from pyro.infer.smcfilter import SMCFilter  # noqa: E402
from pyro.infer.svgd import SVGD, IMQSteinKernel, RBFSteinKernel  # noqa: E402
from pyro.infer.trace_mean_field_elbo import JitTraceMeanField_ELBO  # noqa: E402
from pyro.infer.trace_mmd import Trace_MMD  # noqa: E402
from pyro.infer.trace_tail_adaptive_elbo import TraceTailAdaptive_ELBO  # noqa: E402
from pyro.infer.tracegraph_elbo import JitTraceGraph_ELBO  # noqa: E402
from pyro.infer.tracetmc_elbo import TraceTMC_ELBO  # noqa: E402

__all__ += ["CSIS", "EnergyDistance", "IMQSteinKernel", "JitTraceGraph_ELBO",
            "JitTraceMeanField_ELBO", "RBFSteinKernel", "RenyiELBO", "ReweightedWakeSleep",
            "SMCFilter", "SVGD", "TraceTMC_ELBO", "TraceTailAdaptive_ELBO", "Trace_MMD"]

from pyro.infer import reparam  # noqa: E402,F401  (pyro.infer.reparam, as Pyro has it)

# --- discrete latents --------------------------------------------------------------------------
from pyro.infer.discrete import infer_discrete  # noqa: E402

__all__ += ["infer_discrete"]

# --- summaries of samples ------------------------------------------------------------------------
from pyro.infer.mcmc.util import summary  # noqa: E402  (the very function MCMC's table is built on)

__all__ += ["summary"]

# --- validation switches, as Pyro has them here too (one global switch: pyro.util's) ------------
from pyro.util import enable_validation, is_validation_enabled  # noqa: E402

__all__ += ["enable_validation", "is_validation_enabled"]

# The seed's ``ELBO(trace_graph=..., enum_discrete=...)``: installs its front door on import.
from pyro.infer import legacy  # noqa: E402,F401


def __getattr__(name: str) -> Any:
    from pyro.plugins import resolve

    return resolve("inference", name, __name__)
