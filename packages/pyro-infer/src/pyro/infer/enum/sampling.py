"""Exact joint posterior draws of model-enumerated sites: forward-filter, backward-sample; and
the most probable joint value (max-product forward, argmax backward: Viterbi on a chain).

The contraction that computes the model's log-normaliser eliminates the enumerated variables one
step at a time; each step multiplies the factors that involve its variables and sums them out.
Replaying the recorded steps in reverse, every step's variables are drawn from its product
conditioned on the variables drawn already (those eliminated later), which gives one draw from
the exact joint posterior at the cost of one contraction (linear in the length of a chain).
Variables local to a plate are drawn independently per element, given the outer ones.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Tuple

import torch

from pyro.infer.enum.contract import Factor, contract, product, sum_out
from pyro.infer.enum.marginals import ModelFactors, site_layout, site_support


def _indicator(index: Factor, label: Any, size: int, dtype: torch.dtype) -> Factor:
    """The log-indicator (0 at the drawn value, -inf elsewhere) of ``label`` drawn as ``index``."""
    hot = torch.nn.functional.one_hot(index.tensor, size)
    log_hot = torch.zeros(hot.shape, dtype=dtype, device=hot.device)
    return Factor(log_hot.masked_fill(hot == 0, -float("inf")), index.labels + (label,))


def _draw(step: Factor, labels: FrozenSet[Any], drawn: Dict[Any, Factor],
          temperature: int) -> Dict[Any, Factor]:
    """Draw ``labels`` from the log-factor ``step`` given the variables already ``drawn``
    (``temperature`` 1), or take their most probable value (0)."""
    sizes = step.sizes()
    given = [lab for lab in step.labels if lab in drawn]
    if given:
        indicators = [_indicator(drawn[lab], lab, sizes[lab], step.tensor.dtype) for lab in given]
        step = sum_out(product([step] + indicators), given, log=True)
    names = [lab for lab in step.labels if lab in labels]
    batch = [lab for lab in step.labels if lab not in labels]
    tensor = step.tensor.permute([step.labels.index(lab) for lab in batch + names])
    batch_shape = tensor.shape[: len(batch)]
    logits = tensor.reshape(batch_shape + (-1,))
    if temperature == 0:
        flat = logits.detach().argmax(-1)
    else:
        flat = torch.distributions.Categorical(logits=logits.detach()).sample()
    out: Dict[Any, Factor] = {}
    for lab in reversed(names):  # unravel the joint index, last label fastest
        size = sizes[lab]
        out[lab] = Factor(flat % size, tuple(batch))
        flat = torch.div(flat, size, rounding_mode="floor")
    return out


def sample_site_values(model_trace: Any, guide_trace: Any,
                       temperature: int = 1) -> Dict[str, torch.Tensor]:
    """One draw from the exact joint posterior of the sites the model enumerates, given the
    guide's draws and the observations (``temperature=1``), or their most probable joint value
    (``temperature=0``): ``name -> value`` in the site's batch layout (plates at their dims)
    followed by its event shape."""
    mf = ModelFactors(model_trace, guide_trace)
    if not mf.sum_labels:
        return {}
    tape: List[Tuple[Factor, FrozenSet[Any]]] = []
    with torch.no_grad():
        contract(mf.terms, mf.sum_labels, mf.label_ordinals, mf.rank, tape=tape,
                 maximize=temperature == 0)
        drawn: Dict[Any, Factor] = {}
        for step, labels in reversed(tape):
            drawn.update(_draw(step, labels, drawn, temperature))
    values: Dict[str, torch.Tensor] = {}
    for name, (site, info) in mf.sites.items():
        support = site_support(site)
        if name in drawn:
            index = site_layout(drawn[name], site, info)
        else:  # no factor depends on the site's value: its posterior is uniform (any is a mode)
            plates = tuple(info.plate_sizes)
            shape = site_layout(Factor(torch.zeros([info.plate_sizes[p] for p in plates]),
                                       plates), site, info).shape
            index = torch.randint(support.shape[0], shape, device=support.device)
        values[name] = support[index]
    return values


__all__ = ["sample_site_values"]
