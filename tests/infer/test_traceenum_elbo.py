"""TraceEnum_ELBO against brute-force sums over every discrete assignment."""

import itertools
import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import ELBO, TraceEnum_ELBO, config_enumerate


def _brute_log_marginal(log_joint, sizes):
    """log sum over every assignment in the product of ranges ``sizes`` of ``log_joint``."""
    terms = [log_joint(*values) for values in itertools.product(*(range(k) for k in sizes))]
    return torch.logsumexp(torch.stack(terms), 0)


# ----- Gaussian mixture: the exact marginal likelihood ----------------------------------------
K, N = 3, 5


def _mixture_setup():
    data = torch.tensor([-2.1, -0.3, 0.4, 1.9, 2.6])
    locs = torch.tensor([-2.0, 0.0, 2.0], requires_grad=True)
    weights = torch.tensor([0.2, 0.3, 0.5], requires_grad=True)
    return data, locs, weights


def _mixture_model(data, locs, weights):
    @config_enumerate
    def model():
        with pyro.plate("data", len(data)):
            z = pyro.sample("z", dist.Categorical(weights))
            pyro.sample("x", dist.Normal(locs[z], 1.0), obs=data)

    return model


def _mixture_brute(data, locs, weights):
    probs = weights / weights.sum()  # Categorical normalises its probs

    def log_joint(*zs):
        zs = torch.tensor(zs)
        return (probs[zs].log() + dist.Normal(locs[zs], 1.0).log_prob(data)).sum()

    return _brute_log_marginal(log_joint, [K] * len(data))


def test_mixture_empty_guide_is_exact_marginal_likelihood():
    data, locs, weights = _mixture_setup()
    model = _mixture_model(data, locs, weights)
    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    loss = elbo.differentiable_loss(model, lambda: None)
    expected = -_brute_log_marginal(
        lambda *zs: (weights[torch.tensor(zs)].log()
                     + dist.Normal(locs[torch.tensor(zs)], 1.0).log_prob(data)).sum(),
        [K] * N)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert elbo.loss(model, lambda: None) == pytest.approx(expected.item(), rel=1e-6)
    # max_plate_nesting guessed when left at inf
    assert TraceEnum_ELBO().loss(model, lambda: None) == pytest.approx(expected.item(), rel=1e-6)


def test_mixture_gradients_match_brute_force():
    data, locs, weights = _mixture_setup()
    model = _mixture_model(data, locs, weights)
    loss = TraceEnum_ELBO(max_plate_nesting=1).differentiable_loss(model, lambda: None)
    got = torch.autograd.grad(loss, [locs, weights])
    expected = torch.autograd.grad(-_mixture_brute(data, locs, weights), [locs, weights])
    for g, e in zip(got, expected):
        assert torch.allclose(g, e, atol=1e-5, rtol=1e-5)


def test_mixture_loss_and_grads_accumulates_param_grads():
    data = torch.tensor([-2.1, -0.3, 0.4, 1.9, 2.6])

    @config_enumerate
    def model():
        locs = pyro.param("locs", torch.tensor([-2.0, 0.0, 2.0]))
        with pyro.plate("data", N):
            z = pyro.sample("z", dist.Categorical(torch.tensor([0.2, 0.3, 0.5])))
            pyro.sample("x", dist.Normal(locs[z], 1.0), obs=data)

    loss = TraceEnum_ELBO(max_plate_nesting=1).loss_and_grads(model, lambda: None)
    locs = pyro.param("locs").unconstrained()
    locs_ref = locs.detach().clone().requires_grad_()
    ref = -_mixture_brute(data, locs_ref, torch.tensor([0.2, 0.3, 0.5]))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-6)
    assert torch.allclose(locs.grad, locs_ref.grad, atol=1e-5)


def test_mixture_with_delta_guide_over_continuous_params():
    data = torch.tensor([-2.1, -0.3, 0.4, 1.9, 2.6])

    @config_enumerate
    def model():
        locs = pyro.sample("locs", dist.Normal(torch.zeros(K), 3.0).to_event(1))
        with pyro.plate("data", N):
            z = pyro.sample("z", dist.Categorical(torch.ones(K) / K))
            pyro.sample("x", dist.Normal(locs[z], 1.0), obs=data)

    point = torch.tensor([-1.5, 0.5, 2.2])

    def guide():
        pyro.sample("locs", dist.Delta(point).to_event(1))

    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide)
    log_prior = dist.Normal(torch.zeros(K), 3.0).log_prob(point).sum()
    expected = -(log_prior + _mixture_brute(data, point, torch.ones(K) / K))
    assert loss == pytest.approx(expected.item(), rel=1e-6)


