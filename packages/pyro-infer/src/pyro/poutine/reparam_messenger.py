"""Pyro 1.9's module path ``pyro.poutine.reparam_messenger`` (shipped by pyro-infer); the
handler lives in :mod:`pyro.infer.reparam.handler`."""

from pyro.infer.reparam.handler import ReparamHandler, ReparamMessenger

__all__ = ["ReparamHandler", "ReparamMessenger"]
