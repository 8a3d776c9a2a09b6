"""The primitives of the language: ``sample``, ``param``, ``plate``, ``module`` and friends."""

from __future__ import annotations

import copy
import warnings
from inspect import isclass
from typing import Any, Callable, Dict, Iterable, Optional, Union

import torch
from torch.distributions import constraints
from torch.distributions.constraints import Constraint

from pyro._barrier import barrier
from pyro._primitive_dists import _Deterministic, _Unit
from pyro._primitive_checks import (
    _sample_fn_is_class,
    check_sample_args,
    check_site_tensor,
    warn_no_module_params,
)
from pyro.poutine._handler_checks import check_observed_value
from pyro.params.param_store import ParamStoreDict, param_with_module_name
from pyro.poutine.markov_messenger import MarkovMessenger
from pyro.poutine.plate_messenger import PlateMessenger, plate_stack
from pyro.poutine.runtime import _PYRO_STACK, _draw, apply_stack, new_message
from pyro.util import (
    enable_validation,
    is_validation_enabled,
    set_rng_seed,
    validation_enabled,
    warn_once,
)

_PYRO_PARAM_STORE = ParamStoreDict()


def get_param_store() -> ParamStoreDict:
    """Return the global parameter store."""
    return _PYRO_PARAM_STORE


def clear_param_store() -> None:
    """Remove every parameter from the global parameter store."""
    _PYRO_PARAM_STORE.clear()


