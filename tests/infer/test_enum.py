"""The enum handler, config_enumerate, markov dim recycling, contraction and posterior marginals."""

import itertools

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import TraceEnum_ELBO, config_enumerate
from pyro.infer.enum.contract import Factor, contract, plate_label
from pyro.infer.enum import EnumMessenger


# ----- the handler ---------------------------------------------------------------------------
def test_enum_lays_support_left_of_plates():
    def model():
        a = pyro.sample("a", dist.Categorical(torch.ones(3) / 3), infer={"enumerate": "parallel"})
        with pyro.plate("data", 4):
            b = pyro.sample("b", dist.Bernoulli(torch.tensor([0.2, 0.4, 0.6])[a]),
                            infer={"enumerate": "parallel"})
            c = pyro.sample("c", dist.Normal(0.0, 1.0))
        return a, b, c

    tr = poutine.trace(poutine.enum(model, first_available_dim=-2)).get_trace()
    a, b = tr.nodes["a"]["value"], tr.nodes["b"]["value"]
    assert a.shape == (3, 1) and torch.equal(a.reshape(-1), torch.arange(3))
    assert b.shape == (2, 1, 1) and torch.equal(b.reshape(-1), torch.tensor([0.0, 1.0]))
    assert tr.nodes["a"]["infer"]["_enumerate_dim"] == -2
    assert tr.nodes["b"]["infer"]["_enumerate_dim"] == -3
    assert tr.nodes["c"]["value"].shape == (4,)
    assert tr.nodes["b"]["infer"]["_enum_labels"] == {-2: "a", -3: "b"}
    # b's log-density varies along both enumeration dims and the plate
    tr.compute_log_prob()
    assert tr.nodes["b"]["log_prob"].shape == (2, 3, 4)


def test_enum_expand_and_num_samples():
    def model():
        with pyro.plate("data", 4):
            pyro.sample("e", dist.Categorical(torch.ones(3) / 3),
                        infer={"enumerate": "parallel", "expand": True})
            pyro.sample("n", dist.Normal(0.0, 1.0),
                        infer={"enumerate": "parallel", "num_samples": 5})

    tr = poutine.trace(poutine.enum(model, first_available_dim=-2)).get_trace()
    assert tr.nodes["e"]["value"].shape == (3, 4)
    assert tr.nodes["n"]["value"].shape == (5, 1, 4)


def test_enum_is_registered_in_poutine_and_is_a_context():
    assert poutine.enum is not None and poutine.config_enumerate is config_enumerate
    with poutine.trace() as tracer, poutine.enum(first_available_dim=-1):
        pyro.sample("z", dist.Bernoulli(0.3), infer={"enumerate": "parallel"})
    assert tracer.trace.nodes["z"]["value"].shape == (2,)
    assert isinstance(poutine.enum(first_available_dim=-1), EnumMessenger)


def test_enum_needs_first_available_dim_and_a_finite_support():
    def model():
        pyro.sample("z", dist.Bernoulli(0.3), infer={"enumerate": "parallel"})

    with pytest.raises(ValueError, match="max_plate_nesting"):
        poutine.trace(poutine.enum(model)).get_trace()

    def continuous():
        pyro.sample("z", dist.Normal(0.0, 1.0), infer={"enumerate": "parallel"})

    with pytest.raises(ValueError, match="no finite support"):
        poutine.trace(poutine.enum(continuous, first_available_dim=-1)).get_trace()
    with pytest.raises(ValueError, match="first_available_dim"):
        poutine.enum(first_available_dim=0)


