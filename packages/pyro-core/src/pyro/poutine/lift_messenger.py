"""``lift``: turn param sites into sample sites drawn from a prior."""

from __future__ import annotations

import warnings
from typing import Any, Dict, Set

import torch

from pyro.params.param_store import user_param_name
from pyro.poutine._handler_checks import check_prior
from pyro.poutine.messenger import Messenger
from pyro.util import is_validation_enabled


class LiftMessenger(Messenger):
    """Replace param sites by samples from ``prior``.

    Args:
        prior: a distribution (used for every param), a stochastic function, or a dict
            ``param name -> distribution or stochastic function`` (params not in it stay params;
            a module's params are matched by their name inside the module).

    A distribution is sampled with no arguments. A stochastic function is called as Pyro calls
    it, with the param site's own arguments less the name: ``prior(init_tensor,
    constraint=..., event_dim=...)`` (no ``init_tensor`` when the param was read without one).
    A stochastic function given as the whole ``prior`` runs hidden from outer handlers (its site
    stops here, as in Pyro); one given in a dict is an ordinary sample site.

    A param read twice in one run returns the same sample. With a dict prior, leaving the
    handler warns (``UserWarning``, Pyro's words: "pyro.module prior did not find params ...")
    when a key matched no param of the run.
    """

    def __init__(self, prior: Any) -> None:
        super().__init__()
        check_prior(prior)
        self.prior = prior
        self._samples: Dict[str, Any] = {}
        # With a dict prior: the user names of the params seen and of those lifted in this run.
        self._seen: Set[str] = set()
        self._lifted: Set[str] = set()

    def __enter__(self) -> "LiftMessenger":
        self._reset()
        return super().__enter__()

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        # As in Pyro, only under validation; and not when the run was cut short (an error, an
        # escape), where most params were simply never reached.
        if exc_type is None and isinstance(self.prior, dict) and is_validation_enabled():
            missing = set(self.prior) - self._lifted
            if missing:
                warnings.warn(
                    f"pyro.module prior did not find params {sorted(missing)}. "
                    f"Did you instead mean one of {sorted(self._seen - self._lifted)}?",
                    UserWarning,
                    stacklevel=2,
                )
        self._reset()
        return super().__exit__(exc_type, exc_value, traceback)

    def _reset(self) -> None:
        self._samples = {}
        self._seen = set()
        self._lifted = set()

    def _pyro_param(self, msg: Dict[str, Any]) -> None:
        name = msg["name"]
        prior = self.prior
        from_dict = isinstance(prior, dict)
        if from_dict:
            key = user_param_name(name)
            self._seen.add(key)
            prior = prior.get(key)
            if prior is None:
                return
            self._lifted.add(key)
        if isinstance(prior, torch.distributions.Distribution):
            msg["args"] = ()
            msg["kwargs"] = {}
            msg["infer"] = {}
        elif callable(prior):
            # The param's own arguments, less its name; ``tags`` is this project's 0.1 keyword.
            msg["args"] = msg["args"][1:]
            kwargs = msg["kwargs"]
            if "tags" in kwargs:
                kwargs = {k: v for k, v in kwargs.items() if k != "tags"}
            msg["kwargs"] = kwargs
            if not from_dict:
                msg["stop"] = True
        else:
            return
        msg["type"] = "sample"
        msg["fn"] = prior
        if name in self._samples:
            msg["value"] = self._samples[name]["value"]
            msg["is_observed"] = True
            msg["stop"] = True
            return
        msg["value"] = None
        msg["is_observed"] = False
        self._samples[name] = msg
