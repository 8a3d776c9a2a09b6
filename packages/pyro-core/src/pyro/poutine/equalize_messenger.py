"""``equalize``: give several primitive sites the value of the first of them that runs."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Union

from pyro._primitive_dists import _Deterministic
from pyro.poutine.messenger import Messenger

_TYPES = ("sample", "param")


class EqualizeMessenger(Messenger):
    """Make the sites whose names match ``sites`` share one value: the value of the first of
    them to run (drawn, observed or read from the store as usual).

    A later matching sample site becomes observed at that value: with ``keep_dist=False`` its
    distribution is replaced by a point mass whose log-density is zero (the site adds nothing,
    like :func:`pyro.deterministic`); with ``keep_dist=True`` it keeps its distribution, so the
    model is conditioned on the sites being equal. A later matching param site returns the
    first one's value.

    Args:
        sites: a regular expression a whole site name must match, or a list of them.
        type: the site type to equalize, ``"sample"`` or ``"param"``.
        keep_dist: keep the later sample sites' distributions (see above).
    """

    def __init__(self, sites: Union[str, Sequence[str]], type: Optional[str] = "sample",
                 keep_dist: Optional[bool] = False) -> None:
        super().__init__()
        patterns: List[str]
        if isinstance(sites, str):
            patterns = [sites]
        elif isinstance(sites, (list, tuple)) and all(isinstance(s, str) for s in sites):
            patterns = list(sites)
        else:
            raise TypeError(f"equalize: sites must be a string or a list of strings, got {sites!r}")
        if type not in _TYPES:
            raise ValueError(f"equalize: type must be 'sample' or 'param', got {type!r}")
        self._patterns = [re.compile(p) for p in patterns]
        self.sites = sites
        self.type = type
        self.keep_dist = bool(keep_dist)
        self.value: Any = None

    def __enter__(self) -> "EqualizeMessenger":
        self.value = None  # every run starts afresh
        return super().__enter__()  # type: ignore[return-value]

    def _matches(self, msg: Dict[str, Any]) -> bool:
        name = msg["name"]
        return msg["type"] == self.type and name is not None and any(
            p.fullmatch(name) for p in self._patterns)

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if self.value is None or not self._matches(msg):
            return
        if not self.keep_dist:
            msg["fn"] = _Deterministic(self.value, len(getattr(msg["fn"], "event_shape", ())))
            msg["infer"] = dict(msg["infer"], _deterministic=True)
        msg["value"] = self.value
        msg["is_observed"] = True

    def _pyro_param(self, msg: Dict[str, Any]) -> None:
        if self.value is not None and self._matches(msg):
            msg["value"] = self.value
            msg["done"] = True

    def _pyro_post_sample(self, msg: Dict[str, Any]) -> None:
        if self.value is None and self._matches(msg):
            self.value = msg["value"]

    _pyro_post_param = _pyro_post_sample
