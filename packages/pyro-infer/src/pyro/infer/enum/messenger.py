"""``enum``: give discrete sample sites every value of their support at once, along a fresh dim.

Parallel enumeration replaces the value of a site marked ``infer={"enumerate": "parallel"}`` by
the site's whole support, laid out along a batch dim of its own to the left of every plate
(``first_available_dim`` and further left). Later sites that depend on it broadcast along that
dim, so one run of the model evaluates every assignment of the enumerated sites; an inference
algorithm such as :class:`~pyro.infer.TraceEnum_ELBO` then sums the resulting log-densities out.

Every sample site the handler sees records, in ``msg["infer"]["_enum_labels"]``, which
enumerated site owns each enumeration dim at that moment (``dim -> site name``). Inside
:func:`pyro.markov`, dims of sites that fell out of the Markov window are handed to new sites,
so two sites may share a dim over a run; the labels tell them apart.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Set

import torch

from pyro.poutine.messenger import Messenger, bind
from pyro.poutine.util import site_is_subsample

_EMPTY: Dict[int, str] = {}


def _layout(value: torch.Tensor, dim: int, event_dim: int) -> torch.Tensor:
    """Reshape a support of shape ``(K,) + (1,) * n + event`` to put K at batch dim ``dim``."""
    event_shape = value.shape[value.dim() - event_dim:] if event_dim else ()
    return value.reshape((value.shape[0],) + (1,) * (-dim - 1) + tuple(event_shape))


def _tmc_draws(fn: Any, n: int, dim: int, first_available_dim: int, tmc: str) -> torch.Tensor:
    """``n`` draws of ``fn`` laid out along the enumeration dim ``dim``, one per particle.

    Where ``fn`` depends on enumerated sites upstream (its batch shape has a size above one at
    an enumeration dim), particle ``i`` keeps the draw made from one ancestor value per such dim
    and the dim collapses to size 1: ancestor ``i`` itself for ``tmc="diagonal"`` (the upstream
    particle of the same index; a uniform choice where that dim does not hold ``n`` values) or a
    uniform choice for ``tmc="mixture"`` (each draw then comes from the mixture over ancestors).
    """
    batch_shape = tuple(fn.batch_shape)
    fat = fn.sample((n,))  # (n,) + batch_shape + event_shape
    for d in range(-len(batch_shape), min(first_available_dim, -1) + 1):
        size = batch_shape[d]
        if size == 1:
            continue
        axis = 1 + len(batch_shape) + d
        if tmc == "diagonal" and size == n:
            ancestors = torch.arange(n, device=fat.device)
        else:
            ancestors = torch.randint(size, (n,), device=fat.device)
        index_shape = [n] + [1] * (fat.dim() - 1)
        expanded = list(fat.shape)
        expanded[axis] = 1
        index = ancestors.reshape(index_shape).expand(expanded)
        fat = fat.gather(axis, index)
    event_shape = tuple(fat.shape[1 + len(batch_shape):])
    # The thinned batch shape has size 1 at every enumeration dim; keep the plate dims right of
    # ``dim`` and put the particles at ``dim``.
    kept = tuple(fat.shape[1:1 + len(batch_shape)])[max(0, len(batch_shape) + dim + 1):]
    return fat.reshape((n,) + (1,) * (-dim - 1 - len(kept)) + kept + event_shape)


class EnumMessenger(Messenger):
    """Enumerate sample sites marked ``infer={"enumerate": "parallel"}`` in parallel.

    Each such site gets a new dim ``d <= first_available_dim`` and the value
    ``fn.enumerate_support(expand=False)`` reshaped to have its support along ``d`` (and size 1
    at every other batch dim), or, with ``infer["expand"]=True``, expanded to the full batch
    shape. With ``infer["num_samples"]=n`` the site instead gets ``n`` draws along ``d`` (for
    distributions without a finite support too), one per particle: ``infer["tmc"]`` says how a
    particle picks the values of enumerated sites upstream (``"diagonal"``: the particle of the
    same index; ``"mixture"``: a uniformly chosen one), so the value has size 1 at their dims.

    Inside :func:`pyro.markov` a site may reuse the dim of a site that is no longer in its
    Markov window; outside any Markov context dims are never reused within a run.

    Args:
        first_available_dim: the rightmost dim enumeration may use; ``-1 - max_plate_nesting``
            where ``max_plate_nesting`` is the deepest plate nesting of the model.

    Example::

        @config_enumerate
        def model():
            z = pyro.sample("z", dist.Categorical(torch.ones(3) / 3))
            ...

        tr = poutine.trace(poutine.enum(model, first_available_dim=-1)).get_trace()
        tr.nodes["z"]["value"]  # tensor([0, 1, 2])
    """

    def __init__(self, first_available_dim: Optional[int] = None) -> None:
        super().__init__()
        if first_available_dim is not None and first_available_dim >= 0:
            raise ValueError(
                f"enum: first_available_dim must be negative, got {first_available_dim}"
            )
        self.first_available_dim = first_available_dim
        self._start_run()

    # ----- per-run state ------------------------------------------------------------------
    def _start_run(self) -> None:
        # Dims strictly left of _next_dim have never been handed out in this run.
        self._next_dim = self.first_available_dim
        self._global_dims: Set[int] = set()
        self._name_to_dim: Dict[str, int] = {}
        # dim -> name of the site holding it now; replaced (never mutated) on every change so
        # that the snapshots stored in sites stay valid.
        self._labels: Dict[int, str] = _EMPTY

    def __enter__(self) -> "EnumMessenger":
        self._start_run()
        return super().__enter__()

    def _reset(self) -> None:
        self._start_run()

    @property
    def next_available_dim(self) -> Optional[int]:
        """The rightmost dim no site of the latest run used (a later run may start there)."""
        return self._next_dim

    def _occupy(self, name: str, dim: int, scoped: bool) -> None:
        self._name_to_dim[name] = dim
        if not scoped:
            self._global_dims.add(dim)
        if self._next_dim is None or dim <= self._next_dim:
            self._next_dim = dim - 1
        labels = dict(self._labels)
        labels[dim] = name
        self._labels = labels

    def _allocate(self, msg: Dict[str, Any]) -> int:
        if self._next_dim is None:
            raise ValueError(
                f"site '{msg['name']}' is marked for parallel enumeration but no "
                f"first_available_dim is known: pass max_plate_nesting to the ELBO or wrap the "
                f"model in poutine.enum(first_available_dim=-1 - max_plate_nesting)"
            )
        scope = msg["infer"].get("_markov_scope")
        if scope is None:
            return self._next_dim
        busy = set(self._global_dims)
        for other in scope:
            d = self._name_to_dim.get(other)
            if d is not None:
                busy.add(d)
        # Dims the distribution is batched along are taken too: with ``expand=True`` a value
        # carries the dims of sites that have since left the window.
        batch_shape = getattr(msg["fn"], "batch_shape", ())
        for d in range(-len(batch_shape), self.first_available_dim + 1):
            if batch_shape[d] != 1:
                busy.add(d)
        dim = self.first_available_dim
        while dim in busy:
            dim -= 1
        return dim

    # ----- the handler --------------------------------------------------------------------
    def _pyro_sample(self, msg: Dict[str, Any]) -> None:
        if site_is_subsample(msg):
            return
        infer = msg["infer"]
        if msg["done"]:
            # A value decided elsewhere, e.g. replayed from a guide trace whose infer dict the
            # message now shares: copy it before recording this run's labels.
            infer = msg["infer"] = dict(infer)
            dim = infer.get("_enumerate_dim")
            if dim is not None:
                # Enumerated elsewhere (e.g. by the guide): it keeps its dim.
                self._occupy(msg["name"], dim, "_markov_scope" in infer)
            infer["_enum_labels"] = self._labels
            return
        if msg["is_observed"] or infer.get("enumerate") != "parallel":
            infer["_enum_labels"] = self._labels
            return
        fn = msg["fn"]
        dim = self._allocate(msg)
        batch_shape = tuple(getattr(fn, "batch_shape", ()))
        if len(batch_shape) >= -dim and batch_shape[dim] != 1:
            raise ValueError(
                f"site '{msg['name']}': Enumeration dim conflict: dim {dim} is taken by the "
                f"distribution's batch_shape {batch_shape}; increase max_plate_nesting "
                f"(enumeration starts at "
                f"first_available_dim={self.first_available_dim})"
            )
        event_dim = len(getattr(fn, "event_shape", ()))
        num_samples = infer.get("num_samples")
        if num_samples is not None:
            first = dim if self.first_available_dim is None else self.first_available_dim
            value = _tmc_draws(fn, num_samples, dim, first, infer.get("tmc", "diagonal"))
        else:
            if not getattr(fn, "has_enumerate_support", False):
                raise ValueError(
                    f"site '{msg['name']}' is marked for parallel enumeration but its "
                    f"distribution {type(fn).__name__} has no finite support; use "
                    f"infer={{'enumerate': 'parallel', 'num_samples': n}} or do not enumerate it"
                )
            value = _layout(fn.enumerate_support(expand=False), dim, event_dim)
        if infer.get("expand", False):
            shape = torch.broadcast_shapes(
                value.shape[: value.dim() - event_dim], batch_shape
            ) + value.shape[value.dim() - event_dim:]
            value = value.expand(shape)
        msg["value"] = value
        msg["done"] = True
        infer["_enumerate_dim"] = dim
        self._occupy(msg["name"], dim, "_markov_scope" in infer)
        infer["_enum_labels"] = self._labels


def enum(fn: Optional[Callable] = None, first_available_dim: Optional[int] = None) -> Any:
    """Enumerate the sites of ``fn`` marked ``infer={"enumerate": "parallel"}`` in parallel.

    See :class:`EnumMessenger`. Without ``fn``, returns the messenger (a context manager).
    """
    return bind(EnumMessenger(first_available_dim=first_available_dim), fn)

