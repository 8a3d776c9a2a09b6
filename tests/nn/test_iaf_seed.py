"""The seed manual's Bijector and InverseAutoRegressiveFlow, and the error without pyro-nn."""

import math
import os
import subprocess
import sys

import pytest
import torch
from torch.autograd.functional import jacobian
from torch.nn import functional as F

import pyro
import pyro.distributions as dist
from pyro.distributions.torch_transform import TransformModule
from pyro.nn import AutoRegressiveNN
from pyro.nn.flows import AffineAutoregressive, Bijector, InverseAutoRegressiveFlow


def _std_normal_lp(x):
    return -0.5 * (x ** 2).sum(-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)


def _hand(iaf, x, bias=2.0):
    mu, s = iaf.get_arn()(x)
    gate = torch.sigmoid(s + bias)
    return gate * x + (1 - gate) * mu, F.logsigmoid(s + bias).sum(-1)


def test_seed_names_resolve_on_pyro_distributions():
    from pyro.plugins import get_registry

    assert dist.InverseAutoRegressiveFlow is InverseAutoRegressiveFlow
    assert dist.Bijector is Bijector
    assert get_registry("distributions").owner("InverseAutoRegressiveFlow") == "pyro-nn"
    assert issubclass(Bijector, TransformModule) and issubclass(Bijector, torch.nn.Module)
    assert issubclass(InverseAutoRegressiveFlow, Bijector)
    assert issubclass(InverseAutoRegressiveFlow, AffineAutoregressive)


def test_constructor_and_get_arn():
    iaf = InverseAutoRegressiveFlow(4, 20)
    arn = iaf.get_arn()
    assert isinstance(arn, AutoRegressiveNN) and arn is iaf.arn
    assert arn.input_dim == 4 and arn.hidden_dims == [20]
    # by default the autoregression follows the sequential order, as the manual says
    assert arn.get_permutation().tolist() == [0, 1, 2, 3]
    assert iaf.sigmoid_bias == 2.0 and iaf.stable and iaf._cache_size == 1
    assert InverseAutoRegressiveFlow(3, 5, sigmoid_bias=0.5).sigmoid_bias == 0.5
    given = InverseAutoRegressiveFlow(3, 5, permutation=torch.tensor([2, 0, 1]))
    assert given.get_arn().get_permutation().tolist() == [2, 0, 1]
    shuffled = InverseAutoRegressiveFlow(6, 8, permutation=True).get_arn().get_permutation()
    assert sorted(shuffled.tolist()) == list(range(6))


def test_manual_example_runs_as_written():
    """``pyro.module("my_iaf", iaf); TransformedDistribution(base_dist, iaf)``, with a single
    bijector and with a list."""
    base_dist = dist.Normal(torch.zeros(3), torch.ones(3))
    iaf = InverseAutoRegressiveFlow(3, 10)
    pyro.module("my_iaf", iaf)
    store = pyro.get_param_store()
    names = {n for n, _ in iaf.named_parameters()}
    assert set(store.keys()) == {"my_iaf$$$" + n for n in names}
    for n, p in iaf.named_parameters():
        assert store["my_iaf$$$" + n] is p
    for bijectors in (iaf, [iaf]):
        iaf_dist = dist.TransformedDistribution(base_dist, bijectors)
        assert iaf_dist.event_shape == (3,)
        y = iaf_dist.sample()
        x = iaf.inverse(y)  # the cached input
        expected = _std_normal_lp(x) - _hand(iaf, x)[1]
        assert torch.allclose(iaf_dist.log_prob(y), expected, atol=1e-5)
        ys = iaf_dist.rsample((4,))
        assert ys.shape == (4, 3) and iaf_dist.log_prob(ys).shape == (4,)


def test_forward_inverse_and_log_det_jacobian():
    torch.manual_seed(1)
    iaf = InverseAutoRegressiveFlow(5, 17, permutation=True).double()
    x = torch.randn(6, 5, dtype=torch.float64)
    y = iaf(x)
    y_hand, ladj_hand = _hand(iaf, x)
    assert torch.allclose(y, y_hand, atol=1e-12)
    assert iaf.inverse(y) is x  # as in the manual: the cached input
    assert torch.allclose(iaf.log_det_jacobian(y), ladj_hand, atol=1e-12)
    # unlike the manual: a value the flow did not just produce is inverted exactly
    y2 = y.clone()
    assert torch.allclose(iaf.inverse(y2), x, atol=1e-10)
    assert torch.allclose(iaf.log_det_jacobian(y2), ladj_hand, atol=1e-10)
    for i in range(3):
        assert torch.allclose(ladj_hand[i], torch.linalg.slogdet(jacobian(iaf, x[i]))[1], atol=1e-9)


