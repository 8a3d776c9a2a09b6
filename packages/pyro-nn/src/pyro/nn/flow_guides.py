"""Autoguides whose latent vector is a standard Normal pushed through a normalising flow.

pyro-nn's plugin registers them in the ``inference`` registry, so they resolve as
``pyro.infer.autoguide.AutoIAFNormal`` and ``pyro.infer.autoguide.AutoNormalizingFlow``. This
module needs pyro-infer (``pip install "pyro-nn[infer]"``); pyro-nn imports it only when a
guide is looked up.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch.distributions.transforms import Transform

import pyro
import pyro.distributions as dist
from pyro.distributions.torch_transform import ComposeTransformModule
from pyro.infer.autoguide import AutoContinuous
from pyro.nn._module_attrs import _takes_one_argument
from pyro.nn.dense_nn import check_int, check_int_list
from pyro.nn.flows.affine_autoregressive import _KWARGS as _IAF_KWARGS
from pyro.nn.flows.affine_autoregressive import affine_autoregressive
from pyro.nn.flows.util import check_clips, check_kwargs


class AutoNormalizingFlow(AutoContinuous):
    """A guide whose latent vector is ``transform(z)`` with ``z`` a standard Normal.

    The first call lays out the model's latent sites in a vector of ``latent_dim`` elements and
    builds ``guide.transform = init_transform_fn(latent_dim)``. A learnable transform (a
    ``torch.nn.Module``) has its parameters in the param store as
    ``<GuideName>.transform$$$<parameter name>``.

    Args:
        model: the model.
        init_transform_fn: a function of the latent dimension returning a ``Transform`` (or a
            ``TransformModule`` when it has parameters), for example
            ``functools.partial(T.iterated, 2, T.planar)`` or
            ``lambda d: ComposeTransformModule([T.planar(d), T.affine_autoregressive(d)])``.

    Example::

        guide = AutoNormalizingFlow(model, lambda dim: T.affine_autoregressive(dim))
        svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO())
    """

    def __init__(self, model: Callable, init_transform_fn: Callable[[int], Any]) -> None:
        if not callable(init_transform_fn):
            raise TypeError(
                f"{type(self).__name__}: init_transform_fn must be a function of the latent "
                f"dimension, got {type(init_transform_fn).__name__}")
        if not _takes_one_argument(init_transform_fn):
            raise TypeError(
                f"{type(self).__name__}: init_transform_fn must take one argument (the latent "
                f"dimension), got {getattr(init_transform_fn, '__name__', init_transform_fn)}"
                f"{inspect.signature(init_transform_fn)}")
        super().__init__(model)
        self._init_transform_fn = init_transform_fn
        self.transform: Any = None

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        ref = self._init_loc()
        self._base_loc = torch.zeros_like(ref)
        transform = self._init_transform_fn(self.latent_dim)
        parts = transform if isinstance(transform, (list, tuple)) else [transform]
        if not parts or not all(isinstance(t, Transform) for t in parts):
            text = repr(transform)
            raise ValueError(
                f"{type(self).__name__}: init_transform_fn({self.latent_dim}) returned "
                f"{type(transform).__name__} {text[:60]}; expected a Transform (or a "
                "TransformModule) of vectors of that size"
            )
        if isinstance(transform, torch.nn.Module):
            transform = transform.to(device=ref.device, dtype=ref.dtype)
        self.transform = transform

    def get_base_dist(self) -> dist.Distribution:
        """Return a standard Normal over the latent vector."""
        self._ready()
        loc = self._base_loc
        return dist.Normal(loc, torch.ones_like(loc)).to_event(1)

    def get_transform(self, *args: Any, **kwargs: Any) -> Any:
        """Return the flow, after registering its parameters in the param store."""
        self._ready()
        if isinstance(self.transform, torch.nn.Module):
            pyro.module(f"{self._pyro_name}.transform", self.transform)
        return self.transform

    def get_posterior(self, *args: Any, **kwargs: Any) -> dist.Distribution:
        """Return the flow's distribution over the latent vector."""
        transform = self.get_transform(*args, **kwargs)
        return dist.TransformedDistribution(self.get_base_dist(), transform)


class AutoIAFNormal(AutoNormalizingFlow):
    """An :class:`AutoNormalizingFlow` of inverse autoregressive (affine autoregressive) flows.

    Builds ``num_transforms`` ``affine_autoregressive`` flows of the latent dimension, composed
    in a ``ComposeTransformModule`` (each network has its own random order).

    Args:
        model: the model.
        hidden_dim: widths of each network's hidden layers, a list of ints (an int means one
            layer); default ``[3 * latent_dim + 1]``.
        init_loc_fn: not used (as in Pyro, passing one gives a ``FutureWarning``).
        num_transforms: how many flows to compose (default 1).
        **init_transform_kwargs: passed to each ``affine_autoregressive`` (e.g. ``stable=True``,
            ``sigmoid_bias``, ``log_scale_min_clip``).
    """

    def __init__(self, model: Callable, hidden_dim: Optional[Union[int, Sequence[int]]] = None,
                 init_loc_fn: Optional[Callable] = None, num_transforms: int = 1,
                 **init_transform_kwargs: Any) -> None:
        if init_loc_fn:
            warnings.warn(
                "The `init_loc_fn` argument to AutoIAFNormal is not used in practice. Please "
                "consider removing, as this may be removed in a future release.",
                category=FutureWarning,
                stacklevel=2,
            )
        if isinstance(num_transforms, bool) or not isinstance(num_transforms, int) \
                or num_transforms < 1:
            raise ValueError(f"AutoIAFNormal: num_transforms must be a positive int, got "
                             f"{num_transforms!r}")
        if init_transform_kwargs:
            check_kwargs("AutoIAFNormal", init_transform_kwargs, _IAF_KWARGS)
            check_clips("AutoIAFNormal", init_transform_kwargs.get("log_scale_min_clip", -5.0),
                        init_transform_kwargs.get("log_scale_max_clip", 3.0))
        if isinstance(hidden_dim, Sequence) and not isinstance(hidden_dim, str):
            check_int_list("AutoIAFNormal", "hidden_dim", hidden_dim)
        elif hidden_dim is not None:
            check_int("AutoIAFNormal", "hidden_dim", hidden_dim)
        hidden_dims = [hidden_dim] if isinstance(hidden_dim, int) else hidden_dim

        def init_transform_fn(dim: int) -> ComposeTransformModule:
            return ComposeTransformModule([
                affine_autoregressive(dim, hidden_dims=hidden_dims, **init_transform_kwargs)
                for _ in range(num_transforms)
            ])

        super().__init__(model, init_transform_fn)


__all__ = ["AutoIAFNormal", "AutoNormalizingFlow"]
