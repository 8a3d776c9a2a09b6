"""``broadcast``: expand each sample site's distribution to the batch shape its plates declare."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch

from pyro.poutine.messenger import Messenger
from pyro.poutine.plate_messenger import _Subsample


def plate_batch_shape(name: Optional[str], batch_shape: Sequence[int],
                      frames: Sequence[Any]) -> torch.Size:
    """Return ``batch_shape`` widened to the vectorized plates in ``frames``.

    Each frame with a dim and a known size claims that dim: the result has the plate's size
    there (the existing size must be 1 or already the plate's). Dims no plate claims keep their
    size, and new ones on the left are 1.

    Raises:
        ValueError: a dim of ``batch_shape`` is neither 1 nor the size of the plate claiming it;
            the message names the plate, the site ``name`` and both sizes.
    """
    # None marks a dim whose size is still open: a size-1 dim, or a new dim on the left.
    target: List[Optional[int]] = [None if size == 1 else size for size in batch_shape]
    for frame in frames:
        dim, size = frame.dim, frame.size
        if dim is None or size == -1:
            continue
        if -dim > len(target):
            target = [None] * (-dim - len(target)) + target
        if target[dim] is not None and target[dim] != size:
            raise ValueError(
                f"Shape mismatch inside plate('{frame.name}') at site {name} dim {dim}, "
                f"{size} vs {target[dim]}"
            )
        target[dim] = size
    return torch.Size(1 if size is None else size for size in target)


class BroadcastMessenger(Messenger):
    """Expand the distribution of every enclosed sample site to its plates' batch shape.

    The plates a site is in are read from its ``cond_indep_stack``, so the messenger works
    wherever it is on the stack relative to handlers that add frames; it is normally put
    outermost (``poutine.broadcast(model)``). :func:`pyro.plate` broadcasts by itself; this
    handler is for frames added by other handlers and for Pyro 0.2 style code that asked for it
    explicitly. Sites already ``done`` and non-distribution ``fn`` values are left alone.
    """

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if msg["done"]:
            return
        fn = msg["fn"]
        batch_shape = getattr(fn, "batch_shape", None)
        if batch_shape is None or type(fn) is _Subsample:
            return
        target = plate_batch_shape(msg["name"], batch_shape, msg["cond_indep_stack"])
        if target == batch_shape:
            return
        expanded = fn.expand(target)
        # A user may have switched reparameterised sampling off on this very instance.
        if expanded.has_rsample != fn.has_rsample:
            expanded.has_rsample = fn.has_rsample
        msg["fn"] = expanded
