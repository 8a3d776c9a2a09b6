"""Pyro 1.9's module path ``pyro.poutine.collapse_messenger`` (shipped by pyro-infer); the
handler lives in :mod:`pyro.infer.collapse`."""

from pyro.infer.collapse import CollapseMessenger

__all__ = ["CollapseMessenger"]
