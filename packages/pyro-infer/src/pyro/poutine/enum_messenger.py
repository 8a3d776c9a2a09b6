"""Pyro 1.9's module path ``pyro.poutine.enum_messenger`` (shipped by pyro-infer); the handler
lives in :mod:`pyro.infer.enum.messenger`."""

from pyro.infer.enum.messenger import EnumMessenger

__all__ = ["EnumMessenger"]
