"""``GroupedNormalNormal``: the marginal likelihood of grouped normal data with normal group
means integrated out."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions.torch import Normal
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.validation import check_tensors

_LOG_2PI = math.log(2 * math.pi)


class GroupedNormalNormal(TorchDistribution):
    """Data ``y[i] ~ Normal(mu[group_idx[i]], obs_scale[i])`` with the group means
    ``mu[g] ~ Normal(prior_loc[g], prior_scale[g])`` integrated out.

    ``log_prob(value)`` is the log marginal likelihood of all ``N`` observations together (a
    scalar: the distribution has empty batch and event shapes), in time linear in ``N``.
    :meth:`get_posterior` gives the exact posterior of the group means. Like Pyro's, it has no
    ``sample``, ``expand`` or ``mean`` (they raise ``NotImplementedError``).

    Args:
        prior_loc: the prior means, shape ``(G,)`` for ``G`` groups.
        prior_scale: the prior standard deviations, positive, broadcastable to ``(G,)``.
        obs_scale: the observation noise, positive, a scalar or shape ``(N,)``.
        group_idx: the group of each observation, integers in ``[0, G - 1]``, shape ``(N,)``.
        validate_args: as for every distribution.

    Raises:
        ValueError: ``group_idx`` is not a vector of integers in range.
    """

    arg_constraints = {"prior_loc": constraints.real, "prior_scale": constraints.positive,
                       "obs_scale": constraints.positive}
    support = constraints.real

    def __init__(self, prior_loc: torch.Tensor, prior_scale: Any, obs_scale: Any,
                 group_idx: torch.Tensor, validate_args: Optional[bool] = None) -> None:
        check_tensors("GroupedNormalNormal", prior_loc=prior_loc)
        if prior_loc.dim() != 1:
            raise ValueError(
                f"GroupedNormalNormal: prior_loc must be a vector of shape (G,), one mean per "
                f"group, got shape {tuple(prior_loc.shape)}")
        if (not isinstance(group_idx, torch.Tensor) or group_idx.dim() != 1
                or group_idx.is_floating_point() or group_idx.is_complex()):
            got = (f"shape {tuple(group_idx.shape)}, dtype {group_idx.dtype}"
                   if isinstance(group_idx, torch.Tensor) else type(group_idx).__name__)
            raise ValueError(
                f"GroupedNormalNormal: group_idx must be a 1-dimensional tensor of indices "
                f"(integers), got {got}")
        self.num_groups = prior_loc.size(0)
        if group_idx.numel() and (group_idx.min() < 0 or group_idx.max() >= self.num_groups):
            raise ValueError(
                f"GroupedNormalNormal: Each index in group_idx must be an integer in the "
                f"inclusive range [0, prior_loc.size(0) - 1] = [0, {self.num_groups - 1}], got "
                f"indices from {int(group_idx.min())} to {int(group_idx.max())}")
        self.prior_loc = prior_loc
        self.prior_scale = torch.as_tensor(prior_scale, dtype=prior_loc.dtype,
                                           device=prior_loc.device).expand(prior_loc.shape)
        self.obs_scale = torch.as_tensor(obs_scale, dtype=prior_loc.dtype,
                                         device=prior_loc.device)
        self.group_idx = group_idx
        self.num_data_per_batch = torch.zeros(self.num_groups, dtype=prior_loc.dtype,
                                              device=prior_loc.device)
        self.num_data_per_batch.index_add_(0, group_idx, torch.ones_like(group_idx,
                                                                         dtype=prior_loc.dtype))
        super().__init__(torch.Size(), torch.Size(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "GroupedNormalNormal":
        """Not available (as in Pyro)."""
        raise NotImplementedError

    def sample(self, sample_shape: Sequence[int] = ()) -> torch.Tensor:
        """Not available (as in Pyro)."""
        raise NotImplementedError

    @property
    def mean(self) -> torch.Tensor:
        """Not available (as in Pyro)."""
        raise NotImplementedError

    @property
    def variance(self) -> torch.Tensor:
        """Not available (as in Pyro)."""
        raise NotImplementedError

    def _group_sums(self, value: torch.Tensor) -> tuple:
        # per group: sum of obs precisions and of precision-weighted data
        obs_prec = self.obs_scale.pow(-2).expand(self.group_idx.shape)
        prec_sum = torch.zeros_like(self.prior_loc).index_add(0, self.group_idx, obs_prec)
        weighted = torch.zeros_like(self.prior_loc).index_add(0, self.group_idx, obs_prec * value)
        return obs_prec, prec_sum, weighted

    def get_posterior(self, value: torch.Tensor) -> Normal:
        """The posterior of the group means given the observations ``value`` (shape ``(N,)``),
        a ``Normal`` with batch shape ``(G,)``."""
        self._check_value(value)
        _, prec_sum, weighted = self._group_sums(value)
        prior_prec = self.prior_scale.pow(-2)
        post_prec = prior_prec + prec_sum
        post_loc = (prior_prec * self.prior_loc + weighted) / post_prec
        return Normal(post_loc, post_prec.rsqrt())

    def _check_value(self, value: torch.Tensor) -> None:
        if value.shape != self.group_idx.shape:
            raise ValueError("GroupedNormalNormal.log_prob only supports values that have the "
                             "same shape as group_idx.")

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log marginal likelihood of the observations ``value`` (shape ``(N,)``), a
        scalar."""
        self._check_value(value)
        if self._validate_args:
            self._validate_sample(value)
        # per group the data are Normal(prior_loc 1, D + s^2 1 1^T), D = diag(obs_scale^2);
        # the determinant lemma and Sherman-Morrison give its density from group sums
        resid = value - self.prior_loc[self.group_idx]
        obs_prec, prec_sum, _ = self._group_sums(value)
        r_sum = torch.zeros_like(self.prior_loc).index_add(0, self.group_idx, obs_prec * resid)
        s2 = self.prior_scale.pow(2)
        denom = 1 + s2 * prec_sum
        quad = (obs_prec * resid.pow(2)).sum() - (s2 * r_sum.pow(2) / denom).sum()
        log_det = -obs_prec.log().sum() + denom.log().sum()
        return -0.5 * (quad + log_det + value.numel() * _LOG_2PI)


__all__ = ["GroupedNormalNormal"]
