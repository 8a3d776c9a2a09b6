"""Parameter handling shared by Pyro's own univariate families: broadcasting with errors that
name the distribution and the shapes, expansion of parameters, and uniform draws for
inverse-cdf samplers."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
import torch.distributions as _td
from torch.distributions.utils import broadcast_all

from pyro.distributions.validation import construction_error, expand_error
from pyro.distributions.validation import validate_args as _validate_args


def broadcast_params(dist_name: str, **params: Any) -> tuple:
    """Broadcast the parameters (tensors or numbers) to one shape, as tensors.

    Raises:
        ValueError: the shapes do not broadcast; the message names every parameter's shape.
    """
    try:
        return broadcast_all(*params.values())
    except (RuntimeError, ValueError):
        described = ", ".join(
            f"{name}: shape {tuple(getattr(value, 'shape', ()))}" for name, value in params.items()
        )
        raise ValueError(f"{dist_name}: parameters of incompatible shapes ({described})") from None


def expand_params(dist: Any, new: Any, names: Sequence[str], batch_shape: torch.Size,
                  event_dims: Sequence[int] = ()) -> None:
    """Set on ``new`` each parameter of ``dist`` named in ``names``, expanded to ``batch_shape``.

    ``event_dims[i]`` (default 0) is the number of trailing event dims of the ``i``-th
    parameter, kept as they are.

    Raises:
        DistributionShapeError: ``batch_shape`` is not an expansion of the distribution's batch
            shape (a ``ValueError`` and a ``RuntimeError``).
    """
    for i, name in enumerate(names):
        value = getattr(dist, name)
        k = event_dims[i] if i < len(event_dims) else 0
        tail = value.shape[value.dim() - k:] if k else torch.Size()
        try:
            setattr(new, name, value.expand(batch_shape + tail))
        except RuntimeError:
            raise expand_error(dist, batch_shape) from None


def expanded_copy(dist: Any, cls: type, batch_shape: Sequence[int], _instance: Any,
                  names: Sequence[str], event_dims: Sequence[int] = ()) -> Any:
    """Return a ``cls`` like ``dist`` with the parameters ``names`` expanded to ``batch_shape``
    (see :func:`expand_params`); other attributes are not copied. Validation is not repeated:
    the new distribution keeps ``dist``'s setting for later ``log_prob`` calls."""
    batch_shape = torch.Size(batch_shape)
    new = dist._get_checked_instance(cls, _instance)
    expand_params(dist, new, names, batch_shape, event_dims)
    _td.Distribution.__init__(new, batch_shape, dist.event_shape, validate_args=False)
    new._validate_args = dist._validate_args
    return new


def check_params(dist: Any, validate_args: Optional[bool]) -> None:
    """Validate ``dist``'s parameters against its ``arg_constraints`` when ``validate_args``
    (or, when it is None, the global setting) asks for it; for a distribution built by a torch
    wrapper's constructor with validation off, so that errors name ``dist``'s own class.

    Raises:
        ValueError: a parameter violates its constraint (torch's message).
    """
    validate = _td.Distribution._validate_args if validate_args is None else validate_args
    if not validate:
        return
    dist._validate_args = True
    try:
        _validate_args(dist)
    except ValueError as e:
        raise construction_error(str(e)) from None


def open_uniform(shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
    """``Uniform(0, 1)`` draws of ``shape`` kept off 0 (a value of 0 becomes the smallest
    positive number), with ``like``'s dtype and device; the generator is consumed as by
    ``torch.rand``."""
    u = torch.rand(shape, dtype=like.dtype, device=like.device)
    return u.clamp_(min=torch.finfo(like.dtype).tiny)


__all__ = ["broadcast_params", "check_params", "expand_params", "expanded_copy", "open_uniform"]