def test_subsampled_mixture_scales_the_local_marginal():
    data = torch.tensor([-2.1, -0.3, 0.4, 1.9, 2.6, 0.1])
    locs = torch.tensor([-2.0, 0.0, 2.0])
    weights = torch.tensor([0.2, 0.3, 0.5])
    idx = torch.tensor([1, 4])

    @config_enumerate
    def model():
        with pyro.plate("data", len(data), subsample=idx) as ind:
            z = pyro.sample("z", dist.Categorical(weights))
            pyro.sample("x", dist.Normal(locs[z], 1.0), obs=data[ind])

    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda: None)
    per_point = torch.logsumexp(weights.log() + dist.Normal(locs, 1.0).log_prob(data[idx, None]), -1)
    assert loss == pytest.approx(-(len(data) / 2 * per_point.sum()).item(), rel=1e-6)


# ----- enumeration in the guide vs in the model --------------------------------------------------
def _discrete_model():
    prior = torch.tensor([0.3, 0.7])
    obs = torch.tensor([0.5, 1.5, 1.2])

    def model():
        z = pyro.sample("z", dist.Categorical(prior))
        with pyro.plate("data", 3):
            pyro.sample("x", dist.Normal(torch.tensor([0.0, 1.0])[z], 1.0), obs=obs)

    def log_joint(z):
        return prior[z].log() + dist.Normal(float(z), 1.0).log_prob(obs).sum()

    return model, log_joint


def test_guide_enumeration_is_exact_expectation():
    model, log_joint = _discrete_model()
    q = torch.tensor([0.6, 0.4], requires_grad=True)

    @config_enumerate
    def guide():
        pyro.sample("z", dist.Categorical(q))

    loss = TraceEnum_ELBO(max_plate_nesting=1).differentiable_loss(model, guide)
    qn = q / q.sum()  # Categorical normalises its probs
    expected = -sum(qn[z] * (log_joint(z) - qn[z].log()) for z in range(2))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    g, = torch.autograd.grad(loss, [q])
    e, = torch.autograd.grad(expected, [q])
    assert torch.allclose(g, e, atol=1e-6)


def test_guide_enumeration_at_posterior_equals_model_enumeration():
    model, log_joint = _discrete_model()
    log_px = torch.logsumexp(torch.stack([log_joint(z) for z in range(2)]), 0)
    posterior = torch.stack([log_joint(z) for z in range(2)]).sub(log_px).exp()

    @config_enumerate
    def guide():
        pyro.sample("z", dist.Categorical(posterior))

    guide_loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide)
    model_loss = TraceEnum_ELBO(max_plate_nesting=1).loss(config_enumerate(model), lambda: None)
    assert guide_loss == pytest.approx(-log_px.item(), rel=1e-6)
    assert model_loss == pytest.approx(-log_px.item(), rel=1e-6)


def test_sequential_and_parallel_guide_enumeration_agree():
    model, log_joint = _discrete_model()
    q = torch.tensor([0.25, 0.75], requires_grad=True)

    def guide():
        pyro.sample("z", dist.Categorical(q))

    losses, grads = [], []
    for strategy in ("parallel", "sequential"):
        loss = TraceEnum_ELBO(max_plate_nesting=1).differentiable_loss(
            model, config_enumerate(guide, default=strategy))
        losses.append(loss.item())
        grads.append(torch.autograd.grad(loss, [q])[0])
    expected = -sum(q[z] * (log_joint(z) - q[z].log()) for z in range(2))
    assert losses[0] == pytest.approx(expected.item(), rel=1e-6)
    assert losses[1] == pytest.approx(expected.item(), rel=1e-6)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_seed_enum_discrete_flag_with_sequential_guide():
    model, log_joint = _discrete_model()
    q = torch.tensor([0.25, 0.75])
    guide = config_enumerate(lambda: pyro.sample("z", dist.Categorical(q)), default="sequential")
    elbo = ELBO(enum_discrete=True)
    assert isinstance(elbo, TraceEnum_ELBO)
    expected = -sum(q[z] * (log_joint(z) - q[z].log()) for z in range(2))
    assert elbo.loss(model, guide) == pytest.approx(expected.item(), rel=1e-6)


