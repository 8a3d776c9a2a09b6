"""``poutine.collapse``: sum the discrete sites of a block out of the model exactly.

Registered as ``pyro.poutine.collapse`` (and ``CollapseMessenger``) by pyro-infer's plugin.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, List, Optional

from pyro.infer.enum.factors import compute_log_probs
from pyro.infer.enum.messenger import _layout
from pyro.infer.enum.traceenum_elbo import compute_enum_elbo
from pyro.poutine.messenger import Messenger, bind, check_callable
from pyro.poutine.plate_messenger import PlateMessenger, block_plate
from pyro.poutine.runtime import _PYRO_STACK
from pyro.poutine.trace_struct import Trace
from pyro.poutine.util import site_is_subsample
from pyro.primitives import factor


class CollapseMessenger(Messenger):
    """Replace the sample sites of a block by one factor: their joint, with the block's
    unobserved discrete sites summed out.

    Inside the block, each unobserved site with a finite support takes all its values at once,
    laid out along a fresh batch dim left of every plate (as parallel enumeration does), so code
    after it computes with every value; observed sites are scored at those values. When the block
    ends, the sites' log-densities are contracted (a sum over the values, a product over plates)
    and the result is added to the model as the factor site ``_collapse_<first site>``. Handlers
    outside the block see that factor and none of the block's sample sites (param sites pass as
    usual), so an inference algorithm sees the model with those variables marginalised out.

    Pyro's collapse also integrates out continuous variables with known conjugacy, through
    ``funsor`` values; this one handles discrete variables only and raises for a continuous
    unobserved site. Like Pyro's, it is experimental.

    Args:
        first_available_dim: the rightmost batch dim the enumerated values may use (negative).
            Default: the dim left of the plates enclosing the block. With plates inside the
            block, give ``-1 - max_plate_nesting``.
    """

    def __init__(self, first_available_dim: Optional[int] = None) -> None:
        super().__init__()
        if first_available_dim is not None and first_available_dim >= 0:
            raise ValueError(
                f"collapse: first_available_dim must be negative, got {first_available_dim}"
            )
        self.first_available_dim = first_available_dim

    def __enter__(self) -> "CollapseMessenger":
        # The plates enclosing the block, innermost first: the block's sites go through them by
        # hand, as the stack would take them there if the block did not stop the sites.
        self._plates: List[PlateMessenger] = [
            f for f in reversed(_PYRO_STACK) if isinstance(f, PlateMessenger)
        ]
        dim = self.first_available_dim
        if dim is None:
            dim = min([p.dim for p in self._plates if p.dim is not None], default=0) - 1
        self._next_dim = dim
        self._labels: Dict[int, str] = {}
        self._trace = Trace()
        super().__enter__()
        return self

    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        for plate in self._plates:
            plate._process_message(msg)
        msg["stop"] = True
        if site_is_subsample(msg):
            return
        infer = msg["infer"] = dict(msg["infer"])
        infer["_enum_labels"] = self._labels
        for frame in msg["cond_indep_stack"]:
            if frame.dim in self._labels:
                raise ValueError(
                    f"collapse: site '{msg['name']}' is in plate '{frame.name}' at dim "
                    f"{frame.dim}, which site '{self._labels[frame.dim]}' is summed out along; "
                    f"give collapse a first_available_dim left of every plate "
                    f"(-1 - max_plate_nesting)"
                )
        if msg["done"] or msg["is_observed"]:
            return
        fn = msg["fn"]
        if not getattr(fn, "has_enumerate_support", False):
            raise NotImplementedError(
                f"collapse: site '{msg['name']}' ({type(fn).__name__}) has no finite support; "
                f"only discrete sites can be collapsed here (Pyro needs funsor for the others)"
            )
        dim = self._next_dim
        batch_shape = tuple(getattr(fn, "batch_shape", ()))
        if len(batch_shape) >= -dim and batch_shape[dim] != 1:
            raise ValueError(
                f"collapse: site '{msg['name']}' has batch_shape {batch_shape}, which uses dim "
                f"{dim}; give collapse a first_available_dim left of every plate"
            )
        event_dim = len(getattr(fn, "event_shape", ()))
        msg["value"] = _layout(fn.enumerate_support(expand=False), dim, event_dim)
        msg["done"] = True
        infer["_enumerate_dim"] = dim
        self._labels[dim] = msg["name"]
        self._next_dim = dim - 1

    def _pyro_post_sample(self, msg: Dict[str, Any]) -> None:
        if not site_is_subsample(msg):
            self._trace._add_site(msg["name"], msg.copy())

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        super().__exit__(exc_type, exc_value, traceback)
        if exc_type is not None:
            return
        trace, self._trace = self._trace, Trace()
        names = [n for n, s in trace.nodes.items() if s["type"] == "sample"]
        if not names:
            return
        compute_log_probs(trace)
        log_marginal = compute_enum_elbo(trace, Trace())
        # The sum already covers the enclosing plates (and their subsample scale): the factor
        # sits outside them.
        with contextlib.ExitStack() as stack:
            for plate in self._plates:
                stack.enter_context(block_plate(name=plate.name))
            factor(f"_collapse_{names[0]}", log_marginal)


def collapse(fn: Optional[Callable] = None, first_available_dim: Optional[int] = None) -> Any:
    """Sum the discrete sites of ``fn`` (or of a ``with`` block) out of the model exactly; see
    :class:`CollapseMessenger`."""
    check_callable(fn)
    return bind(CollapseMessenger(first_available_dim=first_available_dim), fn)


__all__ = ["CollapseMessenger", "collapse"]