# ----- config_enumerate ----------------------------------------------------------------------
def test_config_enumerate_marks_discrete_latent_sites_only():
    def model():
        pyro.sample("d", dist.Categorical(torch.ones(2) / 2))
        pyro.sample("k", dist.Bernoulli(0.5), infer={"enumerate": "sequential"})
        pyro.sample("c", dist.Normal(0.0, 1.0))
        pyro.sample("o", dist.Bernoulli(0.5), obs=torch.tensor(1.0))

    tr = poutine.trace(config_enumerate(model)).get_trace()
    assert tr.nodes["d"]["infer"] == {"enumerate": "parallel", "expand": False}
    assert tr.nodes["k"]["infer"]["enumerate"] == "sequential"  # a site's own choice wins
    assert "enumerate" not in tr.nodes["c"]["infer"]
    assert "enumerate" not in tr.nodes["o"]["infer"]

    tr = poutine.trace(config_enumerate(default="sequential", expand=True)(model)).get_trace()
    assert tr.nodes["d"]["infer"] == {"enumerate": "sequential", "expand": True}
    tr = poutine.trace(config_enumerate(model, num_samples=7)).get_trace()
    assert tr.nodes["c"]["infer"]["num_samples"] == 7


def test_config_enumerate_rejects_bad_options():
    with pytest.raises(ValueError, match="default"):
        config_enumerate(lambda: None, default="bogus")
    with pytest.raises(ValueError, match="expand"):
        config_enumerate(lambda: None, expand="yes")
    with pytest.raises(ValueError, match="num_samples"):
        config_enumerate(lambda: None, default="sequential", num_samples=3)


# ----- markov dim recycling ------------------------------------------------------------------
@pytest.mark.parametrize("history", [1, 2, 3])
def test_markov_history_bounds_the_number_of_dims(history):
    @config_enumerate
    def model():
        xs = []
        for t in pyro.markov(range(10), history=history):
            probs = torch.ones(2) / 2 if not xs else torch.tensor([[0.9, 0.1], [0.1, 0.9]])[xs[-1]]
            xs.append(pyro.sample(f"x_{t}", dist.Categorical(probs)))

    tr = poutine.trace(poutine.enum(model, first_available_dim=-1)).get_trace()
    dims = [tr.nodes[f"x_{t}"]["infer"]["_enumerate_dim"] for t in range(10)]
    assert len(set(dims)) == history + 1
    # sites within the window never share a dim
    for t in range(10):
        window = dims[max(0, t - history): t + 1]
        assert len(set(window)) == len(window)


def test_markov_keeps_global_dims_reserved():
    @config_enumerate
    def model():
        g = pyro.sample("g", dist.Categorical(torch.ones(3) / 3))
        x = None
        for t in pyro.markov(range(4)):
            probs = torch.ones(2) / 2 if x is None else torch.tensor([[0.9, 0.1], [0.1, 0.9]])[x]
            x = pyro.sample(f"x_{t}", dist.Categorical(probs))
        return g

    tr = poutine.trace(poutine.enum(model, first_available_dim=-1)).get_trace()
    g_dim = tr.nodes["g"]["infer"]["_enumerate_dim"]
    x_dims = {tr.nodes[f"x_{t}"]["infer"]["_enumerate_dim"] for t in range(4)}
    assert g_dim not in x_dims and len(x_dims) == 2


def test_markov_without_enumeration_changes_nothing():
    def model():
        for t in pyro.markov(range(3)):
            pyro.sample(f"x_{t}", dist.Normal(0.0, 1.0))

    pyro.set_rng_seed(5)
    a = poutine.trace(model).get_trace()
    pyro.set_rng_seed(5)
    b = poutine.trace(lambda: [pyro.sample(f"x_{t}", dist.Normal(0.0, 1.0)) for t in range(3)]).get_trace()
    for t in range(3):
        assert torch.equal(a.nodes[f"x_{t}"]["value"], b.nodes[f"x_{t}"]["value"])


# ----- contraction ---------------------------------------------------------------------------
def test_contract_plated_tree_against_explicit_sum():
    torch.manual_seed(0)
    # z (global, 2 values) -> y_i (plate of 3, 4 values) ; plus a factor on z alone
    fz = torch.randn(2)
    fzy = torch.randn(3, 2, 4)  # labels: plate, z, y
    p = plate_label("p")
    terms = [
        (frozenset(), Factor(fz, ("z",)), 1.0, "z"),
        (frozenset([p]), Factor(fzy, (p, "z", "y")), 1.0, "y"),
    ]
    out = contract(terms, {"z", "y"}, {"z": frozenset(), "y": frozenset([p])})
    (factor,) = out[frozenset()]
    expected = torch.logsumexp(fz + torch.logsumexp(fzy, -1).sum(0), 0)
    assert factor.labels == () and torch.allclose(factor.tensor, expected)


