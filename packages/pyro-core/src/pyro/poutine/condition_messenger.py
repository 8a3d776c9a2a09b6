"""``condition``: observe sample sites at given values."""

from __future__ import annotations

from typing import Any, Dict

import torch

from pyro.poutine._handler_checks import check_observed_value
from pyro.poutine.messenger import Messenger
from pyro.poutine.trace_struct import Trace


class ConditionMessenger(Messenger):
    """Turn the sample sites named in ``data`` into observations of the given values.

    Args:
        data: a dict ``name -> value`` or a :class:`~pyro.poutine.Trace` whose site values are
            used.
    """

    def __init__(self, data: Any) -> None:
        super().__init__()
        if isinstance(data, (list, tuple, str, bytes, torch.Tensor)) or not (
                isinstance(data, Trace) or hasattr(data, "__getitem__")):
            raise TypeError(f"condition expects a dict or a Trace, got {type(data).__name__}")
        self.data = data

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        name = msg["name"]
        if isinstance(self.data, Trace):
            site = self.data.nodes.get(name)
            if site is None:
                return
            value = site["value"]
        elif name in self.data:
            value = self.data[name]
        else:
            return
        if value is not None and not isinstance(value, torch.Tensor) and isinstance(
                msg["fn"], torch.distributions.Distribution):
            check_observed_value("poutine.condition", name, value)
        msg["value"] = value
        msg["is_observed"] = value is not None
