"""AutoStructured, AutoGaussian, StructuredReparam and ConjugateReparam against analytic answers.

The main device: when a guide's parameters are set to the exact posterior, ``log p(z, y) -
log q(z)`` is the log evidence ``log p(y)`` for *every* draw ``z``; an error in the guide's
density (a Jacobian, a scale, the precision's assembly) breaks that equality.
"""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import MCMC, NUTS, SVI, Trace_ELBO
from pyro.infer.autoguide import AutoGaussian, AutoStructured
from pyro.infer.autoguide.gaussian import AutoGaussianDense
from pyro.infer.reparam import ConjugateReparam, StructuredReparam
from pyro.optim import Adam, ClippedAdam

A, S, SIGMA, Y = 0.8, 0.6, 0.5, 1.3


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: a thread pool only adds synchronisation (badly so on a loaded machine).
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def correlated_model(y=torch.tensor(Y)):
    z1 = pyro.sample("z1", dist.Normal(0.0, 1.0))
    z2 = pyro.sample("z2", dist.Normal(A * z1, S))
    pyro.sample("obs", dist.Normal(z1 + z2, SIGMA), obs=y)


def analytic_posterior():
    """Mean, covariance and log evidence of (z1, z2) given obs = Y."""
    prior_cov = torch.tensor([[1.0, A], [A, A * A + S * S]], dtype=torch.float64)
    h = torch.ones(2, dtype=torch.float64)
    precision = torch.linalg.inv(prior_cov) + torch.outer(h, h) / SIGMA ** 2
    cov = torch.linalg.inv(precision)
    mean = cov @ h * Y / SIGMA ** 2
    evidence = torch.distributions.Normal(0.0, math.sqrt(h @ prior_cov @ h + SIGMA ** 2))
    return mean.float(), cov.float(), evidence.log_prob(torch.tensor(Y)).item()


def elbo_terms(model, guide, n=5):
    """``log p(z, y) - log q(z)`` for ``n`` guide draws."""
    out = []
    for _ in range(n):
        guide_tr = poutine.trace(guide).get_trace()
        model_tr = poutine.trace(poutine.replay(model, trace=guide_tr)).get_trace()
        out.append((model_tr.log_prob_sum() - guide_tr.log_prob_sum()).item())
    return torch.tensor(out)


def structured_cov():
    """The (z1, z2) mean and covariance of an AutoStructured guide with normal conditionals."""
    ps = pyro.get_param_store()
    m = torch.cat([ps["AutoStructured.locs.z1"], ps["AutoStructured.locs.z2"]]).detach()
    s1, s2 = ps["AutoStructured.scales.z1"].item(), ps["AutoStructured.scales.z2"].item()
    w = ps["AutoStructured.deps.z2.z1$$$weight"].item()
    cov = torch.tensor([[s1 ** 2, w * s1 ** 2], [w * s1 ** 2, w * w * s1 ** 2 + s2 ** 2]])
    return m, cov


def gaussian_cov(guide):
    posterior = guide._aux_posterior()
    ps = pyro.get_param_store()
    loc = torch.stack([ps["AutoGaussianDense.locs.z1"], ps["AutoGaussianDense.locs.z2"]])
    scale = torch.stack([ps["AutoGaussianDense.scales.z1"], ps["AutoGaussianDense.scales.z2"]])
    mean = loc + scale * posterior.loc
    cov = scale[:, None] * posterior.covariance_matrix * scale[None, :]
    return mean.detach(), cov.detach()


def elbo_grads(model, guide, num_particles=4000):
    """The gradient of a many-particle ELBO estimate with respect to every parameter."""
    ps = pyro.get_param_store()
    with poutine.block():
        guide()  # the guide takes up tensors newly written to the store
    params = {name: ps.get_unconstrained(name) for name in ps.keys()}
    elbo = Trace_ELBO(num_particles=num_particles, vectorize_particles=True, max_plate_nesting=0)
    loss = elbo.differentiable_loss(model, guide)
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return {name: torch.zeros_like(p) if g is None else g
            for (name, p), g in zip(params.items(), grads)}