def test_guide_enumerated_local_variable_in_plate():
    obs = torch.tensor([0.1, 2.0, -1.0, 0.7])
    prior = torch.tensor([0.5, 0.5])
    q = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])

    def model():
        with pyro.plate("data", 4):
            z = pyro.sample("z", dist.Categorical(prior))
            pyro.sample("x", dist.Normal(2.0 * z.float(), 1.0), obs=obs)

    @config_enumerate
    def guide():
        with pyro.plate("data", 4):
            pyro.sample("z", dist.Categorical(q))

    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide)
    values = torch.arange(2.0)
    lp = prior.log() + dist.Normal(2.0 * values, 1.0).log_prob(obs[:, None])
    expected = -(q * (lp - q.log())).sum()
    assert loss == pytest.approx(expected.item(), rel=1e-6)


def test_guide_enumerates_global_model_enumerates_local():
    obs = torch.tensor([0.3, 1.8, 2.2])
    q = torch.tensor([0.3, 0.7])
    trans = torch.tensor([[0.8, 0.2], [0.1, 0.9]])
    locs = torch.tensor([0.0, 2.0])

    @config_enumerate
    def model():
        g = pyro.sample("g", dist.Categorical(torch.tensor([0.5, 0.5])))
        with pyro.plate("data", 3):
            y = pyro.sample("y", dist.Categorical(trans[g]))
            pyro.sample("x", dist.Normal(locs[y], 1.0), obs=obs)

    @config_enumerate
    def guide():
        pyro.sample("g", dist.Categorical(q))

    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide)
    expected = 0.0
    for g in range(2):
        local = torch.logsumexp(trans[g].log() + dist.Normal(locs, 1.0).log_prob(obs[:, None]), -1)
        expected = expected + q[g] * (math.log(0.5) + local.sum() - q[g].log())
    assert loss == pytest.approx(-expected.item(), rel=1e-6)


# ----- nested plates -----------------------------------------------------------------------------
def test_nested_plates_with_local_enumerated_variables():
    torch.manual_seed(1)
    obs = torch.randn(4, 3)  # inner plate of 4, outer plate of 3 (dims -1 and -2 after transpose)
    pz = torch.tensor([0.4, 0.6])
    py = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    locs = torch.tensor([-1.0, 0.0, 1.5])
    scale_w = torch.tensor([0.5, 1.5])

    @config_enumerate
    def model():
        z = pyro.sample("z", dist.Categorical(pz))
        with pyro.plate("outer", 3, dim=-2):
            y = pyro.sample("y", dist.Categorical(py[z]))
            with pyro.plate("inner", 4, dim=-1):
                w = pyro.sample("w", dist.Categorical(torch.tensor([0.5, 0.5])))
                pyro.sample("x", dist.Normal(locs[y], scale_w[w]), obs=obs.t())

    loss = TraceEnum_ELBO(max_plate_nesting=2).loss(model, lambda: None)

    def log_joint(z, y0, y1, y2):
        ys = [y0, y1, y2]
        total = pz[z].log()
        for i, y in enumerate(ys):
            total = total + py[z, y].log()
            # w is local to each (i, j) and summed out in place
            lw = math.log(0.5) + dist.Normal(locs[y], scale_w).log_prob(obs[:, i, None])
            total = total + torch.logsumexp(lw, -1).sum()
        return total

    expected = _brute_log_marginal(log_joint, [2, 3, 3, 3])
    assert loss == pytest.approx(-expected.item(), rel=1e-6)


def test_max_plate_nesting_too_small_is_a_clear_error():
    data, locs, weights = _mixture_setup()
    model = _mixture_model(data, locs, weights)
    with pytest.raises(ValueError, match="max_plate_nesting"):
        TraceEnum_ELBO(max_plate_nesting=0).loss(model, lambda: None)


# ----- Markov chains -----------------------------------------------------------------------------
def _hmm_setup(T=6):
    torch.manual_seed(2)
    init = torch.tensor([0.5, 0.3, 0.2])
    trans = torch.tensor([[0.8, 0.1, 0.1], [0.2, 0.6, 0.2], [0.25, 0.25, 0.5]])
    locs = torch.tensor([-1.0, 0.5, 2.0])
    obs = torch.randn(T)
    return init, trans, locs, obs


def _forward_algorithm(init, trans, locs, obs):
    trans = trans / trans.sum(-1, keepdim=True)  # Categorical normalises its probs
    log_alpha = init.log() + dist.Normal(locs, 1.0).log_prob(obs[0])
    for t in range(1, len(obs)):
        log_alpha = torch.logsumexp(log_alpha[:, None] + trans.log(), 0)
        log_alpha = log_alpha + dist.Normal(locs, 1.0).log_prob(obs[t])
    return torch.logsumexp(log_alpha, 0)


