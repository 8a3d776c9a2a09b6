"""Enumeration of discrete latent sites: everything ``TraceEnum_ELBO`` is built from.

- :mod:`~pyro.infer.enum.config`: :func:`config_enumerate`, marking sites for enumeration;
- :mod:`~pyro.infer.enum.messenger`: :class:`EnumMessenger` (``enum``), parallel enumeration;
- :mod:`~pyro.infer.enum.sequential`: :func:`iter_discrete_traces`, sequential enumeration;
- :mod:`~pyro.infer.enum.factors`: a site's plates as labels and its log-density as a factor;
- :mod:`~pyro.infer.enum.contract`: labelled factors and their contraction (variable
  elimination over sums and plates);
- :mod:`~pyro.infer.enum.marginals`: posterior marginals of model-enumerated sites;
- :mod:`~pyro.infer.enum.traceenum_elbo`: :class:`TraceEnum_ELBO` and
  :class:`JitTraceEnum_ELBO`.
"""

from pyro.infer.enum.config import config_enumerate
from pyro.infer.enum.messenger import EnumMessenger, enum
from pyro.infer.enum.sequential import iter_discrete_traces
from pyro.infer.enum.traceenum_elbo import JitTraceEnum_ELBO, TraceEnum_ELBO

__all__ = ["EnumMessenger", "JitTraceEnum_ELBO", "TraceEnum_ELBO", "config_enumerate", "enum",
           "iter_discrete_traces"]
