"""Cases of inference (issue 5): one SVI step, or one full Importance / Predictive run.

Every pyro-API case has a plain-torch twin that computes the same estimator with the same
number of particles: the same log-densities, the same reparameterised draws, one ``backward``
and one Adam step over the same parameters (for Importance and Predictive, a vectorized
sampler). Data are drawn from a fixed seed, so all backends see the same numbers.
"""

from __future__ import annotations

from cases import bench

LR = 0.01


def _adam(params):
    import torch

    return torch.optim.Adam(params, lr=LR)


def _positive(u):
    from torch.distributions import constraints, transform_to

    return transform_to(constraints.positive)(u)


def _svi(model, guide, loss=None):
    """Return ``svi.step`` of a fresh SVI with Adam and (by default) Trace_ELBO."""
    import pyro
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import Adam

    pyro.clear_param_store()
    svi = SVI(model, guide, Adam({"lr": LR}), loss=Trace_ELBO() if loss is None else loss)
    return svi.step


def _torch_step(params, loss_fn):
    """Return a function doing one Adam step on ``loss_fn()`` (a negative ELBO estimate)."""
    opt = _adam(params)

    def step():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss.item()

    return step


# ----- the coin: Beta-Bernoulli ----------------------------------------------------------------

def _coin_data():
    import torch

    return torch.tensor([1.0] * 6 + [0.0] * 4)


@bench("infer.svi_coin", target=("torch", 1.2))
def svi_coin():
    """SVI step (Trace_ELBO) of the Beta-Bernoulli coin with a Beta guide, 10 flips in a plate."""
    import pyro
    import pyro.distributions as dist
    import torch
    from torch.distributions import constraints

    data = _coin_data()

    def model(data):
        f = pyro.sample("fairness", dist.Beta(10.0, 10.0))
        with pyro.plate("flips", len(data)):
            pyro.sample("obs", dist.Bernoulli(f), obs=data)

    def guide(data):
        a = pyro.param("alpha_q", torch.tensor(15.0), constraint=constraints.positive)
        b = pyro.param("beta_q", torch.tensor(15.0), constraint=constraints.positive)
        pyro.sample("fairness", dist.Beta(a, b))

    step = _svi(model, guide)
    return lambda: step(data)


@svi_coin.torch
def _():
    import torch
    from torch.distributions import Bernoulli, Beta

    data = _coin_data()
    a_u = torch.tensor(15.0).log().requires_grad_()
    b_u = torch.tensor(15.0).log().requires_grad_()

    def loss():
        q = Beta(_positive(a_u), _positive(b_u))
        f = q.rsample()
        log_p = Beta(10.0, 10.0).log_prob(f) + Bernoulli(f).log_prob(data).sum()
        return q.log_prob(f) - log_p

    return _torch_step([a_u, b_u], loss)


# ----- Bayesian linear regression, 10,000 rows --------------------------------------------------

def _regression_data(n, d=5):
    import torch

    x = torch.randn(n, d)
    y = x @ torch.linspace(-1.0, 1.0, d) + 0.5 + 0.3 * torch.randn(n)
    return x, y


def _regression_model(subsample_size=None):
    import pyro
    import pyro.distributions as dist
    import torch

    def model(x, y):
        d = x.shape[1]
        w = pyro.sample("w", dist.Normal(torch.zeros(d), torch.ones(d)).to_event(1))
        b = pyro.sample("b", dist.Normal(0.0, 10.0))
        sigma = pyro.sample("sigma", dist.LogNormal(0.0, 1.0))
        with pyro.plate("data", len(x), subsample_size=subsample_size) as idx:
            if subsample_size is not None:
                x, y = x[idx], y[idx]
            loc = (x * w.unsqueeze(-2)).sum(-1) + b  # w may carry a leading sample dim
            pyro.sample("obs", dist.Normal(loc, sigma), obs=y)

    return model


def _regression_guide(d):
    import pyro
    import pyro.distributions as dist
    import torch
    from torch.distributions import constraints

    def guide(x, y):
        w_loc = pyro.param("w_loc", torch.zeros(d))
        w_scale = pyro.param("w_scale", torch.ones(d), constraint=constraints.positive)
        b_loc = pyro.param("b_loc", torch.tensor(0.0))
        b_scale = pyro.param("b_scale", torch.tensor(1.0), constraint=constraints.positive)
        s_loc = pyro.param("s_loc", torch.tensor(0.0))
        s_scale = pyro.param("s_scale", torch.tensor(1.0), constraint=constraints.positive)
        pyro.sample("w", dist.Normal(w_loc, w_scale).to_event(1))
        pyro.sample("b", dist.Normal(b_loc, b_scale))
        pyro.sample("sigma", dist.LogNormal(s_loc, s_scale))

    return guide