@pytest.mark.parametrize("use_markov", [True, False])
def test_hmm_matches_forward_algorithm(use_markov):
    init, trans, locs, obs = _hmm_setup()
    trans = trans.clone().requires_grad_()
    dims = []

    @config_enumerate
    def model():
        x = None
        steps = pyro.markov(range(len(obs))) if use_markov else range(len(obs))
        for t in steps:
            probs = init if x is None else trans[x]
            x = pyro.sample(f"x_{t}", dist.Categorical(probs))
            pyro.sample(f"y_{t}", dist.Normal(locs[x], 1.0), obs=obs[t])

    loss = TraceEnum_ELBO(max_plate_nesting=0).differentiable_loss(model, lambda: None)
    expected = -_forward_algorithm(init, trans, locs, obs)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    g, = torch.autograd.grad(loss, [trans])
    e, = torch.autograd.grad(expected, [trans])
    assert torch.allclose(g, e, atol=1e-5)

    tr = poutine.trace(poutine.enum(model, first_available_dim=-1)).get_trace()
    dims = {site["infer"]["_enumerate_dim"] for name, site in tr.nodes.items()
            if name.startswith("x_")}
    assert len(dims) == (2 if use_markov else len(obs))


def test_batched_hmm_in_plate_with_markov():
    init, trans, locs, _ = _hmm_setup()
    torch.manual_seed(3)
    obs = torch.randn(5, 4)  # T=5 steps, 4 independent sequences

    @config_enumerate
    def model():
        with pyro.plate("seqs", 4, dim=-1):
            x = None
            for t in pyro.markov(range(5)):
                probs = init if x is None else trans[x]
                x = pyro.sample(f"x_{t}", dist.Categorical(probs))
                pyro.sample(f"y_{t}", dist.Normal(locs[x], 1.0), obs=obs[t])

    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, lambda: None)
    expected = sum(_forward_algorithm(init, trans, locs, obs[:, i]) for i in range(4))
    assert loss == pytest.approx(-expected.item(), rel=1e-6)


# ----- particles ---------------------------------------------------------------------------------
@pytest.mark.parametrize("vectorize", [False, True])
def test_particles_average_an_exact_loss(vectorize):
    data, locs, weights = _mixture_setup()
    model = _mixture_model(data, locs, weights)
    expected = -_mixture_brute(data, locs, weights).item()
    elbo = TraceEnum_ELBO(num_particles=3, vectorize_particles=vectorize, max_plate_nesting=1)
    assert elbo.loss(model, lambda: None) == pytest.approx(expected, rel=1e-6)


def test_score_function_guide_site_with_model_enumeration_is_unbiased_in_value():
    # A Bernoulli guide site (no rsample) next to a model-enumerated mixture: the loss value is
    # the plain ELBO of the drawn value; its gradient w.r.t. q's parameter matches the exact
    # gradient on average.
    p_q = torch.tensor(0.3, requires_grad=True)
    locs = torch.tensor([-1.0, 1.0])
    obs = torch.tensor([0.8, 1.1])

    @config_enumerate
    def model():
        b = pyro.sample("b", dist.Bernoulli(0.5))
        with pyro.plate("data", 2):
            z = pyro.sample("z", dist.Categorical(torch.tensor([0.5, 0.5])), infer={"enumerate": "parallel"})
            pyro.sample("x", dist.Normal(locs[z] + b, 1.0), obs=obs)

    def guide():
        pyro.sample("b", dist.Bernoulli(p_q), infer={"enumerate": None})

    def exact(p):
        total = 0.0
        for b, qb in ((0.0, 1 - p), (1.0, p)):
            local = torch.logsumexp(math.log(0.5) + dist.Normal(locs + b, 1.0).log_prob(obs[:, None]), -1)
            total = total + qb * (math.log(0.5) + local.sum() - qb.log())
        return -total

    elbo = TraceEnum_ELBO(max_plate_nesting=1, num_particles=4000, vectorize_particles=True)
    loss = elbo.differentiable_loss(model, guide)
    g, = torch.autograd.grad(loss, [p_q])
    e, = torch.autograd.grad(exact(p_q), [p_q])
    assert g.item() == pytest.approx(e.item(), abs=0.15)
    assert loss.item() == pytest.approx(exact(p_q).item(), abs=0.05)


