"""BlockAutoregressive and (Conditional)NeuralAutoregressive: maths against hand-written torch and
autograd, structure, caching without an analytic inverse, densities, CUDA and a fit."""

import copy
import math

import pytest
import torch
from flow_checks import (
    assert_autoregressive,
    assert_log_det_matches_autograd,
    assert_works_in_transformed_distribution,
    scramble_,
)
from torch.autograd.functional import jacobian
from torch.nn import functional as F

import pyro.distributions as dist
from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformedDistribution
from pyro.distributions.torch_transform import TransformModule
from pyro.nn import AutoRegressiveNN, ConditionalAutoRegressiveNN
from pyro.nn.flows.block_autoregressive import (
    BlockAutoregressive,
    MaskedBlockLinear,
    block_autoregressive,
)
from pyro.nn.flows.neural_autoregressive import (
    ConditionalNeuralAutoregressive,
    NeuralAutoregressive,
    conditional_neural_autoregressive,
    neural_autoregressive,
)

ACTIVATIONS = ["ELU", "LeakyReLU", "sigmoid", "tanh"]
_ACT = {  # the activations and their inverses, written out
    "ELU": (F.elu, lambda y: torch.where(y > 0, y, torch.log1p(y))),
    "LeakyReLU": (F.leaky_relu, lambda y: torch.where(y > 0, y, y / 0.01)),
    "sigmoid": (torch.sigmoid, torch.logit),
    "tanh": (torch.tanh, torch.atanh),
}


def _bnaf(dim, seed, scale=0.7, **kwargs):
    torch.manual_seed(seed)
    return scramble_(BlockAutoregressive(dim, **kwargs).double(), scale, seed)


# ----- BlockAutoregressive ------------------------------------------------------------------------
def test_bnaf_defaults_parameters_and_helper():
    flow = block_autoregressive(3)
    assert type(flow) is BlockAutoregressive and isinstance(flow, TransformModule)
    assert flow.domain == constraints.real_vector and flow.codomain == constraints.real_vector
    assert flow.bijective and flow.autoregressive and flow._cache_size == 1
    assert flow.input_dim == 3 and flow.residual is None
    assert isinstance(flow.T, torch.distributions.transforms.TanhTransform)
    shapes = {n: tuple(p.shape) for n, p in flow.named_parameters()}
    assert shapes == {
        "layers.0._weight": (24, 3), "layers.0._diag_weight": (24, 1), "layers.0.bias": (24,),
        "layers.1._weight": (24, 24), "layers.1._diag_weight": (24, 1), "layers.1.bias": (24,),
        "layers.2._weight": (3, 24), "layers.2._diag_weight": (3, 1), "layers.2.bias": (3,),
    }
    assert {n for n, _ in flow.named_buffers()} == {
        f"layers.{k}.mask_{m}" for k in range(3) for m in "do"
    }
    gated = BlockAutoregressive(2, hidden_factors=[3], activation="ELU", residual="gated")
    assert gated.gate.shape == (1,) and gated.layers[0]._weight.shape == (6, 2)
    # the visible weights start Xavier-uniform per block row, the row scales at log U(0, 1)
    layer = MaskedBlockLinear(3, 12, 3)
    assert torch.all(layer._weight[layer.mask_d + layer.mask_o == 0] == 0)
    assert layer._weight[:4, :1].abs().max() <= math.sqrt(6 / 5)
    assert torch.all(layer._diag_weight <= 0)


def test_bnaf_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        BlockAutoregressive(2, activation="relu")
    with pytest.raises(ValueError, match="residual"):
        BlockAutoregressive(2, residual="x")
    with pytest.raises(ValueError, match="input_dim=3"):
        BlockAutoregressive(3)(torch.randn(4, 2))


def test_bnaf_masks_are_block_triangular():
    layer = MaskedBlockLinear(4, 6, 2)
    want_d = torch.tensor([[1, 1, 0, 0]] * 3 + [[0, 0, 1, 1]] * 3, dtype=torch.float)
    want_o = torch.tensor([[0, 0, 0, 0]] * 3 + [[1, 1, 0, 0]] * 3, dtype=torch.float)
    assert torch.equal(layer.mask_d, want_d) and torch.equal(layer.mask_o, want_o)