def _torch_regression_step(x, y, subsample_size=None):
    import torch
    from torch.distributions import Independent, LogNormal, Normal

    n, d = x.shape
    params = {
        "w_loc": torch.zeros(d), "w_scale": torch.zeros(d), "b_loc": torch.tensor(0.0),
        "b_scale": torch.tensor(0.0), "s_loc": torch.tensor(0.0), "s_scale": torch.tensor(0.0),
    }
    for p in params.values():
        p.requires_grad_()
    p = params
    w_prior = Independent(Normal(torch.zeros(d), torch.ones(d)), 1)
    b_prior, s_prior = Normal(0.0, 10.0), LogNormal(0.0, 1.0)

    def loss():
        q_w = Independent(Normal(p["w_loc"], _positive(p["w_scale"])), 1)
        q_b = Normal(p["b_loc"], _positive(p["b_scale"]))
        q_s = LogNormal(p["s_loc"], _positive(p["s_scale"]))
        w, b, s = q_w.rsample(), q_b.rsample(), q_s.rsample()
        if subsample_size is None:
            xs, ys, scale = x, y, 1.0
        else:
            idx = torch.randperm(n)[:subsample_size]
            xs, ys, scale = x[idx], y[idx], n / subsample_size
        log_lik = Normal((xs * w).sum(-1) + b, s).log_prob(ys).sum() * scale
        log_p = w_prior.log_prob(w) + b_prior.log_prob(b) + s_prior.log_prob(s) + log_lik
        log_q = q_w.log_prob(w) + q_b.log_prob(b) + q_s.log_prob(s)
        return log_q - log_p

    return _torch_step(list(params.values()), loss)


@bench("infer.svi_regression_10k", target=("torch", 1.2))
def svi_regression_10k():
    """SVI step of Bayesian linear regression (5 features, 10,000 rows in a plate)."""
    x, y = _regression_data(10_000)
    step = _svi(_regression_model(), _regression_guide(x.shape[1]))
    return lambda: step(x, y)


@svi_regression_10k.torch
def _():
    x, y = _regression_data(10_000)
    return _torch_regression_step(x, y)


@bench("infer.svi_minibatch_100k", target=("torch", 1.2))
def svi_minibatch_100k():
    """SVI step of the same regression on 100,000 rows, subsample_size=256."""
    x, y = _regression_data(100_000)
    step = _svi(_regression_model(subsample_size=256), _regression_guide(x.shape[1]))
    return lambda: step(x, y)


@svi_minibatch_100k.torch
def _():
    x, y = _regression_data(100_000)
    return _torch_regression_step(x, y, subsample_size=256)


# ----- 100 scalar latents in a Python loop ------------------------------------------------------

N_LOOP = 100


@bench("infer.svi_loop_100", target=("torch", 1.2))
def svi_loop_100():
    """SVI step of 100 scalar Normal latents, each observed once, written as a Python loop."""
    import pyro
    import pyro.distributions as dist
    import torch
    from torch.distributions import constraints

    data = torch.randn(N_LOOP)

    def model(data):
        for i in range(N_LOOP):
            z = pyro.sample(f"z_{i}", dist.Normal(0.0, 1.0))
            pyro.sample(f"x_{i}", dist.Normal(z, 1.0), obs=data[i])

    def guide(data):
        for i in range(N_LOOP):
            loc = pyro.param(f"loc_{i}", torch.tensor(0.0))
            scale = pyro.param(f"scale_{i}", torch.tensor(1.0), constraint=constraints.positive)
            pyro.sample(f"z_{i}", dist.Normal(loc, scale))

    step = _svi(model, guide)
    return lambda: step(data)


@svi_loop_100.torch
def _():
    import torch
    from torch.distributions import Normal

    data = torch.randn(N_LOOP)
    locs = [torch.tensor(0.0, requires_grad=True) for _ in range(N_LOOP)]
    scales = [torch.tensor(0.0, requires_grad=True) for _ in range(N_LOOP)]

    def loss():
        total = 0.0
        for i in range(N_LOOP):
            q = Normal(locs[i], _positive(scales[i]))
            z = q.rsample()
            log_p = Normal(0.0, 1.0).log_prob(z) + Normal(z, 1.0).log_prob(data[i])
            total = total + q.log_prob(z) - log_p
        return total

    return _torch_step(locs + scales, loss)


