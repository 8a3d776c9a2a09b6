"""Statistics of a stream of samples kept in constant memory (``pyro.ops.streaming``).

Each statistic takes one sample at a time with ``update``, combines with another statistic of
the same kind (over other samples) with ``merge``, and reports with ``get``. Means and variances
are kept with Welford's running sums; ``merge`` combines two such sums exactly (Chan et al.),
so statistics of chains run apart can be pooled afterwards.
:class:`~pyro.infer.mcmc.api.StreamingMCMC` uses them to summarise chains without storing them.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Callable, Dict, Hashable, Union

import torch

__all__ = ["CountMeanStats", "CountMeanVarianceStats", "CountStats", "StackStats",
           "StatsOfDict", "StreamingStats"]


class _MergeError(TypeError, AssertionError):
    """Two statistics of different kinds (an ``AssertionError`` too, as Pyro raises)."""


def _check_same(a: "StreamingStats", b: "StreamingStats") -> None:
    if type(a) is not type(b):
        raise _MergeError(f"{type(a).__name__}.merge: cannot merge a {type(b).__name__}")


class StreamingStats(ABC):
    """The base of a statistic computed one sample at a time: :meth:`update` with a sample,
    :meth:`merge` with another statistic of the same kind, :meth:`get` the result."""

    @abstractmethod
    def update(self, sample: Any) -> None:
        """Take one more sample into account."""
        raise NotImplementedError

    @abstractmethod
    def merge(self, other: "StreamingStats") -> "StreamingStats":
        """A new statistic of the samples of both ``self`` and ``other`` (neither changes)."""
        raise NotImplementedError

    @abstractmethod
    def get(self) -> Any:
        """The statistic of the samples seen so far."""
        raise NotImplementedError


class CountStats(StreamingStats):
    """The number of samples: ``get()`` is ``{"count": n}``."""

    def __init__(self) -> None:
        self.count = 0

    def update(self, sample: Any) -> None:
        """Count one more sample."""
        self.count += 1

    def merge(self, other: "CountStats") -> "CountStats":
        """The count of both streams."""
        _check_same(self, other)
        out = type(self)()
        out.count = self.count + other.count
        return out

    def get(self) -> Dict[str, int]:
        """``{"count": n}``."""
        return {"count": self.count}


def _as_float(sample: torch.Tensor) -> torch.Tensor:
    sample = torch.as_tensor(sample).detach()
    return sample if sample.is_floating_point() else sample.to(torch.get_default_dtype())


class CountMeanStats(StreamingStats):
    """The count and the mean of a stream of tensors of one shape."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: Union[float, torch.Tensor] = 0.0

    def update(self, sample: torch.Tensor) -> None:
        """Take one more tensor into the mean."""
        sample = _as_float(sample)
        self.count += 1
        self.mean = self.mean + (sample - self.mean) / self.count

    def merge(self, other: "CountMeanStats") -> "CountMeanStats":
        """The count and mean of both streams."""
        _check_same(self, other)
        out = type(self)()
        out.count = self.count + other.count
        if out.count:
            w = other.count / out.count
            out.mean = self.mean * (1 - w) + other.mean * w
        return out

    def get(self) -> Dict[str, Union[int, torch.Tensor]]:
        """``{"count": n, "mean": tensor}`` (only the count before any sample)."""
        if self.count == 0:
            return {"count": 0}
        return {"count": self.count, "mean": self.mean}


