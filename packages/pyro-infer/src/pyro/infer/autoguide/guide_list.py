"""Guides made of other guides: :class:`AutoGuideList` and the wrapper :class:`AutoCallable`."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Union

import torch

import pyro

from pyro.infer.autoguide.guides import AutoGuide
from pyro.infer.autoguide.initialization import init_to_sample


def _no_median(*args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
    return {}


@contextlib.contextmanager
def _shared_plates(part: Any, plates: Dict[str, Any]) -> Iterator[None]:
    """Make an :class:`AutoGuide` part use its list's plates for one call."""
    if not isinstance(part, AutoGuide) or isinstance(part, AutoCallable):
        yield
        return

    def use_shared(*args: Any, **kwargs: Any) -> Dict[str, Any]:
        part.plates = plates
        return plates

    # An instance attribute shadows the part's own _create_plates for this call only.
    part.__dict__["_create_plates"] = use_shared
    try:
        yield
    finally:
        del part.__dict__["_create_plates"]


class AutoCallable(AutoGuide):
    """Use a hand-written guide where an :class:`AutoGuide` is expected (e.g. in a list).

    Args:
        model: the model.
        guide: a guide function taking the model's arguments. An ``nn.Module`` guide becomes a
            submodule, so its parameters are this guide's.
        median: an optional function of the model's arguments returning ``{name: value}``, the
            guide's posterior median (default: ``{}``).
    """

    def __init__(self, model: Callable, guide: Callable,
                 median: Callable[..., Dict[str, torch.Tensor]] = _no_median) -> None:
        if not callable(guide):
            raise TypeError(f"AutoCallable: guide must be callable, got {guide!r}")
        super().__init__(model)
        self._guide = guide
        self._median_fn = median

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the wrapped guide and return what it returns."""
        return self._guide(*args, **kwargs)

    def median(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return the ``median`` function's result for these arguments."""
        return self._median_fn(*args, **kwargs)


class DuplicateSiteError(ValueError, RuntimeError):
    """Two parts of an :class:`AutoGuideList` guide the same latent site.

    A ``ValueError``; a ``RuntimeError`` too, the type of Pyro's "Multiple sample sites named"
    error that the guide's trace would raise.
    """


class AutoGuideList(AutoGuide, torch.nn.ModuleList):
    """A guide that runs several guides, each over its own part of the model's latent sites.

    Build each part on a blocked model so that every latent site has exactly one guide, e.g.::

        guide = AutoGuideList(model)
        guide.append(AutoDiagonalNormal(poutine.block(model, hide=["assignment"])))
        guide.append(AutoDiscreteParallel(poutine.block(model, expose=["assignment"])))

    A part appended here is renamed ``AutoGuideList.<i>``: its parameters are
    ``AutoGuideList.<i>.<param>`` in the param store. Calling the list runs the parts in order
    and returns the union of their ``{name: value}`` results.

    Args:
        model: the whole model.
        create_plates: see :class:`AutoGuide`.
    """

    _accepts_discrete = True
    init_loc_fn = staticmethod(init_to_sample)

    def __init__(self, model: Callable, *, create_plates: Optional[Callable] = None) -> None:
        super().__init__(model, create_plates=create_plates)
        self._checked_parts = 0

    def append(self, part: Callable) -> "AutoGuideList":
        """Add a guide; a plain callable is wrapped in :class:`AutoCallable`.

        Returns:
            this list.
        """
        if not isinstance(part, AutoGuide):
            if not callable(part):
                raise TypeError(f"AutoGuideList.append: part must be an AutoGuide or a callable "
                                f"guide, got {part!r}")
            part = AutoCallable(self.model, part)
        part._pyro_name = f"{self._pyro_name}.{len(self)}"
        torch.nn.ModuleList.append(self, part)
        return self

    def add(self, part: Callable) -> "AutoGuideList":
        """Same as :meth:`append`."""
        return self.append(part)

    def __getitem__(self, index: Union[int, slice]) -> Any:
        """Return the part at ``index``; a slice gives a new list sharing those parts."""
        if isinstance(index, slice):
            sub = AutoGuideList(self.model, create_plates=self.create_plates)
            for part in list(self._modules.values())[index]:
                torch.nn.ModuleList.append(sub, part)
            return sub
        return torch.nn.ModuleList.__getitem__(self, index)

    def _create_plates(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        plates: Dict[str, Any] = {}
        if self.create_plates is not None:
            made = self.create_plates(*args, **kwargs)
            plates = {p.name: p for p in (made if isinstance(made, (list, tuple)) else [made])}
        for name, frame in sorted(self._prototype_frames.items()):
            if name not in plates:
                full = frame.full_size or frame.size
                subsample_size = frame.size if full != frame.size else None
                plates[name] = pyro.plate(name, full, subsample_size=subsample_size,
                                          dim=frame.dim)
        self.plates = plates
        return plates

    def forward(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Run every part; return the union of their ``{name: value}`` results.

        The plates are made once per call and shared by the parts, so all parts see the same
        subsample.
        """
        self._ensure_prototype(*args, **kwargs)
        plates = self._create_plates(*args, **kwargs)
        result: Dict[str, torch.Tensor] = {}
        # Which part guides each latent site, checked on the first call after parts change.
        owners: Optional[Dict[str, int]] = None if getattr(self, "_checked_parts", 0) == len(self) else {}
        for i, part in enumerate(self):
            with _shared_plates(part, plates):
                if owners is not None:
                    self._claim_sites(owners, i, part, args, kwargs)
                values = part(*args, **kwargs)
            if values is None:
                continue
            if not isinstance(values, dict):
                raise TypeError(f"AutoGuideList: part {i} ({type(part).__name__}) returned "
                                f"{type(values).__name__}; a part must return a dict of its "
                                f"latent values")
            result.update(values)
        if owners is not None:
            self._checked_parts = len(self)
        return result

    def _claim_sites(self, owners: Dict[str, int], i: int, part: Any, args: tuple,
                     kwargs: dict) -> None:
        """Record the latent sites of part ``i`` in ``owners``, refusing a site that an earlier
        part already guides. The part's prototype is made here, just before the part's own
        first call would make it, so nothing else (the random draws) changes."""
        if isinstance(part, (AutoCallable, AutoGuideList)) or not hasattr(part, "_ensure_prototype"):
            return
        part._ensure_prototype(*args, **kwargs)
        for name, _ in part._stochastic_sites():
            j = owners.setdefault(name, i)
            if j != i:
                raise DuplicateSiteError(
                    f"AutoGuideList: Multiple sample sites named '{name}': part {j} "
                    f"({type(self[j]).__name__}) and part {i} ({type(part).__name__}) both guide "
                    f"it; build each part on the model blocked to its own sites, e.g. "
                    f"poutine.block(model, expose=[...]) or hide=[...]")

    def median(self, *args: Any, **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return the union of the parts' :meth:`~AutoGuide.median` results."""
        result: Dict[str, torch.Tensor] = {}
        for part in self:
            result.update(part.median(*args, **kwargs))
        return result

    def quantiles(self, quantiles: Sequence[float], *args: Any,
                  **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Return the union of the parts' ``quantiles(quantiles, ...)`` results.

        Every part must have a ``quantiles`` method (as in Pyro; :class:`AutoDelta` has none).
        """
        result: Dict[str, torch.Tensor] = {}
        for part in self:
            result.update(part.quantiles(quantiles, *args, **kwargs))
        return result


__all__ = ["AutoCallable", "AutoGuideList"]
