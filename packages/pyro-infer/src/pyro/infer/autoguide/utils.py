"""Small helpers around autoguides."""

from __future__ import annotations

from typing import Callable, Iterable, Optional

import torch

from pyro import poutine
from pyro.poutine.util import site_is_subsample


def mean_field_entropy(model: Callable, args: tuple,
                       whitelist: Optional[Iterable[str]] = None) -> torch.Tensor:
    """Return the entropy of a model whose sample sites are all independent (mean field).

    It is the sum of ``site["fn"].entropy()`` over one run's sample sites (observed ones
    included, as in Pyro; subsample sites excluded). Batch dims are not summed: a site inside a
    plate broadcasts its per-element entropies into the result.

    Args:
        model: a model, e.g. a mean-field guide.
        args: the model's positional arguments, as a tuple.
        whitelist: if given, only the sites with these names contribute.

    Raises:
        NotImplementedError: a site's distribution has no ``entropy``.
    """
    if not isinstance(args, tuple):
        raise TypeError(f"mean_field_entropy: args must be a tuple, got {type(args).__name__}")
    keep = None if whitelist is None else set(whitelist)
    trace = poutine.trace(model).get_trace(*args)
    entropy: torch.Tensor = torch.tensor(0.0)
    for name, site in trace.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        if keep is not None and name not in keep:
            continue
        entropy = entropy + site["fn"].entropy()
    return entropy


__all__ = ["mean_field_entropy"]