def set_structured_to_posterior():
    mean, cov, _ = analytic_posterior()
    ps = pyro.get_param_store()
    w = cov[0, 1] / cov[0, 0]
    ps["AutoStructured.locs.z1"] = mean[:1]
    ps["AutoStructured.locs.z2"] = mean[1:]
    ps["AutoStructured.scales.z1"] = cov[0, 0].sqrt().reshape(1)
    ps["AutoStructured.scales.z2"] = (cov[1, 1] - w * w * cov[0, 0]).sqrt().reshape(1)
    ps["AutoStructured.deps.z2.z1$$$weight"] = w.reshape(1, 1)


def set_gaussian_to_posterior():
    """The model's own factors, in whitened units (locs 0, scales 1): the guide is exact."""
    ps = pyro.get_param_store()
    ps["AutoGaussianDense.scales.z1"] = torch.tensor(1.0)
    ps["AutoGaussianDense.scales.z2"] = torch.tensor(1.0)
    ps["AutoGaussianDense.prec_sqrts.z1"] = torch.tensor([[1.0]])
    ps["AutoGaussianDense.prec_sqrts.z2"] = torch.tensor([[1 / S], [-A / S]])  # inputs z2, z1
    ps["AutoGaussianDense.prec_sqrts.obs"] = torch.tensor([[1 / SIGMA], [1 / SIGMA]])
    ps["AutoGaussianDense.white_vecs.obs"] = torch.tensor([Y / SIGMA])


# --- AutoStructured -----------------------------------------------------------------------------

def test_structured_exact_at_analytic_posterior():
    pyro.set_rng_seed(0)
    mean, cov, log_evidence = analytic_posterior()
    guide = AutoStructured(correlated_model, conditionals={"z1": "normal", "z2": "mvn"})
    guide()
    ps = pyro.get_param_store()
    assert set(ps.keys()) >= {"AutoStructured.locs.z1", "AutoStructured.scales.z1",
                              "AutoStructured.scale_trils.z2", "AutoStructured.deps.z2.z1$$$weight"}
    assert "AutoStructured.scale_trils.z1" not in ps
    set_structured_to_posterior()
    terms = elbo_terms(correlated_model, guide)
    assert torch.allclose(terms, torch.full_like(terms, log_evidence), atol=1e-4)
    median = guide.median()
    assert set(median) == {"z1", "z2"} and median["z1"].shape == () == median["z2"].shape
    assert torch.allclose(torch.stack([median["z1"], median["z2"]]), mean, atol=1e-6)


def test_structured_elbo_gradient_vanishes_at_analytic_posterior():
    pyro.set_rng_seed(1)
    guide = AutoStructured(correlated_model, conditionals="normal")
    guide()
    set_structured_to_posterior()
    grads = elbo_grads(correlated_model, guide)
    assert max(g.abs().max().item() for g in grads.values()) < 0.05
    ps = pyro.get_param_store()
    ps["AutoStructured.deps.z2.z1$$$weight"] = ps["AutoStructured.deps.z2.z1$$$weight"] + 0.3
    grads = elbo_grads(correlated_model, guide)
    assert grads["AutoStructured.deps.z2.z1$$$weight"].abs().item() > 0.2