def sample(name: str, fn: Any, *args: Any, obs: Any = None, obs_mask: Optional[torch.Tensor] = None,
           infer: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Any:
    """Draw (or observe) the random variable ``name`` from ``fn``; handlers may intercept it.

    Args:
        name: the site's name, unique within one run of a model.
        fn: a distribution (a ``pyro.distributions`` one, or any ``torch.distributions`` one) or a
            stochastic function.
        *args, **kwargs: passed to ``fn`` when it is called.
        obs: an observed value; the site is then conditioned on it.
        obs_mask: a bool tensor broadcastable with ``fn.batch_shape``, for partly observed data:
            where True the event is conditioned on ``obs`` (site ``name + "_observed"``), where
            False it is a latent variable (site ``name + "_unobserved"``, which a guide should
            sample), and ``name`` becomes a deterministic site holding the interleaved value.
        infer: settings for inference algorithms, e.g. ``{"enumerate": "parallel"}``.

    Returns:
        The sampled or observed value.
    """
    if not callable(fn) and not isinstance(fn, torch.distributions.Distribution):
        _bad_sample_fn(name, fn)
    if type(name) is not str or (infer is not None and (type(infer) is not dict or "enumerate" in infer)):
        check_sample_args(name, infer)
    if obs is not None and not isinstance(obs, torch.Tensor) and isinstance(fn, torch.distributions.Distribution):
        check_observed_value("pyro.sample", name, obs)
    if obs_mask is not None:
        return _masked_observe(name, fn, obs, obs_mask, args, infer, kwargs)
    if not _PYRO_STACK:
        if obs is not None:
            if not (infer and infer.get("_deterministic")):
                warnings.warn(f"trying to observe a value outside of inference at {name}",
                              RuntimeWarning, stacklevel=2)
            return obs
        try:
            return _draw(fn, args, kwargs)
        except TypeError:
            if isclass(fn) and issubclass(fn, torch.distributions.Distribution):
                _sample_fn_is_class(name, fn)
            raise
    # new_message's dict written out: this is the per-site hot path, and the call with keyword
    # arguments costs a fifth of a traced site's own overhead.
    msg = {
        "type": "sample", "name": name, "fn": fn, "is_observed": obs is not None, "args": args,
        "kwargs": kwargs, "value": obs, "infer": {} if infer is None else dict(infer),
        "scale": 1.0, "mask": None, "cond_indep_stack": (), "done": False, "stop": False,
        "continuation": None,
    }
    try:
        apply_stack(msg)
    except TypeError:
        if isclass(fn) and issubclass(fn, torch.distributions.Distribution):
            _sample_fn_is_class(name, fn)
        raise
    return msg["value"]


def _bad_sample_fn(name: Any, fn: Any) -> None:
    """Raise the ``TypeError`` for a ``pyro.sample`` whose ``fn`` is neither a distribution nor
    a callable (checked before any handler sees the site)."""
    shown = repr(fn)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise TypeError(
        f"pyro.sample: site '{name}': fn must be a distribution or a callable, got "
        f"{type(fn).__name__} {shown}"
    )


def _masked_observe(name: str, fn: Any, obs: Any, obs_mask: Any, args: tuple,
                    infer: Optional[Dict[str, Any]], kwargs: Dict[str, Any]) -> torch.Tensor:
    """``sample(name, fn, obs=obs, obs_mask=obs_mask)``: two masked sites and their interleaving.

    With ``obs=None`` (e.g. a model run for prediction), ``name + "_observed"`` is drawn like
    ``name + "_unobserved"``, as in Pyro: the same site structure, every entry sampled.
    """
    from pyro.poutine.mask_messenger import MaskMessenger

    if not isinstance(obs_mask, torch.Tensor) or obs_mask.dtype != torch.bool:
        raise ValueError(
            f"site '{name}': obs_mask must be a bool tensor, got "
            f"{obs_mask.dtype if isinstance(obs_mask, torch.Tensor) else type(obs_mask).__name__}"
        )
    batch_shape = getattr(fn, "batch_shape", None)
    if batch_shape is not None:
        try:
            torch.broadcast_shapes(obs_mask.shape, batch_shape)
        except RuntimeError:
            raise ValueError(
                f"Invalid obs_mask shape {tuple(obs_mask.shape)}; should be broadcastable to "
                f"batch_shape = {tuple(batch_shape)} (site '{name}')"
            ) from None
    with MaskMessenger(mask=obs_mask):
        observed = sample(f"{name}_observed", fn, *args, obs=obs, infer=infer, **kwargs)
    with MaskMessenger(mask=~obs_mask):
        unobserved = sample(f"{name}_unobserved", fn, *args, infer=infer, **kwargs)
    event_dim = len(getattr(fn, "event_shape", ()))
    batch_mask = obs_mask.reshape(obs_mask.shape + (1,) * event_dim)
    return deterministic(name, torch.where(batch_mask, observed, unobserved), event_dim=event_dim)


def param(
    name: str,
    init_tensor: Union[torch.Tensor, Callable[[], torch.Tensor], None] = None,
    constraint: Constraint = constraints.real,
    event_dim: Optional[int] = None,
    *,
    tags: Union[str, Iterable[str], None] = None,
) -> torch.Tensor:
    """Declare the learnable parameter ``name`` and return its constrained value.

    Args:
        name: parameter name in the global store.
        init_tensor: initial (constrained) value, or a function returning it; used only when
            the parameter does not exist yet.
        constraint: the set the parameter lives in; it is optimised in unconstrained space.
        event_dim: number of rightmost dims that are not batch dims; a subsampled plate then
            subsamples the parameter's batch dims.
        tags: tag(s) to attach to the parameter (Pyro 0.1 API).

    Returns:
        The constrained value; ``value.unconstrained()`` returns the leaf tensor optimisers update.
    """
    store_get = _PYRO_PARAM_STORE.get_param
    if not _PYRO_STACK:
        return store_get(name, init_tensor, constraint, event_dim, tags)
    args = (name,) if init_tensor is None else (name, init_tensor)
    kwargs: Dict[str, Any] = {"constraint": constraint, "event_dim": event_dim}
    if tags is not None:
        kwargs["tags"] = tags
    msg = new_message("param", name, store_get, args, kwargs)
    apply_stack(msg)
    return msg["value"]


def module(name: str, nn_module: torch.nn.Module, update_module_params: bool = False, *,
           tags: Union[str, Iterable[str], None] = None) -> torch.nn.Module:
    """Register the parameters of ``nn_module`` in the param store as ``name$$$<param name>``.

    Args:
        name: prefix for the module's parameters.
        nn_module: a :class:`torch.nn.Module` instance.
        update_module_params: copy stored values (e.g. loaded from disk) into the module's
            parameters when they differ from the module's own.
        tags: tag(s) to attach to every parameter of the module (Pyro 0.1 API).

    Returns:
        ``nn_module``.

    A parameter with ``requires_grad=False`` is not registered; while the module is in training
    mode that is announced with Pyro's ``UserWarning`` ("... was not registered in the param
    store because requires_grad=False ...").
    """
    if not isinstance(name, str):
        raise TypeError(f"pyro.module: the name must be a str, got {type(name).__name__} {name!r}")
    if isclass(nn_module):
        raise TypeError(f"pyro.module('{name}') needs a module instance, got the class {nn_module.__name__}")
    if not hasattr(nn_module, "named_parameters"):
        raise TypeError(f"pyro.module('{name}') needs a torch.nn.Module, got {type(nn_module).__name__}")
    if "$$$" in name:
        raise ValueError(f"pyro.module name '{name}' must not contain '$$$'")
    replaced: Dict[str, torch.Tensor] = {}
    found = False
    for param_name, value in nn_module.named_parameters():
        found = True
        if not value.requires_grad:
            if nn_module.training:
                warnings.warn(
                    f"{param_name} was not registered in the param store because "
                    "requires_grad=False. You can silence this warning by calling "
                    "my_module.train(False)",
                    UserWarning,
                    stacklevel=2,
                )
            continue
        stored = param(param_with_module_name(name, param_name), value, tags=tags)
        if stored is not value:
            replaced[param_name] = stored
    if not found:
        warn_no_module_params(name, nn_module)
    if replaced and update_module_params:
        for full_name, stored in replaced.items():
            owner_name, _, attr = full_name.rpartition(".")
            owner = nn_module.get_submodule(owner_name) if owner_name else nn_module
            # Share the store's leaf tensor so that optimising one updates the other.
            owner._parameters[attr] = stored
    return nn_module


def random_module(name: str, nn_module: torch.nn.Module, prior: Any, *args: Any, **kwargs: Any) -> Callable[[], torch.nn.Module]:
    """Return a function that draws a copy of ``nn_module`` with parameters sampled from ``prior``.

    Deprecated in Pyro 1.x in favour of ``PyroModule``; kept for programs that use it.

    Args:
        name: prefix of the module's sample sites.
        nn_module: the module to randomise.
        prior: a distribution for all parameters, a dict ``param name -> distribution``, or a
            stochastic function.

    Returns:
        A function taking no arguments that returns a sampled copy of the module.
    """
    from pyro.poutine.handlers import lift

    warn_once("random_module", "pyro.random_module is deprecated; use pyro.nn.PyroModule instead")
    lifted = lift(module, prior=prior)

    def draw() -> torch.nn.Module:
        return lifted(name, copy.deepcopy(nn_module), True, *args, **kwargs)

    return draw


class plate(PlateMessenger):
    """Declare conditionally independent sites, vectorized (``with``) or sequential (``for``).

    Args:
        name: plate name, matched between model and guide.
        size: size of the full collection.
        subsample_size: minibatch size to draw; log-densities are scaled by ``size/subsample_size``.
        subsample: explicit minibatch indices.
        dim: negative batch dim; allocated automatically (rightmost free dim) when None.
        use_cuda: deprecated; use ``device``.
        device: device of the indices.

    ``with plate("data", 100, subsample_size=10) as ind:`` yields the minibatch indices;
    ``for i in plate("data", 100):`` iterates over them one at a time.
    """


def iarange(*args: Any, **kwargs: Any) -> plate:
    """Pyro 0.1 name of a vectorized :class:`plate`; use ``plate``."""
    warn_once("iarange", "pyro.iarange is deprecated; use pyro.plate instead", DeprecationWarning)
    return plate(*args, **kwargs)


def irange(*args: Any, **kwargs: Any) -> plate:
    """Pyro 0.1 name of a sequential :class:`plate`; use ``plate``."""
    warn_once("irange", "pyro.irange is deprecated; use pyro.plate instead", DeprecationWarning)
    return plate(*args, **kwargs)


def observe(name: str, fn: Any, obs: Any, *args: Any, **kwargs: Any) -> Any:
    """Pyro 0.1 observation statement; use ``pyro.sample(name, fn, obs=obs)``."""
    warn_once("observe", "pyro.observe is deprecated; use pyro.sample(name, fn, obs=...) instead")
    return sample(name, fn, *args, obs=obs, **kwargs)


def deterministic(name: str, value: torch.Tensor, event_dim: Optional[int] = None) -> torch.Tensor:
    """Record ``value`` in traces as the site ``name`` without adding to the log-density.

    Args:
        name: site name.
        value: the value to record.
        event_dim: number of rightmost dims of ``value`` that are event dims (default: all).

    Returns:
        ``value`` (or a value supplied by a handler, e.g. ``condition``).
    """
    if not isinstance(value, torch.Tensor):
        check_site_tensor("pyro.deterministic", name, "value", value, numbers_ok=False)
    return sample(name, _Deterministic(value, event_dim), obs=value, infer={"_deterministic": True})


def factor(name: str, log_factor: torch.Tensor, *, has_rsample: Optional[bool] = None) -> None:
    """Add ``log_factor`` to the log-density of the model (an unnormalised factor).

    Args:
        name: site name.
        log_factor: the term to add, batch-shaped.
        has_rsample: whether ``log_factor`` comes from reparameterised draws. Unspecified,
            the site's distribution reports ``has_rsample=False``, as in Pyro; in a guide it
            must be given (see :func:`pyro.poutine.util.check_guide_factor_sites`).
    """
    if not isinstance(log_factor, torch.Tensor):
        check_site_tensor("pyro.factor", name, "log_factor", log_factor, numbers_ok=True)
    unit = _Unit(log_factor, has_rsample=has_rsample)
    sample(name, unit, obs=unit.sample(), infer={"is_auxiliary": True})


def subsample(data: torch.Tensor, event_dim: int) -> torch.Tensor:
    """Subsample ``data`` along the dims of the enclosing subsampled plates.

    Args:
        data: a tensor whose batch dims line up with the plates' dims.
        event_dim: number of rightmost dims of ``data`` that are not batch dims.

    Returns:
        ``data`` indexed by every enclosing plate's minibatch indices.
    """
    if not isinstance(event_dim, int) or event_dim < 0:
        raise ValueError(f"subsample: event_dim must be a non-negative int, got {event_dim!r}")
    if not _PYRO_STACK:
        return data
    msg = new_message("subsample", None, lambda d, event_dim: d, (data,), {"event_dim": event_dim})
    apply_stack(msg)
    return msg["value"]


def markov(fn: Any = None, history: int = 1, keep: bool = False, dim: Optional[int] = None,
           name: Optional[str] = None) -> Any:
    """Declare a Markov chain: sites depend on at most ``history`` previous steps.

    Usable as a context (``with pyro.markov():``), an iterator over ``fn``
    (``for t in pyro.markov(range(T)):``) or a decorator of a recursive function.

    Returns:
        The messenger, the iterator, or the decorated function.
    """
    msngr = MarkovMessenger(history=history, keep=keep, dim=dim, name=name)
    if fn is None:
        return msngr
    if not callable(fn):
        return msngr.generator(iterable=fn)
    return msngr(fn)


__all__ = [
    "barrier",
    "clear_param_store",
    "deterministic",
    "enable_validation",
    "factor",
    "get_param_store",
    "iarange",
    "irange",
    "is_validation_enabled",
    "markov",
    "module",
    "observe",
    "param",
    "plate",
    "plate_stack",
    "random_module",
    "sample",
    "set_rng_seed",
    "subsample",
    "validation_enabled",
]
