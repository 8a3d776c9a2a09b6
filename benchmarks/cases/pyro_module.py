"""PyroModule cases (issue 13): one SVI step of a Bayesian regression written as a PyroModule.

The pyro-API body is what the Bayesian-regression tutorial writes: ``PyroModule[nn.Linear]``
with ``PyroSample`` priors on its weight and bias, a learned noise scale, ``AutoNormal`` and
``Trace_ELBO``. The plain-torch body computes the same estimator: one reparameterised draw of
the mean-field Normal guide, the same log-densities, one ``backward`` and one Adam step.
"""

from __future__ import annotations

from cases import bench

LR = 0.01
N, D = 1000, 5


def _data():
    import torch

    torch.manual_seed(0)
    x = torch.randn(N, D)
    y = x @ torch.linspace(-1.0, 1.0, D) + 0.5 + 0.3 * torch.randn(N)
    return x, y


@bench("nn.svi_pyro_module_regression", target=("pyro", 0.6))
def svi_pyro_module_regression():
    """SVI step (AutoNormal, Trace_ELBO) of a PyroModule[nn.Linear] Bayesian regression, 1,000 rows."""
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, Trace_ELBO
    from pyro.infer.autoguide import AutoNormal
    from pyro.nn import PyroModule, PyroSample
    from pyro.optim import Adam
    from torch import nn

    class BayesianRegression(PyroModule):
        def __init__(self, in_features, out_features):
            super().__init__()
            self.linear = PyroModule[nn.Linear](in_features, out_features)
            self.linear.weight = PyroSample(dist.Normal(0.0, 1.0).expand([out_features, in_features]).to_event(2))
            self.linear.bias = PyroSample(dist.Normal(0.0, 10.0).expand([out_features]).to_event(1))

        def forward(self, x, y=None):
            sigma = pyro.sample("sigma", dist.Uniform(0.0, 10.0))
            mean = self.linear(x).squeeze(-1)
            with pyro.plate("data", x.shape[0]):
                return pyro.sample("obs", dist.Normal(mean, sigma), obs=y)

    x, y = _data()
    pyro.clear_param_store()
    model = BayesianRegression(D, 1)
    guide = AutoNormal(model)
    svi = SVI(model, guide, Adam({"lr": LR}), Trace_ELBO())
    svi.step(x, y)  # the first step builds the guide's prototype
    return lambda: svi.step(x, y)


@svi_pyro_module_regression.torch
def _():
    import torch
    from torch.distributions import Independent, Normal, Uniform, constraints, transform_to

    x, y = _data()
    to_unit = transform_to(constraints.interval(0.0, 10.0))
    positive = transform_to(constraints.positive)
    params = {
        "w_loc": torch.zeros(1, D), "w_scale": torch.full((1, D), 0.1).log(),
        "b_loc": torch.zeros(1), "b_scale": torch.full((1,), 0.1).log(),
        "s_loc": torch.zeros(()), "s_scale": torch.tensor(0.1).log(),
    }
    for p in params.values():
        p.requires_grad_()
    p = params
    w_prior = Independent(Normal(torch.zeros(1, D), 1.0), 2)
    b_prior = Independent(Normal(torch.zeros(1), 10.0), 1)
    s_prior = Uniform(0.0, 10.0)
    opt = torch.optim.Adam(list(params.values()), lr=LR)

    def step():
        opt.zero_grad()
        q_w = Independent(Normal(p["w_loc"], positive(p["w_scale"])), 2)
        q_b = Independent(Normal(p["b_loc"], positive(p["b_scale"])), 1)
        q_s = Normal(p["s_loc"], positive(p["s_scale"]))
        w, b, s_u = q_w.rsample(), q_b.rsample(), q_s.rsample()
        s = to_unit(s_u)
        log_q = q_w.log_prob(w) + q_b.log_prob(b) + q_s.log_prob(s_u) - to_unit.log_abs_det_jacobian(s_u, s)
        mean = (x @ w.T + b).squeeze(-1)
        log_p = w_prior.log_prob(w) + b_prior.log_prob(b) + s_prior.log_prob(s) + Normal(mean, s).log_prob(y).sum()
        loss = log_q - log_p
        loss.backward()
        opt.step()
        return loss.item()

    return step
