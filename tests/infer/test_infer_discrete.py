"""infer_discrete: MAP (temperature 0) and posterior draws (temperature 1) against brute force."""

import itertools
import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import config_enumerate, infer_discrete


def _hmm(trans, init, locs, ys):
    @config_enumerate
    def hmm():
        probs, path = init, []
        for t in pyro.markov(range(len(ys))):
            x = pyro.sample(f"x_{t}", dist.Categorical(probs))
            pyro.sample(f"y_{t}", dist.Normal(locs[x], 1.0), obs=ys[t])
            probs = trans[x]
            path.append(x)
        return path

    return hmm


def _log_joint(path, trans, init, locs, ys):
    lp, probs = torch.tensor(0.0), init
    for t, v in enumerate(path):
        lp = lp + probs[v].log() + dist.Normal(locs[v], 1.0).log_prob(ys[t])
        probs = trans[v]
    return lp


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_temperature_zero_is_the_viterbi_path(seed):
    torch.manual_seed(seed)
    k, n = 3, 5
    trans = torch.softmax(torch.randn(k, k) * 2, -1)
    init = torch.softmax(torch.randn(k), -1)
    locs = torch.tensor([-2.0, 0.0, 2.0])
    ys = torch.randn(n) * 2
    best = max(itertools.product(range(k), repeat=n),
               key=lambda p: _log_joint(p, trans, init, locs, ys).item())
    path = infer_discrete(_hmm(trans, init, locs, ys), first_available_dim=-1, temperature=0)()
    assert tuple(int(v) for v in path) == best


def test_temperature_one_samples_the_exact_joint_posterior():
    trans = torch.tensor([[0.8, 0.2], [0.3, 0.7]])
    init = torch.tensor([0.5, 0.5])
    locs = torch.tensor([0.0, 1.0])
    ys = torch.tensor([0.1, 1.2, 0.4])
    log_joint = {p: _log_joint(p, trans, init, locs, ys)
                 for p in itertools.product(range(2), repeat=3)}
    log_z = torch.logsumexp(torch.stack(list(log_joint.values())), 0)
    sampler = infer_discrete(_hmm(trans, init, locs, ys), first_available_dim=-1)
    n, counts = 400, {}
    for _ in range(n):
        path = tuple(int(v) for v in sampler())
        counts[path] = counts.get(path, 0) + 1
    for path, lp in log_joint.items():
        p = (lp - log_z).exp().item()
        assert counts.get(path, 0) / n == pytest.approx(p, abs=4 * (p * (1 - p) / n) ** 0.5 + 1e-3)


def test_map_of_a_global_and_plate_local_model():
    prior_c = torch.tensor([0.45, 0.55])
    trans = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    locs = torch.tensor([-1.0, 0.5, 2.0])
    ys = torch.tensor([0.3, 1.8, -0.9])

    @config_enumerate
    def model():
        c = pyro.sample("c", dist.Categorical(prior_c))
        with pyro.plate("data", 3):
            z = pyro.sample("z", dist.Categorical(trans[c]))
            pyro.sample("y", dist.Normal(locs[z], 1.0), obs=ys)
        return c, z

    def log_joint(c, zs):
        return (prior_c[c].log() + trans[c, list(zs)].log().sum()
                + dist.Normal(locs[list(zs)], 1.0).log_prob(ys).sum()).item()

    best = max(((c, zs) for c in range(2) for zs in itertools.product(range(3), repeat=3)),
               key=lambda cz: log_joint(*cz))
    c, z = infer_discrete(model, first_available_dim=-2, temperature=0)()
    assert c.shape == () and z.shape == (3,)
    assert (int(c), tuple(int(v) for v in z)) == best


def test_sites_stay_latent_and_the_decorator_form_works():
    trans = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    hmm = _hmm(trans, torch.tensor([0.5, 0.5]), torch.tensor([0.0, 3.0]), torch.tensor([0.0, 3.0]))
    decorated = infer_discrete(first_available_dim=-1, temperature=0)(hmm)
    tr = poutine.trace(decorated).get_trace()
    assert [int(tr.nodes[f"x_{t}"]["value"]) for t in range(2)] == [0, 1]
    assert not tr.nodes["x_0"]["is_observed"] and tr.nodes["y_1"]["is_observed"]
    assert tr.nodes["x_0"]["value"].shape == ()


def test_errors_and_the_no_enumeration_warning():
    def plain():
        return pyro.sample("a", dist.Normal(0.0, 1.0))

    with pytest.raises(ValueError, match=r"temperature must be 0 \(map\) or 1 \(sample\)"):
        infer_discrete(plain, first_available_dim=-1, temperature=0.5)
    with pytest.raises(ValueError, match="first_available_dim must be a negative int"):
        infer_discrete(plain)
    with pytest.warns(UserWarning, match="infer_discrete found no sample sites configured"):
        infer_discrete(plain, first_available_dim=-1)()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        infer_discrete(plain, first_available_dim=-1, strict_enumeration_warning=False)()