def test_contract_rejects_mismatched_scales():
    terms = [
        (frozenset(), Factor(torch.zeros(2), ("z",)), 1.0, "a"),
        (frozenset(), Factor(torch.zeros(2), ("z",)), 2.0, "b"),
    ]
    with pytest.raises(ValueError, match="different scales"):
        contract(terms, {"z"}, {"z": frozenset()})


# ----- posterior marginals -------------------------------------------------------------------
def test_compute_marginals_of_hmm_match_brute_force():
    init = torch.tensor([0.5, 0.3, 0.2])
    trans = torch.tensor([[0.8, 0.1, 0.1], [0.2, 0.6, 0.2], [0.25, 0.25, 0.5]])
    locs = torch.tensor([-1.0, 0.5, 2.0])
    obs = torch.tensor([0.3, -1.0, 2.5, 1.0])

    @config_enumerate
    def model():
        x = None
        for t in pyro.markov(range(4)):
            x = pyro.sample(f"x_{t}", dist.Categorical(init if x is None else trans[x]))
            pyro.sample(f"y_{t}", dist.Normal(locs[x], 1.0), obs=obs[t])

    marginals = TraceEnum_ELBO(max_plate_nesting=0).compute_marginals(model, lambda: None)
    joint = torch.zeros(3, 3, 3, 3)
    for xs in itertools.product(range(3), repeat=4):
        lp = init[xs[0]].log() + sum(trans[xs[t - 1], xs[t]].log() for t in range(1, 4))
        lp = lp + sum(dist.Normal(locs[xs[t]], 1.0).log_prob(obs[t]) for t in range(4))
        joint[xs] = lp.exp()
    joint = joint / joint.sum()
    for t in range(4):
        others = tuple(i for i in range(4) if i != t)
        assert torch.allclose(marginals[f"x_{t}"].probs, joint.sum(others), atol=1e-5)


def test_compute_marginals_in_a_plate_and_for_bernoulli():
    obs = torch.tensor([-1.0, 0.2, 1.5])

    @config_enumerate
    def model():
        with pyro.plate("data", 3):
            b = pyro.sample("b", dist.Bernoulli(0.3))
            pyro.sample("x", dist.Normal(2.0 * b, 1.0), obs=obs)

    marginals = TraceEnum_ELBO(max_plate_nesting=1).compute_marginals(model, lambda: None)
    m = marginals["b"]
    lp = torch.stack([torch.tensor(0.7).log() + dist.Normal(0.0, 1.0).log_prob(obs),
                      torch.tensor(0.3).log() + dist.Normal(2.0, 1.0).log_prob(obs)], -1)
    expected = lp.softmax(-1)
    assert isinstance(m, dist.Bernoulli)  # the site's own family, as in Pyro
    assert m.batch_shape == (3,)
    assert torch.allclose(m.probs, expected[:, 1], atol=1e-6)
    assert torch.allclose(m.log_prob(torch.ones(3)), expected[:, 1].log(), atol=1e-6)
    assert set(m.sample((10,)).unique().tolist()) <= {0.0, 1.0}