@pytest.mark.parametrize("make_guide, moments", [
    (lambda: AutoStructured(correlated_model, conditionals="normal"), lambda g: structured_cov()),
    (lambda: AutoGaussian(correlated_model), gaussian_cov),
], ids=["AutoStructured", "AutoGaussian"])
def test_svi_recovers_correlated_posterior(make_guide, moments):
    pyro.set_rng_seed(11)
    mean, cov, _ = analytic_posterior()
    guide = make_guide()
    steps = 200
    optim = ClippedAdam({"lr": 0.1, "lrd": 0.05 ** (1 / steps)})  # Adam, decaying to lr 0.005
    elbo = Trace_ELBO(num_particles=16, vectorize_particles=True, max_plate_nesting=0)
    svi = SVI(correlated_model, guide, optim, elbo)
    for _ in range(steps):
        svi.step()
    got_mean, got_cov = moments(guide)
    # Over seeds 0-3 the errors stay below 0.035 (mean) and 0.015 (covariance entries).
    assert torch.allclose(got_mean, mean, atol=0.07)
    assert torch.allclose(got_cov, cov, atol=0.04)


def test_structured_constrained_site_and_plates():
    # s ~ LogNormal(0, 1), y_i ~ LogNormal(log s, 0.5): log s | y is exactly Gaussian.
    y = torch.tensor([0.5, 1.5, 2.5])

    def model():
        s = pyro.sample("s", dist.LogNormal(0.0, 1.0))
        with pyro.plate("data", 3):
            pyro.sample("y", dist.LogNormal(s.log(), 0.5), obs=y)

    precision = 1.0 + 3 / 0.25
    post_mean = y.log().sum().item() / 0.25 / precision
    pyro.set_rng_seed(2)
    guide = AutoStructured(model, conditionals="normal")
    guide()
    ps = pyro.get_param_store()
    ps["AutoStructured.locs.s"] = torch.tensor([post_mean])
    ps["AutoStructured.scales.s"] = torch.tensor([precision ** -0.5])
    terms = elbo_terms(model, guide)
    # log p(y) by hand: log y ~ N(0, 1 + 0.25 I) jointly, minus the log-Jacobian sum(log y).
    cov = torch.eye(3) * 0.25 + 1.0
    log_evidence = (dist.MultivariateNormal(torch.zeros(3), cov).log_prob(y.log())
                    - y.log().sum()).item()
    assert torch.allclose(terms, torch.full_like(terms, log_evidence), atol=1e-4)
    assert guide.median()["s"].item() == pytest.approx(math.exp(post_mean), rel=1e-5)

    def plate_model():
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        with pyro.plate("p", 3):
            pyro.sample("x", dist.Normal(z, 1.0))

    pyro.clear_param_store()
    guide = AutoStructured(plate_model)
    tr = poutine.trace(guide).get_trace()
    assert tr.nodes["x_aux"]["value"].shape == (3,) and tr.nodes["x"]["value"].shape == (3,)
    assert pyro.get_param_store()["AutoStructured.scale_trils.x"].shape == (3, 3)
    assert pyro.get_param_store()["AutoStructured.deps.x.z$$$weight"].shape == (3, 1)
    assert {k: v.shape for k, v in guide.median().items()} == {"z": (), "x": (3,)}


def test_structured_callables_and_errors():
    def model():
        z1 = pyro.sample("z1", dist.Normal(0.0, 1.0))
        pyro.sample("z2", dist.Normal(z1, 1.0).expand([2]).to_event(1))

    def noise():
        return pyro.sample("my_noise", dist.Normal(torch.zeros(1), 1.0).to_event(1))

    pyro.set_rng_seed(3)
    guide = AutoStructured(model, conditionals={"z1": noise, "z2": "delta"},
                           dependencies={"z2": {"z1": lambda x: 2.0 * x.expand(2) + 7.0}})
    tr = poutine.trace(guide).get_trace()
    assert tr.nodes["my_noise"]["infer"] == {"is_auxiliary": True}
    eps = tr.nodes["my_noise"]["value"]
    assert torch.allclose(tr.nodes["z1"]["value"], eps[0])
    assert torch.allclose(tr.nodes["z2"]["value"], 2.0 * eps.expand(2) + 7.0)
    with pytest.raises(ValueError, match="Unsupported conditional type"):
        AutoStructured(model, conditionals="foo")
    with pytest.raises(ValueError, match="'linear' or a callable"):
        AutoStructured(model, dependencies="quadratic")
    with pytest.raises(ValueError, match="Expected init_scale > 0"):
        AutoStructured(model, init_scale=-1.0)
    with pytest.raises(KeyError, match="z2"):
        AutoStructured(model, conditionals={"z1": "normal"})()
    with pytest.raises(ValueError, match="must come before"):
        AutoStructured(model, dependencies={"z1": {"z2": "linear"}})()


