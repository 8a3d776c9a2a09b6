"""Where each latent site lives in the one flat, unconstrained vector of a continuous guide.

A :class:`LatentLayout` is built once from a model's prototype trace. For every latent site it
records the slice of the flat vector that holds the site's unconstrained value, that value's
shape (the site's batch shape, plates included, then its unconstrained event shape) and the
``biject_to(support)`` transform that maps it onto the site's support. Guides that draw the
whole latent vector at once (the :class:`~pyro.infer.autoguide.AutoContinuous` family) read it
instead of each re-deriving it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Tuple

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import biject_to

Site = Dict[str, Any]


@dataclass(frozen=True)
class LatentSlot:
    """One latent site's place in the flat vector.

    Attributes:
        name: the site's name.
        site: the site's message in the prototype trace.
        start, stop: the slice ``latent[..., start:stop]`` holding its unconstrained value.
        shape: the shape of its unconstrained value (without leading sample dims).
        event_dim: the event dim of the site's distribution (constrained space).
        batch_dim: how many of the leftmost dims of ``shape`` are batch dims (plates).
        transform: ``biject_to(support)``, unconstrained -> constrained.
    """

    name: str
    site: Site
    start: int
    stop: int
    shape: torch.Size
    event_dim: int
    batch_dim: int
    transform: Transform


def _discrete_site_error(name: str) -> ValueError:
    return ValueError(
        f"Continuous inference cannot handle discrete sample site '{name}'. Consider enumerating "
        "that variable as documented in https://pyro.ai/examples/enumeration.html . If you are "
        "already enumerating, take care to hide this site when constructing an autoguide, e.g. "
        f"guide = AutoNormal(poutine.block(model, hide=['{name}']))."
    )


class LatentLayout:
    """The latent sites of a model packed into one flat unconstrained vector, in trace order.

    Args:
        sites: ``(name, site)`` pairs of the latent sample sites of a prototype trace; each
            site's ``value`` sets the shape of its slot.

    Raises:
        ValueError: a site has a discrete support.
    """

    def __init__(self, sites: Iterable[Tuple[str, Site]]) -> None:
        slots: List[LatentSlot] = []
        start = 0
        for name, site in sites:
            fn = site["fn"]
            if fn.support.is_discrete:
                raise _discrete_site_error(name)
            transform = biject_to(fn.support)
            unconstrained = transform.inv(site["value"].detach())
            stop = start + unconstrained.numel()
            event_dim = len(fn.event_shape)
            slots.append(LatentSlot(name, site, start, stop, unconstrained.shape, event_dim,
                                    site["value"].dim() - event_dim, transform))
            start = stop
        self.slots: Tuple[LatentSlot, ...] = tuple(slots)
        self.size: int = start

    def __len__(self) -> int:
        return len(self.slots)

    def pack(self, values: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Map constrained site values (``{name: value}``) to the flat unconstrained vector."""
        parts = []
        for slot in self.slots:
            unconstrained = slot.transform.inv(values[slot.name])
            if unconstrained.shape != slot.shape:
                raise ValueError(
                    f"site '{slot.name}': expected an unconstrained value of shape "
                    f"{tuple(slot.shape)}, got {tuple(unconstrained.shape)}"
                )
            parts.append(unconstrained.reshape(-1))
        return torch.cat(parts)

    def unpack(self, latent: torch.Tensor, plate_aligned: bool = False
               ) -> Iterator[Tuple[LatentSlot, torch.Tensor]]:
        """Split a flat latent (``(..., size)``) into each site's unconstrained value.

        Args:
            latent: the flat vector, with any leading dims.
            plate_aligned: how the leading dims of ``latent`` are read. ``False``: as sample
                dims, kept to the left of each site's whole shape (``(n, size)`` draws give each
                site ``(n,) + shape``). ``True``: as batch dims right-aligned with the plates,
                as a latent drawn inside enclosing plates (e.g. vectorized ELBO particles) has
                them; the dims that fall on a site's own batch dims must be 1 and take the
                site's sizes.
        """
        if latent.dim() == 0 or latent.shape[-1] != self.size:
            raise ValueError(
                f"expected a latent tensor whose rightmost dim is {self.size}, got shape "
                f"{tuple(latent.shape)}"
            )
        batch = latent.shape[:-1]
        for slot in self.slots:
            outer = batch
            if plate_aligned and slot.batch_dim:
                outer = batch[:max(0, len(batch) - slot.batch_dim)]
                if any(size != 1 for size in batch[len(outer):]):
                    raise ValueError(
                        f"site '{slot.name}': the latent's batch shape {tuple(batch)} overlaps "
                        f"the site's plate dims {tuple(slot.shape[:slot.batch_dim])}; enclosing "
                        f"plates must use dims left of the model's plates"
                    )
            yield slot, latent[..., slot.start:slot.stop].reshape(outer + slot.shape)

    @staticmethod
    def constrain(slot: LatentSlot, unconstrained: torch.Tensor) -> Tuple[torch.Tensor,
                                                                            torch.Tensor]:
        """Map a site's unconstrained value onto its support.

        Returns:
            ``(value, log_density)`` where ``log_density`` is ``log |d unconstrained / d value|``
            summed over the site's event dims: the term a ``Delta`` at ``value`` adds so that
            the guide's density is that of ``value`` rather than of ``unconstrained``.
        """
        value = slot.transform(unconstrained)
        log_density = slot.transform.inv.log_abs_det_jacobian(value, unconstrained)
        extra = log_density.dim() - (value.dim() - slot.event_dim)
        if extra > 0:
            log_density = log_density.sum(tuple(range(-extra, 0)))
        return value, log_density


__all__ = ["LatentLayout", "LatentSlot"]
