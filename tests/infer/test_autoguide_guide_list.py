"""AutoGuideList, AutoCallable and AutoDiscreteParallel: names, merging, and a mixture whose
assignments TraceEnum_ELBO sums out, fitted to its brute-force MAP and responsibilities."""

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import SVI, TraceEnum_ELBO
from pyro.infer.autoguide import (
    AutoCallable,
    AutoDelta,
    AutoDiagonalNormal,
    AutoDiscreteParallel,
    AutoGuideList,
    AutoNormal,
    init_to_value,
)
from pyro.optim import ClippedAdam

WEIGHTS = torch.tensor([0.3, 0.7])
CENTRES = torch.tensor([-1.0, 1.0])
DATA = torch.tensor([-1.5, -0.4, 0.3, 0.9, 1.6])


def mixture(data):
    shift = pyro.sample("shift", dist.Normal(0.0, 1.0))
    with pyro.plate("data", len(data)):
        z = pyro.sample("z", dist.Categorical(WEIGHTS))
        pyro.sample("x", dist.Normal(CENTRES[z] + shift, 1.0), obs=data)


def _log_joint(shift):
    """log p(shift) + sum_i log sum_k w_k N(x_i; c_k + shift, 1), for a batch of shifts."""
    comp = dist.Normal(CENTRES + shift.unsqueeze(-1).unsqueeze(-1), 1.0).log_prob(
        DATA.unsqueeze(-1))
    mix = torch.logsumexp(comp + WEIGHTS.log(), -1).sum(-1)
    return dist.Normal(0.0, 1.0).log_prob(shift) + mix


def _mixture_guide():
    guide = AutoGuideList(mixture)
    guide.append(AutoDelta(poutine.block(mixture, hide=["z"])))
    guide.append(AutoDiscreteParallel(poutine.block(mixture, expose=["z"])))
    return guide


def test_mixture_map_and_responsibilities():
    guide = _mixture_guide()
    svi = SVI(mixture, guide, ClippedAdam({"lr": 0.1, "lrd": 0.985}),
              TraceEnum_ELBO(max_plate_nesting=1))
    for _ in range(150):
        svi.step(DATA)
    # Brute-force MAP of the shift on a fine grid (the guide's q(z) is exact at the optimum,
    # so the ELBO there is the log joint of the shift).
    grid = torch.linspace(-2.0, 2.0, 40001)
    best = grid[_log_joint(grid).argmax()]
    shift = guide[0].median(DATA)["shift"]
    assert abs(shift - best) < 2e-3
    comp = dist.Normal(CENTRES + best, 1.0).log_prob(DATA.unsqueeze(-1)) + WEIGHTS.log()
    resp = comp.softmax(-1)
    probs = pyro.param("AutoGuideList.1.z_probs")
    assert probs.shape == (5, 2)
    assert torch.allclose(probs, resp, atol=5e-3)


def test_names_sites_and_enumeration():
    guide = _mixture_guide()
    trace = poutine.trace(guide).get_trace(DATA)
    assert set(pyro.get_param_store().keys()) == {"AutoGuideList.0.shift",
                                                  "AutoGuideList.1.z_probs"}
    assert [p._pyro_name for p in guide] == ["AutoGuideList.0", "AutoGuideList.1"]
    z = trace.nodes["z"]
    assert z["infer"] == {"enumerate": "parallel"}
    assert isinstance(z["fn"], dist.Categorical) and z["value"].shape == (5,)
    # The discrete guide starts at the prior's probabilities.
    assert torch.allclose(pyro.param("AutoGuideList.1.z_probs"), WEIGHTS.expand(5, 2))
    assert isinstance(guide[0], AutoDelta) and len(guide) == 2
    sub = guide[1:]
    assert isinstance(sub, AutoGuideList) and len(sub) == 1 and sub[0] is guide[1]


def test_discrete_parallel_families_and_plates():
    def model():
        with pyro.plate("N", 4):
            pyro.sample("b", dist.Bernoulli(0.3))
            with pyro.plate("M", 2, dim=-2):
                pyro.sample("c", dist.OneHotCategorical(torch.tensor([0.2, 0.3, 0.5])))

    guide = AutoDiscreteParallel(model)
    trace = poutine.trace(guide).get_trace()
    assert isinstance(trace.nodes["b"]["fn"], dist.Bernoulli)
    assert trace.nodes["c"]["value"].shape == (2, 4, 3)
    store = pyro.get_param_store()
    assert torch.allclose(store["AutoDiscreteParallel.b_probs"], torch.full((4,), 0.3))
    assert store["AutoDiscreteParallel.c_probs"].shape == (2, 4, 3)
    with pytest.raises(NotImplementedError):
        guide.median()


