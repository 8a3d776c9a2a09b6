"""Nested ``pyro.markov`` chains under parallel enumeration: dims and the exact loss."""

import itertools

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
from pyro.infer import TraceEnum_ELBO, config_enumerate

TRANS = torch.tensor([[0.9, 0.1], [0.3, 0.7]], dtype=torch.float64)


def _obs(i, j):
    return torch.tensor(float((i + 2 * j) % 3) - 1.0, dtype=torch.float64)


def _model(outer=3, inner=3):
    x = 0
    for i in pyro.markov(range(outer)):
        x = pyro.sample(f"x_{i}", dist.Categorical(TRANS[x]))
        y = 0
        for j in pyro.markov(range(inner)):
            y = pyro.sample(f"y_{i}_{j}", dist.Categorical(TRANS[(x + y) % 2]))
            pyro.sample(f"z_{i}_{j}", dist.Normal(y.to(torch.float64), 1.0), obs=_obs(i, j))


def test_inner_chain_sites_avoid_the_outer_chain_dims():
    tr = poutine.trace(poutine.enum(config_enumerate(_model), first_available_dim=-1)).get_trace()
    dims = {name: site["value"].dim() for name, site in tr.nodes.items()
            if site["type"] == "sample" and not site["is_observed"]}
    # x_i sees x_{i-1}; y_i_j sees y_i_{j-1}, x_i and x_{i-1}; dims are recycled outside that
    assert dims == {
        "x_0": 1, "y_0_0": 2, "y_0_1": 3, "y_0_2": 2,
        "x_1": 2, "y_1_0": 3, "y_1_1": 4, "y_1_2": 3,
        "x_2": 1, "y_2_0": 3, "y_2_1": 4, "y_2_2": 3,
    }


def test_nested_markov_loss_equals_brute_force():
    outer, inner = 2, 3
    names = [("x", i, None) for i in range(outer)] + [("y", i, j) for i in range(outer) for j in range(inner)]
    total = []
    for values in itertools.product(range(2), repeat=len(names)):
        v = dict(zip(names, values))
        lp = torch.tensor(0.0, dtype=torch.float64)
        x = 0
        for i in range(outer):
            lp = lp + TRANS[x, v["x", i, None]].log()
            x = v["x", i, None]
            y = 0
            for j in range(inner):
                lp = lp + TRANS[(x + y) % 2, v["y", i, j]].log()
                y = v["y", i, j]
                lp = lp + dist.Normal(torch.tensor(float(y), dtype=torch.float64), 1.0).log_prob(_obs(i, j))
        total.append(lp)
    expected = -torch.logsumexp(torch.stack(total), 0).item()
    loss = TraceEnum_ELBO(max_plate_nesting=0).loss(
        config_enumerate(lambda: _model(outer, inner)), lambda: None)
    assert loss == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("expand", [False, True])
def test_expanded_guide_enumeration_along_a_chain(expand):
    # with expand=True each value carries the dims of earlier steps; a recycled dim must not
    # collide with them. The loss is the same either way and equals brute force.
    trans = torch.tensor([[0.9, 0.1], [0.3, 0.7]], dtype=torch.float64)
    q = torch.tensor([[0.6, 0.4], [0.2, 0.8]], dtype=torch.float64)
    data = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]], dtype=torch.float64)

    def model():
        with pyro.plate("s", 2, dim=-1):
            x = 0
            for t in pyro.markov(range(3)):
                x = pyro.sample(f"x_{t}", dist.Categorical(trans[x]))
                pyro.sample(f"y_{t}", dist.Normal(x.to(torch.float64), 1.0), obs=data[:, t])

    @config_enumerate(expand=expand)
    def guide():
        with pyro.plate("s", 2, dim=-1):
            x = 0
            for t in pyro.markov(range(3)):
                x = pyro.sample(f"x_{t}", dist.Categorical(q[x]))

    expected = 0.0
    for s in range(2):  # E_q[log p - log q] per sequence, by brute force over 2**3 paths
        for path in itertools.product(range(2), repeat=3):
            log_q = log_p = torch.tensor(0.0, dtype=torch.float64)
            prev = 0
            for t, x in enumerate(path):
                log_q = log_q + q[prev, x].log()
                log_p = log_p + trans[prev, x].log() + dist.Normal(
                    torch.tensor(float(x), dtype=torch.float64), 1.0).log_prob(data[s, t])
                prev = x
            expected -= (log_q.exp() * (log_p - log_q)).item()
    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide)
    assert loss == pytest.approx(expected, rel=1e-10)


