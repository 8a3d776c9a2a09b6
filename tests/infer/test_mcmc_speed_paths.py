"""The fast paths of vectorized NUTS: the recorded single-chain graph applied to a batch of
chains (pyro.infer.mcmc.batch_graph) and the tensor state machine that advances each chain's
own tree one leaf per call (pyro.infer.mcmc.nuts_machine)."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer import MCMC, NUTS
from pyro.infer.mcmc import nuts_machine
from pyro.infer.mcmc.batch_graph import Unbatchable, batch_recorded
from pyro.infer.mcmc.hmc import _Layout
from pyro.infer.mcmc.util import initialize_model
from pyro.infer.mcmc.vectorized import (_RecordedPotential, _single_energy_and_grad,
                                        _VmapPotential, compiled_potential)


def _logistic(x, y):
    w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([x.shape[1]]).to_event(1))
    s = pyro.sample("s", dist.Gamma(2.0, 2.0))  # positive: a transform and its log-det
    with pyro.plate("rows", len(y)):
        pyro.sample("obs", dist.Bernoulli(logits=(x @ w) * s), obs=y)


def _logistic_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 3, generator=g)
    y = torch.bernoulli(torch.sigmoid(x @ torch.tensor([1.0, -0.5, 0.2])), generator=g)
    return x, y


def _by_hand(u, x, y):
    """-log p(w, s, y) - log|ds/du| at unconstrained u = (w, log s), and its gradient."""
    u = u.clone().requires_grad_(True)
    w, log_s = u[:3], u[3]
    s = log_s.exp()
    logits = (x @ w) * s
    log_lik = (y * logits - torch.nn.functional.softplus(logits)).sum()
    log_prior = (-0.5 * w ** 2 - 0.5 * math.log(2 * math.pi)).sum()
    log_prior = log_prior + 2 * math.log(2.0) - math.lgamma(2.0) + log_s - 2 * s
    energy = -(log_lik + log_prior + log_s)
    grad, = torch.autograd.grad(energy, u)
    return energy.detach(), grad


def _setup(model, args, num_chains):
    init, energy, _, prototype = initialize_model(model, args, num_chains=num_chains)
    layout = _Layout({k: v[0] for k, v in init.items()})
    return energy, prototype, layout


def test_the_recorded_graph_gives_each_chain_its_own_energy_and_gradient():
    x, y = _logistic_data()
    energy, _, layout = _setup(_logistic, (x, y), 5)
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    with pyro.validation_enabled(False):
        batched = batch_recorded(_single_energy_and_grad(energy, layout), z)
        points = z * 1.5 + 0.3
        e, g = batched(points)
    assert e.shape == (5,) and g.shape == (5, 4)
    for c in range(5):
        ref_e, ref_g = _by_hand(points[c], x, y)
        assert torch.allclose(e[c], ref_e, rtol=1e-5, atol=1e-4)
        assert torch.allclose(g[c], ref_g, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match=r"expected positions of shape \(5, 4\)"):
        batched(torch.zeros(3, 4))


def test_a_model_that_does_not_broadcast_runs_on_the_recorded_graph_compiled():
    x, y = _logistic_data()
    energy, prototype, layout = _setup(_logistic, (x, y), 3)
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(2))
    with pyro.validation_enabled(False):
        potential, compiled = compiled_potential(energy, prototype, layout, 3, 1, z)
    assert isinstance(potential, _RecordedPotential) and compiled is not None
    e, g = compiled(z)
    for c in range(3):
        ref_e, ref_g = _by_hand(z[c], x, y)
        assert torch.allclose(e[c], ref_e, rtol=1e-5, atol=1e-4)
        assert torch.allclose(g[c], ref_g, rtol=1e-5, atol=1e-4)


def _assert_cumsum_model_energy_and_gradient(compiled, z, data):
    """Each chain's energy and gradient from ``compiled`` equal the hand-written potential of
    ``w ~ Normal(0, 1)``, ``data ~ Normal(cumsum(w), 1)`` and its autograd gradient."""
    e, g = compiled(z)
    for c in range(z.shape[0]):
        w = z[c].clone().requires_grad_(True)
        ref = -(dist.Normal(0.0, 1.0).log_prob(w).sum()
                + dist.Normal(torch.cumsum(w, 0), 1.0).log_prob(data).sum())
        ref_g, = torch.autograd.grad(ref, w)
        assert torch.allclose(e[c], ref.detach(), atol=1e-5)
        assert torch.allclose(g[c], ref_g, atol=1e-5)


def test_an_op_without_a_batching_rule_falls_back_to_vmap():
    data = torch.tensor([0.5, 1.0, 2.0])

    def model():
        w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([3]).to_event(1))
        # cumsum has no rule in batch_graph (and w @ I keeps the plate route out).
        pyro.sample("obs", dist.Normal(torch.cumsum(w @ torch.eye(3), 0), 1.0).to_event(1),
                    obs=data)

    energy, prototype, layout = _setup(model, (), 2)
    z = torch.randn(2, 3, generator=torch.Generator().manual_seed(3))
    with pyro.validation_enabled(False):  # as MCMC runs it
        with pytest.raises(Unbatchable, match="cumsum"):
            batch_recorded(_single_energy_and_grad(energy, layout), z)(z)
        potential, compiled = compiled_potential(energy, prototype, layout, 2, 0, z)
    assert isinstance(potential, _VmapPotential)
    _assert_cumsum_model_energy_and_gradient(compiled, z, data)


def test_a_broadcasting_model_with_an_op_without_a_rule_batches_through_the_chain_plate():
    from pyro.infer.mcmc.vectorized import _BatchedPotential

    data = torch.tensor([0.5, 1.0, 2.0])

    def model():
        w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([3]).to_event(1))
        pyro.sample("obs", dist.Normal(torch.cumsum(w, -1), 1.0).to_event(1), obs=data)

    energy, prototype, layout = _setup(model, (), 3)
    z = torch.randn(3, 3, generator=torch.Generator().manual_seed(4))
    with pyro.validation_enabled(False):
        potential, compiled = compiled_potential(energy, prototype, layout, 3, 0, z)
    assert isinstance(potential, _BatchedPotential) and compiled is not None
    _assert_cumsum_model_energy_and_gradient(compiled, z, data)


def _gaussian(scales):
    precision = 1 / scales ** 2

    def energy_and_grad(z):
        return 0.5 * (z * z * precision).sum(-1), z * precision

    return energy_and_grad


def _one_transition(energy_and_grad, z, eps, inverse, factor, max_tree_depth):
    """One NUTS transition of every chain with the state machine; returns the state."""
    C = z.shape[0]
    e, g = energy_and_grad(z)
    state = nuts_machine.initial_state(z, e, g, max_tree_depth)
    state = nuts_machine.begin(state, torch.ones(C, dtype=torch.bool), inverse, factor,
                               torch.randn(z.shape), torch.rand(C).log())
    finished = torch.zeros(C, dtype=torch.bool)
    for _ in range(2 ** max_tree_depth):
        state, done = nuts_machine.leaf(energy_and_grad, max_tree_depth, state, eps, inverse,
                                        torch.rand(C, 3).log())
        assert not (finished & done).any()  # a transition ends once
        finished |= done
        if finished.all():
            break
    assert finished.all()
    return dict(zip(nuts_machine.FIELDS, state))


@pytest.mark.parametrize("dense", [False, True])
def test_the_state_machine_leaves_the_target_invariant(dense):
    # Chains started exactly at the target stay at it after transitions of the kernel, for
    # each chain independently: the mean, variances and correlation of 4000 chains match.
    torch.manual_seed(0)
    C, scales = 4000, torch.tensor([1.0, 3.0])
    energy_and_grad = _gaussian(scales)
    z = torch.randn(C, 2) * scales
    if dense:
        inverse = torch.tensor([[1.5, 0.3], [0.3, 4.0]]).expand(C, 2, 2)
        factor = torch.linalg.cholesky(torch.linalg.inv(inverse[0])).expand(C, 2, 2)
    else:
        inverse = torch.tensor([1.0, 2.0]).expand(C, 2)
        factor = inverse.rsqrt()
    eps = torch.full((C,), 0.9)
    moved = []
    for _ in range(2):
        out = _one_transition(energy_and_grad, z, eps, inverse, factor, 6)
        z = out["prop"][:, 0]
        moved.append(out["moved"].float().mean())
        assert not out["diverged"].any()
        accept = out["sum_accept"] / out["n_leaves"]
        assert ((accept > 0) & (accept <= 1)).all()
    n = math.sqrt(C)
    assert (z.mean(0).abs() / scales < 5 / n).all()
    assert ((z.var(0) / scales ** 2 - 1).abs() < 5 * math.sqrt(2) / n).all()
    assert abs(float(torch.corrcoef(z.T)[0, 1])) < 5 / n
    assert all(m > 0.9 for m in moved)


def test_a_diverging_transition_keeps_its_start_and_says_so():
    torch.manual_seed(1)
    z = torch.tensor([[0.5, -0.5], [0.1, 0.2]])
    eps = torch.tensor([500.0, 0.5])  # the first chain's first leaf explodes
    out = _one_transition(_gaussian(torch.ones(2)), z, eps, torch.ones(2, 2), torch.ones(2, 2),
                          5)
    assert out["diverged"].tolist() == [True, False]
    assert not out["moved"][0] and torch.equal(out["prop"][0, 0], z[0])
    assert out["n_leaves"][0] == 1


def test_the_tree_depth_is_bounded():
    torch.manual_seed(2)
    # A tiny step on a wide Gaussian never turns: every transition stops after 3 doublings
    # (subtrees of 1, 2 and 4 leaves).
    C = 6
    out = _one_transition(_gaussian(torch.tensor([100.0])), torch.zeros(C, 1),
                          torch.full((C,), 1e-3), torch.ones(C, 1), torch.ones(C, 1), 3)
    assert torch.equal(out["n_leaves"], torch.full((C,), 7.0))
    assert torch.equal(out["size"], torch.full((C,), 8))


def test_vectorized_nuts_with_a_dense_mass_recovers_a_correlated_conjugate_posterior():
    pyro.set_rng_seed(3)
    x = torch.randn(40) + 1.0  # an off-centre regressor: intercept and slope correlate
    y = 0.5 + 2.0 * x + 0.5 * torch.randn(40)

    def model(x, y):
        w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
        with pyro.plate("rows", len(y)):
            pyro.sample("obs", dist.Normal(w[..., :1] + w[..., 1:] * x, 0.5), obs=y)

    mcmc = MCMC(NUTS(model, full_mass=True), num_samples=200, warmup_steps=100, num_chains=2,
                disable_progbar=True)
    mcmc.run(x, y)
    assert mcmc.vectorized
    w = mcmc.get_samples(group_by_chain=True)["w"]
    assert w.shape == (2, 200, 2)
    design = torch.stack([torch.ones(40), x], 1)
    cov = torch.linalg.inv(torch.eye(2) + design.T @ design / 0.25)
    mean = cov @ (design.T @ y / 0.25)
    flat = w.reshape(-1, 2)
    sd = cov.diagonal().sqrt()
    assert ((flat.mean(0) - mean).abs() < 5 * sd / math.sqrt(200)).all()
    assert ((flat.std(0) / sd - 1).abs() < 0.2).all()
    corr = float(cov[0, 1] / (sd[0] * sd[1]))
    assert abs(float(torch.corrcoef(flat.T)[0, 1]) - corr) < 0.1
    assert float(mcmc.diagnostics()["w"]["r_hat"].max()) < 1.05
    mass = next(iter(mcmc.kernel.inverse_mass_matrix.values()))
    assert mass.shape == (2, 2)


def test_chains_told_the_number_of_draws_stop_there():
    from pyro.infer.mcmc.vectorized import VectorizedNUTS

    def model():
        pyro.sample("x", dist.Normal(0.0, 1.0).expand([2]).to_event(1))

    pyro.set_rng_seed(5)
    energy, prototype, layout = _setup(model, (), 3)
    z = torch.randn(3, 2)
    potential, compiled = compiled_potential(energy, prototype, layout, 3, 0, z)
    kernel = NUTS(model)
    kernel.setup(10)
    runner = VectorizedNUTS(kernel, potential, z, 10, compiled, num_samples=5)
    draws = torch.stack([runner.sample() for _ in range(15)])
    assert draws.shape == (15, 3, 2) and torch.isfinite(draws).all()
    assert runner._finished == [15, 15, 15]
    with pytest.raises(RuntimeError, match="more than 15 transitions"):
        runner.sample()


def test_the_capture_drops_neutral_ops_and_computes_a_repeated_op_once():
    from pyro.infer.mcmc.compiled import _Recorder, _simplify, capture_fn

    def fn(x):
        a = (x * 1) + 0.0
        b = a.exp() + a.exp() / 1
        c = torch.add(torch.zeros(()), b.view(x.shape), alpha=2.0)  # 2 b: not an identity
        return (c ** 1, x.pow(2))

    x = torch.randn(5)
    recorder = _Recorder([x])
    with recorder:
        outs = fn(x)
    steps, _, _ = _simplify(recorder, [recorder.slot(o) for o in outs])
    names = [str(func) for func, _, _, _ in steps]
    assert names.count("aten.exp.default") == 1
    assert not {"aten.view.default", "aten.div.Tensor", "aten.mul.Tensor"} & set(names)
    compiled = capture_fn(fn, (x,), [(x + 1,)])
    assert compiled is not None
    y = torch.randn(5)
    got = compiled(y)
    assert torch.allclose(got[0], 4 * y.exp()) and torch.allclose(got[1], y * y)
