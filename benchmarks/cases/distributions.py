"""Cases of the time-series distributions (issue 16): one ``log_prob`` of a whole series.

``dist.discrete_hmm_log_prob`` scores a batch of 100 series of 100 steps under a 10-state
``DiscreteHMM`` with Normal observations; ``dist.gaussian_hmm_log_prob`` scores one series of
100 steps under a ``GaussianHMM`` with a 5-dim hidden state and 3-dim observations. The torch
twins write the textbook sequential recursions by hand: the forward algorithm in log space, and
a covariance-form Kalman filter summing the innovations' log-densities.
"""

from __future__ import annotations

from cases import bench

T, S, BATCH = 100, 10, 100
HIDDEN, OBS = 5, 3


def _discrete_data():
    import torch

    g = torch.Generator().manual_seed(0)
    init = torch.randn(S, generator=g)
    trans = torch.randn(T, S, S, generator=g)
    loc = torch.randn(T, S, generator=g)
    y = torch.randn(BATCH, 1, T, generator=g)
    return init, trans, loc, y


@bench("dist.discrete_hmm_log_prob", target=("pyro", 0.8))
def discrete_hmm_log_prob():
    """DiscreteHMM(10 states).log_prob of 100 series of 100 steps."""
    import pyro.distributions as dist

    init, trans, loc, y = _discrete_data()
    d = dist.DiscreteHMM(init, trans, dist.Normal(loc, 1.0))
    return lambda: d.log_prob(y)


@discrete_hmm_log_prob.torch
def _():
    import torch

    init, trans, loc, y = _discrete_data()
    y = y.squeeze(1)
    obs = torch.distributions.Normal(loc, 1.0)

    def step():
        log_init = init.log_softmax(-1)
        log_trans = trans.log_softmax(-1)
        obs_lp = obs.log_prob(y.unsqueeze(-1))  # (BATCH, T, S)
        alpha = log_init.expand(BATCH, S)
        for t in range(T):
            alpha = (alpha.unsqueeze(-1) + log_trans[t]).logsumexp(-2) + obs_lp[:, t]
        return alpha.logsumexp(-1)

    return step


def _gaussian_data():
    import torch

    g = torch.Generator().manual_seed(0)
    A = torch.randn(T, HIDDEN, HIDDEN, generator=g) * 0.3
    B = torch.randn(T, HIDDEN, OBS, generator=g)
    trans_scale = torch.rand(T, HIDDEN, generator=g) + 0.5
    obs_scale = torch.rand(T, OBS, generator=g) + 0.5
    y = torch.randn(T, OBS, generator=g)
    return A, B, trans_scale, obs_scale, y


@bench("dist.gaussian_hmm_log_prob", target=("pyro", 0.8))
def gaussian_hmm_log_prob():
    """GaussianHMM(hidden 5, obs 3).log_prob of one series of 100 steps."""
    import pyro.distributions as dist
    import torch

    A, B, trans_scale, obs_scale, y = _gaussian_data()
    init = dist.MultivariateNormal(torch.zeros(HIDDEN), torch.eye(HIDDEN))
    trans = dist.Normal(torch.zeros(T, HIDDEN), trans_scale).to_event(1)
    obs = dist.Normal(torch.zeros(T, OBS), obs_scale).to_event(1)
    d = dist.GaussianHMM(init, A, trans, B, obs)
    return lambda: d.log_prob(y)


@gaussian_hmm_log_prob.torch
def _():
    import torch

    A, B, trans_scale, obs_scale, y = _gaussian_data()
    Q = torch.diag_embed(trans_scale.pow(2))
    R = torch.diag_embed(obs_scale.pow(2))

    def step():
        m, P = torch.zeros(HIDDEN), torch.eye(HIDDEN)
        total = torch.zeros(())
        for t in range(T):
            m = m @ A[t]
            P = A[t].T @ P @ A[t] + Q[t]
            S_ = B[t].T @ P @ B[t] + R[t]
            innov = y[t] - m @ B[t]
            total = total + torch.distributions.MultivariateNormal(
                torch.zeros(OBS), S_).log_prob(innov)
            K = torch.linalg.solve(S_, B[t].T @ P).T
            m = m + innov @ K.T
            P = P - K @ S_ @ K.T
        return total

    return step
