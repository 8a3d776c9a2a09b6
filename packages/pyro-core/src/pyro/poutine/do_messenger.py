"""``do``: causal intervention, fixing sites at values without observing them."""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Dict

import torch

from pyro.poutine._handler_checks import check_broadcasts, check_mapping
from pyro.poutine.messenger import Messenger
from pyro.poutine.runtime import apply_stack


class DoMessenger(Messenger):
    """Intervene on the sample sites named in ``data``: downstream code sees the given value.

    The original site is still sampled under its own name (so it keeps its distribution in a
    trace); the intervened value is recorded at a new observed site ``"<name>__CF"``, which has
    no effect on the log-density seen by inference.

    Args:
        data: dict ``name -> value`` (numbers or tensors).
    """

    def __init__(self, data: Dict[str, Any]) -> None:
        super().__init__()
        check_mapping("do", "data", data, "a dict of site name to value")
        self.data = data
        self._intervener_id = str(id(self))

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        intervention = self.data.get(msg["name"])
        if intervention is None or msg.get("_intervener_id") == self._intervener_id:
            return
        if msg.get("_intervener_id") is not None:
            warnings.warn(
                f"Intervening on site '{msg['name']}' more than once; the outermost do wins",
                RuntimeWarning,
            )
        if not isinstance(intervention, (numbers.Number, torch.Tensor)):
            raise TypeError(
                f"do: intervention at site '{msg['name']}' must be a number or tensor, "
                f"got {type(intervention).__name__}"
            )
        if isinstance(intervention, torch.Tensor) and intervention.dim():
            check_broadcasts("do", f"data['{msg['name']}']", intervention.shape, msg, event=True)
        msg["_intervener_id"] = self._intervener_id
        # Sample the original site separately, outside the plates this message already passed.
        original = dict(msg)
        original["cond_indep_stack"] = ()
        apply_stack(original)
        msg["name"] = msg["name"] + "__CF"
        msg["value"] = intervention
        msg["is_observed"] = True
        msg["stop"] = True
