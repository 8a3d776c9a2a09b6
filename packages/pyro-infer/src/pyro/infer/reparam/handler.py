"""``reparam``: the handler that hands sample sites to reparameterizers.

Registered as :func:`pyro.poutine.reparam` (and ``pyro.poutine.ReparamMessenger``) by
pyro-infer's plugin.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Union

from pyro.poutine.messenger import Messenger, check_callable
from pyro.poutine.util import site_is_subsample

Config = Union[Dict[str, Any], Callable[[Dict[str, Any]], Any]]


def _check_config(config: Any) -> None:
    if isinstance(config, dict):
        for name, reparam in config.items():
            if reparam is not None and not callable(getattr(reparam, "apply", None)):
                raise TypeError(
                    f"reparam config['{name}'] must be a Reparam (with an apply(msg) method) or "
                    f"None, got {type(reparam).__name__}")
    elif not callable(config):
        raise TypeError(
            "reparam config must be a dict mapping site names to Reparam objects, or a callable "
            f"mapping a site's message to a Reparam or None; got {type(config).__name__}")


class ReparamMessenger(Messenger):
    """Reparameterize the enclosed sample sites that ``config`` names.

    For each sample site (plate subsample sites excepted) the handler looks up a
    :class:`~pyro.infer.reparam.reparam.Reparam`: ``config[name]`` for a dict (sites not in
    it are left alone), ``config(msg)`` for a callable (``None`` leaves the site alone). The
    reparameterizer's :meth:`apply` gives the site its new distribution and value; sites that
    it draws go through this handler too, so a callable config may reparameterize them in turn.

    Args:
        config: a dict ``{site name: Reparam}`` or a callable ``msg -> Reparam or None``.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        _check_config(config)
        self.config = config
        self._args_kwargs: Optional[tuple] = None

    def __call__(self, fn: Callable) -> Callable:
        """Return ``fn`` run inside this handler; its arguments are shown to the reparams."""
        check_callable(fn)
        return ReparamHandler(self, fn)

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if site_is_subsample(msg):
            return
        config = self.config
        if isinstance(config, dict):
            reparam = config.get(msg["name"])
        else:
            reparam = config(msg)
        if reparam is None:
            return
        reparam.args_kwargs = self._args_kwargs
        try:
            new = reparam.apply({"name": msg["name"], "fn": msg["fn"], "value": msg["value"],
                                 "is_observed": msg["is_observed"]})
        finally:
            reparam.args_kwargs = None
        msg["fn"] = new["fn"]
        if new["value"] is not None:
            msg["value"] = new["value"]
            msg["is_observed"] = new["is_observed"]


class ReparamHandler:
    """A model run inside a :class:`ReparamMessenger`, which sees the model's arguments."""

    def __init__(self, msngr: ReparamMessenger, fn: Callable) -> None:
        self.msngr = msngr
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the model; reparameterizers see ``(args, kwargs)`` as ``args_kwargs``."""
        saved = self.msngr._args_kwargs
        self.msngr._args_kwargs = (args, kwargs)
        try:
            with self.msngr:
                return self.fn(*args, **kwargs)
        finally:
            self.msngr._args_kwargs = saved


def reparam(fn: Optional[Callable] = None, config: Optional[Config] = None) -> Any:
    """Reparameterize the sample sites of ``fn`` that ``config`` names.

    ``config`` is a dict ``{site name: Reparam}`` or a callable ``msg -> Reparam or None``
    (e.g. :class:`~pyro.infer.reparam.AutoReparam`). Without ``fn``, returns the handler (a
    context manager); with it, ``fn`` wrapped.

    Example::

        model = poutine.reparam(model, config={"theta": LocScaleReparam(centered=0.0)})
    """
    if config is None:
        raise TypeError("reparam needs a config: a dict {site name: Reparam} or a callable "
                        "msg -> Reparam or None")
    msngr = ReparamMessenger(config)
    return msngr if fn is None else msngr(fn)


__all__ = ["ReparamHandler", "ReparamMessenger", "reparam"]