def _hand_bnaf(flow, x, act):
    """The BNAF forward pass from the raw parameters, by the formulas of the docs."""
    h = x
    for k, layer in enumerate(flow.layers):
        w = torch.exp(layer._weight) * layer.mask_d + layer._weight * layer.mask_o
        w = torch.exp(layer._diag_weight) * w / w.norm(dim=-1, keepdim=True)
        h = h @ w.T + layer.bias
        if k < len(flow.layers) - 1:
            h = act(h)
    if flow.residual == "normal":
        return x + h
    if flow.residual == "gated":
        g = torch.sigmoid(flow.gate)
        return g * x + (1 - g) * h
    return h


@pytest.mark.parametrize("residual", [None, "normal", "gated"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bnaf_forward_log_det_and_triangle(activation, residual):
    flow = _bnaf(3, 1, hidden_factors=[2, 3], activation=activation, residual=residual)
    x = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(flow(x), _hand_bnaf(flow, x, _ACT[activation][0]))
    assert_log_det_matches_autograd(flow, torch.randn(2, 3, 3, dtype=torch.float64), rtol=1e-8,
                                    atol=1e-8)
    # autoregressive in the natural order, increasing in each variable
    assert_autoregressive(flow, torch.randn(3, dtype=torch.float64))
    assert torch.all(torch.diagonal(jacobian(flow, torch.randn(3, dtype=torch.float64))) > 0)


def test_bnaf_one_layer_and_default_widths():
    flow = _bnaf(2, 2, hidden_factors=[])
    assert len(flow.layers) == 1
    assert_log_det_matches_autograd(flow, torch.randn(5, 2, dtype=torch.float64), rtol=1e-8,
                                    atol=1e-8)
    flow = _bnaf(4, 3, scale=0.3)
    assert_log_det_matches_autograd(flow, torch.randn(3, 4, dtype=torch.float64), rtol=1e-8,
                                    atol=1e-8)


def test_bnaf_is_monotone_along_each_coordinate():
    flow = _bnaf(2, 4, activation="sigmoid")
    grid = torch.linspace(-6, 6, 200, dtype=torch.float64)
    for i in range(2):
        x = torch.zeros(200, 2, dtype=torch.float64)
        x[:, i] = grid
        assert torch.all(flow(x)[:, i].diff() > 0)


@pytest.mark.parametrize("make", [
    lambda: _bnaf(3, 5, residual="gated"),
    lambda: scramble_(neural_autoregressive(3, [10], width=4).double(), 0.5, 6),
])
def test_cached_inverse_only(make):
    flow = make()
    x = torch.randn(4, 3, dtype=torch.float64)
    y = flow(x)
    assert flow.inv(y) is x
    error = KeyError if isinstance(flow, BlockAutoregressive) else NotImplementedError
    with pytest.raises(error, match="no analytic inverse"):
        flow.inv(y.clone())
    # the log-det of the cached pair is the one of the forward pass; a stale pair is recomputed
    ladj = flow.log_abs_det_jacobian(x, y)
    x2 = torch.randn(4, 3, dtype=torch.float64)
    flow(x2)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x, y), ladj)
    torch.testing.assert_close(ladj, flow.log_abs_det_jacobian(x.clone(), y.clone()))


