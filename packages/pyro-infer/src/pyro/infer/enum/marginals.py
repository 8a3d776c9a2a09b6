"""Posterior marginals of model-enumerated sites, by differentiating the log-normaliser.

The derivative of ``log Z`` (the contracted model) with respect to a site's log-factor is the
posterior probability of each joint value of the factor's variables; summing out all but the
site's own variable leaves its marginal, per element of its plates.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

import torch

import pyro.distributions as dist
from pyro.infer.enum.contract import Factor, contract, pack, sum_out
from pyro.infer.enum.factors import contraction_log_prob, site_info
from pyro.poutine.util import site_is_subsample


class EnumeratedMarginal(torch.distributions.Distribution):
    """A distribution over the finite set ``support`` (values along dim 0) with ``probs``.

    Args:
        support: tensor of shape ``(K,) + event_shape`` listing the values.
        probs: tensor of shape ``batch_shape + (K,)``.
    """

    arg_constraints: Dict[str, Any] = {}
    has_enumerate_support = True

    def __init__(self, support: torch.Tensor, probs: torch.Tensor) -> None:
        self.values = support
        self.probs = probs
        self._index = torch.distributions.Categorical(probs=probs, validate_args=False)
        super().__init__(probs.shape[:-1], support.shape[1:], validate_args=False)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self.values[self._index.sample(sample_shape)]

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        event_dim = len(self.event_shape)
        value = torch.as_tensor(value, dtype=self.values.dtype, device=self.values.device)
        shape = value.shape[: value.dim() - event_dim]
        flat = self.values.reshape((self.values.shape[0],) + (1,) * len(shape)
                                   + self.values.shape[1:])
        match = flat == value.unsqueeze(0)
        if event_dim:
            match = match.flatten(-event_dim).all(-1)
        index = match.float().argmax(0)
        return self._index.log_prob(index)

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        k = self.values.shape[0]
        values = self.values.reshape((k,) + (1,) * len(self.batch_shape) + self.event_shape)
        if expand:
            values = values.expand((k,) + self.batch_shape + self.event_shape)
        return values


class ModelFactors:
    """The model's log-factors laid out for contraction, with the sites it enumerates.

    Attributes:
        terms: ``(ordinal, factor, scale, name)`` per sample site, as ``contract`` takes them.
        sum_labels: labels of the sites the model enumerates (summed out).
        label_ordinals: label -> ordinal (plates) of its site.
        rank: label -> position of its site in the trace.
        sites: name -> ``(site, info)`` for each summed-out site.
    """

    def __init__(self, model_trace: Any, guide_trace: Any) -> None:
        for name, site in guide_trace.nodes.items():
            if site["type"] == "sample" and "_enumerate_dim" in site["infer"]:
                raise NotImplementedError(
                    f"site '{name}' is enumerated in the guide; only sites the model "
                    f"enumerates have posterior marginals and draws here")
        cache: Dict[Any, Any] = {}
        self.terms: List[Tuple[Any, Factor, Any, str]] = []
        self.sum_labels: Set[Any] = set()
        self.label_ordinals: Dict[Any, Any] = {}
        self.rank: Dict[Any, int] = {}
        self.sites: Dict[str, Tuple[Any, Any]] = {}
        for index, (name, site) in enumerate(model_trace.nodes.items()):
            if site["type"] != "sample" or site_is_subsample(site):
                continue
            info = site_info(site, cache)
            summed_out = "_enumerate_dim" in site["infer"] and name not in guide_trace.nodes
            log_p = torch.as_tensor(contraction_log_prob(site, summed_out))
            factor = pack(log_p, info.dim_labels, info.plate_sizes, name)
            if summed_out:
                self.label_ordinals[name] = info.ordinal
                self.sum_labels.add(name)
                self.rank[name] = index
                self.sites[name] = (site, info)
            self.terms.append((info.ordinal, factor, site["scale"], name))


def site_layout(factor: Factor, site: Any, info: Any, last: Optional[Any] = None) -> torch.Tensor:
    """``factor`` (over plates of ``site``, and ``last`` if given) as a tensor of the site's
    batch layout: its plates at their dims, size 1 where the factor does not vary, reaching as
    far left as the site's outermost plate (a site in no plate: no batch dims), then ``last``."""
    frames = {frame.dim: frame for frame in site["cond_indep_stack"] if frame.dim is not None}
    batch_labels = []
    batch_shape = []
    for d in range(min(frames, default=0), 0):
        frame = frames.get(d)
        label = None if frame is None else info.dim_labels.get(d)
        batch_labels.append(label if label in factor.labels else None)
        batch_shape.append(
            factor.tensor.shape[factor.labels.index(label)] if label in factor.labels else 1)
    order = [factor.labels.index(lab) for lab in batch_labels if lab is not None]
    if last is not None:
        order.append(factor.labels.index(last))
        batch_shape.append(factor.tensor.shape[factor.labels.index(last)])
    return factor.tensor.permute(order).reshape(batch_shape)