# ----- K=3 Gaussian mixture, enumerated -------------------------------------------------------

K = 3


def _mixture_data(n=1000):
    import torch

    centers = torch.tensor([-3.0, 0.0, 3.0])
    return centers[torch.randint(0, K, (n,))] + 0.7 * torch.randn(n)


def _mixture_model_and_guide():
    import pyro
    import pyro.distributions as dist
    import torch
    from torch.distributions import constraints

    def model(data):
        weights = pyro.param("weights", torch.ones(K) / K, constraint=constraints.simplex)
        locs = pyro.param("locs", torch.tensor([-1.0, 0.0, 1.0]))
        scale = pyro.param("scale", torch.tensor(1.0), constraint=constraints.positive)
        with pyro.plate("data", len(data)):
            z = pyro.sample("z", dist.Categorical(weights), infer={"enumerate": "parallel"})
            pyro.sample("obs", dist.Normal(locs[z], scale), obs=data)

    def guide(data):
        pass

    return model, guide, _mixture_data()


@bench("infer.svi_mixture_enum", target=("torch", 1.5))
def svi_mixture_enum():
    """SVI step (TraceEnum_ELBO) of a K=3 1-D Gaussian mixture, 1,000 points, MLE params."""
    from pyro.infer import TraceEnum_ELBO

    model, guide, data = _mixture_model_and_guide()
    step = _svi(model, guide, loss=TraceEnum_ELBO(max_plate_nesting=1))
    return lambda: step(data)


def _mixture_twin():
    import torch
    from torch.distributions import Normal, constraints, transform_to

    data = _mixture_data()
    to_simplex = transform_to(constraints.simplex)
    w_u = to_simplex.inv(torch.ones(K) / K).requires_grad_()
    locs = torch.tensor([-1.0, 0.0, 1.0], requires_grad=True)
    s_u = torch.tensor(0.0, requires_grad=True)

    def loss():
        log_w = to_simplex(w_u).log()
        log_joint = log_w + Normal(locs, _positive(s_u)).log_prob(data[:, None])
        return -torch.logsumexp(log_joint, -1).sum()

    return _torch_step([w_u, locs, s_u], loss)


svi_mixture_enum.torch(_mixture_twin)


@bench("infer.svi_mixture_enum_jit", target=None)
def svi_mixture_enum_jit():
    """The same mixture step under JitTraceEnum_ELBO (the loss compiled by the JIT tracer)."""
    from pyro.infer import JitTraceEnum_ELBO

    model, guide, data = _mixture_model_and_guide()
    step = _svi(model, guide, loss=JitTraceEnum_ELBO(max_plate_nesting=1, ignore_jit_warnings=True))
    return lambda: step(data)


svi_mixture_enum_jit.torch(_mixture_twin)


# ----- A guide that enumerates a 100-step chain (guide-side enumeration along pyro.markov) -------

HMM_STEPS = 100


def _hmm_data():
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.randn(HMM_STEPS, generator=g)


def _guide_hmm():
    import pyro
    import pyro.distributions as dist
    import torch
    from pyro.infer import config_enumerate

    trans = torch.tensor([[0.9, 0.1], [0.3, 0.7]])
    locs = torch.tensor([0.0, 1.0])

    def model(data):
        x = 0
        for t in pyro.markov(range(len(data))):
            x = pyro.sample(f"x_{t}", dist.Categorical(trans[x]))
            pyro.sample(f"y_{t}", dist.Normal(locs[x], 1.0), obs=data[t])

    @config_enumerate
    def guide(data):
        q = pyro.param("q", torch.tensor([[0.6, 0.4], [0.2, 0.8]]),
                       constraint=dist.constraints.simplex)
        x = 0
        for t in pyro.markov(range(len(data))):
            x = pyro.sample(f"x_{t}", dist.Categorical(q[x]))

    return model, guide


@bench("infer.svi_guide_hmm_100", target=("pyro", 0.5))
def svi_guide_hmm_100():
    """SVI step (TraceEnum_ELBO) of a 2-state HMM of 100 steps whose guide enumerates the chain."""
    from pyro.infer import TraceEnum_ELBO

    model, guide = _guide_hmm()
    data = _hmm_data()
    step = _svi(model, guide, loss=TraceEnum_ELBO(max_plate_nesting=0))
    return lambda: step(data)


