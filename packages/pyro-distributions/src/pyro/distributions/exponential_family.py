"""``ExponentialFamily``: torch's base class of exponential-family distributions, with Pyro's
methods mixed in (for user distributions that want torch's analytic entropy from
``_natural_params`` and ``_log_normalizer``)."""

from __future__ import annotations

import torch.distributions as _td

from pyro.distributions.torch_distribution import ExpandedDistribution, TorchDistributionMixin
from pyro.distributions.torch_wrapper import wrap_torch_distribution

ExponentialFamily = wrap_torch_distribution(
    _td.ExponentialFamily, TorchDistributionMixin, ExpandedDistribution,
    {"__module__": __name__},
)

__all__ = ["ExponentialFamily"]
