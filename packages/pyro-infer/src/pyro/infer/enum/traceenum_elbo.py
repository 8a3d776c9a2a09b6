"""``TraceEnum_ELBO``: the ELBO with discrete latent sites summed out exactly."""

from __future__ import annotations

import math
import weakref
from collections import defaultdict
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Sequence, Tuple

import torch

from pyro.infer.elbo import ELBO
from pyro.infer.enum.checks import (
    warn_multiply_sampled,
    warn_no_enumeration,
)
from pyro.infer.enum.contract import Factor, align, contract, expectation, pack, product
from pyro.infer.enum.factors import SiteInfo, contraction_log_prob, site_info
from pyro.infer.enum.marginals import compute_site_marginals
from pyro.infer.enum.sampling import sample_site_values
from pyro.infer.enum.traces import enumerated_trace_pairs
from pyro.infer.util import (
    JitCompiledLoss,
    is_validation_enabled,
    torch_item,
)
from pyro.poutine.handlers import block, condition, infer_config, replay, trace
from pyro.poutine.util import site_is_subsample

__all__ = ["JitTraceEnum_ELBO", "TraceEnum_ELBO"]

def _sampled_enum_weight(log_p: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Log-weight of one of ``num_samples`` draws: ``-log n`` in value, ``log p`` in gradient."""
    return log_p - log_p.detach() - math.log(num_samples)


def _expectation(cost: Factor, weights: Sequence[Factor], rank: Dict[Any, int],
                 cache: Dict[Any, Any]) -> torch.Tensor:
    """``sum(exp(sum(weights)) * cost)`` over every label, broadcasting by label."""
    if not weights:
        tensor = cost.tensor
        return tensor.sum() if tensor.dim() else tensor
    if len(weights) > 2:
        # A chain of guide-enumerated variables: eliminate them one at a time, upstream first,
        # rather than building their joint table (which doubles with every step).
        return expectation(cost, weights, rank, cache)
    log_w = product(list(weights))
    labels = tuple(dict.fromkeys(cost.labels + log_w.labels))
    positions = {label: i for i, label in enumerate(labels)}
    w = align(log_w, labels, positions).exp()
    c = align(cost, labels, positions)
    return (w * c).sum()


def compute_enum_elbo(model_trace: Any, guide_trace: Any) -> torch.Tensor:
    """Return the ELBO of one pair of traces, with enumerated sites summed out.

    Model sites enumerated by the model are eliminated exactly (sum over values, product over
    plates); guide-enumerated sites are averaged over with their guide probabilities; guide
    sites drawn without ``rsample`` contribute DiCE factors ``exp(log q - log q.detach())``
    (equal to 1) so that the returned tensor's gradient is an unbiased estimate of the ELBO's
    gradient. Both traces need :meth:`~pyro.poutine.Trace.compute_log_prob` first.

    Returns:
        A scalar tensor whose value is the ELBO (for the sampled, non-enumerated sites).
    """
    cache: Dict[Any, SiteInfo] = {}
    label_ordinals: Dict[Any, FrozenSet[Any]] = {}
    q_factors: Dict[str, Factor] = {}
    dice: List[Tuple[FrozenSet[Any], Factor]] = []
    costs: Dict[Tuple[FrozenSet[Any], FrozenSet[Any]], List[Factor]] = defaultdict(list)
    seq_weights: List[Tuple[FrozenSet[Any], Factor, int]] = []
    guide_nodes = guide_trace.nodes

    # ----- the guide: -log q costs, enumeration weights, score-function factors ------------
    for name, site in guide_nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        info = site_info(site, cache)
        infer = site["infer"]
        cost = pack(site["log_prob"], info.dim_labels, info.plate_sizes, name)
        costs[info.ordinal, frozenset(cost.labels) - info.ordinal].append(
            Factor(-cost.tensor, cost.labels))
        if "_enumerate_dim" in infer:
            label_ordinals[name] = info.ordinal
            log_q = site["unscaled_log_prob"]
            if infer.get("num_samples"):
                log_q = _sampled_enum_weight(log_q, infer["num_samples"])
            q_factors[name] = pack(log_q, info.dim_labels, info.plate_sizes, name)
        elif infer.get("enumerate") == "sequential":
            # This run is one value of the site (the same value at every element of its plates):
            # its probability weighs the costs of this run, element by element in its plates.
            num_values = site["fn"].enumerate_support(expand=False).shape[0]
            seq_weights.append((info.ordinal, pack(site["unscaled_log_prob"], info.dim_labels,
                                                   info.plate_sizes, name), num_values))
        elif not site["is_observed"] and not getattr(site["fn"], "has_rsample", False):
            log_q = site["unscaled_log_prob"]
            if isinstance(log_q, torch.Tensor) and log_q.requires_grad:
                dice.append((info.ordinal, pack(log_q - log_q.detach(), info.dim_labels,
                                                info.plate_sizes, name)))

    # ----- the model: sum out its own enumerated sites ---------------------------------------
    sum_labels = set()
    rank: Dict[Any, int] = {}
    terms = []
    for index, (name, site) in enumerate(model_trace.nodes.items()):
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        info = site_info(site, cache)
        infer = site["infer"]
        if "_enumerate_dim" in infer:
            if name not in q_factors:
                label_ordinals[name] = info.ordinal
                sum_labels.add(name)
                rank[name] = index
        elif (infer.get("enumerate") == "sequential" and not site["is_observed"]
              and name not in guide_nodes):
            raise NotImplementedError(
                f"site '{name}': sequential enumeration is only supported in the guide; "
                f"enumerate model sites in parallel"
            )
        if sum_labels:
            log_p = contraction_log_prob(site, name in sum_labels)
            if name in sum_labels and infer.get("num_samples"):
                # Draws from the site's own distribution: each weighs 1/n in the sum.
                log_p = _sampled_enum_weight(log_p, infer["num_samples"])
            factor = pack(log_p, info.dim_labels, info.plate_sizes, name)
            terms.append((info.ordinal, factor, site["scale"], name))
        else:
            # Nothing to sum out so far: the scaled log-density is already what we need.
            factor = pack(site["log_prob"], info.dim_labels, info.plate_sizes, name)
            terms.append((info.ordinal, factor, 1.0, name))
    if sum_labels:
        for ordinal, factors in contract(terms, sum_labels, label_ordinals, rank).items():
            for f in factors:
                costs[ordinal, frozenset(f.labels) - ordinal].append(f)
    else:
        for ordinal, factor, _, _ in terms:
            costs[ordinal, frozenset(factor.labels) - ordinal].append(factor)

    # ----- expectations under the guide ------------------------------------------------------
    total: Any = None
    q_rank = {label: i for i, label in enumerate(q_factors)}  # guide order: upstream first
    messages: Dict[Any, Any] = {}  # forward messages shared by the expectations below
    for (ordinal, enum_labels), factors in costs.items():
        cost = product(factors)
        weights = [d for o, d in dice if o <= ordinal]
        for o, w, num_values in seq_weights:
            # A cost inside the site's plates is weighted by the site's probability element by
            # element; a cost outside them does not depend on the site (plates are
            # independent), and the runs enumerate the site's values once each: 1/K per run.
            weights.append(w if o <= ordinal else Factor(torch.tensor(-math.log(num_values)), ()))
        needed = set(enum_labels)
        for d in weights:
            needed.update(label for label in d.labels if label in q_factors)
        included: Dict[str, Factor] = {}
        while needed:
            label = needed.pop()
            if label in included:
                continue
            q = q_factors.get(label)
            if q is None:
                continue
            included[label] = q
            needed.update(lab for lab in q.labels if lab in q_factors and lab not in included)
        weights.extend(included.values())
        term = _expectation(cost, weights, q_rank, messages)
        total = term if total is None else total + term
    if total is None:
        total = 0.0
    return total


class TraceEnum_ELBO(ELBO):
    """The ELBO with discrete latent sites summed out exactly rather than sampled.

    Sites marked ``infer={"enumerate": "parallel"}`` (see :func:`~pyro.infer.config_enumerate`)
    are enumerated along tensor dims left of the model's plates, in the guide or in the model:

    - a site the *model* enumerates (absent from the guide) is summed out of the model's joint
      density exactly, plates being multiplied out in the right order (tensor variable
      elimination), so the loss involves the marginal ``log p(x, z_rest)``;
    - a site the *guide* enumerates is averaged over with the guide's probabilities, giving the
      exact expectation over it.

    Sites marked ``"sequential"`` in the guide are handled by running the guide once per value
    (the seed's ``ELBO(enum_discrete=True)`` behaviour), weighting each run by its probability.
    Other guide sites are sampled; those without ``rsample`` get score-function gradients
    (DiCE factors, restricted by plates). Within a :func:`pyro.markov` context, enumeration dims
    are recycled, so an HMM of any length needs only a few dims.

    ``max_plate_nesting`` must bound the plate nesting of model and guide; it is guessed by one
    run when left ``inf``. See :class:`~pyro.infer.ELBO` for the other arguments.
    """

    #: When true (the seed's ``ELBO(enum_discrete=True)``), every discrete latent site of the
    #: guide that sets no strategy itself is enumerated: sequentially outside vectorized plates,
    #: in parallel inside them.
    enum_discrete: bool = False

    # ----- traces ---------------------------------------------------------------------------
    def _get_trace(self, model: Callable, guide: Callable, args: tuple,
                   kwargs: dict) -> List[Tuple[Any, Any]]:
        """Return ``[(model_trace, guide_trace), ...]`` of one particle.

        One pair per joint value of the guide's sequentially enumerated sites (a single pair
        when there are none); log-densities are computed.
        """
        if self.enum_discrete:
            guide = infer_config(guide, config_fn=_enum_discrete_config)
        if self.max_plate_nesting == math.inf:
            self._guess_max_plate_nesting(model, guide, args, kwargs)
        pairs = enumerated_trace_pairs(model, guide, args, kwargs, self.max_plate_nesting,
                                       check_model=warn_multiply_sampled)
        validate = is_validation_enabled()
        if (validate and self.strict_enumeration_warning
                and not getattr(self, "_warned_no_enum", False)):
            if not any(_has_enumeration(tr) for pair in pairs for tr in pair):
                self._warned_no_enum = True
                warn_no_enumeration()
        return pairs

    def _particle_elbos(self, model: Callable, guide: Callable, args: tuple,
                        kwargs: dict) -> Iterator[Any]:
        for pairs in self._get_traces(model, guide, args, kwargs):
            elbo: Any = None
            for model_trace, guide_trace in pairs:
                term = compute_enum_elbo(model_trace, guide_trace)
                elbo = term if elbo is None else elbo + term
            yield 0.0 if elbo is None else elbo

    def _scale(self) -> float:
        return 1.0 / self.num_particles

    # ----- the interface --------------------------------------------------------------------
    def loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Return the negative ELBO (exact over enumerated sites) as a float."""
        with torch.no_grad():
            loss: Any = 0.0
            for elbo in self._particle_elbos(model, guide, args, kwargs):
                loss = loss - elbo
            loss = torch_item(loss) * self._scale()
        self._warn_if_nan(loss)
        return loss

    def differentiable_loss(self, model: Callable, guide: Callable, *args: Any,
                            **kwargs: Any) -> torch.Tensor:
        """Return the negative ELBO as a differentiable tensor."""
        return self._warn_if_nan(self._differentiable_loss(model, guide, args, kwargs))

    def _differentiable_loss(self, model: Callable, guide: Callable, args: tuple,
                             kwargs: dict) -> torch.Tensor:
        """:meth:`differentiable_loss` without the NaN check (what the JIT compiles)."""
        loss: Any = 0.0
        for elbo in self._particle_elbos(model, guide, args, kwargs):
            loss = loss - elbo
        loss = torch.as_tensor(loss)
        if self.num_particles != 1:
            loss = loss * self._scale()
        return loss

    def loss_and_grads(self, model: Callable, guide: Callable, *args: Any,
                       **kwargs: Any) -> float:
        """Compute the negative ELBO, backpropagate it into the params, and return it as a float."""
        loss = 0.0
        scale = self._scale()
        for elbo in self._particle_elbos(model, guide, args, kwargs):
            particle_loss = -elbo if scale == 1.0 else -elbo * scale
            if isinstance(particle_loss, torch.Tensor):
                if particle_loss.requires_grad:
                    particle_loss.backward(retain_graph=self.retain_graph)
                loss += particle_loss.item()
            else:
                loss += particle_loss
        self._warn_if_nan(loss)
        return loss

    # ----- posterior marginals --------------------------------------------------------------
    def compute_marginals(self, model: Callable, guide: Callable, *args: Any,
                          **kwargs: Any) -> Dict[str, Any]:
        """Return the posterior marginal of each site the model enumerates.

        The guide is run once (its sampled sites fixed); the model's enumerated sites are
        marginalised exactly given those draws and the observations.

        Returns:
            A dict ``site name -> distribution`` over the site's support values, batched over
            the plates enclosing the site: of the site's own family for a ``Bernoulli``,
            ``Categorical`` (support ``0..K-1``) or ``OneHotCategorical``, otherwise an
            :class:`EnumeratedMarginal`.

        Raises:
            NotImplementedError: with ``num_particles > 1`` (as in Pyro), or when the guide
                enumerates sites sequentially.
        """
        if self.num_particles != 1:
            raise NotImplementedError(
                "TraceEnum_ELBO.compute_marginals() is not compatible with multiple particles.")
        pairs = self._get_trace(model, guide, args, kwargs)
        if len(pairs) != 1:
            raise NotImplementedError(
                "compute_marginals does not support sequentially enumerated guide sites")
        model_trace, guide_trace = pairs[0]
        return compute_site_marginals(model_trace, guide_trace)

    def sample_posterior(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> Any:
        """Draw the model's enumerated sites from their joint posterior and return the model's
        value at that draw.

        The guide is run once; given its draws and the observations, the sites the model
        enumerates are drawn jointly and exactly (forward-filter, backward-sample: one
        contraction, then the eliminated variables drawn back in reverse); the model then runs
        with those values, and what it returns is returned.

        Raises:
            NotImplementedError: as :meth:`compute_marginals` does.
        """
        if self.num_particles != 1:
            raise NotImplementedError(
                "TraceEnum_ELBO.sample_posterior() is not compatible with multiple particles.")
        with block():
            guide_trace = trace(guide).get_trace(*args, **kwargs)
            pairs = self._get_trace(model, replay(guide, trace=guide_trace), args, kwargs)
            if len(pairs) != 1:
                raise NotImplementedError(
                    "sample_posterior does not support sequentially enumerated guide sites")
            drawn = sample_site_values(*pairs[0])
            conditioned = condition(replay(model, trace=guide_trace), data=drawn)
        return conditioned(*args, **kwargs)


class JitTraceEnum_ELBO(JitCompiledLoss, TraceEnum_ELBO):
    """:class:`TraceEnum_ELBO` with the loss computation compiled by the PyTorch JIT tracer.

    The first call traces one run of the guide and the model (per set of keyword arguments and
    argument shapes); later calls run the compiled graph, which repeats the enumeration and the
    contraction without the Python of the handlers. As for :class:`JitTrace_ELBO`, the model
    and guide must be static, positional arguments tensors, and keyword arguments constants;
    params (``pyro.param``) are inputs of the graph, other tensors a closure reads are baked in
    as constants. ``ignore_jit_warnings`` and ``jit_options`` are honoured.
    """

    def _jit_loss_fn(self, model: Callable, guide: Callable) -> Callable:
        elbo = weakref.ref(self)

        def loss_fn(*args: Any, **kwargs: Any) -> torch.Tensor:
            return TraceEnum_ELBO._differentiable_loss(elbo(), model, guide, args, kwargs)

        return loss_fn

    def differentiable_loss(self, model: Callable, guide: Callable, *args: Any,
                            **kwargs: Any) -> torch.Tensor:
        """Return the negative ELBO as a differentiable tensor, from the compiled graph."""
        return self._compiled(model, guide)(*args, **kwargs)

    def loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Return the negative ELBO as a float, from the compiled graph."""
        with torch.no_grad():
            loss = self.differentiable_loss(model, guide, *args, **kwargs).item()
        self._warn_if_nan(loss)
        return loss

    def loss_and_grads(self, model: Callable, guide: Callable, *args: Any,
                       **kwargs: Any) -> float:
        """Compute the negative ELBO with the compiled graph, backpropagate it, return a float."""
        loss = self.differentiable_loss(model, guide, *args, **kwargs)
        if loss.requires_grad:
            loss.backward(retain_graph=self.retain_graph)
        loss = loss.item()
        self._warn_if_nan(loss)
        return loss


def _enum_discrete_config(msg: Dict[str, Any]) -> Dict[str, Any]:
    if (msg["type"] != "sample" or msg["is_observed"] or "enumerate" in msg["infer"]
            or site_is_subsample(msg) or not getattr(msg["fn"], "has_enumerate_support", False)):
        return {}
    plated = any(frame.dim is not None for frame in msg["cond_indep_stack"])
    return {"enumerate": "parallel" if plated else "sequential"}


def _has_enumeration(tr: Any) -> bool:
    for site in tr.nodes.values():
        if site["type"] == "sample" and (
            "_enumerate_dim" in site["infer"] or site["infer"].get("enumerate") == "sequential"
        ):
            return True
    return False

