"""Context managers of :mod:`pyro.util`: warning filters, conditional contexts and a timer."""

from __future__ import annotations

import contextlib
import time
import warnings
from typing import Any, Iterable, Iterator, Optional

import torch


class ExperimentalWarning(UserWarning):
    """Warns that a feature is experimental: its interface or behaviour may change."""


@contextlib.contextmanager
def ignore_experimental_warning() -> Iterator[None]:
    """Silence :class:`ExperimentalWarning` inside the block; other warnings pass."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ExperimentalWarning)
        yield


@contextlib.contextmanager
def ignore_jit_warnings(filter: Optional[Iterable[Any]] = None) -> Iterator[None]:
    """Silence warnings raised while :func:`torch.jit.trace` is tracing the block.

    Outside of JIT tracing the block runs with the warning filters untouched.

    Args:
        filter: what to silence, as ``(message_regex, category)`` pairs (a bare warning class
            stands for every message of it); default :class:`torch.jit.TracerWarning` alone.
            A filter given replaces the default.

    Raises:
        TypeError: an entry of ``filter`` is neither a pair nor a warning class.
    """
    if not torch.jit.is_tracing():
        yield
        return
    entries = [("", torch.jit.TracerWarning)] if filter is None else list(filter)
    with warnings.catch_warnings():
        for entry in entries:
            if isinstance(entry, type) and issubclass(entry, Warning):
                message, category = "", entry
            elif isinstance(entry, tuple) and len(entry) == 2:
                message, category = entry
            else:
                raise TypeError(
                    "ignore_jit_warnings: each filter entry must be a (message, category) pair "
                    f"or a warning class, got {entry!r}"
                )
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


class optional:
    """Enter ``context_manager`` only if ``condition`` holds; otherwise do nothing.

    ``with optional(poutine.scale(scale=2.0), use_scale):`` yields what the context manager's
    ``__enter__`` returns, or ``None`` when ``condition`` is false.
    """

    def __init__(self, context_manager: Any, condition: Any) -> None:
        self.context_manager = context_manager
        self.condition = condition

    def __enter__(self) -> Any:
        if self.condition:
            return self.context_manager.__enter__()
        return None

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> Any:
        if self.condition:
            return self.context_manager.__exit__(exc_type, exc_val, exc_tb)
        return None


class timed:
    """Measure the wall time of a block: ``with timed() as t: ...`` then read ``t.elapsed``.

    Attributes (set on entry and exit): ``start``, ``end`` (:func:`time.perf_counter` readings)
    and ``elapsed`` (seconds).
    """

    def __enter__(self) -> "timed":
        self.start = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        self.end = time.perf_counter()
        self.elapsed = self.end - self.start


__all__ = ["ExperimentalWarning", "ignore_experimental_warning", "ignore_jit_warnings", "optional", "timed"]