# ----- learning ----------------------------------------------------------------------------------
def test_svi_recovers_mixture_components():
    torch.manual_seed(0)
    true_locs = torch.tensor([-4.0, 0.0, 4.0])
    data = torch.cat([loc + 0.5 * torch.randn(100) for loc in true_locs])

    @config_enumerate
    def model(data):
        weights = pyro.param("weights", torch.ones(3) / 3, constraint=dist.constraints.simplex)
        locs = pyro.param("locs", torch.tensor([-1.0, 0.5, 1.0]))
        with pyro.plate("data", len(data)):
            z = pyro.sample("z", dist.Categorical(weights))
            pyro.sample("x", dist.Normal(locs[z], 0.5), obs=data)

    def guide(data):
        pass

    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    model(data)  # create the params
    params = [pyro.param("weights").unconstrained(), pyro.param("locs").unconstrained()]
    optim = torch.optim.Adam(params, lr=0.1)
    for _ in range(300):
        optim.zero_grad()
        loss = elbo.differentiable_loss(model, guide, data)
        loss.backward()
        optim.step()
    locs = pyro.param("locs").detach().sort().values
    assert torch.allclose(locs, true_locs, atol=0.15)
    assert torch.allclose(pyro.param("weights").detach(), torch.ones(3) / 3, atol=0.05)


def test_svi_step_with_traceenum_elbo():
    from pyro.infer import SVI

    optim_mod = pytest.importorskip("pyro.optim")
    data = torch.tensor([-2.0, -2.2, 2.1, 1.9])

    @config_enumerate
    def model():
        locs = pyro.param("locs", torch.tensor([-0.5, 0.5]))
        with pyro.plate("data", 4):
            z = pyro.sample("z", dist.Categorical(torch.tensor([0.5, 0.5])))
            pyro.sample("x", dist.Normal(locs[z], 1.0), obs=data)

    svi = SVI(model, lambda: None, optim_mod.Adam({"lr": 0.1}), loss=TraceEnum_ELBO(max_plate_nesting=1))
    losses = [svi.step() for _ in range(200)]
    assert losses[-1] < losses[0]
    assert torch.allclose(pyro.param("locs").detach(), torch.tensor([-2.1, 2.0]), atol=0.1)


def test_enum_discrete_attribute_enumerates_unmarked_guide_sites():
    model, log_joint = _discrete_model()
    q = torch.tensor([0.25, 0.75])

    def guide():
        pyro.sample("z", dist.Categorical(q))

    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    elbo.enum_discrete = True
    expected = -sum(q[z] * (log_joint(z) - q[z].log()) for z in range(2))
    assert elbo.loss(model, guide) == pytest.approx(expected.item(), rel=1e-6)


def test_seed_elbo_enum_discrete_sums_over_unmarked_guide_sites():
    model, log_joint = _discrete_model()
    q = torch.tensor([0.25, 0.75])

    def guide():
        pyro.sample("z", dist.Categorical(q))

    elbo = ELBO(enum_discrete=True, max_plate_nesting=1)
    assert isinstance(elbo, TraceEnum_ELBO) and elbo.enum_discrete
    expected = -sum(q[z] * (log_joint(z) - q[z].log()) for z in range(2))
    # exact, hence the same on every call
    assert elbo.loss(model, guide) == pytest.approx(expected.item(), rel=1e-6)
    assert elbo.loss(model, guide) == pytest.approx(expected.item(), rel=1e-6)


def test_num_samples_enumeration_is_a_monte_carlo_average():
    obs = torch.tensor(0.7)

    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0), infer={"enumerate": "parallel", "num_samples": 20000})
        pyro.sample("y", dist.Normal(x, 1.0), obs=obs)

    with pytest.warns(RuntimeWarning, match="Site x is multiply sampled in model"):
        loss = TraceEnum_ELBO(max_plate_nesting=0).loss(model, lambda: None)
    # p(y) = Normal(0, sqrt(2)); the estimate of log p(y) is consistent
    assert loss == pytest.approx(-dist.Normal(0.0, 2.0 ** 0.5).log_prob(obs).item(), abs=0.02)


@pytest.mark.cuda
def test_mixture_on_cuda_matches_cpu():
    data, locs, weights = _mixture_setup()
    expected = TraceEnum_ELBO(max_plate_nesting=1).loss(_mixture_model(data, locs, weights), lambda: None)
    cuda = [t.detach().cuda() for t in (data, locs, weights)]
    loss = TraceEnum_ELBO(max_plate_nesting=1).differentiable_loss(_mixture_model(*cuda), lambda: None)
    assert loss.device.type == "cuda"
    assert loss.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("probs_shape", [(3,), (4, 3), (1, 3)])
