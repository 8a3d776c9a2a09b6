"""``replay``: reuse the values a trace recorded at sample sites (and given param values)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from pyro.poutine._handler_checks import check_mapping, check_trace
from pyro.poutine.messenger import Messenger


class ReplayMessenger(Messenger):
    """Give each unobserved sample site the value recorded at the same name in ``trace``.

    Args:
        trace: a :class:`~pyro.poutine.Trace` to replay sample values from.
        params: optional dict ``name -> value`` to return at param sites instead of the store's.
    """

    def __init__(self, trace: Any = None, params: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        if trace is None and params is None:
            raise ValueError("replay needs a trace or params to replay")
        check_trace("replay", "trace", trace)
        check_mapping("replay", "params", params, "a dict of param name to value")
        self.trace = trace
        self.params = params

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if self.trace is None or msg["is_observed"]:
            return
        site = self.trace.nodes.get(msg["name"])
        if site is None:
            return
        if site["type"] != "sample" or site["is_observed"]:
            raise RuntimeError(
                f"site '{msg['name']}' must be an unobserved sample site in the replayed trace, "
                f"but it is {'an observed' if site.get('is_observed') else 'a ' + site['type']} site"
            )
        msg["done"] = True
        msg["value"] = site["value"]
        msg["infer"] = site["infer"]

    def _pyro_param(self, msg: Dict[str, Any]) -> None:
        if self.params is not None and msg["name"] in self.params:
            msg["done"] = True
            msg["value"] = self.params[msg["name"]]