class CountMeanVarianceStats(StreamingStats):
    """The count, mean and elementwise (unbiased) variance of a stream of tensors."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: Union[float, torch.Tensor] = 0.0
        self._m2: Union[float, torch.Tensor] = 0.0

    def update(self, sample: torch.Tensor) -> None:
        """Take one more tensor into the running sums."""
        sample = _as_float(sample)
        self.count += 1
        delta = sample - self.mean
        self.mean = self.mean + delta / self.count
        self._m2 = self._m2 + delta * (sample - self.mean)

    def merge(self, other: "CountMeanVarianceStats") -> "CountMeanVarianceStats":
        """The count, mean and variance of both streams (exact pooled sums)."""
        _check_same(self, other)
        out = type(self)()
        n = self.count + other.count
        out.count = n
        if n:
            delta = other.mean - self.mean
            out.mean = self.mean + delta * (other.count / n)
            out._m2 = self._m2 + other._m2 + delta * delta * (self.count * other.count / n)
        return out

    def get(self) -> Dict[str, Union[int, torch.Tensor]]:
        """``{"count": n, "mean": tensor, "variance": tensor}`` (only the count before any
        sample).

        Raises:
            RuntimeError: after exactly one sample (no variance estimate).
        """
        if self.count == 0:
            return {"count": 0}
        if self.count < 2:
            raise RuntimeError("CountMeanVarianceStats.get: the variance needs at least two "
                               "samples, got 1")
        return {"count": self.count, "mean": self.mean,
                "variance": self._m2 / (self.count - 1)}


class StackStats(StreamingStats):
    """Every sample, stacked: ``{"count": n, "samples": tensor of shape (n,) + shape}``."""

    def __init__(self) -> None:
        self.samples: list = []

    def update(self, sample: torch.Tensor) -> None:
        """Keep one more sample."""
        self.samples.append(torch.as_tensor(sample).detach())

    def merge(self, other: "StackStats") -> "StackStats":
        """The samples of ``self`` followed by those of ``other``."""
        _check_same(self, other)
        out = type(self)()
        out.samples = self.samples + other.samples
        return out

    def get(self) -> Dict[str, Union[int, torch.Tensor]]:
        """``{"count": n, "samples": stacked}`` (only the count before any sample)."""
        if not self.samples:
            return {"count": 0}
        return {"count": len(self.samples), "samples": torch.stack(self.samples)}


class StatsOfDict(StreamingStats):
    """Statistics of samples that are dicts with a fixed set of keys, one statistic per key.

    Args:
        types: ``key -> factory`` of the statistic of that key (e.g. ``CountMeanStats``).
        default: the factory of every key not in ``types``.
    """

    def __init__(self, types: Dict[Hashable, Callable[[], StreamingStats]] = {},
                 default: Callable[[], StreamingStats] = CountStats) -> None:
        if not isinstance(types, Mapping):
            raise TypeError(f"StatsOfDict: types must be a dict of key -> statistic factory, got "
                            f"{type(types).__name__}")
        for key, factory in list(types.items()) + [("default", default)]:
            if not callable(factory):
                raise TypeError(f"StatsOfDict: the statistic factory for {key!r} must be callable "
                                f"(e.g. CountMeanStats), got {type(factory).__name__}")
        self.types = dict(types)
        self.default = default
        self.stats: Dict[Hashable, StreamingStats] = {}

    def _stat(self, key: Hashable) -> StreamingStats:
        stat = self.stats.get(key)
        if stat is None:
            stat = self.stats[key] = self.types.get(key, self.default)()
        return stat

    def update(self, sample: Dict[Hashable, Any]) -> None:
        """Update every key's statistic with its value in ``sample``."""
        if not isinstance(sample, Mapping):
            raise TypeError(f"StatsOfDict.update: sample must be a dict, got {type(sample).__name__}")
        for key, value in sample.items():
            self._stat(key).update(value)

    def merge(self, other: "StatsOfDict") -> "StatsOfDict":
        """Every key's statistics merged with ``other``'s."""
        _check_same(self, other)
        out = type(self)(self.types, self.default)
        for key in list(self.stats) + [k for k in other.stats if k not in self.stats]:
            mine, theirs = self.stats.get(key), other.stats.get(key)
            if mine is None or theirs is None:
                out.stats[key] = copy.deepcopy(mine if theirs is None else theirs)
            else:
                out.stats[key] = mine.merge(theirs)
        return out

    def get(self) -> Dict[Hashable, Any]:
        """``key -> statistic`` of every key seen."""
        return {key: stat.get() for key, stat in self.stats.items()}