def _guide_hmm_twin():
    """The exact ELBO by a forward pass over the guide's marginals q(x_{t-1}, x_t)."""
    import torch
    from torch.distributions import Normal, constraints, transform_to

    data = _hmm_data()
    trans = torch.tensor([[0.9, 0.1], [0.3, 0.7]])
    locs = torch.tensor([0.0, 1.0])
    to_simplex = transform_to(constraints.simplex)
    q_u = to_simplex.inv(torch.tensor([[0.6, 0.4], [0.2, 0.8]])).requires_grad_()
    emission = Normal(locs, 1.0).log_prob(data[:, None])  # T x K

    def loss():
        q = to_simplex(q_u)
        log_q, log_p = q.log(), trans.log()
        prev = torch.zeros(2).index_fill_(0, torch.tensor(0), 1.0)  # x_{-1} = 0
        elbo = 0.0
        for t in range(len(data)):
            joint = prev[:, None] * q  # q(x_{t-1}, x_t)
            elbo = elbo + (joint * (log_p - log_q)).sum() + (joint.sum(0) * emission[t]).sum()
            prev = joint.sum(0)
        return -elbo

    return _torch_step([q_u], loss)


svi_guide_hmm_100.torch(_guide_hmm_twin)


# ----- Importance sampling and Predictive, 1,000 samples -----------------------------------------

NUM_SAMPLES = 1000


def _normal_normal():
    import pyro
    import pyro.distributions as dist
    import torch

    data = 1.0 + torch.randn(10)

    def model(data):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        with pyro.plate("data", len(data)):
            pyro.sample("x", dist.Normal(z, 1.0), obs=data)

    return model, data


def _torch_importance():
    """Prior draws as proposals: log w = log p(z) + log p(x | z) - log q(z), q the prior."""
    import torch
    from torch.distributions import Normal

    data = 1.0 + torch.randn(10)
    prior = Normal(0.0, 1.0)

    def run():
        z = prior.sample((NUM_SAMPLES,))
        log_w = Normal(z[:, None], 1.0).log_prob(data).sum(-1) + prior.log_prob(z) - prior.log_prob(z)
        return z, log_w

    return run


@bench("infer.importance_seq_1000", target=None)
def importance_seq_1000():
    """Importance(model, num_samples=1000).run(data), prior as proposal (sequential runs)."""
    from pyro.infer import Importance

    model, data = _normal_normal()
    importance = Importance(model, guide=None, num_samples=NUM_SAMPLES)
    return lambda: importance.run(data)


importance_seq_1000.torch(_torch_importance)


@bench("infer.importance_vec_1000", target=("torch", 2.0))
def importance_vec_1000():
    """vectorized_importance_weights(model, guide, data, num_samples=1000): one batched run."""
    from pyro.infer.importance import vectorized_importance_weights

    import pyro
    import pyro.distributions as dist

    model, data = _normal_normal()

    def guide(data):  # the prior as proposal
        pyro.sample("z", dist.Normal(0.0, 1.0))

    return lambda: vectorized_importance_weights(
        model, guide, data, num_samples=NUM_SAMPLES, max_plate_nesting=1
    )


importance_vec_1000.torch(_torch_importance)


@bench("infer.predictive_1000", target=("torch", 2.0))
def predictive_1000():
    """Predictive(model, guide, num_samples=1000, parallel=True) of the regression, 100 rows."""
    import pyro
    from pyro.infer import Predictive

    x, _ = _regression_data(100)
    guide = _regression_guide(x.shape[1])
    predictive = Predictive(_regression_model(), guide=guide, num_samples=NUM_SAMPLES,
                            parallel=True)
    pyro.clear_param_store()
    return lambda: predictive(x, None)


@predictive_1000.torch
def _():
    import torch
    from torch.distributions import LogNormal, Normal

    x, _ = _regression_data(100)
    d = x.shape[1]
    w_loc, w_scale = torch.zeros(d), torch.ones(d)

    def run():
        w = Normal(w_loc, w_scale).sample((NUM_SAMPLES,))
        b = Normal(0.0, 1.0).sample((NUM_SAMPLES, 1))
        s = LogNormal(0.0, 1.0).sample((NUM_SAMPLES, 1))
        obs = Normal((x * w[:, None, :]).sum(-1) + b, s).sample()
        return {"w": w, "b": b, "sigma": s, "obs": obs}

    return run


# ----- Model-side enumeration: a 100-step HMM, and a tree of a dozen enumerated variables --------


