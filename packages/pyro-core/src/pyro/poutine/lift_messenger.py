"""``lift``: turn param sites into sample sites drawn from a prior."""

from __future__ import annotations

from typing import Any, Dict

import torch

from pyro.params.param_store import user_param_name
from pyro.poutine.messenger import Messenger


class LiftMessenger(Messenger):
    """Replace param sites by samples from ``prior``.

    Args:
        prior: a distribution (used for every param), a stochastic function, or a dict
            ``param name -> distribution or stochastic function`` (params not in it stay params).

    A param read twice in one run returns the same sample.
    """

    def __init__(self, prior: Any) -> None:
        super().__init__()
        self.prior = prior
        self._samples: Dict[str, Any] = {}

    def __enter__(self) -> "LiftMessenger":
        self._samples = {}
        return super().__enter__()

    def _reset(self) -> None:
        self._samples = {}

    def _prior_for(self, name: str) -> Any:
        if isinstance(self.prior, dict):
            return self.prior.get(user_param_name(name))
        if isinstance(self.prior, torch.distributions.Distribution) or callable(self.prior):
            return self.prior
        return None

    def _pyro_param(self, msg: Dict[str, Any]) -> None:
        name = msg["name"]
        prior = self._prior_for(name)
        if prior is None:
            return
        msg["type"] = "sample"
        msg["fn"] = prior
        msg["args"] = ()
        msg["kwargs"] = {}
        msg["infer"] = {}
        if name in self._samples:
            msg["value"] = self._samples[name]["value"]
            msg["is_observed"] = True
            msg["stop"] = True
            return
        msg["value"] = None
        msg["is_observed"] = False
        self._samples[name] = msg
