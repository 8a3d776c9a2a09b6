""":class:`Permute`: reorder the entries of one dim.

(Named ``permutation``, not ``permute``: a submodule is an attribute of the package, and
``pyro.distributions.transforms.permute`` is kept free for Pyro's ``permute`` helper.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions.transforms import Transform

from pyro.distributions import constraints


class Permute(Transform):
    """Reorder the entries of dim ``dim`` by ``permutation``: ``y = x[..., permutation]``."""

    bijective = True
    volume_preserving = True

    def __init__(self, permutation: torch.Tensor, *, dim: int = -1, cache_size: int = 1) -> None:
        if dim >= 0:
            raise ValueError(f"Permute: dim must be negative, got {dim}")
        super().__init__(cache_size=cache_size)
        self.permutation = checked_permutation(permutation)
        self.dim = dim
        self._inv_permutation = torch.empty_like(self.permutation)
        self._inv_permutation[self.permutation] = torch.arange(len(self.permutation))

    @property
    def domain(self) -> Any:  # type: ignore[override]
        return constraints.independent(constraints.real, -self.dim)

    @property
    def codomain(self) -> Any:  # type: ignore[override]
        return constraints.independent(constraints.real, -self.dim)

    @property
    def inv_permutation(self) -> torch.Tensor:
        """The permutation that undoes this one."""
        return self._inv_permutation

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < -self.dim or x.shape[self.dim] != self.permutation.shape[0]:
            self._wrong_size(x, "input")
        return x.index_select(self.dim, self.permutation.to(x.device))

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() < -self.dim or y.shape[self.dim] != self.permutation.shape[0]:
            self._wrong_size(y, "inverse's input")
        return y.index_select(self.dim, self._inv_permutation.to(y.device))

    def _wrong_size(self, x: torch.Tensor, what: str) -> None:
        raise ValueError(
            f"Permute: a permutation of {self.permutation.shape[0]} entries along dim {self.dim}, "
            f"but the {what} has shape {tuple(x.shape)}"
        )

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[: x.dim() + self.dim])

    def with_cache(self, cache_size: int = 1) -> "Permute":
        if self._cache_size == cache_size:
            return self
        return Permute(self.permutation, dim=self.dim, cache_size=cache_size)


def checked_permutation(permutation: Any) -> torch.Tensor:
    """``permutation`` as a long tensor, checked to be a 1-d reordering of ``0..n-1``."""
    if isinstance(permutation, torch.Tensor) and (permutation.dtype.is_floating_point
                                                  or permutation.dtype.is_complex):
        raise TypeError(f"Permute: permutation must hold integer indices, got dtype {permutation.dtype}")
    try:
        perm = torch.as_tensor(permutation)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"Permute: permutation must be a 1-d tensor of indices, got {permutation!r}") from e
    if perm.dtype.is_floating_point or perm.dtype.is_complex or perm.dtype == torch.bool:
        raise TypeError(f"Permute: permutation must hold integer indices, got {permutation!r}")
    perm = perm.long()
    if perm.dim() != 1:
        raise ValueError(f"Permute: permutation must be 1-d, got shape {tuple(perm.shape)}")
    # Once, when the transform is built (a device sync for a CUDA permutation).
    if not torch.equal(perm.sort().values, torch.arange(perm.shape[0], device=perm.device)):
        raise ValueError(
            f"Permute: permutation {perm.tolist() if perm.numel() <= 20 else tuple(perm.shape)} "
            f"is not a permutation of 0..{perm.shape[0] - 1}"
        )
    return perm


__all__ = ["Permute"]