class _Scale01(Bijector):
    """A bijector written with Pyro 0.1's method names: y = exp(a) * x + b."""

    def __init__(self, dim):
        super().__init__()
        self.a = torch.nn.Parameter(torch.linspace(-0.5, 0.5, dim))
        self.b = torch.nn.Parameter(torch.arange(dim, dtype=torch.float32))

    def forward(self, x):
        return torch.exp(self.a) * x + self.b

    def inverse(self, y):
        return (y - self.b) * torch.exp(-self.a)

    def log_det_jacobian(self, y):
        return self.a.sum().expand(y.shape[:-1])


def test_a_bijector_written_with_the_01_names():
    bij = _Scale01(3)
    x = torch.randn(4, 3)
    y = bij(x)
    assert torch.allclose(y, torch.exp(bij.a) * x + bij.b)
    assert torch.allclose(bij.inv(y.clone()), x, atol=1e-6)
    assert torch.allclose(bij.log_abs_det_jacobian(x, y), torch.full((4,), bij.a.sum().item()))
    d = dist.TransformedDistribution(dist.Normal(torch.zeros(3), torch.ones(3)).to_event(1), bij)
    expected = _std_normal_lp(x) - bij.a.sum()
    assert torch.allclose(d.log_prob(y.detach().clone()), expected, atol=1e-5)


def test_an_abstract_bijector_says_what_is_missing():
    with pytest.raises(NotImplementedError, match="_call nor forward"):
        Bijector()(torch.zeros(2))
    with pytest.raises(NotImplementedError, match="log_abs_det_jacobian nor log_det_jacobian"):
        Bijector().log_abs_det_jacobian(torch.zeros(2), torch.zeros(2))


def test_log_prob_gradient_reaches_the_network_and_matches_finite_differences():
    torch.manual_seed(2)
    iaf = InverseAutoRegressiveFlow(3, 8).double()
    d = dist.TransformedDistribution(
        dist.Normal(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)).to_event(1), iaf)
    data = torch.randn(16, 3, dtype=torch.float64) * 2

    def nll():
        return -d.log_prob(data.clone()).mean()  # uncached values: the exact inverse

    nll().backward()
    for param in (iaf.get_arn().layers[0].weight, iaf.get_arn().layers[-1].bias):
        assert param.grad is not None and param.grad.abs().sum() > 0
        flat, grad = param.data.view(-1), param.grad.view(-1)
        for i in range(0, flat.numel(), max(1, flat.numel() // 5)):
            old = flat[i].item()
            with torch.no_grad():
                flat[i] = old + 1e-6
                up = nll().item()
                flat[i] = old - 1e-6
                down = nll().item()
                flat[i] = old
            assert abs((up - down) / 2e-6 - grad[i].item()) < 1e-6, (i, grad[i])


# ----- without pyro-nn --------------------------------------------------------------------------


@pytest.fixture
def without_pyro_nn():
    """A process-wide plugin manager holding the first-party plugins except pyro-nn's."""
    from pyro.plugins import set_plugin_manager
    from pyro.plugins.testing import fresh_plugin_manager

    manager = fresh_plugin_manager()
    manager.unregister("pyro-nn")
    old = set_plugin_manager(manager)
    try:
        yield manager
    finally:
        set_plugin_manager(old)


def test_missing_package_error_in_process(without_pyro_nn):
    import pyro.distributions.transforms as T

    for module, name in [(T, "AffineAutoregressive"), (T, "affine_autoregressive"), (T, "Spline"),
                         (dist, "InverseAutoRegressiveFlow"), (dist, "Bijector")]:
        with pytest.raises(ModuleNotFoundError) as info:
            getattr(module, name)
        message = str(info.value)
        assert f"{module.__name__}.{name}" in message
        assert "pyro-nn" in message and 'pip install "pyro-core[nn]"' in message
    with pytest.raises(AttributeError, match="has no attribute 'NotAFlow'"):
        T.NotAFlow
    assert T.ExpTransform is torch.distributions.transforms.ExpTransform


def test_missing_package_error_in_a_subprocess():
    code = (
        "import pyro.distributions.transforms as T\n"
        "try:\n"
        "    from pyro.distributions.transforms import AffineAutoregressive\n"
        "except ModuleNotFoundError as e:\n"
        "    print('ERR', e)\n"
        "try:\n"
        "    import pyro.distributions as dist; dist.InverseAutoRegressiveFlow\n"
        "except ModuleNotFoundError as e:\n"
        "    print('ERR', e)\n"
    )
    env = dict(os.environ, PYRO_DISABLE_PLUGINS="pyro-nn")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "pyro.distributions.transforms.AffineAutoregressive is provided by the pyro-nn package" in lines[0]
    assert "pyro.distributions.InverseAutoRegressiveFlow is provided by the pyro-nn package" in lines[1]
    assert all('pip install "pyro-core[nn]"' in line for line in lines)