@pytest.mark.parametrize("first_dim", [-2, -3])
def test_enumerated_categorical_log_probs_equal_log_prob(probs_shape, first_dim):
    # The ELBO reads enumerated Categorical log-probs from the logits instead of calling
    # log_prob; both must give the same tensor (values and broadcast shape).
    from pyro.infer.enum import EnumMessenger
    from pyro.infer.enum.factors import compute_log_probs as _compute_log_probs

    probs = torch.rand(probs_shape) + 0.1

    def model():
        with pyro.plate("data", 4):
            pyro.sample("z", dist.Categorical(probs), infer={"enumerate": "parallel"})

    tr = poutine.trace(EnumMessenger(first_available_dim=first_dim)(model)).get_trace()
    site = tr.nodes["z"]
    expected = site["fn"].log_prob(site["value"])
    _compute_log_probs(tr)
    assert site["log_prob"].shape == expected.shape
    assert torch.allclose(site["log_prob"], expected)


# ----- JitTraceEnum_ELBO: the compiled loss is TraceEnum_ELBO's --------------------------------
def _param_hmm(obs):
    init, trans, locs, _ = _hmm_setup()
    simplex = torch.distributions.constraints.simplex

    @config_enumerate
    def model(obs):
        # clones: the store keeps an unconstrained initial value itself, and Adam updates it
        p_init = pyro.param("init", init.clone(), constraint=simplex)
        p_trans = pyro.param("trans", trans.clone(), constraint=simplex)
        p_locs = pyro.param("locs", locs.clone())
        x = None
        for t in pyro.markov(range(len(obs))):
            probs = p_init if x is None else p_trans[x]
            x = pyro.sample(f"x_{t}", dist.Categorical(probs))
            pyro.sample(f"y_{t}", dist.Normal(p_locs[x], 1.0), obs=obs[t])

    return model


def test_jit_traceenum_matches_traceenum_and_the_forward_algorithm():
    from pyro.infer import JitTraceEnum_ELBO

    obs = _hmm_setup()[3]
    model = _param_hmm(obs)
    pyro.clear_param_store()
    jit_elbo = JitTraceEnum_ELBO(max_plate_nesting=0, ignore_jit_warnings=True)
    elbo = TraceEnum_ELBO(max_plate_nesting=0)
    names = ["init", "trans", "locs"]
    for step in range(3):  # the params change between calls: they are inputs, not constants
        jit_loss = jit_elbo.differentiable_loss(model, lambda obs: None, obs)
        loss = elbo.differentiable_loss(model, lambda obs: None, obs)
        leaves = [pyro.param(n).unconstrained() for n in names]
        expected = -_forward_algorithm(pyro.param("init"), pyro.param("trans"),
                                       pyro.param("locs"), obs)
        assert jit_loss.item() == pytest.approx(expected.item(), rel=1e-6)
        assert jit_elbo.loss(model, lambda obs: None, obs) == pytest.approx(expected.item(), rel=1e-6)
        jit_grads = torch.autograd.grad(jit_loss, leaves)
        grads = torch.autograd.grad(loss, leaves)
        for g, e in zip(jit_grads, grads):
            assert torch.allclose(g, e, atol=1e-5)
        with torch.no_grad():
            for leaf, g in zip(leaves, grads):
                leaf -= 0.5 * g
    assert "_jit_cache" in jit_elbo.__dict__


def test_jit_traceenum_svi_steps_equal_traceenum_steps():
    from pyro.infer import SVI, JitTraceEnum_ELBO
    from pyro.optim import Adam

    obs = _hmm_setup()[3]
    model = _param_hmm(obs)
    results = []
    for Elbo in (TraceEnum_ELBO, JitTraceEnum_ELBO):
        pyro.clear_param_store()
        svi = SVI(model, lambda obs: None, Adam({"lr": 0.05}),
                  Elbo(max_plate_nesting=0, ignore_jit_warnings=True))
        losses = [svi.step(obs) for _ in range(5)]
        results.append((losses, pyro.param("locs").detach().clone()))
    (losses, locs), (jit_losses, jit_locs) = results
    assert jit_losses == pytest.approx(losses, rel=1e-5)
    assert torch.allclose(jit_locs, locs, atol=1e-5)
