"""Random seeds, validation switches and small helpers (``pyro.util``)."""

from __future__ import annotations

import contextlib
import math
import numbers
import random
import sys
import warnings
from typing import Any, Dict, Iterator, Optional, Tuple, Union

import torch

from pyro._context_utils import (  # noqa: F401  (public names of pyro.util)
    ExperimentalWarning,
    ignore_experimental_warning,
    ignore_jit_warnings,
    optional,
    timed,
)

_VALIDATION_ENABLED = __debug__


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_value(value: Any) -> str:
    """``"<type name> <repr>"`` of ``value`` (the repr cut to a readable length), the way error
    messages across the packages show what they were given."""
    return f"{type(value).__name__} {short_repr(value, 100)}"


def set_rng_seed(rng_seed: int) -> None:
    """Seed torch's, Python's and (if installed) NumPy's random number generators."""
    try:
        torch.manual_seed(rng_seed)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"pyro.set_rng_seed: rng_seed must be an int, got {type(rng_seed).__name__} {rng_seed!r}"
        ) from None
    random.seed(rng_seed)
    try:
        import numpy as np
    except ImportError:
        return
    np.random.seed(rng_seed % 2**32)


def get_rng_state() -> Dict[str, Any]:
    """Return the state of torch's (and CUDA's, if used), Python's and NumPy's generators."""
    state: Dict[str, Any] = {"torch": torch.get_rng_state(), "random": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np
    except ImportError:
        return state
    state["numpy"] = np.random.get_state()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore generator states returned by :func:`get_rng_state`."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["random"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        import numpy as np

        np.random.set_state(state["numpy"])


def enable_validation(is_validate: bool = True) -> None:
    """Turn validation checks on or off: distribution arguments and support, shape and NaN checks.

    Also sets :mod:`torch.distributions`' default, so distributions built afterwards validate
    their arguments (or not).
    """
    global _VALIDATION_ENABLED
    if is_validate not in (True, False):
        raise ValueError(f"pyro.enable_validation: is_validate must be True or False, got {type(is_validate).__name__} {is_validate!r}")
    _VALIDATION_ENABLED = bool(is_validate)
    torch.distributions.Distribution.set_default_validate_args(is_validate)


def is_validation_enabled() -> bool:
    """Return whether validation checks are on."""
    return _VALIDATION_ENABLED


@contextlib.contextmanager
def validation_enabled(is_validate: bool = True) -> Iterator[None]:
    """Temporarily turn validation checks on (or off with ``is_validate=False``)."""
    old = _VALIDATION_ENABLED
    old_torch = torch.distributions.Distribution._validate_args
    try:
        enable_validation(is_validate)
        yield
    finally:
        enable_validation(old)
        torch.distributions.Distribution.set_default_validate_args(old_torch)


def torch_isnan(x: Union[torch.Tensor, numbers.Number]) -> Union[bool, torch.Tensor]:
    """Return whether ``x`` (a number or a tensor) holds a NaN.

    Returns:
        A bool for a number; a 0-dim bool tensor (any element NaN) for a tensor.
    """
    if isinstance(x, numbers.Number):
        return x != x
    return torch.isnan(x).any()


def torch_isinf(x: Union[torch.Tensor, numbers.Number]) -> Union[bool, torch.Tensor]:
    """Return whether ``x`` (a number or a tensor) holds +inf or -inf.

    Returns:
        A bool for a number; a 0-dim bool tensor (any element infinite) for a tensor.
    """
    if isinstance(x, numbers.Number):
        return x == math.inf or x == -math.inf
    return (x == math.inf).any() | (x == -math.inf).any()


def torch_float(x: Union[torch.Tensor, float, int]) -> Union[torch.Tensor, float]:
    """``x`` as floating point: a tensor through ``.float()``, a number through ``float``."""
    return x.float() if isinstance(x, torch.Tensor) else float(x)


def jit_iter(tensor: torch.Tensor) -> list:
    """The slices of ``tensor`` along its first dim, as a list, without the JIT tracer's warning
    about iterating over a tensor."""
    with ignore_jit_warnings():
        return list(tensor)


def _caller(filename: Optional[str], lineno: Optional[int]) -> Tuple[str, int]:
    # Where the user called warn_if_nan / warn_if_inf (two frames up), unless they said.
    if filename is None or lineno is None:
        frame = sys._getframe(2)
        filename = frame.f_code.co_filename if filename is None else filename
        lineno = frame.f_lineno if lineno is None else lineno
    return filename, lineno


def _encountered(what: str, msg: str, filename: str, lineno: int) -> None:
    text = f"Encountered {what}: {msg}" if msg else f"Encountered {what}."
    warnings.warn_explicit(text, UserWarning, filename, lineno)


def warn_if_nan(value: Union[torch.Tensor, numbers.Number], msg: str = "", *,
                filename: Optional[str] = None,
                lineno: Optional[int] = None) -> Union[torch.Tensor, numbers.Number]:
    """Warn (``UserWarning`` "Encountered NaN: <msg>") if ``value`` holds a NaN; return it.

    For a tensor that requires grad, also checks its gradient during the backward pass
    (warning "Encountered NaN: backward <msg>"). The warning points at the caller's line
    unless ``filename`` and ``lineno`` say otherwise. A debugging aid: it reads the tensor
    (a device sync), so keep it off per-site code. ``None`` (the gradient torch passes a hook in
    some double-backward passes) is returned as it is.
    """
    if value is None:
        return value
    filename, lineno = _caller(filename, lineno)
    if isinstance(value, torch.Tensor) and value.requires_grad:
        value.register_hook(
            lambda grad: warn_if_nan(grad, "backward " + msg, filename=filename, lineno=lineno)
        )
    if torch_isnan(value):
        _encountered("NaN", msg, filename, lineno)
    return value


def warn_if_inf(value: Union[torch.Tensor, numbers.Number], msg: str = "",
                allow_posinf: bool = False, allow_neginf: bool = False, *,
                filename: Optional[str] = None,
                lineno: Optional[int] = None) -> Union[torch.Tensor, numbers.Number]:
    """Warn if ``value`` holds +inf ("Encountered +inf: <msg>") or -inf ("Encountered -inf:
    <msg>"), unless that sign is allowed; return ``value``.

    For a tensor that requires grad, also checks its gradient during the backward pass (the
    message then reads "backward <msg>"). The warning points at the caller's line unless
    ``filename`` and ``lineno`` say otherwise. A debugging aid; keep it off per-site code.
    ``None`` is returned as it is.
    """
    if value is None:
        return value
    filename, lineno = _caller(filename, lineno)
    if isinstance(value, torch.Tensor) and value.requires_grad:
        value.register_hook(
            lambda grad: warn_if_inf(grad, "backward " + msg, allow_posinf, allow_neginf,
                                     filename=filename, lineno=lineno)
        )
    if not allow_posinf and (
        value == math.inf if isinstance(value, numbers.Number) else (value == math.inf).any()
    ):
        _encountered("+inf", msg, filename, lineno)
    if not allow_neginf and (
        value == -math.inf if isinstance(value, numbers.Number) else (value == -math.inf).any()
    ):
        _encountered("-inf", msg, filename, lineno)
    return value


_WARNED: set = set()


def warn_once(key: str, message: str, category: type = FutureWarning) -> None:
    """Emit ``message`` only the first time ``key`` is seen in this process."""
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, category, stacklevel=3)


