"""Pyro's module path of ``TraceEnum_ELBO``; the implementation lives in
:mod:`pyro.infer.enum.traceenum_elbo` with the rest of enumeration."""

from pyro.infer.enum.traceenum_elbo import JitTraceEnum_ELBO, TraceEnum_ELBO

__all__ = ["JitTraceEnum_ELBO", "TraceEnum_ELBO"]
