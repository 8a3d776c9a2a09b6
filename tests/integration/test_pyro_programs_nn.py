"""Facts from small user programs of pyro-nn, run side by side with Pyro 1.9.2.

Each test is a trimmed piece of a program of the kind Pyro users write (a flow built with a
helper, a PyroModule fitted with SVI, a VAE's ``pyro.module`` registration, conditional flows);
the numbers asserted are either ground truth (sample moments, autograd) or facts recorded from
Pyro 1.9.2 running the same program.
"""

import warnings

import pytest
import torch
from torch import nn

import pyro
import pyro.distributions as dist
import pyro.distributions.transforms as T
from pyro import poutine
from pyro.distributions import constraints
from pyro.infer import SVI, Trace_ELBO
from pyro.nn import PyroModule, PyroParam

D = 4

# Parameter counts of the flow helpers' default architectures for a 4-dim input, as Pyro 1.9.2
# builds them (a change of a default hidden width, bin count or layer count shows up here).
PYRO_PARAM_COUNTS = [
    ("planar", lambda: T.planar(D), 9),
    ("radial", lambda: T.radial(D), 6),
    ("householder", lambda: T.householder(D, count_transforms=2), 8),
    ("sylvester", lambda: T.sylvester(D, count_transforms=2), 52),
    ("polynomial", lambda: T.polynomial(D), 2664),
    ("neural_autoregressive", lambda: T.neural_autoregressive(D), 2753),
    ("block_autoregressive", lambda: T.block_autoregressive(D), 1416),
    ("matrix_exponential", lambda: T.matrix_exponential(D), 16),
    ("affine_coupling", lambda: T.affine_coupling(D), 284),
    ("spline_autoregressive", lambda: T.spline_autoregressive(D), 6924),
    ("spline_coupling", lambda: T.spline_coupling(D), 4364),
    ("batchnorm", lambda: T.batchnorm(D), 8),
    ("affine_autoregressive", lambda: T.affine_autoregressive(D, stable=True), 177),
    ("spline", lambda: T.spline(D), 124),
    ("spline_linear", lambda: T.spline(D, order="linear"), 124),
]


@pytest.mark.parametrize("name,make,count", PYRO_PARAM_COUNTS, ids=[c[0] for c in PYRO_PARAM_COUNTS])
def test_flow_helper_parameter_counts_match_pyro(name, make, count):
    torch.manual_seed(0)
    t = make()
    assert sum(p.numel() for p in t.parameters()) == count
    # and the flow works as a TransformedDistribution: finite densities of its own draws
    base = dist.Normal(torch.zeros(D), torch.ones(D)).to_event(1)
    d = dist.TransformedDistribution(base, [t])
    x = d.sample(torch.Size([5]))
    lp = d.log_prob(x)
    assert lp.shape == (5,) and bool(torch.isfinite(lp).all())


def test_conditional_flow_condition_types_and_shapes_match_pyro():
    torch.manual_seed(0)
    t1 = T.conditional_affine_autoregressive(2, 1, hidden_dims=[16])
    t2 = T.conditional_spline(2, context_dim=1, count_bins=6)
    cd = dist.ConditionalTransformedDistribution(dist.Normal(torch.zeros(2), torch.ones(2)), [t1, t2])
    d = cd.condition(torch.tensor([0.5]))
    # Pyro 1.9.2: a TransformedDistribution of AffineAutoregressive and ConditionedSpline
    assert type(d).__name__ == "TransformedDistribution"
    assert [type(t).__name__ for t in d.transforms] == ["AffineAutoregressive", "ConditionedSpline"]
    assert d.event_shape == (2,) and d.batch_shape == ()
    assert d.sample(torch.Size([7])).shape == (7, 2)
    assert d.log_prob(torch.zeros(7, 2)).shape == (7,)
    # a batched context conditions every row of the sample
    ctx = torch.randn(6, 1)
    assert cd.condition(ctx).log_prob(torch.zeros(6, 2)).shape == (6,)


