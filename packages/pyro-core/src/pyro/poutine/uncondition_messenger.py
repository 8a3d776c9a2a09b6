"""``uncondition``: sample observed sites instead of observing them."""

from __future__ import annotations

from typing import Any, Dict

from pyro.poutine.messenger import Messenger


class UnconditionMessenger(Messenger):
    """Make observed sample sites latent again; the observation is kept in ``infer["obs"]``."""

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if msg["is_observed"]:
            msg["is_observed"] = False
            msg["infer"]["was_observed"] = True
            msg["infer"]["obs"] = msg["value"]
            msg["value"] = None
            msg["done"] = False
