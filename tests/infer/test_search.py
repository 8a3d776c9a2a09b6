"""Search: exact enumeration of discrete models, checked against sums written out by hand."""

import itertools
import math

import pytest
import torch

import pyro
from pyro.infer import EmpiricalMarginal, Search

D = torch.distributions


def two_coins():
    a = pyro.sample("a", D.Bernoulli(0.5))
    b = pyro.sample("b", D.Bernoulli(0.3))
    # Observe "at least one head" through a noisy sensor.
    p = 0.9 if (a + b).item() > 0 else 0.1
    pyro.sample("sensor", D.Bernoulli(p), obs=torch.tensor(1.0))
    return a + b


def joint_two_coins():
    table = {}
    for a, b in itertools.product([0, 1], [0, 1]):
        pa = 0.5
        pb = 0.3 if b else 0.7
        ps = 0.9 if a + b > 0 else 0.1
        table[(a, b)] = pa * pb * ps
    return table


def test_two_coins_exact_posterior_over_traces():
    posterior = Search(two_coins).run()
    assert len(posterior.exec_traces) == 4
    table = joint_two_coins()
    z = sum(table.values())
    weights = posterior.get_normalized_weights()
    for tr, w in zip(posterior.exec_traces, weights):
        key = (int(tr.nodes["a"]["value"]), int(tr.nodes["b"]["value"]))
        assert w.item() == pytest.approx(table[key] / z, abs=1e-6)
    keys = {(int(t.nodes["a"]["value"]), int(t.nodes["b"]["value"])) for t in posterior.exec_traces}
    assert keys == set(table)
    assert posterior.get_log_normalizer().item() == pytest.approx(math.log(z), abs=1e-6)


def test_two_coins_exact_marginals():
    posterior = Search(two_coins).run()
    table = joint_two_coins()
    z = sum(table.values())
    p_a = sum(v for (a, _), v in table.items() if a == 1) / z
    marginal_a = EmpiricalMarginal(posterior, "a")
    assert marginal_a.mean.item() == pytest.approx(p_a, abs=1e-6)
    assert marginal_a.variance.item() == pytest.approx(p_a * (1 - p_a), abs=1e-6)
    assert marginal_a.log_prob(torch.tensor(1.0)).exp().item() == pytest.approx(p_a, abs=1e-6)
    # The return value a + b: three values, two traces give 1.
    ret = EmpiricalMarginal(posterior)
    p_sum = {s: sum(v for (a, b), v in table.items() if a + b == s) / z for s in (0, 1, 2)}
    for s, p in p_sum.items():
        assert ret.log_prob(torch.tensor(float(s))).exp().item() == pytest.approx(p, abs=1e-6)
    assert ret.mean.item() == pytest.approx(sum(s * p for s, p in p_sum.items()), abs=1e-6)
    # Stacked sites.
    both = EmpiricalMarginal(posterior, ["a", "b"])
    assert both.mean.shape == (2,)


def test_categorical_chain():
    # k1 -> k2 -> observation; three values each: nine traces.
    prior1 = torch.tensor([0.5, 0.3, 0.2])
    trans = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    means = torch.tensor([-1.0, 0.0, 3.0])

    def model(y):
        k1 = pyro.sample("k1", D.Categorical(prior1))
        k2 = pyro.sample("k2", D.Categorical(trans[k1]))
        pyro.sample("y", D.Normal(means[k2], 1.0), obs=y)

    y = torch.tensor(2.0)
    posterior = Search(model).run(y)
    assert len(posterior.exec_traces) == 9
    joint = prior1[:, None] * trans * D.Normal(means, 1.0).log_prob(y).exp()[None, :]
    exact_k1 = joint.sum(1) / joint.sum()
    marginal = EmpiricalMarginal(posterior, "k1")
    got = torch.stack([marginal.log_prob(torch.tensor(k)).exp() for k in range(3)])
    assert torch.allclose(got, exact_k1, atol=1e-6)


def test_batched_site_enumerated_jointly():
    def model():
        with pyro.plate("coins", 2):
            c = pyro.sample("c", D.Bernoulli(torch.tensor([0.2, 0.6])))
        pyro.sample("obs", D.Normal(c.sum(), 0.5), obs=torch.tensor(1.0))

    posterior = Search(model).run()
    values = [tuple(t.nodes["c"]["value"].tolist()) for t in posterior.exec_traces]
    assert sorted(values) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    probs = {}
    for c0, c1 in itertools.product([0, 1], [0, 1]):
        p = (0.2 if c0 else 0.8) * (0.6 if c1 else 0.4)
        probs[(c0, c1)] = p * D.Normal(float(c0 + c1), 0.5).log_prob(torch.tensor(1.0)).exp().item()
    z = sum(probs.values())
    marginal = EmpiricalMarginal(posterior, "c")
    assert marginal.mean[0].item() == pytest.approx((probs[(1, 0)] + probs[(1, 1)]) / z, abs=1e-6)
    assert marginal.mean[1].item() == pytest.approx((probs[(0, 1)] + probs[(1, 1)]) / z, abs=1e-6)


def test_max_tries():
    def model():
        for i in range(4):
            pyro.sample(f"x{i}", D.Bernoulli(0.5))

    with pytest.raises(ValueError, match="max_tries"):
        Search(model, max_tries=2).run()
    assert len(Search(model).run().exec_traces) == 16