def test_guide_enumerated_chain_is_exact_and_linear():
    # 40 steps: a joint table of the guide's chain would have 2**40 entries; the expectation is
    # computed with forward messages instead. Checked against the exact ELBO by a forward pass.
    steps = 40
    g = torch.Generator().manual_seed(0)
    data = torch.randn(steps, generator=g, dtype=torch.float64)
    trans = torch.tensor([[0.9, 0.1], [0.3, 0.7]], dtype=torch.float64)
    q = torch.tensor([[0.6, 0.4], [0.2, 0.8]], dtype=torch.float64, requires_grad=True)
    locs = torch.tensor([0.0, 1.0], dtype=torch.float64)

    def model():
        x = 0
        for t in pyro.markov(range(steps)):
            x = pyro.sample(f"x_{t}", dist.Categorical(trans[x]))
            pyro.sample(f"y_{t}", dist.Normal(locs[x], 1.0), obs=data[t])

    @config_enumerate
    def guide():
        x = 0
        for t in pyro.markov(range(steps)):
            x = pyro.sample(f"x_{t}", dist.Categorical(q[x]))

    loss = TraceEnum_ELBO(max_plate_nesting=0).differentiable_loss(model, guide)
    (grad,) = torch.autograd.grad(loss, q)

    emission = dist.Normal(locs, 1.0).log_prob(data[:, None])
    qn = q / q.sum(-1, keepdim=True)  # what Categorical(probs) does to its rows
    prev = torch.tensor([1.0, 0.0], dtype=torch.float64)
    elbo = 0.0
    for t in range(steps):
        joint = prev[:, None] * qn
        elbo = elbo + (joint * (trans.log() - qn.log())).sum() + (joint.sum(0) * emission[t]).sum()
        prev = joint.sum(0)
    (expected_grad,) = torch.autograd.grad(-elbo, q)
    assert loss.item() == pytest.approx(-elbo.item(), rel=1e-10)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-12)


def test_sample_posterior_draws_from_the_exact_joint_posterior():
    trans = torch.tensor([[0.8, 0.2], [0.3, 0.7]])
    ys = torch.tensor([0.1, 1.2, 0.4])

    @config_enumerate
    def hmm():
        x, path = 0, []
        for t in pyro.markov(range(3)):
            x = pyro.sample(f"x_{t}", dist.Categorical(trans[x]))
            pyro.sample(f"y_{t}", dist.Normal(x.float(), 0.5), obs=ys[t])
            path.append(x)
        return path

    log_joint = {}
    for path in itertools.product(range(2), repeat=3):
        lp, x = torch.tensor(0.0), 0
        for t, v in enumerate(path):
            lp = lp + trans[x, v].log() + dist.Normal(float(v), 0.5).log_prob(ys[t])
            x = v
        log_joint[path] = lp
    log_z = torch.logsumexp(torch.stack(list(log_joint.values())), 0)
    elbo = TraceEnum_ELBO(max_plate_nesting=0)
    n = 300
    counts = {}
    for _ in range(n):
        path = tuple(int(v) for v in elbo.sample_posterior(hmm, lambda: None))
        counts[path] = counts.get(path, 0) + 1
    for path, lp in log_joint.items():  # 3 standard errors at most (0.028 for p = 0.41)
        assert counts.get(path, 0) / n == pytest.approx((lp - log_z).exp().item(), abs=0.085)
    with pytest.raises(NotImplementedError, match="multiple particles"):
        TraceEnum_ELBO(max_plate_nesting=0, num_particles=2).sample_posterior(hmm, lambda: None)


def test_sample_posterior_with_a_global_and_plate_local_enumerated_sites():
    prior_c = torch.tensor([0.4, 0.6])
    trans = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    locs = torch.tensor([-1.0, 0.5, 2.0])
    ys = torch.tensor([0.3, 1.8])

    @config_enumerate
    def model():
        c = pyro.sample("c", dist.Categorical(prior_c))
        with pyro.plate("data", 2):
            z = pyro.sample("z", dist.Categorical(trans[c]))
            pyro.sample("y", dist.Normal(locs[z], 1.0), obs=ys)
        return c, z

    log_joint = {}
    for c, z0, z1 in itertools.product(range(2), range(3), range(3)):
        lp = prior_c[c].log()
        for z, y in ((z0, ys[0]), (z1, ys[1])):
            lp = lp + trans[c, z].log() + dist.Normal(locs[z], 1.0).log_prob(y)
        log_joint[(c, (z0, z1))] = lp
    log_z = torch.logsumexp(torch.stack(list(log_joint.values())), 0)
    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    n = 500
    counts = {}
    for _ in range(n):
        c, z = elbo.sample_posterior(model, lambda: None)
        assert c.shape == () and z.shape == (2,)
        draw = (int(c), tuple(int(v) for v in z))
        counts[draw] = counts.get(draw, 0) + 1
    for key, lp in log_joint.items():  # 4 standard errors at most (0.077 for p = 0.5)
        p = (lp - log_z).exp().item()
        assert counts.get(key, 0) / n == pytest.approx(p, abs=4 * (p * (1 - p) / n) ** 0.5 + 1e-3)