def test_discrete_parallel_refuses_continuous():
    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0))

    with pytest.raises(NotImplementedError, match='Expected sample site "x" to be discrete'):
        AutoDiscreteParallel(model)()


def test_median_and_quantiles_merge():
    def model():
        pyro.sample("a", dist.Normal(1.0, 1.0))
        pyro.sample("s", dist.LogNormal(0.0, 1.0))

    guide = AutoGuideList(model)
    guide.append(AutoNormal(poutine.block(model, expose=["a"]), init_loc_fn=lambda s:
                            torch.tensor(1.0)))
    guide.append(AutoDiagonalNormal(poutine.block(model, expose=["s"]),
                                    init_loc_fn=init_to_value(values={"s": 2.0})))
    guide()
    med = guide.median()
    assert set(med) == {"a", "s"}
    assert torch.allclose(med["a"], torch.tensor(1.0))
    assert torch.allclose(med["s"], torch.tensor(2.0))
    q = guide.quantiles([0.1, 0.9])
    assert q["a"].shape == (2,) and q["s"].shape == (2,)
    z = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(0.9))
    assert torch.allclose(q["a"], torch.stack([1 - 0.1 * z, 1 + 0.1 * z]), atol=1e-5)
    log2 = torch.tensor(2.0).log()
    assert torch.allclose(q["s"], torch.stack([log2 - 0.1 * z, log2 + 0.1 * z]).exp(), atol=1e-5)
    # AutoDelta has no quantiles (as in Pyro), so a list holding one has none either.
    guide.append(AutoDelta(poutine.block(model, expose=[])))
    with pytest.raises(AttributeError):
        guide.quantiles([0.5])


def test_auto_callable():
    def model():
        pyro.sample("w", dist.Normal(0.0, 1.0))

    def hand_guide():
        w_loc = pyro.param("w_loc", torch.tensor(0.7))
        return {"w": pyro.sample("w", dist.Delta(w_loc))}

    wrapped = AutoCallable(model, hand_guide, median=lambda: {"w": torch.tensor(0.7)})
    assert wrapped()["w"].item() == pytest.approx(0.7)
    assert wrapped.median() == {"w": torch.tensor(0.7)}
    assert AutoCallable(model, hand_guide).median() == {}
    guide = AutoGuideList(model)
    guide.append(hand_guide)
    assert isinstance(guide[0], AutoCallable) and guide[0]._pyro_name == "AutoGuideList.0"
    assert guide()["w"].item() == pytest.approx(0.7)
    with pytest.raises(TypeError, match="part must be an AutoGuide or a callable"):
        guide.append(3)
    with pytest.raises(TypeError, match="guide must be callable"):
        AutoCallable(model, None)


@pytest.mark.parametrize("subsample_size", [None, 2])
def test_parts_share_the_plates(subsample_size):
    data = torch.tensor([0.5, 1.0, 2.0, -1.0])

    def model(data):
        with pyro.plate("N", 4, subsample_size=subsample_size) as idx:
            a = pyro.sample("a", dist.Normal(0.0, 1.0))
            z = pyro.sample("z", dist.Bernoulli(0.5))
            pyro.sample("x", dist.Normal(a + z, 1.0), obs=data[idx])

    guide = AutoGuideList(model)
    guide.append(AutoDelta(poutine.block(model, hide=["z"])))
    guide.append(AutoDiscreteParallel(poutine.block(model, expose=["z"])))
    trace = poutine.trace(guide).get_trace(data)
    n = 4 if subsample_size is None else 2
    idx = trace.nodes["N"]["value"]
    assert idx.shape == (n,)
    assert trace.nodes["a"]["value"].shape == (n,) and trace.nodes["z"]["value"].shape == (n,)
    # The enumerated ELBO by hand, on the subsample the guide drew (scaled by 4 / n).
    only_indices = trace.copy()
    for name in list(only_indices.nodes):
        if name != "N":
            only_indices.remove_node(name)
    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    loss = elbo.differentiable_loss(model, poutine.replay(guide, trace=only_indices), data)
    a = pyro.param("AutoGuideList.0.a")[idx]
    q = pyro.param("AutoGuideList.1.z_probs")[idx]
    terms = dist.Normal(0.0, 1.0).log_prob(a)
    for z, qz in ((1.0, q), (0.0, 1 - q)):
        log_joint = dist.Normal(a + z, 1.0).log_prob(data[idx]) + torch.tensor(0.5).log()
        terms = terms + qz * (log_joint - qz.log())
    assert torch.allclose(loss, -(4 / n) * terms.sum(), atol=1e-5)
