"""Pyro 1.9's module path ``pyro.poutine.reentrant_messenger``; the class lives in
:mod:`pyro.poutine.messenger`."""

from pyro.poutine.messenger import ReentrantMessenger

__all__ = ["ReentrantMessenger"]