def test_compute_marginals_keep_the_site_family_and_refuse_particles():
    obs = torch.tensor([0.5, 1.5, -0.3])
    cat_probs = torch.tensor([0.2, 0.3, 0.5])
    onehot_probs = torch.tensor([0.6, 0.4])

    @config_enumerate
    def model():
        with pyro.plate("d", 3):
            c = pyro.sample("c", dist.Categorical(cat_probs))
            o = pyro.sample("o", dist.OneHotCategorical(onehot_probs))
            pyro.sample("x", dist.Normal(c.float() + o[..., 0], 1.0), obs=obs)

    marginals = TraceEnum_ELBO(max_plate_nesting=1).compute_marginals(model, lambda: None)
    c, o = marginals["c"], marginals["o"]
    assert isinstance(c, dist.Categorical) and c.batch_shape == (3,) and c.probs.shape == (3, 3)
    assert isinstance(o, dist.OneHotCategorical) and o.batch_shape == (3,) and o.event_shape == (2,)
    # exact joint over (c, o) per data point, then its two marginals
    loc = torch.arange(3.0)[:, None] + torch.tensor([1.0, 0.0])[None, :]  # o = (1, 0) adds one
    joint = (cat_probs.log()[:, None] + onehot_probs.log()[None, :]
             + dist.Normal(loc, 1.0).log_prob(obs[:, None, None])).exp()
    joint = joint / joint.sum((-1, -2), keepdim=True)
    torch.testing.assert_close(c.probs, joint.sum(-1), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(o.probs, joint.sum(-2), rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError, match="not compatible with multiple particles"):
        TraceEnum_ELBO(max_plate_nesting=1, num_particles=2).compute_marginals(model, lambda: None)


def _three_sites():
    pyro.sample("c", dist.Categorical(torch.ones(3) / 3))
    pyro.sample("n", dist.Normal(0.0, 1.0))
    pyro.sample("o", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0))


@pytest.mark.parametrize("kwargs, expected", [
    ({}, {"c": {"enumerate": "parallel", "expand": False}, "n": {}, "o": {}}),
    ({"default": None}, {"c": {"enumerate": None, "expand": False}, "n": {}, "o": {}}),
    ({"num_samples": 5}, {
        "c": {"enumerate": "parallel", "expand": False, "num_samples": 5, "tmc": "diagonal"},
        "n": {"enumerate": "parallel", "expand": False, "num_samples": 5, "tmc": "diagonal"},
        "o": {}}),
    ({"num_samples": 2, "tmc": "mixture", "expand": True}, {
        "c": {"enumerate": "parallel", "expand": True, "num_samples": 2, "tmc": "mixture"},
        "n": {"enumerate": "parallel", "expand": True, "num_samples": 2, "tmc": "mixture"},
        "o": {}}),
])
def test_config_enumerate_marks_sites_as_pyro_does(kwargs, expected):
    tr = poutine.trace(config_enumerate(_three_sites, **kwargs)).get_trace()
    assert {n: s["infer"] for n, s in tr.nodes.items() if s["type"] == "sample"} == expected


@pytest.mark.parametrize("kwargs, phrase", [
    ({"default": "bogus"}, "Invalid default value"),
    ({"default": "sequential", "num_samples": 3}, 'Local sampling does not support "sequential"'),
    ({"num_samples": 0}, "Invalid num_samples, expected None or positive integer"),
    ({"tmc": "full"}, "tmc must be 'diagonal' or 'mixture'"),
])
def test_config_enumerate_rejects_bad_options(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase):
        config_enumerate(_three_sites, **kwargs)


def test_monte_carlo_enumeration_of_a_discrete_model_site():
    probs = torch.tensor([0.2, 0.5, 0.3])
    locs = torch.tensor([-2.0, 0.0, 3.0])
    y = torch.tensor(0.4)

    def model():
        c = pyro.sample("c", dist.Categorical(probs))
        pyro.sample("y", dist.Normal(locs[c], 1.0), obs=y)

    exact = -torch.logsumexp(probs.log() + dist.Normal(locs, 1.0).log_prob(y), 0).item()
    pyro.set_rng_seed(0)
    with pytest.warns(RuntimeWarning, match="Site c is multiply sampled in model"):
        loss = TraceEnum_ELBO(max_plate_nesting=0).loss(
            config_enumerate(model, num_samples=20000), lambda: None)
    assert loss == pytest.approx(exact, abs=0.02)  # -log of a mean of 20000 likelihoods