def site_support(site: Any) -> torch.Tensor:
    """The enumerated values of ``site``, ``(K,) + event_shape``."""
    value = site["value"]
    event_dim = len(getattr(site["fn"], "event_shape", ()))
    event_shape = tuple(value.shape[value.dim() - event_dim:])
    return value.reshape((value.shape[0], -1) + event_shape)[:, 0]


def compute_site_marginals(model_trace: Any, guide_trace: Any) -> Dict[str, Any]:
    """Return ``name -> marginal distribution`` for each site enumerated by the model, batched
    over the site's plates."""
    differentiable = torch.is_grad_enabled()  # and some log-density needs a gradient
    with torch.enable_grad():
        mf = ModelFactors(model_trace, guide_trace)
        needs_grad = any(f.tensor.requires_grad for _, f, _, _ in mf.terms)
        terms = []
        probes: Dict[str, Any] = {}
        for ordinal, factor, scale, name in mf.terms:
            if name in mf.sum_labels and name in factor.labels:
                probe = torch.zeros_like(factor.tensor, requires_grad=True)
                factor = Factor(factor.tensor + probe, factor.labels)
                probes[name] = (probe, factor.labels)
            terms.append((ordinal, factor, scale, name))
        if not probes:
            return {}
        log_z: Any = 0.0
        for factors in contract(terms, mf.sum_labels, mf.label_ordinals, mf.rank).values():
            for f in factors:
                log_z = log_z + f.tensor.sum()
        # The marginals are d log Z / d probe; with create_graph they stay differentiable in the
        # params the log-densities depend on (as Pyro's are).
        grads = torch.autograd.grad(log_z, [p[0] for p in probes.values()], allow_unused=True,
                                    create_graph=differentiable and needs_grad)
    result: Dict[str, Any] = {}
    for (name, (probe, labels)), grad in zip(probes.items(), grads):
        if grad is None:
            continue
        site, info = mf.sites[name]
        keep = set(info.ordinal) | {name}
        m = sum_out(Factor(grad, labels), [lab for lab in labels if lab not in keep], log=False)
        probs = site_layout(m, site, info, last=name)
        probs = probs / probs.sum(-1, keepdim=True)
        result[name] = _marginal_distribution(site["fn"], site_support(site), probs)
    return result


def _marginal_distribution(fn: Any, support: torch.Tensor, probs: torch.Tensor) -> Any:
    """The marginal as the site's own family where Pyro gives one (``Bernoulli``,
    ``Categorical``, ``OneHotCategorical`` over their usual supports), else an
    :class:`EnumeratedMarginal` over the support values."""
    k = support.shape[0]
    index = torch.arange(k, device=support.device)
    if isinstance(fn, torch.distributions.Bernoulli) and k == 2 and bool((support == index).all()):
        return dist.Bernoulli(probs=probs[..., 1])
    if isinstance(fn, torch.distributions.OneHotCategorical) and support.dim() == 2 and bool(
            (support == torch.eye(k, dtype=support.dtype, device=support.device)).all()):
        return dist.OneHotCategorical(probs=probs)
    if support.dim() == 1 and not support.is_floating_point() and bool((support == index).all()):
        return dist.Categorical(probs=probs)
    return EnumeratedMarginal(support, probs)
