"""Cases of the handler stack (issue 2): what one site costs with and without handlers.

The sampled distribution is a pre-built ``pyro.distributions.Normal(0., 1.)`` of the backend
being timed, which is what a user's ``pyro.sample("x", dist.Normal(0., 1.))`` runs; the torch
twin draws from ``torch.distributions.Normal``. ``core.trace_100site_const`` and
``core.replay_100site`` isolate the handler stack with a draw that costs nothing.
"""

from __future__ import annotations

from cases import bench


def pyro_normal():
    """The backend's own standard ``pyro.distributions.Normal``."""
    import pyro.distributions as dist
    import torch

    return dist.Normal(torch.tensor(0.0), torch.tensor(1.0))


def torch_normal():
    """A standard ``torch.distributions.Normal``, for the hand-written twins."""
    import torch

    return torch.distributions.Normal(torch.tensor(0.0), torch.tensor(1.0))


def constant():
    """A distribution whose draw costs nothing: it returns one pre-made tensor."""
    import torch

    value = torch.zeros(())

    class Constant(torch.distributions.Distribution):
        arg_constraints: dict = {}

        def __init__(self):
            super().__init__(validate_args=False)

        def __call__(self, sample_shape=torch.Size()):
            return value

        sample = rsample = __call__

    return Constant()


def _model(n_sites, d=None):
    import pyro

    d = pyro_normal() if d is None else d
    names = [f"x{i}" for i in range(n_sites)]

    def model():
        for name in names:
            pyro.sample(name, d)

    return model


@bench("core.sample_bare", target=("pyro", 0.5))
def sample_bare():
    """pyro.sample with no handler active."""
    import pyro

    d = pyro_normal()
    return lambda: pyro.sample("x", d)


@sample_bare.torch
def _():
    return torch_normal().rsample


@bench("core.trace_1site", target=("pyro", 0.5))
def trace_1site():
    """poutine.trace(model).get_trace() of a one-site model."""
    from pyro import poutine

    model = _model(1)
    return lambda: poutine.trace(model).get_trace()


@trace_1site.torch
def _():
    d = torch_normal()
    return lambda: {"x0": d.rsample()}


@bench("core.trace_100site", target=("pyro", 0.5))
def trace_100site():
    """poutine.trace(model).get_trace() of 100 sample sites in a loop."""
    from pyro import poutine

    model = _model(100)
    return lambda: poutine.trace(model).get_trace()


def _torch_100site():
    d = torch_normal()
    names = [f"x{i}" for i in range(100)]

    def run():
        return {name: d.rsample() for name in names}

    return run


trace_100site.torch(_torch_100site)


@bench("core.trace_100site_const", target=("pyro", 0.5))
def trace_100site_const():
    """As core.trace_100site with a draw that costs nothing: the handler stack alone."""
    from pyro import poutine

    model = _model(100, constant())
    return lambda: poutine.trace(model).get_trace()


@trace_100site_const.torch
def _():
    d = constant()
    names = [f"x{i}" for i in range(100)]
    return lambda: {name: d() for name in names}


@bench("core.replay_100site", target=("pyro", 0.5))
def replay_100site():
    """poutine.trace(poutine.replay(model, trace=tr)).get_trace() of 100 sample sites."""
    from pyro import poutine

    model = _model(100)
    recorded = poutine.trace(model).get_trace()
    return lambda: poutine.trace(poutine.replay(model, trace=recorded)).get_trace()


@replay_100site.torch
def _():
    recorded = _torch_100site()()

    def run():
        return {name: value for name, value in recorded.items()}

    return run


@bench("core.param_constrained", target=("pyro", 0.5))
def param_constrained():
    """pyro.param of an existing positive parameter (returns the constrained value)."""
    import pyro
    import torch
    from torch.distributions import constraints

    pyro.clear_param_store()
    init = torch.ones(3)
    pyro.param("scale", init, constraint=constraints.positive)
    return lambda: pyro.param("scale", init, constraint=constraints.positive)


@param_constrained.torch
def _():
    import torch
    from torch.distributions import constraints, transform_to

    unconstrained = torch.zeros(3, requires_grad=True)
    transform = transform_to(constraints.positive)
    return lambda: transform(unconstrained)
