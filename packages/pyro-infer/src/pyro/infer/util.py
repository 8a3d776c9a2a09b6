"""Helpers shared by the inference algorithms of ``pyro.infer``.

Nothing here is on a per-site hot path that talks to plugins or networkx: these are small tensor
and trace utilities the ELBOs call while they assemble a loss.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Dict, Iterable, List, Optional, Tuple

import torch

from pyro.poutine.site_densities import site_log_prob, site_score_parts
from pyro.poutine.util import check_guide_factor_sites, site_is_subsample
from pyro.infer.dice import (  # noqa: F401  (Pyro's names of pyro.infer.util)
    Dice,
    compute_site_dice_factor,
    get_dependent_plate_dims,
    plate_log_prob_sum,
    torch_exp,
    torch_sum,
)
from pyro.util import enable_validation, is_validation_enabled, validation_enabled

__all__ = [
    "Dice",
    "MultiFrameTensor",
    "arg_structure_key",
    "check_fully_reparametrized",
    "check_model_guide_match",
    "check_site_shape",
    "compute_site_dice_factor",
    "get_dependent_plate_dims",
    "get_importance_trace",
    "get_plate_stacks",
    "enable_validation",
    "is_identically_zero",
    "is_validation_enabled",
    "plate_log_prob_sum",
    "plate_nesting",
    "site_is_subsample",
    "site_log_prob",
    "site_score_parts",
    "sum_terms",
    "torch_backward",
    "torch_exp",
    "torch_item",
    "torch_sum",
    "validation_enabled",
    "warn_if_enumerated",
    "zero_grads",
]


def torch_item(x: Any) -> Any:
    """Return ``x`` as a Python number if it is a tensor with one element, else ``x``."""
    return x.item() if isinstance(x, torch.Tensor) else x


def is_identically_zero(x: Any) -> bool:
    """Return whether ``x`` is the number zero (not a tensor: tensors are never assumed zero)."""
    return isinstance(x, numbers.Number) and x == 0


def zero_grads(tensors: Iterable[torch.Tensor]) -> None:
    """Drop the accumulated gradients of ``tensors`` (set ``.grad`` to ``None``)."""
    for p in tensors:
        if p.grad is not None:
            p.grad = None


def torch_backward(x: Any, retain_graph: Optional[bool] = None) -> None:
    """Call ``x.backward()`` if ``x`` is a tensor that requires grad; otherwise do nothing."""
    if isinstance(x, torch.Tensor) and x.requires_grad:
        x.backward(retain_graph=retain_graph)


def sum_terms(terms: List[Any]) -> Any:
    """Sum a list of scalar tensors (or numbers): one kernel when it is long, plain adds when
    short; ``0.0`` for an empty list."""
    n = len(terms)
    if n == 0:
        return 0.0
    if n == 1:
        return terms[0]
    if n > 4:
        try:
            return torch.stack(terms).sum()
        except (RuntimeError, TypeError):  # mixed dtypes/devices or numbers: fall back
            pass
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total



def sum_to_particles(value: Any, num_particles: int, particle_dim: int) -> torch.Tensor:
    """Sum a site's log-density over every dim but the particle dim ``particle_dim`` (negative);
    return shape ``(num_particles,)``. A tensor too short to reach that dim does not vary across
    particles and is broadcast; dims left of it (none in a well-formed model) are summed."""
    value = torch.as_tensor(value)
    if value.dim() < -particle_dim:
        return value.sum().expand(num_particles)
    inner = list(range(particle_dim + 1, 0))
    if inner:
        value = value.sum(inner)
    value = value.reshape(value.shape[:value.dim() - 1].numel(), value.shape[-1]).sum(0)
    return value.expand(num_particles)


def check_fully_reparametrized(guide_site: Dict[str, Any]) -> None:
    """Raise ``NotImplementedError`` (Pyro's message) when ``guide_site``, a site with
    ``score_parts`` computed, needs a score-function gradient."""
    parts = guide_site["score_parts"]
    if not is_identically_zero(parts.score_function):
        raise NotImplementedError("All distributions in the guide must be fully reparameterized.")

# ----- plates ---------------------------------------------------------------------------------
def plate_nesting(*traces: Any) -> int:
    """Return how many batch dims (counted from the right) the vectorized plates of ``traces``
    use: the largest ``-frame.dim`` over their sites."""
    deepest = 0
    for tr in traces:
        for site in tr.nodes.values():
            for frame in site.get("cond_indep_stack", ()):
                if frame.vectorized and frame.dim is not None and -frame.dim > deepest:
                    deepest = -frame.dim
    return deepest


def arg_structure_key(args: tuple, kwargs: dict) -> Any:
    """A hashable key for the structure of a run's arguments: tensor shapes, dtypes and
    devices, other hashable values themselves, unhashable ones by identity."""
    def one(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return ("T", tuple(x.shape), x.dtype, str(x.device))
        try:
            hash(x)
            return ("V", type(x).__name__, x)
        except TypeError:
            return ("I", id(x))

    return tuple(one(a) for a in args), tuple((k, one(v)) for k, v in sorted(kwargs.items()))


def _frame_key(stack: Tuple[Any, ...]) -> frozenset:
    return frozenset((f.name, f.dim) for f in stack if f.dim is not None)


def get_plate_stacks(trace: Any) -> Dict[str, List[Any]]:
    """Return ``{site name: its vectorized plate frames}`` for every sample site of ``trace``
    (Pyro's public helper, kept for user code)."""
    return {
        name: [f for f in site["cond_indep_stack"] if f.vectorized]
        for name, site in trace.nodes.items()
        if site["type"] == "sample"
    }


def sum_to_frames(value: Any, frames: frozenset, target: frozenset) -> Any:
    """Sum ``value`` over every batch dim that is not a plate of ``target``.

    ``frames`` are the ``(name, dim)`` plates of the site ``value`` belongs to. Dims of plates in
    ``target`` are kept, as are dims of size one; every other dim is summed out, so the result
    broadcasts against a tensor batched by the plates of ``target``.
    """
    if not isinstance(value, torch.Tensor) or value.dim() == 0:
        return value
    keep = {dim for name, dim in frames & target}
    ndim = value.dim()
    dims = [d for d in range(-ndim, 0) if d not in keep and value.shape[d] != 1]
    if dims:
        value = value.sum(dims, keepdim=True)
    # Leading size-one dims carry no information; drop them so shapes stay small.
    lead = 0
    while lead < value.dim() and value.shape[lead] == 1 and (lead - value.dim()) not in keep:
        lead += 1
    if lead:
        value = value.reshape(value.shape[lead:])
    return value


class MultiFrameTensor(dict):
    """Tensors grouped by the set of vectorized plates they are batched over.

    ``add(stack, tensor)`` accumulates ``tensor`` (a site's batch-shaped cost) under the plates of
    ``stack`` (a site's ``cond_indep_stack``); ``sum_to(stack)`` returns the total cost as seen by
    a site under ``stack``: batched over the plates they share, summed over the rest.
    """

    def add(self, stack: Tuple[Any, ...], value: Any) -> None:
        """Accumulate ``value`` under the vectorized plates of ``stack``."""
        key = _frame_key(stack)
        old = self.get(key)
        self[key] = value if old is None else old + value

    def sum_to(self, stack: Tuple[Any, ...]) -> Any:
        """Return the sum of every group, reduced to the vectorized plates of ``stack``."""
        target = _frame_key(stack)
        total: Any = 0.0
        for frames, value in self.items():
            total = total + sum_to_frames(value, frames, target)
        return total


# ----- model/guide checks ---------------------------------------------------------------------
def _sample_names(trace: Any) -> Tuple[set, set, set, set]:
    """One pass over ``trace``: (sample sites, latent sites, auxiliary/enumerated sites, latent
    plate subsample sites); subsample sites are in the last set only."""
    sites, latent, marked, plates = set(), set(), set(), set()
    for name, site in trace.nodes.items():
        if site["type"] != "sample":
            continue
        if site_is_subsample(site):
            if not site["is_observed"]:
                plates.add(name)
            continue
        sites.add(name)
        if not site["is_observed"]:
            latent.add(name)
        infer = site["infer"]
        if infer.get("is_auxiliary") or infer.get("_enumerate_dim") is not None:
            marked.add(name)
    return sites, latent, marked, plates


def _set_text(names: Any) -> str:
    """Site names as Pyro's warnings print them, a set literal (``{'a', 'b'}``), but sorted."""
    return "{" + ", ".join(repr(n) for n in sorted(names)) + "}"


def check_model_guide_match(model_trace: Any, guide_trace: Any,
                            max_plate_nesting: float = math.inf) -> None:
    """Warn about sites the model and guide do not share; raise where their shapes disagree.

    Warns (``UserWarning``) when the guide samples a site that the model does not have (unless
    the guide marks it ``infer={"is_auxiliary": True}``), when the model has an unobserved site
    the guide does not sample (sites the model enumerates are fine), when an auxiliary guide site
    appears in the model, and when the guide has a plate subsample site the model lacks.

    Raises:
        ValueError: a shared site has different event dims, or batch shapes that differ inside
            the rightmost ``max_plate_nesting`` dims; a :func:`pyro.factor` in the guide does not
            say ``has_rsample`` (as in Pyro).
    """
    check_guide_factor_sites(guide_trace)
    guide_vars, _, aux_marked, guide_plates = _sample_names(guide_trace)
    _, model_vars, model_marked, model_plates = _sample_names(model_trace)
    guide_nodes = guide_trace.nodes
    aux_vars = {n for n in aux_marked if guide_nodes[n]["infer"].get("is_auxiliary")}
    # enumerated by the model itself: not expected in the guide
    enum_vars = {n for n in model_marked - guide_vars
                 if model_trace.nodes[n]["infer"].get("_enumerate_dim") is not None}
    if aux_vars & model_vars:
        warnings.warn(f"Found auxiliary vars in the model: {_set_text(aux_vars & model_vars)}")
    extra = guide_vars - aux_vars - model_vars
    if extra:
        warnings.warn(
            "Found non-auxiliary vars in guide but not model, consider marking these "
            f"infer={{'is_auxiliary': True}}:\n{_set_text(extra)}"
        )
    missing = model_vars - guide_vars - enum_vars
    if missing:
        warnings.warn(f"Found vars in model but not guide: {_set_text(missing)}")

    for name in model_vars & guide_vars:
        m_fn = model_trace.nodes[name]["fn"]
        g_fn = guide_trace.nodes[name]["fn"]
        m_event = getattr(m_fn, "event_shape", None)
        g_event = getattr(g_fn, "event_shape", None)
        if m_event is None or g_event is None:
            continue
        if len(m_event) != len(g_event):
            raise ValueError(
                f"Model and guide event_dims disagree at site '{name}': "
                f"{len(m_event)} vs {len(g_event)}"
            )
        m_batch = tuple(getattr(m_fn, "batch_shape", ()))
        g_batch = tuple(getattr(g_fn, "batch_shape", ()))
        m_shape, g_shape = m_batch + tuple(m_event), g_batch + tuple(g_event)
        if m_shape == g_shape:
            continue
        # As in Pyro: the rightmost max_plate_nesting batch dims (all of them when it is inf),
        # left-padded with ones to a common length, must be equal; a size 1 does not broadcast.
        if max_plate_nesting == math.inf:
            m_tail, g_tail = m_batch, g_batch
        else:
            nest = int(max_plate_nesting)
            m_tail = m_batch[max(len(m_batch) - nest, 0):]
            g_tail = g_batch[max(len(g_batch) - nest, 0):]
        width = max(len(m_tail), len(g_tail))
        m_tail = (1,) * (width - len(m_tail)) + m_tail
        g_tail = (1,) * (width - len(g_tail)) + g_tail
        if m_tail != g_tail or m_event != g_event:
            raise ValueError(
                f"Model and guide shapes disagree at site '{name}': "
                f"{torch.Size(m_shape)} vs {torch.Size(g_shape)}"
            )

    plates_missing = guide_plates - model_plates
    if plates_missing:
        warnings.warn(f"Found plate statements in guide but not model: {sorted(plates_missing)}")


def warn_if_enumerated(guide_trace: Any) -> None:
    """Warn (``UserWarning``, as Pyro does) when guide sites are marked for enumeration but the
    loss does not enumerate: they would be sampled instead."""
    names = [name for name, site in guide_trace.nodes.items()
             if site["type"] == "sample" and site["infer"].get("enumerate") in ("sequential", "parallel")]
    if names:
        warnings.warn(
            f"Found sample sites configured for enumeration: {', '.join(names)}\n"
            "If you want to enumerate sites, you need to use TraceEnum_ELBO instead.")


def check_site_shape(site: Dict[str, Any], max_plate_nesting: float) -> None:
    """Raise if a site's log_prob shape disagrees with its enclosing plates.

    Args:
        site: a sample site with ``log_prob`` computed.
        max_plate_nesting: the number of plate dims the model may use; dims left of it are
            free (particles, enumeration).

    Raises:
        ValueError: a plate sits left of ``max_plate_nesting``; a plate dim's size disagrees
            with its plate; or a dim of size > 1 left of every plate (within
            ``max_plate_nesting``) is declared by no plate.
    """
    log_p = site.get("log_prob")
    if not isinstance(log_p, torch.Tensor):
        return
    plates = {f.dim: f for f in site["cond_indep_stack"] if f.dim is not None}
    leftmost = min(plates, default=0)
    if -leftmost > max_plate_nesting:
        raise ValueError(
            f"at site '{site['name']}', plate '{plates[leftmost].name}' uses dim {leftmost} but "
            f"max_plate_nesting={max_plate_nesting}; increase max_plate_nesting to at least "
            f"{-leftmost}"
        )
    shape = log_p.shape
    nest = len(shape) if max_plate_nesting == math.inf else min(int(max_plate_nesting), len(shape))
    for d in range(-nest, 0):
        size = shape[d]
        frame = plates.get(d)
        if frame is not None:
            if size != frame.size and size != 1 and frame.size != -1:  # -1: a plate of any size
                raise ValueError(
                    f"at site '{site['name']}', invalid log_prob shape {tuple(shape)}: dim {d} "
                    f"has size {size} but plate '{frame.name}' has size {frame.size}"
                )
        elif d < leftmost and size != 1:
            raise ValueError(
                f"at site '{site['name']}', invalid log_prob shape {tuple(shape)}: dim {d} has "
                f"size {size} but no enclosing plate declares it; wrap the site in a "
                f"pyro.plate or move the dims into the event with .to_event()"
            )


# ----- running a model against its guide ------------------------------------------------------
def prune_subsample_sites_(trace: Any) -> Any:
    """Remove plate subsample sites from ``trace`` in place and return it."""
    names = [name for name, site in trace.nodes.items() if site_is_subsample(site)]
    for name in names:
        trace.remove_node(name)
    return trace


def get_importance_trace(graph_type: str, max_plate_nesting: float, model: Any, guide: Any,
                         args: tuple, kwargs: dict, detach: bool = False) -> Tuple[Any, Any]:
    """Run ``guide``, then ``model`` replayed against it; return ``(model_trace, guide_trace)``.

    Subsample sites are removed from both traces; model sites get ``log_prob`` and guide sites
    ``score_parts`` (both scaled and masked). Under validation the model and guide are checked
    against each other and every site's log_prob shape against its plates.

    Args:
        graph_type: ``"flat"`` or ``"dense"`` (dependency edges, for TraceGraph_ELBO).
        max_plate_nesting: the number of plate dims, for shape checks.
        model, guide: the model and guide callables.
        args, kwargs: their arguments.
        detach: detach the guide's sample values from their autograd history first.
    """
    from pyro import poutine

    guide_trace = poutine.trace(guide, graph_type=graph_type).get_trace(*args, **kwargs)
    if detach:
        guide_trace.detach_()
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace),
                                graph_type=graph_type).get_trace(*args, **kwargs)
    validate = is_validation_enabled()
    if validate:
        check_model_guide_match(model_trace, guide_trace, max_plate_nesting)
        warn_if_enumerated(guide_trace)
    prune_subsample_sites_(guide_trace)
    prune_subsample_sites_(model_trace)
    model_trace.compute_log_prob()  # errors come with the trace's format_shapes() table
    guide_trace.compute_score_parts()
    if validate:
        for trace in (model_trace, guide_trace):
            for site in trace.nodes.values():
                if site["type"] == "sample":
                    check_site_shape(site, max_plate_nesting)
    return model_trace, guide_trace