def check_traces_match(trace1: Any, trace2: Any) -> None:
    """Check that two traces have the same sample sites, each with the same shape.

    Warns (``UserWarning``, Pyro's "Model vars changed: ... vs ...") when the sets of sample
    site names differ, then compares the sites both traces have.

    Raises:
        ValueError: a shared site's distribution shape (``batch_shape + event_shape``; the
            value's shape for a site without a distribution) differs between the traces.
    """
    vars1 = {name for name, site in trace1.nodes.items() if site["type"] == "sample"}
    vars2 = {name for name, site in trace2.nodes.items() if site["type"] == "sample"}
    if vars1 != vars2:
        warnings.warn(f"Model vars changed: {sorted(vars1)} vs {sorted(vars2)}")
    for name in sorted(vars1 & vars2):
        shape1 = _site_shape(trace1.nodes[name])
        shape2 = _site_shape(trace2.nodes[name])
        if shape1 != shape2:
            raise ValueError(f"Site dims disagree at site '{name}': {shape1} vs {shape2}")


def _site_shape(site: Dict[str, Any]) -> torch.Size:
    fn = site["fn"]
    if hasattr(fn, "batch_shape") and hasattr(fn, "event_shape"):
        return torch.Size(fn.batch_shape + fn.event_shape)
    value = site["value"]
    return value.shape if isinstance(value, torch.Tensor) else torch.Size()


# Pyro's pyro.util also holds the trace checks that the ELBOs run; here they live in
# pyro-infer, which pyro-core cannot import eagerly, so they resolve on first use (a missing
# pyro-infer raises the ModuleNotFoundError that names the package to install).
_INFER_CHECKS = {
    "check_model_guide_match": ("pyro.infer.util", "check_model_guide_match"),
    "check_site_shape": ("pyro.infer.util", "check_site_shape"),
    "check_if_enumerated": ("pyro.infer.util", "warn_if_enumerated"),
    "check_traceenum_requirements": ("pyro.infer.enum.checks", "check_traceenum_requirements"),
}


def __getattr__(name: str) -> Any:
    target = _INFER_CHECKS.get(name)
    if target is None:
        raise AttributeError(f"module 'pyro.util' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(target[0]), target[1])