# --- AutoGaussian -------------------------------------------------------------------------------

def test_gaussian_exact_at_analytic_posterior():
    pyro.set_rng_seed(4)
    mean, cov, log_evidence = analytic_posterior()
    guide = AutoGaussian(correlated_model)
    assert type(guide) is AutoGaussianDense
    guide()
    ps = pyro.get_param_store()
    assert ps["AutoGaussianDense.prec_sqrts.z2"].shape == (2, 1)
    assert ps["AutoGaussianDense.prec_sqrts.obs"].shape == (2, 1)
    set_gaussian_to_posterior()
    terms = elbo_terms(correlated_model, guide)
    assert torch.allclose(terms, torch.full_like(terms, log_evidence), atol=1e-4)
    got_mean, got_cov = gaussian_cov(guide)
    assert torch.allclose(got_mean, mean, atol=1e-5) and torch.allclose(got_cov, cov, atol=1e-5)
    median = guide.median()
    assert torch.allclose(torch.stack([median["z1"], median["z2"]]), mean, atol=1e-5)


def test_gaussian_elbo_gradient_vanishes_at_analytic_posterior():
    pyro.set_rng_seed(5)
    guide = AutoGaussian(correlated_model)
    guide()
    set_gaussian_to_posterior()
    grads = elbo_grads(correlated_model, guide)
    assert max(g.abs().max().item() for g in grads.values()) < 0.05
    ps = pyro.get_param_store()
    ps["AutoGaussianDense.white_vecs.obs"] = ps["AutoGaussianDense.white_vecs.obs"] + 0.5
    grads = elbo_grads(correlated_model, guide)
    assert grads["AutoGaussianDense.white_vecs.obs"].abs().item() > 0.2


def test_gaussian_precision_follows_factor_graph():
    def chain():
        z = [pyro.sample("z0", dist.Normal(0.0, 1.0))]
        for t in range(1, 4):
            z.append(pyro.sample(f"z{t}", dist.Normal(z[-1], 1.0)))
        pyro.sample("y", dist.Normal(z[-1], 1.0), obs=torch.tensor(0.5))

    pyro.set_rng_seed(6)
    guide = AutoGaussian(chain)
    guide()
    _, precision = guide._info_and_precision()
    band = (torch.arange(4)[:, None] - torch.arange(4)[None, :]).abs() <= 1
    assert (precision[~band] == 0).all() and (precision[band] != 0).all()

    def plated():
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        with pyro.plate("p", 3):
            x = pyro.sample("x", dist.Normal(z, 1.0))
            pyro.sample("y", dist.Normal(x, 1.0), obs=torch.zeros(3))
        pyro.sample("total", dist.Normal(x[:2].sum(), 1.0), obs=torch.tensor(1.0))

    pyro.clear_param_store()
    guide = AutoGaussian(plated)
    guide()
    ps = pyro.get_param_store()
    assert ps["AutoGaussianDense.prec_sqrts.x"].shape == (3, 2, 1)  # per element: x_i, z
    assert ps["AutoGaussianDense.prec_sqrts.total"].shape == (3, 1)  # x taken whole
    _, precision = guide._info_and_precision()
    # z couples to every x_i; x_i and x_j couple only through "total" (all of x, as in Pyro).
    assert (precision[0, 1:] != 0).all()
    assert (precision[1:, 1:] != 0).all()
    pyro.clear_param_store()

    def plated_local():
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        with pyro.plate("p", 3):
            x = pyro.sample("x", dist.Normal(z, 1.0))
            pyro.sample("y", dist.Normal(x, 1.0), obs=torch.zeros(3))

    guide = AutoGaussian(plated_local)
    tr = poutine.trace(guide).get_trace()
    assert tr.nodes["_AutoGaussianDense_latent"]["value"].shape == (4,)
    assert tr.nodes["x"]["value"].shape == (3,)
    _, precision = guide._info_and_precision()
    off = ~torch.eye(3, dtype=torch.bool)
    assert (precision[1:, 1:][off] == 0).all() and (precision[0, 1:] != 0).all()
    assert {k: v.shape for k, v in guide.median().items()} == {"z": (), "x": (3,)}