# ----- NeuralAutoregressive -----------------------------------------------------------------------
def test_naf_defaults_parameters_and_helpers():
    flow = neural_autoregressive(4)
    assert type(flow) is NeuralAutoregressive and isinstance(flow, TransformModule)
    assert flow.domain == constraints.real_vector and flow.codomain == constraints.real_vector
    assert flow.bijective and flow.autoregressive and flow._cache_size == 1
    assert flow.hidden_units == 16 and flow.eps == 1e-8
    assert isinstance(flow.T, torch.distributions.transforms.SigmoidTransform)
    assert isinstance(flow.arn, AutoRegressiveNN)
    assert flow.arn.hidden_dims == [13] and flow.arn.param_dims == [16, 16, 16]
    assert {n: tuple(p.shape) for n, p in flow.named_parameters()} == {
        "arn.layers.0.weight": (13, 4), "arn.layers.0.bias": (13,),
        "arn.layers.1.weight": (192, 13), "arn.layers.1.bias": (192,),
    }
    other = neural_autoregressive(3, [7, 8], activation="tanh", width=5)
    assert other.arn.hidden_dims == [7, 8] and other.arn.param_dims == [5, 5, 5]
    assert other.hidden_units == 5 and isinstance(other.T, torch.distributions.transforms.TanhTransform)
    cond = conditional_neural_autoregressive(3, 2)
    assert type(cond) is ConditionalNeuralAutoregressive
    assert isinstance(cond.nn, ConditionalAutoRegressiveNN) and cond.nn.context_dim == 2
    assert cond.nn.hidden_dims == [10] and cond.nn.param_dims == [16, 16, 16]
    assert cond.kwargs == {"hidden_units": 16, "activation": "sigmoid"}
    with pytest.raises(ValueError, match="activation"):
        neural_autoregressive(3, activation="relu")


def _hand_naf(flow, x, activation):
    act, act_inv = _ACT[activation]
    a, w, b = flow.arn(x)
    mixed = (torch.softmax(w, -2) * act(F.softplus(a) * x.unsqueeze(-2) + b)).sum(-2)
    return act_inv(mixed)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_naf_forward_log_det_and_triangle(activation):
    torch.manual_seed(7)
    flow = scramble_(neural_autoregressive(4, [12], activation=activation, width=5).double(),
                     0.5, 7)
    x = torch.randn(5, 4, dtype=torch.float64)
    torch.testing.assert_close(flow(x), _hand_naf(flow, x, activation))
    assert_log_det_matches_autograd(flow, torch.randn(2, 3, 4, dtype=torch.float64), rtol=1e-7,
                                    atol=1e-7)
    x = torch.randn(4, dtype=torch.float64)
    assert_autoregressive(flow, x, flow.arn.get_permutation())
    assert torch.all(torch.diagonal(jacobian(flow, x)) > 0)


def test_naf_rejects_a_network_of_the_wrong_shape():
    flow = NeuralAutoregressive(AutoRegressiveNN(3, [8], param_dims=[4, 4, 4]), hidden_units=5)
    with pytest.raises(ValueError, match="hidden_units=5"):
        flow(torch.randn(3))
    flow = NeuralAutoregressive(AutoRegressiveNN(3, [8], param_dims=[1, 1]), hidden_units=1)
    with pytest.raises(ValueError, match="three tensors"):
        flow(torch.randn(3))


def test_conditional_naf_follows_the_context():
    torch.manual_seed(8)
    cond = conditional_neural_autoregressive(3, 2, [12], width=4)
    scramble_(cond.double(), 0.5, 8)
    x = torch.randn(6, 3, dtype=torch.float64)
    c1, c2 = torch.randn(2, 2, dtype=torch.float64)
    f1, f2 = cond.condition(c1), cond.condition(c2)
    assert type(f1) is NeuralAutoregressive and f1.hidden_units == 4
    y1, y2 = f1(x), f2(x)
    assert (y1 - y2).abs().max() > 1e-3  # the context matters
    # conditioning is the same as binding the context of the network by hand
    a, w, b = cond.nn(x, context=c1)
    mixed = (torch.softmax(w, -2) * torch.sigmoid(F.softplus(a) * x.unsqueeze(-2) + b)).sum(-2)
    torch.testing.assert_close(y1, torch.logit(mixed))
    assert_log_det_matches_autograd(f2, x, rtol=1e-7, atol=1e-7)
    assert_autoregressive(f1, x[0], cond.nn.get_permutation())
    # as a conditional density
    base = dist.Normal(torch.zeros(3, dtype=torch.float64), 1.0).to_event(1)
    flow_dist = ConditionalTransformedDistribution(base, [cond]).condition(c1)
    z = flow_dist.rsample((5,))
    assert z.shape == (5, 3) and z.requires_grad
    t = flow_dist.transforms[0]
    x_z = t.inv(z)
    torch.testing.assert_close(flow_dist.log_prob(z),
                               base.log_prob(x_z) - t.log_abs_det_jacobian(x_z, z))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("which", ["bnaf", "naf"])
