"""``substitute``: replace param values by given ones."""

from __future__ import annotations

from typing import Any, Dict, Optional

from pyro.params.param_store import user_param_name
from pyro.poutine.messenger import Messenger


class SubstituteMessenger(Messenger):
    """Return ``data[name]`` at each param site named in ``data`` instead of the stored value.

    Args:
        data: dict ``param name -> value``.
    """

    def __init__(self, data: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        self.data = {} if data is None else data

    def _pyro_param(self, msg: Dict[str, Any]) -> None:
        name = user_param_name(msg["name"])
        if name in self.data:
            msg["value"] = self.data[name]
            msg["done"] = True
