"""Indexing that keeps working when tensors gain batch or enumeration dims.

:func:`vindex` (and its wrapper :class:`Vindex`) indexes the rightmost "event" dims of a tensor
with integer tensors that broadcast against each other and against the tensor's leftmost
"batch" dims, the usual need when a discrete variable (sampled in a plate, or enumerated)
selects rows of a parameter: ``Vindex(probs)[..., z_prev, :]``. :func:`index` (and
:class:`Index`) is ordinary indexing after flattening nested index tuples.
"""

from __future__ import annotations

import numbers
from typing import Any, List, Tuple

import torch

__all__ = ["Index", "Vindex", "index", "vindex"]


def _flatten_into(args: Any, out: List[Any]) -> None:
    for arg in args:
        if isinstance(arg, tuple):
            _flatten_into(arg, out)
        elif arg is Ellipsis and out and out[-1] is Ellipsis:
            continue  # two Ellipsis in a row mean the same as one
        else:
            out.append(arg)


def index(tensor: torch.Tensor, args: Any) -> torch.Tensor:
    """Index ``tensor`` with ``args`` after flattening nested tuples.

    Lets a caller splice a whole index into one position of another, e.g. ``t`` in
    ``index(x, (Ellipsis, t))`` may be an int, a slice, or a tuple such as ``(Ellipsis, None)``
    (``x.unsqueeze(-1)``). Nested tuples are flattened into one index and consecutive
    ``Ellipsis`` merged into one; the result is then ``tensor[flat_args]``.

    Args:
        tensor: the tensor to index.
        args: an index as given to ``__getitem__``, possibly holding nested tuples.

    Returns:
        ``tensor`` indexed by the flattened ``args``.
    """
    if not isinstance(args, tuple):
        return tensor[args]
    flat: List[Any] = []
    _flatten_into(args, flat)
    return tensor[tuple(flat)]


def _index_error(message: str, tensor: torch.Tensor, args: Tuple[Any, ...]) -> IndexError:
    shapes = ", ".join(
        f"tensor{tuple(a.shape)}" if isinstance(a, torch.Tensor) else repr(a) for a in args
    )
    return IndexError(f"vindex: {message} (tensor of shape {tuple(tensor.shape)}, index [{shapes}])")


