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
        if not callable(config_fn):
            raise TypeError(f"poutine.infer_config: config_fn must be a function of a site's message, got {type(config_fn).__name__} {config_fn!r}")
        self.config_fn = config_fn

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        config = self.config_fn(msg)
        try:
            msg["infer"].update(config)
        except (TypeError, ValueError):
            _not_a_dict(msg, config)
            raise

    _pyro_param = _pyro_sample


def _not_a_dict(msg: Dict[str, Any], config: Any) -> None:
    if not isinstance(config, dict):
        raise TypeError(
            f"poutine.infer_config: config_fn must return a dict, got {type(config).__name__} "
            f"at site '{msg['name']}'"
        )