class _Fit(PyroModule):
    def __init__(self):
        super().__init__()
        self.loc = PyroParam(torch.zeros(3))
        self.scale = PyroParam(torch.ones(3), constraint=constraints.positive)

    def forward(self, x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("obs", dist.Normal(self.loc, self.scale).to_event(1), obs=x)


def _data():
    g = torch.Generator().manual_seed(8)
    return torch.randn(200, 3, generator=g) * torch.tensor([0.5, 1.0, 2.0]) + torch.tensor([1.0, -1.0, 0.0])


def test_pyro_param_mle_global_then_local_mode():
    data = _data()
    pyro.clear_param_store()
    fit = _Fit()
    svi = SVI(fit, lambda x: None, pyro.optim.Adam({"lr": 0.1}), Trace_ELBO())
    for _ in range(300):
        svi.step(data)
    # the MLE of a Normal: the sample mean and the (biased) sample standard deviation
    assert torch.allclose(fit.loc.detach(), data.mean(0), atol=0.02)
    assert torch.allclose(fit.scale.detach(), data.std(0, unbiased=False), atol=0.02)
    assert sorted(pyro.get_param_store().keys()) == ["loc", "scale"]
    assert sorted(fit.state_dict()) == ["loc_unconstrained", "scale_unconstrained"]

    pyro.clear_param_store()
    with pyro.settings.context(module_local_params=True):
        local = _Fit()
        loss_fn = Trace_ELBO()(local, lambda x: None)
        assert sorted(n for n, _ in loss_fn.named_parameters()) == [
            "model.loc_unconstrained", "model.scale_unconstrained"]
        opt = torch.optim.Adam(loss_fn.parameters(), lr=0.1)
        for _ in range(300):
            opt.zero_grad()
            loss_fn(data).backward()
            opt.step()
    assert torch.allclose(local.loc.detach(), data.mean(0), atol=0.02)
    assert len(pyro.get_param_store()) == 0


def test_vae_pyro_module_registers_decoder_tensors_in_order():
    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(2, 5)
            self.fc2 = nn.Linear(5, 4)

        def forward(self, z):
            return torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))

    decoder = Decoder()

    def model(x):
        pyro.module("decoder", decoder)
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("latent", dist.Normal(x.new_zeros(x.shape[0], 2), 1.0).to_event(1))
            pyro.sample("obs", dist.Bernoulli(decoder(z)).to_event(1), obs=x)

    pyro.clear_param_store()
    tr = poutine.trace(model).get_trace(torch.ones(3, 4))
    names = ["decoder$$$fc1.weight", "decoder$$$fc1.bias", "decoder$$$fc2.weight", "decoder$$$fc2.bias"]
    assert [n for n, s in tr.nodes.items() if s["type"] == "param"] == names
    assert pyro.get_param_store()["decoder$$$fc1.weight"] is decoder.fc1.weight
    assert tr.nodes["latent"]["value"].shape == (3, 2)
    assert tr.nodes["obs"]["fn"].event_shape == (4,)


def test_one_variable_autoregressive_nn_warns_as_pyro():
    from pyro.nn import AutoRegressiveNN, ConditionalAutoRegressiveNN

    # Pyro 1.9.2 gives this UserWarning (with this class name) for both networks, and so once
    # for each helper that builds one; wider inputs give no warning.
    message = "ConditionalAutoRegressiveNN input_dim = 1. Consider using an affine transformation instead."
    with pytest.warns(UserWarning) as record:
        AutoRegressiveNN(1, [4])
        ConditionalAutoRegressiveNN(1, 2, [4])
        T.affine_autoregressive(1)
    assert [str(w.message) for w in record] == [message] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AutoRegressiveNN(2, [4])


def test_spline_coupling_of_one_variable_is_a_clear_error_without_torch_warnings():
    # Pyro builds a degenerate net (torch warns "Initializing zero-element tensors is a no-op");
    # ours refuses the split before any layer exists.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="split_dim"):
            T.spline_coupling(1)
        assert sum(p.numel() for p in T.spline_coupling(2).parameters()) > 0
