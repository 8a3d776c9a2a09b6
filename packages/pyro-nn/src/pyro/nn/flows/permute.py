"""The flow helper :func:`permute`: a :class:`~pyro.distributions.transforms.Permute` of the
entries of one dim, by a given or a random permutation (between other flows, so that an
autoregressive or coupling flow sees its inputs in a new order).
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch

from pyro.distributions.transforms import Permute


def permute(input_dim: int, permutation: Optional[Union[torch.Tensor, Sequence[int]]] = None,
            dim: int = -1) -> Permute:
    """Build a :class:`~pyro.distributions.transforms.Permute`.

    Args:
        input_dim: size of dim ``dim``.
        permutation: the new order, a ``LongTensor`` or sequence of the ``input_dim`` indices;
            ``None`` (default) draws one at random (``torch.randperm``).
        dim: the (negative) dim to permute.
    """
    if permutation is None:
        permutation = torch.randperm(input_dim)
    return Permute(torch.as_tensor(permutation, dtype=torch.long), dim=dim)


__all__ = ["permute"]
