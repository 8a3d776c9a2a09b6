"""Enumerated sites under ``poutine.mask``: losses against exact sums and the forward algorithm.

A masked-out element of a model-enumerated site must contribute nothing: its prior still sums to
one over its values, and only the factors the mask drops are dropped (Pyro 1.9's semantics).
"""

import itertools
import math

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
from pyro.infer import TraceEnum_ELBO, config_enumerate

PROBS = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
LOCS = torch.tensor([-1.0, 0.0, 1.0, 2.0], dtype=torch.float64)


def _loss(model, *args, max_plate_nesting=1):
    elbo = TraceEnum_ELBO(max_plate_nesting=max_plate_nesting)
    return elbo.loss(config_enumerate(model), lambda *a: None, *args)


def _log_evidence(y):
    """log p(y) = log sum_c p(c) N(y | loc_c, 1), by hand."""
    return torch.logsumexp(PROBS.log() + dist.Normal(LOCS, 1.0).log_prob(y), 0).item()


@pytest.mark.parametrize("which", ["both", "latent", "child"])
def test_fully_masked_site(which):
    y = torch.tensor(0.5, dtype=torch.float64)
    off = torch.tensor(False)

    def model():
        with poutine.mask(mask=off if which in ("both", "latent") else torch.tensor(True)):
            c = pyro.sample("c", dist.Categorical(PROBS))
        with poutine.mask(mask=off if which in ("both", "child") else torch.tensor(True)):
            pyro.sample("x", dist.Normal(LOCS[c], 1.0), obs=y)

    # masking the latent alone leaves its prior: the loss is still -log p(y)
    expected = 0.0 if which in ("both", "child") else -_log_evidence(y)
    assert _loss(model, max_plate_nesting=0) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("mask", [[True, False], [False, True], [True, True], [False, False]])
def test_masked_mixture_in_a_plate(mask):
    data = torch.tensor([0.5, 1.5], dtype=torch.float64)
    mask_t = torch.tensor(mask)

    def model():
        with pyro.plate("data", 2), poutine.mask(mask=mask_t):
            c = pyro.sample("c", dist.Categorical(PROBS))
            pyro.sample("x", dist.Normal(LOCS[c], 1.0), obs=data)

    expected = -sum(_log_evidence(y) for y, m in zip(data, mask) if m)
    assert _loss(model) == pytest.approx(expected, abs=1e-12)


TRANS = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.25, 0.25, 0.5]], dtype=torch.float64)
INIT = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
EMIT = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)


def _forward(ys, length):
    """log p(y_0..y_{length-1}) of the HMM by the forward algorithm."""
    alpha = INIT.log() + dist.Normal(EMIT, 1.0).log_prob(ys[0])
    for t in range(1, length):
        alpha = torch.logsumexp(alpha[:, None] + TRANS.log(), 0) + dist.Normal(EMIT, 1.0).log_prob(ys[t])
    return torch.logsumexp(alpha, 0).item()


def _padded_hmm(ys, lengths):
    num_seqs, steps = ys.shape
    with pyro.plate("sequences", num_seqs, dim=-1):
        x = None
        for t in pyro.markov(range(steps)):
            with poutine.mask(mask=t < lengths):
                probs = INIT if x is None else TRANS[x]
                x = pyro.sample(f"x_{t}", dist.Categorical(probs))
                pyro.sample(f"y_{t}", dist.Normal(EMIT[x], 1.0), obs=ys[:, t])


def test_padded_hmm_equals_forward_algorithm():
    torch.manual_seed(0)
    lengths = torch.tensor([6, 3, 1, 4])
    ys = torch.randn(4, 6, dtype=torch.float64) * 2
    ys[lengths[:, None] <= torch.arange(6)] = 100.0  # padding: would dominate if it counted
    expected = -sum(_forward(ys[i], int(n)) for i, n in enumerate(lengths))
    loss = _loss(_padded_hmm, ys, lengths)
    assert loss == pytest.approx(expected, rel=1e-10)


def test_padded_hmm_loss_does_not_depend_on_padding_length():
    torch.manual_seed(1)
    ys = torch.randn(2, 3, dtype=torch.float64)
    lengths = torch.tensor([3, 2])
    short = _loss(_padded_hmm, ys, lengths)
    padded = torch.cat([ys, torch.full((2, 5), 7.0, dtype=torch.float64)], dim=1)
    assert _loss(_padded_hmm, padded, lengths) == pytest.approx(short, rel=1e-12)


def test_masked_hmm_by_brute_force_enumeration():
    # one sequence, masked after two steps, checked against a sum over all 3**4 paths
    ys = torch.tensor([[0.3, 1.7, -2.0, 4.0]], dtype=torch.float64)
    lengths = torch.tensor([2])
    total = []
    for path in itertools.product(range(3), repeat=2):
        lp = INIT[path[0]].log() + TRANS[path[0], path[1]].log()
        lp = lp + sum(dist.Normal(EMIT[x], 1.0).log_prob(ys[0, t]) for t, x in enumerate(path))
        total.append(lp)
    expected = -torch.logsumexp(torch.stack(total), 0).item()
    assert _loss(_padded_hmm, ys, lengths) == pytest.approx(expected, rel=1e-10)


def test_marginal_of_a_masked_out_element_is_its_prior():
    data = torch.tensor([0.5, 1.5], dtype=torch.float64)

    def model():
        with pyro.plate("data", 2), poutine.mask(mask=torch.tensor([True, False])):
            c = pyro.sample("c", dist.Categorical(PROBS))
            pyro.sample("x", dist.Normal(LOCS[c], 1.0), obs=data)

    marginal = TraceEnum_ELBO(max_plate_nesting=1).compute_marginals(
        config_enumerate(model), lambda: None)["c"]
    posterior = PROBS * dist.Normal(LOCS, 1.0).log_prob(data[0]).exp()
    torch.testing.assert_close(marginal.probs[0], posterior / posterior.sum(), rtol=1e-12, atol=0)
    torch.testing.assert_close(marginal.probs[1], PROBS, rtol=1e-12, atol=0)
    assert not math.isnan(marginal.probs.sum().item())
