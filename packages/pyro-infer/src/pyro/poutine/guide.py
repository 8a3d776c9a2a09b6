"""Pyro 1.9's module path ``pyro.poutine.guide`` (shipped by pyro-infer): the base of guides
written as effect handlers, which lives in :mod:`pyro.infer.autoguide.effect`."""

from pyro.infer.autoguide.effect import GuideMessenger

__all__ = ["GuideMessenger"]
