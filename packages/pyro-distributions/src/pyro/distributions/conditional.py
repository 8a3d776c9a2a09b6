"""Distributions and transforms that depend on a context: ``.condition(context)`` gives the
ordinary object.

A conditional normalising flow is a :class:`ConditionalTransformedDistribution` of a base
distribution (conditional or not) and transforms (conditional or not); conditioning it on a
context conditions every conditional part and returns a
:class:`~torch.distributions.TransformedDistribution`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable, List, Sequence, Union

import torch
from torch.distributions import Distribution as TorchDistributionBase
from torch.distributions.transforms import Transform

from pyro.distributions.torch import TransformedDistribution
from pyro.distributions.torch_transform import ComposeTransformModule


class ConditionalDistribution(ABC):
    """A family of distributions indexed by a context."""

    @abstractmethod
    def condition(self, context: torch.Tensor) -> TorchDistributionBase:
        """The distribution for ``context``."""
        raise NotImplementedError


class ConditionalTransform(ABC):
    """A family of transforms indexed by a context."""

    @abstractmethod
    def condition(self, context: torch.Tensor) -> Transform:
        """The transform for ``context``."""
        raise NotImplementedError


class ConditionalTransformModule(ConditionalTransform, torch.nn.Module):
    """A :class:`ConditionalTransform` with learnable parameters (a :class:`torch.nn.Module`).

    ``inv`` is the conditional inverse: ``flow.inv.condition(c)`` is ``flow.condition(c).inv``
    and ``flow.inv.inv`` is ``flow``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

    def __hash__(self) -> int:
        return torch.nn.Module.__hash__(self)

    @property
    def inv(self) -> "ConditionalTransformModule":
        return _ConditionalInverseTransformModule(self)


class _ConditionalInverseTransformModule(ConditionalTransformModule):
    """The inverse of a conditional transform module (its parameters are the original's)."""

    def __init__(self, transform: ConditionalTransformModule) -> None:
        super().__init__()
        self._transform = transform

    @property
    def inv(self) -> ConditionalTransformModule:
        return self._transform

    def condition(self, context: torch.Tensor) -> Transform:
        return self._transform.condition(context).inv


class ConstantConditionalDistribution(ConditionalDistribution):
    """A distribution that ignores the context: ``condition`` returns it unchanged."""

    def __init__(self, base_dist: TorchDistributionBase) -> None:
        if not isinstance(base_dist, TorchDistributionBase):
            raise TypeError(
                f"ConstantConditionalDistribution: base_dist must be a Distribution, got "
                f"{type(base_dist).__name__}"
            )
        self.base_dist = base_dist

    def condition(self, context: torch.Tensor) -> TorchDistributionBase:
        return self.base_dist


class ConstantConditionalTransform(ConditionalTransform):
    """A transform that ignores the context: ``condition`` returns it unchanged."""

    def __init__(self, transform: Transform) -> None:
        if not isinstance(transform, Transform):
            raise TypeError(
                f"ConstantConditionalTransform: transform must be a Transform, got "
                f"{type(transform).__name__}"
            )
        self.transform = transform

    def condition(self, context: torch.Tensor) -> Transform:
        return self.transform

    def clear_cache(self) -> None:
        """Forget the cached input/output pair of the wrapped transform."""
        self.transform.clear_cache()


def _as_conditional_transform(t: Any) -> ConditionalTransform:
    if isinstance(t, ConditionalTransform):
        return t
    if isinstance(t, Transform):
        return ConstantConditionalTransform(t)
    raise TypeError(
        f"expected a Transform or ConditionalTransform, got {type(t).__name__}"
    )


class ConditionalComposeTransformModule(ConditionalTransformModule, torch.nn.ModuleList):
    """A composition of transforms, conditional or not; conditioning it conditions each part
    and composes the results (a :class:`~pyro.distributions.ComposeTransformModule`)."""

    def __init__(self, transforms: Sequence[Any], cache_size: int = 0) -> None:
        super().__init__()
        self.transforms = [_as_conditional_transform(t) for t in transforms]
        self.cache_size = cache_size
        for t in transforms:
            if isinstance(t, torch.nn.Module):
                self.append(t)

    def condition(self, context: torch.Tensor) -> ComposeTransformModule:
        return ComposeTransformModule(
            [t.condition(context) for t in self.transforms], cache_size=self.cache_size
        )


class ConditionalTransformedDistribution(ConditionalDistribution):
    """A base distribution pushed through transforms, any of which may depend on a context.

    Args:
        base_dist: a distribution, or a :class:`ConditionalDistribution`.
        transforms: a transform or a sequence of them, each a torch ``Transform`` or a
            :class:`ConditionalTransform`.
    """

    def __init__(
        self,
        base_dist: Union[TorchDistributionBase, ConditionalDistribution],
        transforms: Union[Transform, ConditionalTransform, Iterable[Any]],
    ) -> None:
        if isinstance(base_dist, ConditionalDistribution):
            self.base_dist: ConditionalDistribution = base_dist
        elif isinstance(base_dist, TorchDistributionBase):
            self.base_dist = ConstantConditionalDistribution(base_dist)
        else:
            raise TypeError(
                "ConditionalTransformedDistribution: base_dist must be a Distribution or a "
                f"ConditionalDistribution, got {type(base_dist).__name__}"
            )
        if isinstance(transforms, (Transform, ConditionalTransform)):
            transforms = [transforms]
        self.transforms: List[ConditionalTransform] = [
            _as_conditional_transform(t) for t in transforms
        ]

    def condition(self, context: torch.Tensor) -> TransformedDistribution:
        base = self.base_dist.condition(context)
        return TransformedDistribution(base, [t.condition(context) for t in self.transforms])

    def clear_cache(self) -> None:
        """Forget the cached pairs of the constant transforms (conditioned ones are new each
        time)."""
        for t in self.transforms:
            if isinstance(t, ConstantConditionalTransform):
                t.clear_cache()


__all__ = [
    "ConditionalComposeTransformModule",
    "ConditionalDistribution",
    "ConditionalTransform",
    "ConditionalTransformModule",
    "ConditionalTransformedDistribution",
    "ConstantConditionalDistribution",
    "ConstantConditionalTransform",
]
