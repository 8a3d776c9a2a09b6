"""Random seeds, validation switches and small helpers (``pyro.util``)."""

from __future__ import annotations

import contextlib
import random
import warnings
from typing import Any, Dict, Iterator

import torch

_VALIDATION_ENABLED = __debug__


def set_rng_seed(rng_seed: int) -> None:
    """Seed torch's, Python's and (if installed) NumPy's random number generators."""
    torch.manual_seed(rng_seed)
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


def warn_if_nan(value: Any, msg: str = "") -> Any:
    """Warn if ``value`` (number or tensor) contains NaN; return it unchanged."""
    if isinstance(value, torch.Tensor):
        if torch.isnan(value).any():
            warnings.warn(f"Encountered NaN{': ' + msg if msg else ''}", stacklevel=2)
    elif value != value:
        warnings.warn(f"Encountered NaN{': ' + msg if msg else ''}", stacklevel=2)
    return value


def warn_if_inf(value: Any, msg: str = "", allow_posinf: bool = False, allow_neginf: bool = False) -> Any:
    """Warn if ``value`` contains +inf or -inf (each may be allowed); return it unchanged."""
    t = torch.as_tensor(value)
    if (not allow_posinf and (t == float("inf")).any()) or (not allow_neginf and (t == float("-inf")).any()):
        warnings.warn(f"Encountered inf{': ' + msg if msg else ''}", stacklevel=2)
    return value


@contextlib.contextmanager
def ignore_jit_warnings(filter: Any = None) -> Iterator[None]:
    """Silence :class:`torch.jit.TracerWarning` (and optionally more warning filters) inside."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        for item in filter or ():
            if isinstance(item, type):
                warnings.filterwarnings("ignore", category=item)
            else:
                warnings.filterwarnings("ignore", message=item[0], category=item[1])
        yield


_WARNED: set = set()


def warn_once(key: str, message: str, category: type = FutureWarning) -> None:
    """Emit ``message`` only the first time ``key`` is seen in this process."""
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, category, stacklevel=3)
