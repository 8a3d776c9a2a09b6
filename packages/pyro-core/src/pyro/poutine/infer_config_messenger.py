"""``infer_config``: add inference settings to sites' ``infer`` dicts."""

from __future__ import annotations

from typing import Any, Callable, Dict

from pyro.poutine.messenger import Messenger


class InferConfigMessenger(Messenger):
    """Update each sample and param site's ``msg["infer"]`` with ``config_fn(msg)``.

    Args:
        config_fn: function from a message to a dict of settings.
    """

    def __init__(self, config_fn: Callable[[Dict[str, Any]], Dict[str, Any]]) -> None:
        super().__init__()
        self.config_fn = config_fn

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        msg["infer"].update(self.config_fn(msg))

    def _pyro_param(self, msg: Dict[str, Any]) -> None:
        msg["infer"].update(self.config_fn(msg))