def test_zero_probability_values_give_no_nan_and_marginals_have_the_site_shape():
    probs = torch.tensor([0.5, 0.5, 0.0], requires_grad=True)
    locs = torch.tensor([0.0, 1.0, 2.0])
    child = torch.tensor([[0.3, 0.7, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ys = torch.tensor([0.0, 1.0])

    @config_enumerate
    def model():
        c = pyro.sample("c", dist.Categorical(probs))
        pyro.sample("x", dist.Normal(locs[c], 1.0), obs=torch.tensor(0.3))
        with pyro.plate("d", 2):
            e = pyro.sample("e", dist.Categorical(child[c]))
            pyro.sample("y", dist.Normal(e.float(), 1.0), obs=ys)

    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    loss = elbo.differentiable_loss(model, lambda: None)
    loss.backward()
    # exact: sum over c of p(c) N(0.3 | loc_c) prod_d sum_e child[c, e] N(y_d | e)
    lik_e = dist.Normal(torch.arange(3.0)[:, None], 1.0).log_prob(ys).exp()  # e x d
    per_c = probs.detach() * dist.Normal(locs, 1.0).log_prob(torch.tensor(0.3)).exp() \
        * (child @ lik_e).prod(-1)
    assert loss.item() == pytest.approx(-per_c.sum().log().item(), rel=1e-6)
    assert torch.isfinite(probs.grad).all()
    marginals = elbo.compute_marginals(model, lambda: None)
    assert marginals["c"].batch_shape == () and marginals["e"].batch_shape == (2,)
    torch.testing.assert_close(marginals["c"].probs, per_c / per_c.sum(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("expand", [False, True])
@pytest.mark.parametrize("vectorize", [False, True])
def test_sequential_enumeration_inside_vectorized_plates(expand, vectorize):
    data = torch.tensor([0.2, 1.5], dtype=torch.float64)
    q = torch.tensor([0.4, 0.9], dtype=torch.float64)

    g = torch.tensor(0.7, dtype=torch.float64)

    def model():
        pyro.sample("g", dist.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0), obs=g)
        with pyro.plate("p", 2):
            c = pyro.sample("c", dist.Bernoulli(torch.tensor(0.3, dtype=torch.float64)))
            pyro.sample("x", dist.Normal(c, 1.0), obs=data)

    def guide():
        with pyro.plate("p", 2):
            pyro.sample("c", dist.Bernoulli(q), infer={"enumerate": "sequential", "expand": expand})

    # exact: the global term once, plus per element E_q[log p(c, x) - log q(c)]
    expected = -dist.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0).log_prob(g).item()
    for i in range(2):
        for c in (0.0, 1.0):
            qc = q[i] if c else 1 - q[i]
            log_p = dist.Bernoulli(torch.tensor(0.3, dtype=torch.float64)).log_prob(
                torch.tensor(c, dtype=torch.float64)) + dist.Normal(
                torch.tensor(c, dtype=torch.float64), 1.0).log_prob(data[i])
            expected -= (qc * (log_p - qc.log())).item()
    elbo = TraceEnum_ELBO(max_plate_nesting=1, num_particles=3 if vectorize else 1,
                          vectorize_particles=vectorize)
    assert elbo.loss(model, guide) == pytest.approx(expected, rel=1e-10)


def test_compute_marginals_are_differentiable_in_the_params():
    data = torch.tensor([0.0, 1.0, 2.0])
    locs = torch.tensor([-1.0, 1.5])

    @config_enumerate
    def model():
        p = pyro.param("p", torch.tensor([0.3, 0.7]), constraint=dist.constraints.simplex)
        with pyro.plate("d", len(data)):
            z = pyro.sample("z", dist.Categorical(p))
            pyro.sample("x", dist.Normal(locs[z], 1.0), obs=data)

    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    probs = elbo.compute_marginals(model, lambda: None)["z"].probs
    p = pyro.param("p").unconstrained()
    (got,) = torch.autograd.grad(probs[:, 1].sum(), p)

    def by_hand(unconstrained):
        w = torch.distributions.transform_to(dist.constraints.simplex)(unconstrained)
        joint = w.log() + dist.Normal(locs, 1.0).log_prob(data[:, None])
        return (joint - joint.logsumexp(-1, keepdim=True)).exp()

    torch.testing.assert_close(probs, by_hand(p), rtol=1e-6, atol=1e-7)
    (want,) = torch.autograd.grad(by_hand(p)[:, 1].sum(), p)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    with torch.no_grad():
        assert not elbo.compute_marginals(model, lambda: None)["z"].probs.requires_grad
