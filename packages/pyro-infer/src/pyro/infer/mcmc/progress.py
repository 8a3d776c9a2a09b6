"""The tqdm progress bar of an MCMC run (tqdm is optional: without it, no bar)."""

from __future__ import annotations

from typing import Any


def progress_bar(total: int, desc: str, disable: bool) -> Any:
    """A tqdm bar of ``total`` steps labelled ``desc``, or None when disabled or without tqdm."""
    if disable:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional: no bar
        return None
    return tqdm(total=total, desc=desc, unit="it", dynamic_ncols=True)


__all__ = ["progress_bar"]