def _model_hmm():
    import pyro
    import pyro.distributions as dist
    import torch
    from torch.distributions import constraints

    def model(data):
        trans = pyro.param("trans", torch.tensor([[0.9, 0.1], [0.3, 0.7]]),
                           constraint=constraints.simplex)
        locs = pyro.param("locs", torch.tensor([0.0, 1.0]))
        x = 0
        for t in pyro.markov(range(len(data))):
            x = pyro.sample(f"x_{t}", dist.Categorical(trans[x]), infer={"enumerate": "parallel"})
            pyro.sample(f"y_{t}", dist.Normal(locs[x], 1.0), obs=data[t])

    def guide(data):
        pass

    return model, guide


@bench("infer.svi_model_hmm_enum_100", target=None)
def svi_model_hmm_enum_100():
    """SVI step (TraceEnum_ELBO) of a 2-state HMM of 100 steps whose model enumerates the chain."""
    from pyro.infer import TraceEnum_ELBO

    model, guide = _model_hmm()
    data = _hmm_data()
    step = _svi(model, guide, loss=TraceEnum_ELBO(max_plate_nesting=0))
    return lambda: step(data)


TREE_DATA = 200


def _tree_model():
    """A ternary root, three ternary children and eight ternary grandchildren (12 enumerated
    variables, each in its own enumeration dim), observed through the grandchildren, in a plate
    of 200 independent copies."""
    import pyro
    import pyro.distributions as dist
    import torch

    g = torch.Generator().manual_seed(0)
    data = torch.randn(8, TREE_DATA, generator=g)
    leaves_of = [(0, 1, 2), (3, 4, 5), (6, 7)]

    def model(data):
        root_p = pyro.param("root_p", torch.ones(3) / 3, constraint=dist.constraints.simplex)
        trans = pyro.param("trans", torch.eye(3) * 0.6 + 0.4 / 3, constraint=dist.constraints.simplex)
        locs = pyro.param("locs", torch.tensor([-1.0, 0.0, 1.0]))
        with pyro.plate("data", data.shape[-1]):
            r = pyro.sample("r", dist.Categorical(root_p), infer={"enumerate": "parallel"})
            for c, leaves in enumerate(leaves_of):
                z = pyro.sample(f"c{c}", dist.Categorical(trans[r]), infer={"enumerate": "parallel"})
                for leaf in leaves:
                    w = pyro.sample(f"l{leaf}", dist.Categorical(trans[z]),
                                    infer={"enumerate": "parallel"})
                    pyro.sample(f"y{leaf}", dist.Normal(locs[w], 1.0), obs=data[leaf])

    def guide(data):
        pass

    return model, guide, data


@bench("infer.svi_tree_enum_12", target=None)
def svi_tree_enum_12():
    """SVI step (TraceEnum_ELBO) of a tree of 12 enumerated ternary variables in a plate of 200."""
    from pyro.infer import TraceEnum_ELBO

    model, guide, data = _tree_model()
    step = _svi(model, guide, loss=TraceEnum_ELBO(max_plate_nesting=1))
    return lambda: step(data)


def _multiparent_model(K=24, n=500):
    """x1 -> x2 -> x3 with x3 depending on both parents (a K x K x K table), each observed, in a
    plate of n: eliminating x3 meets an n x K x K x K product unless the step is an einsum."""
    import pyro
    import pyro.distributions as dist
    import torch

    g = torch.Generator().manual_seed(0)
    data = torch.randn(3, n, generator=g)
    table2 = torch.rand(K, K, generator=g).softmax(-1)
    table3 = torch.rand(K, K, K, generator=g).softmax(-1)

    def model(data):
        locs = pyro.param("locs", torch.linspace(-2.0, 2.0, K))
        with pyro.plate("data", n):
            x1 = pyro.sample("x1", dist.Categorical(torch.ones(K) / K), infer={"enumerate": "parallel"})
            x2 = pyro.sample("x2", dist.Categorical(table2[x1]), infer={"enumerate": "parallel"})
            x3 = pyro.sample("x3", dist.Categorical(table3[x1, x2]), infer={"enumerate": "parallel"})
            for i, x in enumerate((x1, x2, x3)):
                pyro.sample(f"y{i}", dist.Normal(locs[x], 1.0), obs=data[i])

    def guide(data):
        pass

    return model, guide, data


@bench("infer.svi_multiparent_enum", target=None)
def svi_multiparent_enum():
    """SVI step (TraceEnum_ELBO): three 24-state variables, one with two parents, plate of 500."""
    from pyro.infer import TraceEnum_ELBO

    model, guide, data = _multiparent_model()
    step = _svi(model, guide, loss=TraceEnum_ELBO(max_plate_nesting=1))
    return lambda: step(data)
