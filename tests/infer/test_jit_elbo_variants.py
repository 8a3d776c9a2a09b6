"""JitTraceGraph_ELBO and JitTraceMeanField_ELBO equal their eager losses and gradients."""

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.infer.trace_mean_field_elbo import JitTraceMeanField_ELBO, TraceMeanField_ELBO
from pyro.infer.tracegraph_elbo import JitTraceGraph_ELBO, TraceGraph_ELBO

X = torch.tensor([0.3, -0.7, 1.1, 2.0])


def model(x):
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    b = pyro.sample("b", dist.Bernoulli(0.4))
    with pyro.plate("data", len(x)):
        pyro.sample("x", dist.Normal(z + b, 1.0), obs=x)


def guide(x):
    pyro.sample("z", dist.Normal(pyro.param("m", torch.tensor(0.1)), 0.9))
    pyro.sample("b", dist.Bernoulli(pyro.param("p", torch.tensor(0.5))))


def mf_model(x):
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    with pyro.plate("data", len(x)):
        pyro.sample("x", dist.Normal(z, 1.0), obs=x)


def mf_guide(x):
    pyro.sample("z", dist.Normal(pyro.param("m", torch.tensor(0.1)), 0.9))


@pytest.mark.parametrize("Jit, Eager, m, g", [
    (JitTraceGraph_ELBO, TraceGraph_ELBO, model, guide),
    (JitTraceMeanField_ELBO, TraceMeanField_ELBO, mf_model, mf_guide),
])
def test_jit_loss_and_grads_equal_eager(Jit, Eager, m, g):
    pyro.clear_param_store()
    jit = Jit(max_plate_nesting=1, ignore_jit_warnings=True)
    eager = Eager(max_plate_nesting=1)
    pyro.set_rng_seed(0)
    jit.loss_and_grads(m, g, X)  # compile
    params = [v.unconstrained() for v in pyro.get_param_store().values()]
    for seed in (1, 2, 3):
        for p in params:
            p.grad = None
        pyro.set_rng_seed(seed)
        jit_loss = jit.loss_and_grads(m, g, X)
        jit_grads = [p.grad.clone() for p in params]
        for p in params:
            p.grad = None
        pyro.set_rng_seed(seed)
        loss = eager.loss_and_grads(m, g, X)
        assert jit_loss == pytest.approx(loss, rel=1e-5)
        for a, e in zip(jit_grads, [p.grad for p in params]):
            torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-6)
        with torch.no_grad():  # the params are graph inputs: a change must show
            for p in params:
                p -= 0.1
    assert "_jit_cache" in jit.__dict__


def test_jit_enum_elbo_raises_no_tracer_warning_from_the_framework():
    import warnings

    from pyro import poutine
    from pyro.infer import JitTraceEnum_ELBO, config_enumerate
    from pyro.infer.autoguide import AutoDelta

    data = torch.cat([torch.randn(20) - 2, torch.randn(20) + 2])

    @config_enumerate
    def model():
        w = pyro.sample("w", dist.Dirichlet(torch.ones(2)))
        locs = pyro.sample("locs", dist.Normal(0.0, 5.0).expand([2]).to_event(1))
        with pyro.plate("N", 40):
            z = pyro.sample("z", dist.Categorical(w))
            pyro.sample("x", dist.Normal(locs[z], 1.0), obs=data)

    pyro.clear_param_store()
    guide = AutoDelta(poutine.block(model, expose=["w", "locs"]))
    svi = pyro.infer.SVI(model, guide, pyro.optim.Adam({"lr": 0.05}), JitTraceEnum_ELBO(max_plate_nesting=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        svi.step()
        svi.step()
    ours = [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)
            and ("/pyro/" in w.filename or "opt_einsum" in w.filename)]
    assert not ours, [(w.filename, w.lineno, str(w.message)[:60]) for w in ours]
