"""``substitute``: replace param values by given ones."""

from __future__ import annotations

import warnings
from typing import Any, Dict, Optional, Set

from pyro.params.param_store import user_param_name
from pyro.poutine._handler_checks import check_mapping
from pyro.poutine.messenger import Messenger
from pyro.util import is_validation_enabled


class SubstituteMessenger(Messenger):
    """Return ``data[name]`` at each param site named in ``data`` instead of the stored value.

    Args:
        data: dict ``param name -> value``.

    Under validation, leaving the handler warns (Pyro's ``UserWarning`` "pyro.module data did
    not find params [...]") when a key of ``data`` matched no param of the run.
    """

    def __init__(self, data: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        check_mapping("substitute", "data", data, "a dict of param name to value")
        self.data = {} if data is None else data
        # The user names of the params seen and of those substituted in this run.
        self._seen: Set[str] = set()
        self._hits: Set[str] = set()

    def __enter__(self) -> "SubstituteMessenger":
        self._seen = set()
        self._hits = set()
        return super().__enter__()

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if exc_type is None and self.data and is_validation_enabled():
            missing = set(self.data) - self._hits
            if missing:
                warnings.warn(
                    f"pyro.module data did not find params {sorted(missing)}. "
                    f"Did you instead mean one of {sorted(self._seen - self._hits)}?",
                    UserWarning,
                    stacklevel=2,
                )
        self._seen = set()
        self._hits = set()
        return super().__exit__(exc_type, exc_value, traceback)

    def _pyro_param(self, msg: Dict[str, Any]) -> None:
        name = user_param_name(msg["name"])
        if name in self.data:
            msg["value"] = self.data[name]
            msg["done"] = True
            self._hits.add(name)
        else:
            self._seen.add(name)