def vindex(tensor: torch.Tensor, args: Any) -> torch.Tensor:
    """Vectorised advanced indexing: index tensors broadcast with each other and the batch dims.

    Each element of ``args`` is ``Ellipsis`` (only as the first element), an integer, a slice,
    or an integer tensor. With a leading ``Ellipsis`` the other
    ``len(args) - 1`` elements index the rightmost dims of ``tensor`` (its event dims) and the
    dims to their left are batch dims. Without it, ``args`` index the leftmost dims and the
    tensor has no batch dims (dims not named are kept whole, as with ``:``).

    The result has shape ``broadcast(batch_shape, *index_shapes) + slice_sizes``: every index
    tensor and the batch dims broadcast together into the result's leftmost dims, where element
    ``b`` is ``tensor[b, ..., i1[b], :, i2[b]]`` for the indices and slices given; integers
    drop their dim and each slice keeps its (sliced) dim on the right, in order. For example,
    with ``x`` of shape ``(2, 3, 4, 5)`` and ``i``, ``j`` of shape ``(7, 1, 1)`` and ``(2, 1)``,
    ``vindex(x, (Ellipsis, i, slice(None), j))`` has shape ``(7, 2, 2, 4)``.

    When no element is a tensor of one dim or more, this is plain ``tensor[args]`` (where
    lists and ``None`` keep their usual meaning).

    Args:
        tensor: the tensor to index.
        args: the index, as given to ``__getitem__`` (a tuple, or one element).

    Returns:
        The selected elements, a new tensor (gradients flow back to ``tensor``).

    Raises:
        NotImplementedError: ``Ellipsis`` anywhere but first.
        IndexError: more indices than dims, a boolean or floating index tensor, ``None`` or a
            list beside index tensors, or index shapes that do not broadcast with each other
            and the batch shape.
    """
    if not isinstance(args, tuple):
        args = (args,)
    batched = bool(args) and args[0] is Ellipsis
    event_args = args[1:] if batched else args
    if any(a is Ellipsis for a in event_args):
        raise NotImplementedError(
            "vindex: Ellipsis is supported only as the first index (it stands for the batch dims)"
        )
    if not any(isinstance(a, torch.Tensor) and a.dim() for a in event_args):
        return tensor[args]

    if len(event_args) > tensor.dim():
        raise _index_error(f"{len(event_args)} indices for a tensor of {tensor.dim()} dims",
                           tensor, args)
    if not batched:
        event_args = event_args + (slice(None),) * (tensor.dim() - len(event_args))
    event_dim = len(event_args)
    split = tensor.dim() - event_dim
    batch_shape, event_shape = tensor.shape[:split], tensor.shape[split:]
    device = tensor.device

    # Normalise every event index to an integer tensor (kept apart from slices, whose positions
    # are known only once the broadcast batch shape is).
    indices: List[Any] = []
    index_shapes = [batch_shape]
    for arg, size in zip(event_args, event_shape):
        if isinstance(arg, slice):
            indices.append(torch.arange(*arg.indices(size), device=device))
        elif isinstance(arg, torch.Tensor):
            if arg.dtype == torch.bool or arg.is_floating_point() or arg.is_complex():
                raise _index_error(
                    f"index tensors must hold integers, got dtype {arg.dtype} (boolean masks "
                    "are not supported)", tensor, args)
            indices.append(arg)
            index_shapes.append(arg.shape)
        elif isinstance(arg, numbers.Integral) and not isinstance(arg, bool):
            indices.append(torch.tensor(int(arg), device=device))
        else:
            raise _index_error(
                f"unsupported index {arg!r}: use integers, slices or integer tensors", tensor, args)
    try:
        shape = torch.broadcast_shapes(*index_shapes)
    except RuntimeError:
        raise _index_error(
            "index shapes do not broadcast with each other and the batch shape "
            f"{tuple(batch_shape)}", tensor, args) from None

    # Index every dim of ``tensor`` with an integer tensor shaped to land in its place of the
    # result: batch dims and index tensors on the left (``shape``), one dim per slice on the
    # right. All indices being tensors, torch broadcasts them and takes one element per entry.
    num_slices = sum(isinstance(a, slice) for a in event_args)
    out_dim = len(shape) + num_slices
    full: List[torch.Tensor] = []
    for pos, size in enumerate(batch_shape):
        view = [1] * out_dim
        view[len(shape) - split + pos] = size
        full.append(torch.arange(size, device=device).reshape(view))
    slot = 0
    for arg, idx in zip(event_args, indices):
        if isinstance(arg, slice):
            view = [1] * (num_slices - slot)
            view[0] = idx.numel()
            full.append(idx.reshape(view))
            slot += 1
        else:
            full.append(idx.reshape(idx.shape + (1,) * num_slices))
    return tensor[tuple(full)]


class Index:
    """``Index(x)[args]`` is :func:`index` ``(x, args)``: indexing with nested tuples flattened.

    Args:
        tensor: the tensor to index.
    """

    def __init__(self, tensor: torch.Tensor) -> None:
        self._tensor = tensor

    def __getitem__(self, args: Any) -> torch.Tensor:
        return index(self._tensor, args)


class Vindex:
    """``Vindex(x)[..., i, j, :]`` is :func:`vindex` ``(x, (Ellipsis, i, j, slice(None)))``.

    Args:
        tensor: the tensor to index; index it with the subscript syntax.
    """

    def __init__(self, tensor: torch.Tensor) -> None:
        self._tensor = tensor

    def __getitem__(self, args: Any) -> torch.Tensor:
        return vindex(self._tensor, args)