def test_gaussian_backends_and_shape_errors():
    with pytest.raises(ModuleNotFoundError, match="funsor"):
        AutoGaussian(correlated_model, backend="funsor")
    with pytest.raises(KeyError, match="unknown backend"):
        AutoGaussian(correlated_model, backend="sparse")

    def unplated():
        pyro.sample("z", dist.Normal(torch.zeros(2), 1.0))

    with pytest.raises(ValueError, match="Shape mismatch at site 'z'"):
        AutoGaussian(unplated)()


# --- StructuredReparam --------------------------------------------------------------------------

def funnel():
    y = pyro.sample("y", dist.Normal(0.0, 1.5))
    pyro.sample("x", dist.Normal(0.0, (y / 2).exp()).expand([2]).to_event(1))


def test_structured_reparam_is_an_exact_change_of_variables():
    pyro.set_rng_seed(7)
    guide = AutoStructured(funnel, conditionals={"y": "normal", "x": "mvn"})
    guide()
    ps = pyro.get_param_store()
    ps["AutoStructured.scales.y"] = torch.tensor([1.3])
    ps["AutoStructured.locs.x"] = torch.tensor([0.2, -0.1])
    ps["AutoStructured.deps.x.y$$$weight"] = torch.tensor([[0.4], [-0.3]])
    reparam = StructuredReparam(guide)
    model = reparam.reparam(funnel)
    tr = poutine.trace(model).get_trace()
    assert [n for n, s in tr.nodes.items() if s["type"] == "sample" and not s["is_observed"]] \
        == ["y_aux", "x_aux"]
    for seed in range(3):
        torch.manual_seed(seed)
        aux = torch.randn(3)

        def transform(a):
            out = reparam.transform_samples({"y_aux": a[:1], "x_aux": a[1:]})
            return torch.cat([out["y"].reshape(1), out["x"]])

        values = transform(aux)
        log_det = torch.linalg.slogdet(torch.autograd.functional.jacobian(transform, aux))[1]
        joint = poutine.trace(funnel).get_trace  # the model's own log density at the values
        with poutine.condition(data={"y": values[0], "x": values[1:]}):
            model_log_p = joint().log_prob_sum()
        conditioned = poutine.condition(model, data={"y_aux": aux[:1], "x_aux": aux[1:]})
        got = poutine.trace(conditioned).get_trace().log_prob_sum()
        assert got.item() == pytest.approx((model_log_p + log_det).item(), abs=1e-4)
    with pytest.raises(NotImplementedError, match="observe"):
        poutine.trace(reparam.reparam(
            lambda: pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0)))).get_trace()
    with pytest.raises(TypeError, match="AutoStructured"):
        StructuredReparam(object())


