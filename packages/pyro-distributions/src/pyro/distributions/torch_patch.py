"""Methods Pyro 1.9 adds to torch's classes, added here on import as Pyro does.

- ``Transform.clear_cache()``: forget the cached ``(x, y)`` pair of a transform made with
  ``cache_size=1`` (a composition forgets its parts' pairs too). Flows call it between training
  steps; user code calls it on any torch transform.
- ``TransformedDistribution.clear_cache()``: the same for each of its transforms (Pyro's flow
  tutorial calls ``flow_dist.clear_cache()`` after each optimizer step).
"""

from __future__ import annotations

from torch.distributions import TransformedDistribution
from torch.distributions.transforms import ComposeTransform, Transform


def _clear_cache(self: Transform) -> None:
    """Forget the cached input/output pair (nothing to do without a cache)."""
    if getattr(self, "_cache_size", 0) == 1:
        self._cached_x_y = None, None
    if isinstance(self, ComposeTransform):
        for part in self.parts:
            part.clear_cache()


def _clear_transforms_cache(self: TransformedDistribution) -> None:
    """Forget the cached pair of every transform of the distribution."""
    for transform in self.transforms:
        transform.clear_cache()


if not hasattr(Transform, "clear_cache"):
    Transform.clear_cache = _clear_cache  # type: ignore[attr-defined]
if not hasattr(TransformedDistribution, "clear_cache"):
    TransformedDistribution.clear_cache = _clear_transforms_cache  # type: ignore[attr-defined]

__all__: list = []
