"""Hidden Markov models as distributions over whole time series.

Each model's event is a sequence: ``event_shape == (duration,) + obs_event_shape``. Time is the
rightmost batch dim of every per-step argument (transition and observation parameters), of
size ``duration`` for a time-varying chain or absent / one for a homogeneous one; a
homogeneous chain with no ``duration`` scores sequences of any length but cannot be sampled.
The initial state is the state *before* the first transition: the chain is ``x[-1] ~ initial``,
``x[t] ~ transition(x[t-1])``, ``y[t] ~ observation(x[t])`` for ``t = 0 .. duration - 1``.

``log_prob`` and ``filter`` contract the chain along time by a parallel scan (``O(log T)``
sequential steps): log-space matrix products for :class:`DiscreteHMM`, Gaussian contractions
(:mod:`pyro.ops.gaussian`) for :class:`GaussianHMM`.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from pyro.distributions import constraints
from pyro.distributions.torch import Categorical, Gamma, MultivariateNormal
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.distributions.validation import (
    DistributionArgumentTypeError,
    check_distribution,
    check_tensors,
    construction_error,
    inner_error,
)
from pyro.ops.gaussian import (
    Gaussian,
    gaussian_tensordot,
    matrix_and_mvn_to_gaussian,
    mvn_to_gaussian,
    sequential_gaussian_filter_sample,
    sequential_gaussian_tensordot,
)
from pyro.ops.tensor_utils import precision_to_scale_tril

__all__ = ["DiscreteHMM", "GammaGaussianHMM", "GaussianHMM", "GaussianMRF", "IndependentHMM",
           "LinearHMM"]


def _shape(x: Any) -> tuple:
    return tuple(getattr(x, "shape", ()))


def _broadcast(owner: str, named: Sequence[tuple]) -> torch.Size:
    """Broadcast the ``(name, shape)`` pairs, or raise naming every shape."""
    try:
        return torch.broadcast_shapes(*[torch.Size(s) for _, s in named])
    except RuntimeError:
        listing = ", ".join(f"{n}: {tuple(s)}" for n, s in named)
        raise ValueError(f"{owner}: batch and time shapes do not broadcast ({listing})") from None


def _time_shape(duration: Optional[int], time: int, owner: str) -> tuple:
    """The duration implied by the arguments' time dims and the ``duration`` argument."""
    if duration is None:
        return (time,), (time if time != 1 else None)
    if time not in (1, duration):
        raise ValueError(
            f"{owner}: duration={duration} but the arguments' time dim has size {time}")
    return (duration,), duration


def _expand_steps(x: torch.Tensor, batch_shape: torch.Size, core: int) -> torch.Tensor:
    """Broadcast a per-step tensor (``core`` trailing dims) to ``batch_shape + (time,) + core``."""
    time = x.shape[-core - 1] if x.dim() > core else 1
    return x.expand(tuple(batch_shape) + (time,) + tuple(x.shape[x.dim() - core:]))


def _expand_step_dist(d: Any, batch_shape: torch.Size, extra: tuple = ()) -> Any:
    time = d.batch_shape[-1 - len(extra)] if len(d.batch_shape) > len(extra) else 1
    return d.expand(tuple(batch_shape) + (time,) + extra)