def test_structured_reparam_funnel_nuts_keeps_the_distribution():
    pyro.set_rng_seed(8)
    guide = AutoStructured(funnel, conditionals="normal")
    svi = SVI(funnel, guide, Adam({"lr": 0.1}), Trace_ELBO())
    for _ in range(100):
        svi.step()
    reparam = StructuredReparam(guide)
    mcmc = MCMC(NUTS(reparam.reparam(funnel)), num_samples=300, warmup_steps=150,
                disable_progbar=True)
    mcmc.run()
    samples = reparam.transform_samples(mcmc.get_samples())
    y, x = samples["y"].reshape(-1), samples["x"]
    assert x.shape == (300, 2)
    # y ~ Normal(0, 1.5) and x * exp(-y / 2) ~ Normal(0, 1) given y. Over seeds 1-8 the draws
    # give |mean(y)| < 0.4, std(y) in (1.1, 1.85) and std(r) in (0.93, 1.1). (Pyro 1.9's
    # Jacobian sign shrinks the draws towards the guide's scale.)
    r = x * (-y.unsqueeze(-1) / 2).exp()
    assert abs(y.mean().item()) < 0.5 and 0.95 < y.std().item() < 2.1
    assert abs(r.mean().item()) < 0.15 and 0.85 < r.std().item() < 1.15


# --- ConjugateReparam ---------------------------------------------------------------------------

def test_conjugate_reparam_gaussian_hmm_exact_posterior():
    pyro.set_rng_seed(9)
    T, noise = 4, 0.7
    hmm = dist.GaussianHMM(
        dist.Normal(torch.zeros(1), 1.0).to_event(1), torch.tensor([[0.9]]),
        dist.Normal(torch.zeros(1), 0.5).to_event(1), torch.tensor([[1.0]]),
        dist.Normal(torch.zeros(1), 0.3).to_event(1), duration=T)
    data = torch.tensor([[0.3], [-0.2], [0.8], [1.1]])

    def model():
        x = pyro.sample("x", hmm)
        pyro.sample("y", dist.Normal(x, noise).to_event(2), obs=data)

    likelihood = dist.Normal(data, noise).to_event(2)
    # The prior of x is Gaussian: its mean and precision by autograd on log_prob.
    flat = torch.zeros(T, requires_grad=True)
    log_p = hmm.log_prob(flat.reshape(T, 1))
    grad = torch.autograd.grad(log_p, flat, create_graph=True)[0]
    prior_precision = -torch.stack([torch.autograd.grad(grad[i], flat, retain_graph=True)[0]
                                    for i in range(T)]).detach()
    prior_mean = torch.linalg.solve(prior_precision, grad.detach())
    prior_cov = torch.linalg.inv(prior_precision)
    evidence = dist.MultivariateNormal(prior_mean, prior_cov + noise ** 2 * torch.eye(T))
    log_evidence = evidence.log_prob(data.reshape(T)).item()
    post_cov = torch.linalg.inv(prior_precision + torch.eye(T) / noise ** 2)
    post_mean = post_cov @ (prior_precision @ prior_mean + data.reshape(T) / noise ** 2)

    n = 4000

    def many_model():
        with pyro.plate("draws", n):
            model()

    reparam_model = poutine.reparam(many_model, {"x": ConjugateReparam(likelihood)})
    tr = poutine.trace(reparam_model).get_trace()
    tr.compute_log_prob()
    assert tr.nodes["x"]["is_observed"] and tr.nodes["x"]["value"].shape == (n, T, 1)
    # Nothing of x is left to infer: the joint is the evidence for every draw.
    log_joint = tr.nodes["x"]["log_prob"] + tr.nodes["y"]["log_prob"]
    assert torch.allclose(log_joint, torch.full((n,), log_evidence), atol=1e-3)
    draws = tr.nodes["x"]["value"].reshape(n, T)
    # The draws follow the exact posterior (standard errors ~0.008 and ~0.006).
    assert torch.allclose(draws.mean(0), post_mean, atol=0.035)
    assert torch.allclose(torch.cov(draws.T), post_cov, atol=0.03)
    # A callable guide sees the model's arguments; SVI with an empty guide gives -log p(y).
    loss = Trace_ELBO().loss(poutine.reparam(model, {"x": ConjugateReparam(lambda: likelihood)}),
                             lambda: None)
    assert loss == pytest.approx(-log_evidence, abs=1e-3)
    with pytest.raises(NotImplementedError, match="conjugate_update"):
        poutine.trace(poutine.reparam(
            lambda: pyro.sample("z", dist.Normal(0.0, 1.0)),
            {"z": ConjugateReparam(dist.Normal(0.0, 1.0))})).get_trace()


