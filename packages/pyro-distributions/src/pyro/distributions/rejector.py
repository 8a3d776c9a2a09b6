"""``Rejector``: a distribution sampled by rejection from a reparameterised proposal."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
from torch.distributions import constraints

from pyro.distributions.score_parts import ScoreParts
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.util import broadcast_shape

_EMPTY = torch.Size()


def _shape_arg(name: str, shape: Any) -> torch.Size:
    try:
        return torch.Size(shape)
    except TypeError:
        raise TypeError(f"Rejector: {name} must be a sequence of ints, got {shape!r}") from None


class Rejector(TorchDistribution):
    """The distribution of proposals accepted with probability ``exp(log_prob_accept(x))``.

    ``rsample`` draws a batch from ``propose``, accepts each element independently, and
    draws again for the elements not yet accepted until all are; gradients flow through the
    accepted proposals. The density of an accepted value is
    ``propose.log_prob(x) + log_prob_accept(x) - log_scale``, where ``log_scale`` is the log of
    the total acceptance probability (it must be known exactly).

    ``score_parts`` follows the reparameterised rejection estimator: the log-density is the
    entropy term and ``log_prob_accept(x) - log_scale`` the score-function term, which
    accounts for how acceptance depends on the parameters.

    Args:
        propose: a reparameterised proposal; called as ``propose()`` (or
            ``propose(sample_shape)`` when a sample shape is asked for) it returns a batch of
            proposals, and ``propose.log_prob`` gives their log-density (subclasses may
            override :meth:`propose_log_prob` instead).
        log_prob_accept: a callable giving the log acceptance probability (at most 0) of a
            batch of proposals, of shape ``sample_shape + batch_shape``.
        log_scale: the log of the total acceptance probability, broadcastable with the batch.
        batch_shape: defaults to ``propose.batch_shape``.
        event_shape: defaults to ``propose.event_shape``.
    """

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(self, propose: Callable[..., torch.Tensor], log_prob_accept: Callable[[torch.Tensor], torch.Tensor],
                 log_scale: Any, *, batch_shape: Optional[Sequence[int]] = None,
                 event_shape: Optional[Sequence[int]] = None) -> None:
        if not callable(propose):
            raise TypeError(f"Rejector: propose must be callable, got {type(propose).__name__}")
        if not callable(log_prob_accept):
            raise TypeError(
                f"Rejector: log_prob_accept must be callable, got {type(log_prob_accept).__name__}"
            )
        for name, given in (("batch_shape", batch_shape), ("event_shape", event_shape)):
            if given is None and not hasattr(propose, name):
                raise TypeError(
                    f"Rejector: {name} was not given and propose ({type(propose).__name__}) has "
                    f"no {name} to take it from"
                )
        batch_shape = _shape_arg("batch_shape", propose.batch_shape if batch_shape is None else batch_shape)
        event_shape = _shape_arg("event_shape", propose.event_shape if event_shape is None else event_shape)
        scale_shape = torch.Size(getattr(log_scale, "shape", ()))
        try:
            broadcast_shape(scale_shape, batch_shape)
        except ValueError:
            raise ValueError(
                f"Rejector: log_scale of shape {tuple(scale_shape)} does not broadcast with "
                f"batch_shape {tuple(batch_shape)}"
            ) from None
        self._propose_fn = propose
        self._log_prob_accept_fn = log_prob_accept
        self._log_scale = log_scale
        # The last sample drawn and the log acceptance probability of each of its elements.
        self._accept_cache: Optional[tuple] = None
        super().__init__(batch_shape, event_shape, validate_args=False)

    @constraints.dependent_property
    def support(self) -> Any:
        return getattr(self._propose_fn, "support", constraints.real)

    def propose(self, sample_shape: Sequence[int] = _EMPTY) -> torch.Tensor:
        """Draw a batch of proposals of shape ``sample_shape + batch_shape + event_shape``."""
        sample_shape = torch.Size(sample_shape)
        return self._propose_fn(sample_shape) if sample_shape else self._propose_fn()

    def log_prob_accept(self, value: torch.Tensor) -> torch.Tensor:
        """The log probability that the proposal ``value`` is accepted."""
        return self._log_prob_accept_fn(value)

    def propose_log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-density of ``value`` under the proposal."""
        log_prob = getattr(self._propose_fn, "log_prob", None)
        if log_prob is None:
            raise TypeError(
                f"{type(self).__name__}: propose ({type(self._propose_fn).__name__}) has no "
                f"log_prob; pass a distribution or override propose_log_prob"
            )
        return log_prob(value)

    def _accepted(self, log_accept: torch.Tensor) -> torch.Tensor:
        return torch.rand_like(log_accept).log() < log_accept

    def rsample(self, sample_shape: Sequence[int] = _EMPTY) -> torch.Tensor:
        """Draw ``sample_shape + batch_shape + event_shape`` accepted proposals (reparameterised)."""
        event_dims = (1,) * len(self.event_shape)
        x = self.propose(sample_shape)
        log_accept = self.log_prob_accept(x)
        done = self._accepted(log_accept.detach())
        while not bool(done.all()):
            proposal = self.propose(sample_shape)
            proposal_log_accept = self.log_prob_accept(proposal)
            accept = self._accepted(proposal_log_accept.detach()) & ~done
            x = torch.where(accept.reshape(accept.shape + event_dims), proposal, x)
            log_accept = torch.where(accept, proposal_log_accept, log_accept)
            done = done | accept
        self._accept_cache = (x, log_accept)
        return x

    def _log_accept(self, value: torch.Tensor) -> torch.Tensor:
        cache = self._accept_cache
        if cache is not None and cache[0] is value:
            return cache[1]
        return self.log_prob_accept(value)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``propose_log_prob(value) + log_prob_accept(value) - log_scale``."""
        return self.propose_log_prob(value) + self._log_accept(value) - self._log_scale

    def score_parts(self, value: torch.Tensor, *args: Any, **kwargs: Any) -> ScoreParts:
        """The log-density (also the entropy term) and ``log_prob_accept - log_scale`` as the
        score-function term."""
        log_prob = self.log_prob(value)
        score_function = self._log_accept(value) - self._log_scale
        return ScoreParts(log_prob=log_prob, score_function=score_function, entropy_term=log_prob)


__all__ = ["Rejector"]