def test_in_transformed_distribution(which, dtype):
    torch.manual_seed(9)
    flow = block_autoregressive(3, residual="normal") if which == "bnaf" else neural_autoregressive(3)
    assert_works_in_transformed_distribution(flow.to(dtype), 3, dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("which", ["bnaf", "naf", "cnaf"])
def test_on_cuda_matches_cpu(which):
    torch.manual_seed(10)
    module = {
        "bnaf": lambda: block_autoregressive(3, residual="gated"),
        "naf": lambda: neural_autoregressive(3, [10], activation="ELU"),
        "cnaf": lambda: conditional_neural_autoregressive(3, 2, [10]),
    }[which]().double()
    cpu = copy.deepcopy(module)
    gpu = module.cuda()
    context = torch.randn(2, dtype=torch.float64)
    if which == "cnaf":
        cpu, gpu = cpu.condition(context), gpu.condition(context.cuda())
    x = torch.randn(8, 3, dtype=torch.float64)
    x_gpu = x.cuda()
    y = gpu(x_gpu)
    ladj = gpu.log_abs_det_jacobian(x_gpu, y)
    assert y.device.type == "cuda" and ladj.device.type == "cuda" and ladj.shape == (8,)
    y_cpu = cpu(x)
    torch.testing.assert_close(y.cpu(), y_cpu)
    torch.testing.assert_close(ladj.cpu(), cpu.log_abs_det_jacobian(x, y_cpu))
    assert gpu.inv(y) is x_gpu
    assert_log_det_matches_autograd(gpu, x.cuda()[:2], rtol=1e-7, atol=1e-7)


def test_maximum_likelihood_fit_of_a_banana():
    """x1 ~ N(0, 1), x2 | x1 ~ N(x1^2 - 1, 0.5^2). The true density has mean log-likelihood
    -(log(2 pi e) + log 0.5) = -2.145; the best diagonal Normal (var(x1) = 1, var(x2) = 2.25)
    only -(1 + log(2 pi) + 0.5 log 2.25) = -3.243. Fitting a BlockAutoregressive flow (the data pushed to the base, through the flow's
    inverse transform) must come within 0.15 nats of the truth: 0.9 beyond the diagonal."""
    torch.manual_seed(0)

    def banana(n):
        x1 = torch.randn(n)
        return torch.stack([x1, x1 ** 2 - 1 + 0.5 * torch.randn(n)], -1)

    data, held_out = banana(1000), banana(2000)
    truth = (dist.Normal(0.0, 1.0).log_prob(held_out[:, 0])
             + dist.Normal(held_out[:, 0] ** 2 - 1, 0.5).log_prob(held_out[:, 1])).mean().item()
    diagonal_best = -1.0 - 0.5 * math.log(2 * math.pi) * 2 - 0.5 * math.log(2.25)
    flow = BlockAutoregressive(2, hidden_factors=[8, 8])
    flow_dist = dist.TransformedDistribution(dist.Normal(torch.zeros(2), 1.0).to_event(1),
                                             [flow.inv])
    optim = torch.optim.Adam(flow.parameters(), lr=0.02)
    for _ in range(250):
        optim.zero_grad()
        (-flow_dist.log_prob(data.clone()).mean()).backward()
        optim.step()
    with torch.no_grad():
        fitted = flow_dist.log_prob(held_out.clone()).mean().item()
    assert abs(truth - (-2.145)) < 0.05 and abs(diagonal_best - (-3.243)) < 0.01
    assert fitted > truth - 0.15, (fitted, truth)
    assert fitted > diagonal_best + 0.9, (fitted, diagonal_best)