@pytest.mark.cuda
def test_guides_follow_the_data_device():
    y = torch.tensor([0.5, 1.5], device="cuda")

    def model():
        s = pyro.sample("s", dist.LogNormal(torch.tensor(0.0, device="cuda"), 1.0))
        with pyro.plate("data", 2, device="cuda"):
            x = pyro.sample("x", dist.Normal(torch.zeros(2, device="cuda"), s))
            pyro.sample("y", dist.Normal(x, 1.0), obs=y)

    for make in (lambda: AutoStructured(model), lambda: AutoGaussian(model)):
        pyro.clear_param_store()
        guide = make()
        svi = SVI(model, guide, Adam({"lr": 0.05}), Trace_ELBO())
        for _ in range(3):
            assert math.isfinite(svi.step())
        assert all(v.is_cuda for v in pyro.get_param_store().values())
        median = guide.median()
        assert median["x"].is_cuda and median["x"].shape == (2,) and median["s"].item() > 0
    guide = AutoStructured(model)
    guide()
    reparam = StructuredReparam(guide)
    tr = poutine.trace(reparam.reparam(model)).get_trace()
    assert tr.nodes["x"]["value"].is_cuda and math.isfinite(tr.log_prob_sum().item())


def test_parameters_are_guide_parameters_with_pyro_names():
    def model():
        z1 = pyro.sample("z1", dist.Normal(0.0, 1.0))
        s = pyro.sample("s", dist.LogNormal(0.0, 1.0))
        with pyro.plate("p", 3):
            z2 = pyro.sample("z2", dist.Normal(z1, s))
        pyro.sample("obs", dist.Normal(z2.sum(), 1.0), obs=torch.tensor(1.0))

    guide = AutoStructured(model)
    assert list(guide.parameters()) == []
    guide()  # eager: every parameter exists after one call
    names = {n: tuple(p.shape) for n, p in guide.named_parameters()}
    # Pyro 1.9.2's names and shapes.
    assert names == {
        "locs.z1_unconstrained": (1,), "locs.s_unconstrained": (1,), "locs.z2_unconstrained": (3,),
        "scales.z1_unconstrained": (1,), "scales.s_unconstrained": (1,),
        "scales.z2_unconstrained": (3,), "scale_trils.z1_unconstrained": (1, 1),
        "scale_trils.s_unconstrained": (1, 1), "scale_trils.z2_unconstrained": (3, 3),
        "deps.s.z1.weight": (1, 1), "deps.z2.z1.weight": (3, 1), "deps.z2.s.weight": (3, 1)}
    assert "AutoStructured.deps.z2.s$$$weight" in pyro.get_param_store()
    pyro.clear_param_store()
    guide = AutoGaussian(model)
    guide()
    names = {n: tuple(p.shape) for n, p in guide.named_parameters()}
    assert names == {
        "locs.z1_unconstrained": (), "locs.s_unconstrained": (), "locs.z2_unconstrained": (3,),
        "scales.z1_unconstrained": (), "scales.s_unconstrained": (),
        "scales.z2_unconstrained": (3,), "white_vecs.z1_unconstrained": (1,),
        "white_vecs.s_unconstrained": (1,), "white_vecs.z2_unconstrained": (3, 1),
        "white_vecs.obs_unconstrained": (1,), "prec_sqrts.z1_unconstrained": (1, 1),
        "prec_sqrts.s_unconstrained": (1, 1), "prec_sqrts.z2_unconstrained": (3, 3, 1),
        "prec_sqrts.obs_unconstrained": (3, 1)}
    store = pyro.get_param_store()
    assert store.get_unconstrained("AutoGaussianDense.prec_sqrts.obs") \
        is dict(guide.named_parameters())["prec_sqrts.obs_unconstrained"]
