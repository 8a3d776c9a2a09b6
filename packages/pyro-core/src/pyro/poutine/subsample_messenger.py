"""Pyro 1.9's module path ``pyro.poutine.subsample_messenger``: ``SubsampleMessenger`` is the
plate's messenger, :class:`~pyro.poutine.plate_messenger.PlateMessenger` (same arguments)."""

from pyro.poutine.plate_messenger import PlateMessenger as SubsampleMessenger

__all__ = ["SubsampleMessenger"]