# ----- JIT compilation ------------------------------------------------------------------------
def jit_compile(fn: Any, ignore_warnings: bool = False, jit_options: Optional[dict] = None) -> Any:
    """Compile a loss function of tensors with :func:`pyro.ops.jit.trace` (params as inputs)."""
    from pyro.ops.jit import trace as jit_trace

    return jit_trace(fn, ignore_warnings=ignore_warnings, jit_options=jit_options)


class JitCompiledLoss:
    """Mixin of the JIT ELBOs: compile the loss function of a model and guide once, keep it.

    A subclass defines ``_jit_loss_fn(model, guide)``, returning a function of the model's
    arguments; ``_compiled(model, guide)`` returns it compiled with :func:`jit_compile` (using
    the ELBO's ``ignore_jit_warnings`` and ``jit_options``), recompiled only when the model or
    the guide changes.
    """

    ignore_jit_warnings: bool
    jit_options: Optional[dict]

    def _jit_loss_fn(self, model: Any, guide: Any) -> Any:
        raise NotImplementedError

    def _compiled(self, model: Any, guide: Any) -> Any:
        cache = self.__dict__.get("_jit_cache")
        if cache is not None and cache[0] is model and cache[1] is guide:
            return cache[2]
        compiled = jit_compile(self._jit_loss_fn(model, guide),
                               ignore_warnings=self.ignore_jit_warnings,
                               jit_options=self.jit_options)
        self.__dict__["_jit_cache"] = (model, guide, compiled)
        return compiled