def _logmatmulexp(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``log(exp(x) @ exp(y))`` computed stably by a shifted matrix product."""
    floor = torch.finfo(x.dtype).min
    x_max = x.amax(-1, keepdim=True).clamp(min=floor)
    y_max = y.amax(-2, keepdim=True).clamp(min=floor)
    prod = (x - x_max).exp_() @ (y - y_max).exp_()
    out = prod.log()
    if out.shape == torch.broadcast_shapes(out.shape, x_max.shape, y_max.shape):
        return out.add_(x_max).add_(y_max)
    return out + x_max + y_max


def _sequential_logmatmulexp(logits: torch.Tensor) -> torch.Tensor:
    """The log-space product of the matrices along dim ``-3`` by pairwise contraction."""
    while logits.size(-3) > 1:
        T = logits.size(-3)
        even = T - T % 2
        pairs = _logmatmulexp(logits[..., 0:even:2, :, :], logits[..., 1:even:2, :, :])
        logits = torch.cat([pairs, logits[..., even:, :, :]], -3) if T % 2 else pairs
    return logits.squeeze(-3)


def _chain_logits(trans: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """``log prod_t exp(trans[t] + obs[t] as columns)``, shape ``batch + (S, S)``.

    ``trans`` is ``(..., [T,] S, S)`` and ``obs`` is ``(..., T, S)``. The first round of the
    scan works on the factors separately, so that the batch-sized tensors of step pairs are
    made once: the observation weights of the second step of a pair are a column offset, and
    those of the first a diagonal scaling between the two transition matrices.
    """
    S = trans.size(-1)
    T = max(trans.size(-3) if trans.dim() > 2 else 1, obs.size(-2))
    trans = trans.expand(trans.shape[:-3] + (T, S, S)) if trans.dim() > 2 else trans.expand(T, S, S)
    if T == 1:
        return trans[..., 0, :, :] + obs[..., 0, :].unsqueeze(-2)
    floor = torch.finfo(obs.dtype).min
    even = T - T % 2
    ta, tb = trans[..., 0:even:2, :, :], trans[..., 1:even:2, :, :]
    oa, ob = obs[..., 0:even:2, :], obs[..., 1:even:2, :]
    row = ta.amax(-1, keepdim=True).clamp(min=floor)
    col = tb.amax(-2, keepdim=True).clamp(min=floor)
    top = oa.amax(-1, keepdim=True).clamp(min=floor)
    q = torch.exp(oa - top)
    if ta.dim() == 3 and q.dim() > 2:
        return _shared_transition_chain(ta, tb, row, col, q, top, ob, trans, obs, even)
    prod = (torch.exp(ta - row) * q.unsqueeze(-2)) @ torch.exp(tb - col)
    logits = prod.log() + ((col + ob.unsqueeze(-2)) + top.unsqueeze(-1)) + row
    if T % 2:
        last = trans[..., even:, :, :] + obs[..., even:, :].unsqueeze(-2)
        shape = torch.broadcast_shapes(logits.shape[:-3], last.shape[:-3])
        logits = torch.cat([logits.expand(shape + logits.shape[-3:]),
                            last.expand(shape + last.shape[-3:])], -3)
    return _sequential_logmatmulexp(logits)


def _shared_transition_chain(ta: torch.Tensor, tb: torch.Tensor, row: torch.Tensor,
                             col: torch.Tensor, q: torch.Tensor, top: torch.Tensor,
                             ob: torch.Tensor, trans: torch.Tensor, obs: torch.Tensor,
                             even: int) -> torch.Tensor:
    """:func:`_chain_logits` when the transitions have no batch dims: the series of the batch
    are folded into the rows of one matrix product per step pair, and the scan runs with
    time leading, so no tensor is transposed in memory."""
    S = ta.size(-1)
    batch = q.shape[:-2]
    half = ta.size(0)
    qt = q.reshape((-1,) + q.shape[-2:]).transpose(0, 1)  # (T/2, N, S)
    N = qt.size(1)
    scaled = torch.exp(ta - row).unsqueeze(1) * qt.unsqueeze(-2)  # (T/2, N, S, S)
    prod = (scaled.reshape(half, N * S, S) @ torch.exp(tb - col)).reshape(half, N, S, S)
    obt = ob.reshape(N, half, S).transpose(0, 1).unsqueeze(-2)  # (T/2, N, 1, S)
    topt = top.reshape(N, half, 1).transpose(0, 1).unsqueeze(-1)  # (T/2, N, 1, 1)
    offset = (col.unsqueeze(1) + obt) + topt
    logits = prod.log().add_(offset).add_(row.unsqueeze(1))
    if trans.size(-3) > even:
        last = trans[even] + obs[..., even, :].reshape(N, 1, S)
        logits = torch.cat([logits, last.unsqueeze(0)], 0)
    while logits.size(0) > 1:
        T = logits.size(0)
        cut = T - T % 2
        pairs = _logmatmulexp(logits[0:cut:2], logits[1:cut:2])
        logits = torch.cat([pairs, logits[cut:]], 0) if T % 2 else pairs
    return logits[0].reshape(batch + (S, S))


class HiddenMarkovModel(TorchDistribution):
    """The shared base of the HMM distributions: ``duration`` and strict sequence checks."""

    @property
    def duration(self) -> Optional[int]:
        """The number of time steps, or ``None`` for a homogeneous chain of any length."""
        return self._duration

    def _validate_sample(self, value: torch.Tensor) -> None:
        event_dim = len(self.event_shape)
        if self._duration is not None:
            if value.dim() < event_dim or value.shape[-event_dim] != self.event_shape[0]:
                raise ValueError(
                    "The right-most size of value must match event_shape: "
                    f"{value.size()} vs {self.event_shape}.")
            super()._validate_sample(value)
            return
        # A homogeneous chain scores a series of any length: check all but the time dim.
        obs_event = self.event_shape[1:]
        if value.dim() < event_dim or value.shape[value.dim() - len(obs_event):] != obs_event:
            raise ValueError(
                "The right-most size of value must match event_shape: "
                f"{value.size()} vs {self.event_shape}.")
        if not bool(self.support.check(value).all()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) "
                f"to be within the support ({self.support}) of the distribution {self}")


class DiscreteHMM(HiddenMarkovModel):
    """A hidden Markov model with a discrete latent state and any observation distribution.

    Args:
        initial_logits: log-weights of the state before the first step, shape
            ``batch_shape + (S,)`` (normalised here).
        transition_logits: log-weights of ``x[t]`` given ``x[t-1]`` (rows: from, columns: to),
            shape ``batch_shape + (duration, S, S)`` or ``(S, S)``-ended with a size-one or
            absent time dim for a homogeneous chain (normalised over the last dim here).
        observation_dist: the distribution of ``y[t]`` given each state, batch shape
            ``batch_shape + (duration, S)`` (or with the time dim one or absent).
        validate_args: as for every distribution.
        duration: the number of steps, needed to sample a homogeneous chain.

    ``log_prob(y)`` sums out every state path; :meth:`filter` gives the distribution of the
    final state; :meth:`sample` draws states and then observations.

    Raises:
        ValueError: an argument has too few dims, the state counts ``S`` disagree, the shapes
            do not broadcast, or ``duration`` contradicts the time dims (the message names the
            arguments and shapes).
    """

    arg_constraints = {"initial_logits": constraints.real, "transition_logits": constraints.real}

    def __init__(self, initial_logits: torch.Tensor, transition_logits: torch.Tensor,
                 observation_dist: Any, validate_args: Optional[bool] = None,
                 duration: Optional[int] = None) -> None:
        check_tensors("DiscreteHMM", initial_logits=initial_logits,
                      transition_logits=transition_logits)
        check_distribution("DiscreteHMM", observation_dist=observation_dist)
        if initial_logits.dim() < 1:
            raise ValueError(
                "DiscreteHMM: expected initial_logits to have at least one dim, actual shape = "
                f"{initial_logits.shape}")
        if transition_logits.dim() < 2:
            raise ValueError(
                "DiscreteHMM: expected transition_logits to have at least two dims, actual "
                f"shape = {transition_logits.shape}")
        if len(observation_dist.batch_shape) < 1:
            raise ValueError(
                "DiscreteHMM: expected observation_dist to have at least one batch dim, actual "
                f".batch_shape = {observation_dist.batch_shape}")
        S = initial_logits.size(-1)
        sizes = {"initial_logits.shape[-1]": S,
                 "transition_logits.shape[-2]": transition_logits.size(-2),
                 "transition_logits.shape[-1]": transition_logits.size(-1),
                 "observation_dist.batch_shape[-1]": observation_dist.batch_shape[-1]}
        if len(set(sizes.values())) != 1:
            listing = ", ".join(f"{k} = {v}" for k, v in sizes.items())
            raise ValueError(
                f"DiscreteHMM: the number of states disagrees ({listing}; initial_logits: "
                f"{_shape(initial_logits)}, transition_logits: {_shape(transition_logits)}, "
                f"observation_dist.batch_shape: {tuple(observation_dist.batch_shape)})")
        shape = _broadcast("DiscreteHMM", [
            ("initial_logits.shape[:-1] + (1,)", initial_logits.shape[:-1] + (1,)),
            ("transition_logits.shape[:-2]", transition_logits.shape[:-2]),
            ("observation_dist.batch_shape[:-1]", observation_dist.batch_shape[:-1])])
        time, self._duration = _time_shape(duration, shape[-1], "DiscreteHMM")
        batch_shape = shape[:-1]
        event_shape = torch.Size(time) + observation_dist.event_shape
        self.initial_logits = initial_logits - initial_logits.logsumexp(-1, keepdim=True)
        self.transition_logits = transition_logits - transition_logits.logsumexp(-1, keepdim=True)
        self.observation_dist = observation_dist
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @constraints.dependent_property
    def support(self) -> Any:
        """Sequences of the observation distribution's support."""
        return constraints.independent(self.observation_dist.support, 1)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "DiscreteHMM":
        """This chain with its batch dims broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(DiscreteHMM, _instance)
        S = self.initial_logits.size(-1)
        DiscreteHMM.__init__(
            new, self.initial_logits.expand(batch_shape + (S,)),
            _expand_steps(self.transition_logits, batch_shape, 2),
            _expand_step_dist(self.observation_dist, batch_shape, (S,)),
            validate_args=False, duration=self._duration)
        new._validate_args = self._validate_args
        return new

    def _chain(self, value: torch.Tensor) -> torch.Tensor:
        """The log-weights from the initial state to the final one with ``value`` observed."""
        obs_dim = len(self.observation_dist.event_shape)
        obs = self.observation_dist.log_prob(value.unsqueeze(-1 - obs_dim))
        return _chain_logits(self.transition_logits, obs)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-probability of the observation sequence ``value``, every path summed out."""
        if self._validate_args:
            self._validate_sample(value)
        chain = self._chain(value)
        return (self.initial_logits.unsqueeze(-1) + chain).logsumexp(-1).logsumexp(-1)

    def filter(self, value: torch.Tensor) -> Categorical:
        """The posterior of the final state given ``value``: a ``Categorical`` whose
        normalised ``logits`` can seed a model that continues the series."""
        if self._validate_args:
            self._validate_sample(value)
        chain = self._chain(value)
        logits = (self.initial_logits.unsqueeze(-1) + chain).logsumexp(-2)
        return Categorical(logits=logits - logits.logsumexp(-1, keepdim=True))

    def sample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw states forward from the chain, then one observation per step."""
        if self._duration is None:
            raise ValueError(
                "DiscreteHMM: cannot sample a homogeneous chain without a duration; pass "
                "duration= to the constructor")
        sample_shape = torch.Size(sample_shape)
        T, S = self._duration, self.initial_logits.size(-1)
        batch = self.batch_shape
        with torch.no_grad():
            state = Categorical(logits=self.initial_logits.expand(batch + (S,))).sample(sample_shape)
            trans = self.transition_logits.expand(batch + (T, S, S))
            successors = Categorical(logits=trans).sample(sample_shape)
            states = []
            for t in range(T):
                state = successors[..., t, :].gather(-1, state.unsqueeze(-1)).squeeze(-1)
                states.append(state)
            path = torch.stack(states, -1)
            obs_event = self.observation_dist.event_shape
            obs = self.observation_dist.expand(batch + (T, S)).sample(sample_shape)
            index = path.reshape(path.shape + (1,) * (1 + len(obs_event)))
            index = index.expand(path.shape + (1,) + obs_event)
            return obs.gather(len(path.shape), index).squeeze(len(path.shape))


class GaussianHMM(HiddenMarkovModel):
    """A linear-Gaussian state-space model (a Kalman filter's model) over observation series.

    ``z[t] = z[t-1] @ transition_matrix + noise``, ``noise ~ transition_dist``;
    ``y[t] = z[t] @ observation_matrix + noise``, ``noise ~ observation_dist``; with
    ``z[-1] ~ initial_dist``. Every distribution is a ``MultivariateNormal`` or an
    ``Independent(Normal, 1)`` (``.to_event(1)``).

    Args:
        initial_dist: over the ``hidden_dim`` state, batch shape broadcastable to
            ``batch_shape``.
        transition_matrix: shape ``batch + (time,) + (hidden_dim, hidden_dim)`` (time one or
            absent for a homogeneous chain).
        transition_dist: event ``(hidden_dim,)``, batch shape ``batch + (time,)``.
        observation_matrix: shape ``batch + (time,) + (hidden_dim, obs_dim)``.
        observation_dist: event ``(obs_dim,)``, batch shape ``batch + (time,)``.
        validate_args: as for every distribution.
        duration: the number of steps, needed to sample a homogeneous chain.

    ``event_shape == (duration, obs_dim)``. Samples are reparameterised.

    Raises:
        ValueError: an argument has the wrong number of dims or event size (the message gives
            ``hidden_dim``, ``obs_dim`` and every shape), the shapes do not broadcast, or
            ``duration`` contradicts the time dims.
    """

    arg_constraints: dict = {}
    support = constraints.independent(constraints.real, 2)
    has_rsample = True

    def __init__(self, initial_dist: Any, transition_matrix: torch.Tensor, transition_dist: Any,
                 observation_matrix: torch.Tensor, observation_dist: Any,
                 validate_args: Optional[bool] = None, duration: Optional[int] = None) -> None:
        H, O, batch_shape, time, self._duration = _check_linear_parts(
            "GaussianHMM", initial_dist, transition_matrix, transition_dist,
            observation_matrix, observation_dist, duration)
        self.hidden_dim, self.obs_dim = H, O
        self._parts = (initial_dist, transition_matrix, transition_dist, observation_matrix,
                       observation_dist)
        self._init = mvn_to_gaussian(initial_dist).expand(batch_shape)
        self._trans = matrix_and_mvn_to_gaussian(transition_matrix, transition_dist)
        self._obs = matrix_and_mvn_to_gaussian(observation_matrix, observation_dist)
        super().__init__(batch_shape, torch.Size(time + (O,)), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "GaussianHMM":
        """This model with its batch dims broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(GaussianHMM, _instance)
        init, A, trans, B, obs = self._parts
        GaussianHMM.__init__(
            new, init.expand(batch_shape), _expand_steps(A, batch_shape, 2),
            _expand_step_dist(trans, batch_shape), _expand_steps(B, batch_shape, 2),
            _expand_step_dist(obs, batch_shape), validate_args=False, duration=self._duration)
        new._validate_args = self._validate_args
        return new

    def _chain_precision(self) -> torch.Tensor:
        """The per-step precision of transition times observation factors: it does not depend
        on the observed values, so it is built once."""
        P = self.__dict__.get("_chain_P")
        if P is None:
            H = self.hidden_dim
            P_obs = torch.nn.functional.pad(self._obs.precision[..., :H, :H], (H, 0, H, 0))
            P = self._trans.precision + P_obs
            self.__dict__["_chain_P"] = P
        return P

    def _final_state(self, value: torch.Tensor) -> Gaussian:
        """The unnormalised factor over the final state with ``value`` observed."""
        H = self.hidden_dim
        obs = self._obs
        # Conditioning the observation factor on y leaves a factor over z[t]; it only adds
        # to the information vector and the constant of the transition factor.
        P_zy, P_yy = obs.precision[..., :H, H:], obs.precision[..., H:, H:]
        i_z, i_y = obs.info_vec[..., :H], obs.info_vec[..., H:]
        y = value.unsqueeze(-1)
        info_z = i_z - (P_zy @ y).squeeze(-1)
        log_normalizer = (obs.log_normalizer + self._trans.log_normalizer
                          + (i_y * value).sum(-1) - 0.5 * (y.mT @ P_yy @ y)[..., 0, 0])
        trans_iv = self._trans.info_vec
        shape = torch.broadcast_shapes(trans_iv.shape[:-1], info_z.shape[:-1])
        info_vec = torch.cat([trans_iv[..., :H].expand(shape + (H,)),
                              trans_iv[..., H:] + info_z], -1)
        chain = sequential_gaussian_tensordot(
            Gaussian(log_normalizer, info_vec, self._chain_precision()))
        return gaussian_tensordot(self._init, chain, H)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-density of the observation sequence ``value`` (shape ``... + (T, obs_dim)``),
        every hidden state integrated out."""
        if self._validate_args:
            self._validate_sample(value)
        return self._final_state(value).event_logsumexp()

    def filter(self, value: torch.Tensor) -> MultivariateNormal:
        """The posterior of the final hidden state given ``value``, a ``MultivariateNormal``."""
        if self._validate_args:
            self._validate_sample(value)
        return self._filter(value)

    def _filter(self, value: torch.Tensor) -> MultivariateNormal:
        g = self._final_state(value)
        loc = torch.linalg.solve(g.precision, g.info_vec.unsqueeze(-1)).squeeze(-1)
        return MultivariateNormal(loc, scale_tril=precision_to_scale_tril(g.precision))

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw the hidden chain forward and observe it; differentiable in every parameter."""
        if self.__dict__.get("_fused"):
            if self._duration is None:
                raise ValueError("GaussianHMM: cannot sample without a duration")
            return self._factor_rsample(torch.Size(sample_shape))
        return _linear_rsample(self, sample_shape)

    def conjugate_update(self, other: Any) -> tuple:
        """Fuse a Gaussian likelihood of the observations into this model.

        ``other`` is an ``Independent`` over time of a ``MultivariateNormal`` (or
        ``Normal(...).to_event(2)``) with event ``(duration, obs_dim)``. Returns
        ``(updated, log_normalizer)`` with ``self.log_prob(x) + other.log_prob(x) ==
        updated.log_prob(x) + log_normalizer`` for every ``x``; ``updated`` is a normalised
        :class:`GaussianHMM` (samplable and filterable).
        """
        H, O = self.hidden_dim, self.obs_dim
        base = getattr(other, "base_dist", None)
        ndims = getattr(other, "reinterpreted_batch_ndims", None)
        if isinstance(base, torch.distributions.MultivariateNormal) and ndims == 1:
            g = mvn_to_gaussian(base)
        elif isinstance(base, torch.distributions.Normal) and ndims == 2:
            g = mvn_to_gaussian(type(base)(base.loc, base.scale).to_event(1))
        else:
            raise ValueError(
                "GaussianHMM.conjugate_update: other must be Independent(MultivariateNormal, 1) "
                f"or Normal(...).to_event(2), got {other}")
        if tuple(other.event_shape[-1:]) != (O,):
            raise ValueError(
                f"GaussianHMM.conjugate_update: other has event_shape {tuple(other.event_shape)}"
                f", expected (duration, {O})")
        T = other.event_shape[0]
        duration = self._duration
        if duration is None and T == 1:
            raise ValueError(
                "GaussianHMM.conjugate_update: a homogeneous model needs other to have the "
                "series' length in its event_shape, or a duration")
        if duration is not None and T not in (1, duration):
            raise ValueError(
                f"GaussianHMM.conjugate_update: other has {T} steps but duration is {duration}")
        duration = duration if duration is not None else T
        fused = self._obs + g.event_pad(left=H)
        batch = _broadcast("GaussianHMM.conjugate_update", [
            ("batch_shape", self.batch_shape), ("other.batch_shape", other.batch_shape)])
        fused = fused.expand(torch.broadcast_shapes(fused.batch_shape, batch + (duration,)))
        evidence = fused.marginalize(right=O).event_pad(left=H)
        chain = sequential_gaussian_tensordot(self._trans + evidence)
        log_normalizer = gaussian_tensordot(self._init, chain, H).event_logsumexp()
        new = GaussianHMM.__new__(GaussianHMM)
        new.__dict__.update(self.__dict__)
        new.__dict__.pop("_chain_P", None)
        new._obs = fused
        new._init = (self._init + (-log_normalizer)).expand(batch)
        new._duration = duration
        new._fused = True
        TorchDistribution.__init__(new, batch, torch.Size((duration, O)), validate_args=False)
        new._validate_args = self._validate_args
        return new, log_normalizer

    def _factor_rsample(self, sample_shape: torch.Size) -> torch.Tensor:
        """Sample from the factors themselves: states from their marginal chain by forward
        filtering and backward sampling, then each observation given its state."""
        T, H, O = self._duration, self.hidden_dim, self.obs_dim
        batch = self.batch_shape
        obs = self._obs.expand(torch.broadcast_shapes(self._obs.batch_shape, batch + (T,)))
        chain = self._trans + obs.marginalize(right=O).event_pad(left=H)
        chain = chain.expand(batch + (T,))
        states = sequential_gaussian_filter_sample(self._init, chain, sample_shape)[..., 1:, :]
        n = obs.dim()
        shape = states.shape[:-1]
        joint = Gaussian(obs.log_normalizer.expand(shape), obs.info_vec.expand(shape + (n,)),
                         obs.precision.expand(shape + (n, n)))
        return joint.left_condition(states).rsample()

    def prefix_condition(self, data: torch.Tensor) -> "GaussianHMM":
        """The distribution of the remaining ``duration - t`` steps given the first ``t``
        observations ``data`` (shape ``... + (t, obs_dim)``), as a :class:`GaussianHMM` whose
        initial distribution is the filtered state after step ``t``."""
        t = data.size(-2)
        if self._duration is None or t >= self._duration:
            raise ValueError(
                f"GaussianHMM.prefix_condition: data has {t} steps (shape {tuple(data.shape)}) "
                f"but the model's duration is {self._duration}; it needs fewer steps than a "
                "known duration")
        init, A, trans, B, obs = self._parts
        head, tail = slice(None, t), slice(t, None)
        prefix = GaussianHMM(init, _time_slice(A, head, 2), _time_slice_noise(trans, head),
                             _time_slice(B, head, 2), _time_slice_noise(obs, head), duration=t)
        return GaussianHMM(prefix._filter(data), _time_slice(A, tail, 2),
                           _time_slice_noise(trans, tail), _time_slice(B, tail, 2),
                           _time_slice_noise(obs, tail), duration=self._duration - t)


def _time_slice(x: torch.Tensor, steps: slice, core: int) -> torch.Tensor:
    """The ``steps`` of ``x`` where its time dim (left of ``core`` dims) varies."""
    if x.dim() > core and x.size(-core - 1) > 1:
        return x[(..., steps) + (slice(None),) * core]
    return x


def _time_slice_noise(d: Any, steps: slice) -> Any:
    """The ``steps`` of a ``MultivariateNormal`` or ``Independent(Normal, 1)`` noise."""
    if len(d.batch_shape) == 0 or d.batch_shape[-1] == 1:
        return d
    if isinstance(d, torch.distributions.MultivariateNormal):
        return MultivariateNormal(d.loc[..., steps, :], scale_tril=d.scale_tril[..., steps, :, :])
    base = d.base_dist
    loc, scale = torch.broadcast_tensors(base.loc, base.scale)
    return type(base)(loc[..., steps, :], scale[..., steps, :]).to_event(1)


def _draw(d: Any, sample_shape: torch.Size) -> torch.Tensor:
    return d.rsample(sample_shape) if d.has_rsample else d.sample(sample_shape)


def _linear_rsample(hmm: Any, sample_shape: Sequence[int], transforms: Sequence[Any] = ()
                    ) -> torch.Tensor:
    """Forward sampling of a linear state-space model from its five parts."""
    name = type(hmm).__name__
    if hmm._duration is None:
        raise ValueError(
            f"{name}: cannot sample a homogeneous chain without a duration; pass duration= to "
            "the constructor")
    sample_shape = torch.Size(sample_shape)
    T, H, O = hmm._duration, hmm.hidden_dim, hmm.obs_dim
    batch = hmm.batch_shape
    init, A, trans, B, obs = hmm._parts
    z = _draw(init.expand(batch), sample_shape)
    A = A.expand(batch + (T, H, H))
    noise = _draw(trans.expand(batch + (T,)), sample_shape)
    states = []
    for t in range(T):
        z = (z.unsqueeze(-2) @ A[..., t, :, :]).squeeze(-2) + noise[..., t, :]
        states.append(z)
    zs = torch.stack(states, -2)
    y = (zs.unsqueeze(-2) @ B.expand(batch + (T, H, O))).squeeze(-2)
    y = y + _draw(obs.expand(batch + (T,)), sample_shape)
    for transform in transforms:
        y = transform(y)
    return y


def _check_linear_parts(name: str, initial_dist: Any, transition_matrix: torch.Tensor,
                        transition_dist: Any, observation_matrix: torch.Tensor,
                        observation_dist: Any, duration: Optional[int]) -> tuple:
    """Validate the five parts of a linear state-space model; return ``(H, O, batch_shape,
    time, duration)``."""
    check_distribution(name, initial_dist=initial_dist, transition_dist=transition_dist,
                       observation_dist=observation_dist)
    check_tensors(name, transition_matrix=transition_matrix, observation_matrix=observation_matrix)
    shapes = (f"initial_dist: batch {tuple(initial_dist.batch_shape)} event "
              f"{tuple(initial_dist.event_shape)}, transition_matrix: "
              f"{_shape(transition_matrix)}, transition_dist: batch "
              f"{tuple(transition_dist.batch_shape)} event {tuple(transition_dist.event_shape)}, "
              f"observation_matrix: {_shape(observation_matrix)}, observation_dist: batch "
              f"{tuple(observation_dist.batch_shape)} event "
              f"{tuple(observation_dist.event_shape)}")
    if transition_matrix.dim() < 2 or transition_matrix.size(-1) != transition_matrix.size(-2):
        raise ValueError(
            f"{name}: transition_matrix must end in a square (hidden_dim, hidden_dim) "
            f"matrix ({shapes})")
    if observation_matrix.dim() < 2:
        raise ValueError(
            f"{name}: observation_matrix must end in (hidden_dim, obs_dim) ({shapes})")
    H, O = observation_matrix.shape[-2:]
    checks = [("transition_matrix", transition_matrix.size(-1) == H),
              ("initial_dist", tuple(initial_dist.event_shape) == (H,)),
              ("transition_dist", tuple(transition_dist.event_shape) == (H,)),
              ("observation_dist", tuple(observation_dist.event_shape) == (O,))]
    for arg, ok in checks:
        if not ok:
            raise ValueError(
                f"{name}: {arg} does not fit hidden_dim={H}, obs_dim={O} (from "
                f"observation_matrix); {shapes}")
    shape = _broadcast(name, [
        ("initial_dist.batch_shape + (1,)", tuple(initial_dist.batch_shape) + (1,)),
        ("transition_matrix.shape[:-2]", transition_matrix.shape[:-2]),
        ("transition_dist.batch_shape", transition_dist.batch_shape),
        ("observation_matrix.shape[:-2]", observation_matrix.shape[:-2]),
        ("observation_dist.batch_shape", observation_dist.batch_shape)])
    time, duration = _time_shape(duration, shape[-1], name)
    return H, O, shape[:-1], time, duration


def _scaled_noise(d: Any, factor: float) -> Any:
    """A ``MultivariateNormal`` or ``Independent(Normal, 1)`` with its scale times ``factor``."""
    if isinstance(d, torch.distributions.MultivariateNormal):
        return MultivariateNormal(d.loc, scale_tril=d.scale_tril * factor)
    base = d.base_dist
    return type(base)(base.loc, base.scale * factor).to_event(1)


class GammaGaussianHMM(HiddenMarkovModel):
    """A :class:`GaussianHMM` whose noise covariances share one unknown Gamma precision scale.

    ``s ~ scale_dist`` (a ``Gamma``), then the :class:`GaussianHMM` chain with every noise
    covariance (initial, transition, observation) divided by ``s``; ``log_prob(y)``
    integrates ``s`` out in closed form (a multivariate Student-t-like density of the whole
    series). Arguments after ``scale_dist`` as for :class:`GaussianHMM`; ``scale_dist``'s batch
    shape broadcasts with the batch shape. Not reparameterised and not sampled, as in Pyro.
    """

    arg_constraints: dict = {}
    support = constraints.independent(constraints.real, 2)

    def __init__(self, scale_dist: Any, initial_dist: Any, transition_matrix: torch.Tensor,
                 transition_dist: Any, observation_matrix: torch.Tensor, observation_dist: Any,
                 validate_args: Optional[bool] = None, duration: Optional[int] = None) -> None:
        if not isinstance(scale_dist, torch.distributions.Gamma):
            raise construction_error(
                f"GammaGaussianHMM: scale_dist must be a Gamma, got {type(scale_dist).__name__}",
                DistributionArgumentTypeError)
        parts = (initial_dist, transition_matrix, transition_dist, observation_matrix,
                 observation_dist)
        try:
            self._unit = GaussianHMM(*parts, duration=duration)
        except ValueError as e:  # the checks of the parts: name this class, keep the type
            raise inner_error(e, "GammaGaussianHMM", "GaussianHMM") from None
        # The same chain with covariances halved: log p_s(y) is affine in (log s, s), so two
        # scales give the quadratic form and the determinant separately.
        self._half = GaussianHMM(_scaled_noise(initial_dist, 0.5 ** 0.5), transition_matrix,
                                 _scaled_noise(transition_dist, 0.5 ** 0.5), observation_matrix,
                                 _scaled_noise(observation_dist, 0.5 ** 0.5), duration=duration)
        batch_shape = _broadcast("GammaGaussianHMM", [
            ("scale_dist.batch_shape", scale_dist.batch_shape),
            ("GaussianHMM batch_shape", self._unit.batch_shape)])
        self.scale_dist = scale_dist
        self._parts = parts
        self._duration = self._unit.duration
        self.hidden_dim, self.obs_dim = self._unit.hidden_dim, self._unit.obs_dim
        super().__init__(batch_shape, self._unit.event_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "GammaGaussianHMM":
        """This model with its batch dims broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(GammaGaussianHMM, _instance)
        init, A, trans, B, obs = self._parts
        GammaGaussianHMM.__init__(
            new, self.scale_dist.expand(batch_shape), init.expand(batch_shape),
            _expand_steps(A, batch_shape, 2), _expand_step_dist(trans, batch_shape),
            _expand_steps(B, batch_shape, 2), _expand_step_dist(obs, batch_shape),
            validate_args=False, duration=self._duration)
        new._validate_args = self._validate_args
        return new

    def _evidence(self, value: torch.Tensor) -> tuple:
        """``(c, n, quad)`` with ``log p(value | s) = c + n/2 log s - s quad / 2``."""
        n = value.size(-2) * self.obs_dim
        unit = self._unit.log_prob(value)
        half = self._half.log_prob(value)
        # c = -n/2 log 2 pi - log|cov| / 2: halving every covariance isolates quad.
        quad = n * math.log(2.0) - 2.0 * (half - unit)
        return unit + 0.5 * quad, n, quad

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The log-density of the series ``value`` with the shared scale integrated out."""
        if self._validate_args:
            self._validate_sample(value)
        c, n, quad = self._evidence(value)
        alpha, beta = self.scale_dist.concentration, self.scale_dist.rate
        post_alpha = alpha + 0.5 * n
        return (c + alpha * beta.log() - torch.lgamma(alpha) + torch.lgamma(post_alpha)
                - post_alpha * torch.log(beta + 0.5 * quad))

    def filter(self, value: torch.Tensor) -> tuple:
        """The posterior of the scale and of the final hidden state given ``value``.

        Returns:
            ``(scale_post, state_post)``: the ``Gamma`` posterior of ``s`` and the
            ``MultivariateNormal`` of the final state given ``s == 1`` (given ``s`` its
            covariance is divided by ``s``; the mean does not depend on ``s``).
        """
        if self._validate_args:
            self._validate_sample(value)
        _, n, quad = self._evidence(value)
        alpha, beta = self.scale_dist.concentration, self.scale_dist.rate
        scale_post = Gamma(alpha + 0.5 * n, beta + 0.5 * quad, validate_args=False)
        return scale_post, self._unit._filter(value)


class LinearHMM(HiddenMarkovModel):
    """A linear state-space model with any noise distributions: :class:`GaussianHMM`'s
    structure, but ``initial_dist``, ``transition_dist`` and ``observation_dist`` may be any
    distributions with a vector event (e.g. ``StudentT(...).to_event(1)``).

    ``observation_dist`` may be a ``TransformedDistribution``: its transforms are then applied
    to ``z[t] @ observation_matrix + noise``, the noise drawn from its base distribution.
    Only sampling is implemented (reparameterised where the noise is); ``log_prob`` raises
    ``NotImplementedError``, as in Pyro (reparameterisers turn the model into a Gaussian one).
    Arguments, shapes and errors as for :class:`GaussianHMM`.
    """

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(self, initial_dist: Any, transition_matrix: torch.Tensor, transition_dist: Any,
                 observation_matrix: torch.Tensor, observation_dist: Any,
                 validate_args: Optional[bool] = None, duration: Optional[int] = None) -> None:
        transforms: list = []
        if isinstance(observation_dist, torch.distributions.TransformedDistribution):
            transforms = list(observation_dist.transforms)
            observation_dist = observation_dist.base_dist
        H, O, batch_shape, time, self._duration = _check_linear_parts(
            "LinearHMM", initial_dist, transition_matrix, transition_dist, observation_matrix,
            observation_dist, duration)
        self.hidden_dim, self.obs_dim = H, O
        self.initial_dist = initial_dist
        self.transition_matrix = transition_matrix
        self.transition_dist = transition_dist
        self.observation_matrix = observation_matrix
        self.observation_dist = observation_dist
        self.transforms = transforms
        self._parts = (initial_dist, transition_matrix, transition_dist, observation_matrix,
                       observation_dist)
        super().__init__(batch_shape, torch.Size(time + (O,)), validate_args=validate_args)

    @constraints.dependent_property
    def support(self) -> Any:
        """Sequences of the observation noise's support (as Pyro reports it)."""
        return constraints.independent(self.observation_dist.support, 1)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "LinearHMM":
        """This model with its batch dims broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(LinearHMM, _instance)
        init, A, trans, B, obs = self._parts
        if self.transforms:
            obs = torch.distributions.TransformedDistribution(
                _expand_step_dist(obs, batch_shape), self.transforms)
        else:
            obs = _expand_step_dist(obs, batch_shape)
        LinearHMM.__init__(
            new, init.expand(batch_shape), _expand_steps(A, batch_shape, 2),
            _expand_step_dist(trans, batch_shape), _expand_steps(B, batch_shape, 2), obs,
            validate_args=False, duration=self._duration)
        new._validate_args = self._validate_args
        return new

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Not implemented (as in Pyro)."""
        raise NotImplementedError("LinearHMM.log_prob() is not implemented")

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw the hidden chain forward, observe it and apply the observation transforms."""
        return _linear_rsample(self, sample_shape, self.transforms)


class GaussianMRF(TorchDistribution):
    """A temporal Markov random field of Gaussian factors over a series of observations.

    The factors are joint Gaussians: ``initial_dist`` over the state ``x[-1]``,
    ``transition_dist`` over ``(x[t-1], x[t])`` and ``observation_dist`` over
    ``(x[t], y[t])``; unlike :class:`GaussianHMM`'s they need not be conditionals.
    ``log_prob(y)`` is the log of the integral of their product over the states with ``y``
    fixed, minus the log of its integral over states and observations, so that it is a
    normalised density of ``y``.

    Args:
        initial_dist: a ``MultivariateNormal`` with event ``(hidden_dim,)``.
        transition_dist: a ``MultivariateNormal`` with event ``(2 * hidden_dim,)`` (old, new),
            batch ``batch + (time,)`` (time one or absent when homogeneous).
        observation_dist: a ``MultivariateNormal`` with event ``(hidden_dim + obs_dim,)``,
            batch ``batch + (time,)``.
        validate_args: as for every distribution.

    ``event_shape == (time, obs_dim)``; a homogeneous field has ``time == 1`` and scores
    series of any length.
    """

    arg_constraints: dict = {}
    support = constraints.independent(constraints.real, 2)

    def __init__(self, initial_dist: Any, transition_dist: Any, observation_dist: Any,
                 validate_args: Optional[bool] = None) -> None:
        check_distribution("GaussianMRF", initial_dist=initial_dist,
                           transition_dist=transition_dist, observation_dist=observation_dist)
        shapes = (f"initial_dist: batch {tuple(initial_dist.batch_shape)} event "
                  f"{tuple(initial_dist.event_shape)}, transition_dist: batch "
                  f"{tuple(transition_dist.batch_shape)} event {tuple(transition_dist.event_shape)}, "
                  f"observation_dist: batch {tuple(observation_dist.batch_shape)} event "
                  f"{tuple(observation_dist.event_shape)}")
        if len(initial_dist.event_shape) != 1:
            raise ValueError(f"GaussianMRF: initial_dist needs a vector event ({shapes})")
        H = initial_dist.event_shape[0]
        if tuple(transition_dist.event_shape) != (2 * H,):
            raise ValueError(
                f"GaussianMRF: transition_dist needs event (2 * hidden_dim,) = ({2 * H},) "
                f"({shapes})")
        if len(observation_dist.event_shape) != 1 or observation_dist.event_shape[0] <= H:
            raise ValueError(
                f"GaussianMRF: observation_dist needs event (hidden_dim + obs_dim,) with "
                f"hidden_dim={H} ({shapes})")
        O = observation_dist.event_shape[0] - H
        shape = _broadcast("GaussianMRF", [
            ("initial_dist.batch_shape + (1,)", tuple(initial_dist.batch_shape) + (1,)),
            ("transition_dist.batch_shape", transition_dist.batch_shape),
            ("observation_dist.batch_shape", observation_dist.batch_shape)])
        self.hidden_dim, self.obs_dim = H, O
        self._parts = (initial_dist, transition_dist, observation_dist)
        self._init = mvn_to_gaussian(initial_dist)
        self._trans = mvn_to_gaussian(transition_dist)
        self._obs = mvn_to_gaussian(observation_dist)
        super().__init__(shape[:-1], torch.Size((shape[-1], O)), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "GaussianMRF":
        """This field with its batch dims broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        new = self._get_checked_instance(GaussianMRF, _instance)
        init, trans, obs = self._parts
        GaussianMRF.__init__(new, init.expand(batch_shape), _expand_step_dist(trans, batch_shape),
                             _expand_step_dist(obs, batch_shape), validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _log_integral(self, steps: Gaussian) -> torch.Tensor:
        H = self.hidden_dim
        chain = sequential_gaussian_tensordot(self._trans + steps.event_pad(left=H))
        return gaussian_tensordot(self._init, chain, H).event_logsumexp()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The normalised log-density of the observation series ``value``."""
        if self._validate_args and self.event_shape[0] != 1:
            self._validate_sample(value)
        numerator = self._log_integral(self._obs.condition(value))
        if value.size(-2) == self.event_shape[0]:
            marginal = self._obs.marginalize(right=self.obs_dim)
        else:
            marginal = self._obs.marginalize(right=self.obs_dim).expand(
                self._obs.batch_shape[:-1] + (value.size(-2),))
        return numerator - self._log_integral(marginal)


class IndependentHMM(TorchDistribution):
    """A batch of independent univariate HMMs seen as one multivariate series.

    ``base_dist`` has ``batch_shape == batch + (num_series,)`` and
    ``event_shape == (duration, 1)``; this distribution has ``batch_shape == batch`` and
    ``event_shape == (duration, num_series)``: column ``i`` of a value is series ``i``.
    """

    arg_constraints: dict = {}

    def __init__(self, base_dist: Any) -> None:
        check_distribution("IndependentHMM", base_dist=base_dist)
        if len(base_dist.batch_shape) < 1 or len(base_dist.event_shape) != 2 or (
                base_dist.event_shape[-1] != 1):
            raise ValueError(
                "IndependentHMM: base_dist needs batch_shape (..., num_series) and event_shape "
                f"(duration, 1); got batch_shape {tuple(base_dist.batch_shape)}, event_shape "
                f"{tuple(base_dist.event_shape)}")
        self.base_dist = base_dist
        batch_shape = base_dist.batch_shape[:-1]
        event_shape = base_dist.event_shape[:1] + base_dist.batch_shape[-1:]
        super().__init__(batch_shape, event_shape)

    @constraints.dependent_property
    def support(self) -> Any:
        """The base distribution's support."""
        return self.base_dist.support

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        """Whether the base distribution is reparameterised."""
        return self.base_dist.has_rsample

    @property
    def duration(self) -> Optional[int]:
        """The base distribution's ``duration``."""
        return self.base_dist.duration

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> "IndependentHMM":
        """This distribution with its batch dims broadcast to ``batch_shape``."""
        batch_shape = torch.Size(batch_shape)
        base = self.base_dist.expand(batch_shape + self.base_dist.batch_shape[-1:])
        return IndependentHMM(base)

    def rsample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw every series, as columns."""
        return self.base_dist.rsample(sample_shape).squeeze(-1).transpose(-1, -2)

    def sample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Draw every series, as columns (not differentiable)."""
        return self.base_dist.sample(sample_shape).squeeze(-1).transpose(-1, -2)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """The summed log-density of the columns of ``value`` under their series."""
        return self.base_dist.log_prob(value.transpose(-1, -2).unsqueeze(-1)).sum(-1)
