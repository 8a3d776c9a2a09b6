"""AffineCoupling / affine_coupling and ConditionalAffineCoupling: defaults, maths, exact inverse,
caching, events of several dims, density, errors."""

import pytest
import torch
from flow_checks import (
    assert_inverts,
    assert_log_det_matches_autograd,
    assert_works_in_transformed_distribution,
    scramble_,
)

from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformModule
from pyro.distributions.torch_transform import TransformModule
from pyro.nn import ConditionalDenseNN, DenseNN
from pyro.nn.flows.affine_coupling import (
    AffineCoupling,
    ConditionalAffineCoupling,
    affine_coupling,
    conditional_affine_coupling,
)


def _flow(input_dim=5, seed=0, **kwargs):
    torch.manual_seed(seed)
    return scramble_(affine_coupling(input_dim, hidden_dims=[8], **kwargs).double(), 0.5, seed)


def test_helper_defaults_and_attributes():
    flow = affine_coupling(5)
    assert type(flow) is AffineCoupling and isinstance(flow, TransformModule)
    assert flow.split_dim == 2 and flow.dim == -1 and flow.event_dim == 1
    assert flow.domain == constraints.real_vector and flow.codomain == constraints.real_vector
    assert flow.bijective and flow._cache_size == 1
    assert (flow.log_scale_min_clip, flow.log_scale_max_clip) == (-5.0, 3.0)
    assert type(flow.nn) is DenseNN
    assert (flow.nn.input_dim, flow.nn.hidden_dims, flow.nn.param_dims) == (2, [50], [3, 3])
    assert {n: tuple(p.shape) for n, p in flow.named_parameters()} == {
        "nn.layers.0.weight": (50, 2), "nn.layers.0.bias": (50,),
        "nn.layers.1.weight": (6, 50), "nn.layers.1.bias": (6,),
    }
    other = affine_coupling(5, hidden_dims=[7, 9], split_dim=3, log_scale_max_clip=1.0)
    assert other.split_dim == 3 and other.log_scale_max_clip == 1.0
    assert (other.nn.input_dim, other.nn.hidden_dims, other.nn.param_dims) == (3, [7, 9], [2, 2])
    with pytest.raises(NotImplementedError):
        flow.with_cache(0)


def test_matrix_events_split_by_rows():
    flow = affine_coupling((3, 4), dim=-2)
    assert flow.event_dim == 2 and flow.split_dim == 1
    assert flow.domain.event_dim == 2 and flow.codomain.event_dim == 2
    # the network sees the pass-through row flattened and returns the other rows flattened
    assert (flow.nn.input_dim, flow.nn.hidden_dims, flow.nn.param_dims) == (4, [120], [8, 8])
    assert affine_coupling([3, 4], dim=-2).nn.param_dims == [8, 8]


def test_formula_and_first_coordinates_unchanged():
    flow = _flow(5, split_dim=2)
    x = torch.randn(6, 5, dtype=torch.float64)
    y = flow(x)
    assert torch.equal(y[..., :2], x[..., :2])
    mean, raw = flow.nn(x[..., :2])
    log_scale = raw.clamp(-5.0, 3.0)
    torch.testing.assert_close(y[..., 2:], torch.exp(log_scale) * x[..., 2:] + mean)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x, y), log_scale.sum(-1))


@pytest.mark.parametrize("input_dim, split_dim", [(2, 1), (5, 2), (6, 4)])
@pytest.mark.parametrize("batch_shape", [(), (3,), (2, 3)])
def test_log_det_equals_autograd_jacobian(input_dim, split_dim, batch_shape):
    flow = _flow(input_dim, seed=input_dim, split_dim=split_dim)
    x = torch.randn(batch_shape + (input_dim,), dtype=torch.float64)
    assert_log_det_matches_autograd(flow, x, rtol=1e-9, atol=1e-9)
    y = flow(x)
    flow(torch.randn_like(x))  # (x, y) is no longer the cached pair: recomputed from x
    assert_log_det_matches_autograd(flow, x, rtol=1e-9, atol=1e-9)
    assert flow.log_abs_det_jacobian(x, y).shape == batch_shape


@pytest.mark.parametrize("batch_shape", [(), (2, 3)])
def test_matrix_events_log_det_and_inverse(batch_shape):
    torch.manual_seed(3)
    flow = scramble_(affine_coupling((3, 2), hidden_dims=[6], dim=-2).double(), 0.5, 3)
    x = torch.randn(batch_shape + (3, 2), dtype=torch.float64)
    y = flow(x)
    assert torch.equal(y[..., :1, :], x[..., :1, :])
    assert flow.log_abs_det_jacobian(x, y).shape == batch_shape
    assert_log_det_matches_autograd(flow, x, rtol=1e-9, atol=1e-9)
    assert_inverts(flow, x, rtol=1e-10, atol=1e-10)


def test_inverse_exact_cached_and_uncached():
    flow = _flow(6, split_dim=3)
    x = torch.randn(4, 6, dtype=torch.float64)
    assert_inverts(flow, x, rtol=1e-10, atol=1e-10)
    # the log-det of the pair produced by an inversion reuses that pass
    y = torch.randn(4, 6, dtype=torch.float64)
    x2 = flow.inv(y)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x2, y),
                               flow.log_abs_det_jacobian(x2.clone(), y.clone()))


def test_log_scale_clipped_in_value_not_in_gradient():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.raw = torch.nn.Parameter(torch.tensor([8.0, -9.0]))

        def forward(self, x_a):
            return torch.zeros(x_a.shape[:-1] + (2,)), self.raw.expand(x_a.shape[:-1] + (2,))

    flow = AffineCoupling(1, Net(), log_scale_max_clip=2.0)
    x = torch.tensor([[0.3, 1.0, 1.0]])
    y = flow(x)
    # log-scales clipped to [-5, 2]: the scales are e^2 and e^-5
    torch.testing.assert_close(y, torch.tensor([[0.3, torch.e ** 2, torch.e ** -5]]))
    ladj = flow.log_abs_det_jacobian(x, y)
    torch.testing.assert_close(ladj, torch.tensor([-3.0]))
    (grad,) = torch.autograd.grad(ladj.sum(), [flow.nn.raw])
    torch.testing.assert_close(grad, torch.ones(2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_transformed_distribution(dtype):
    torch.manual_seed(0)
    flow = affine_coupling(4, hidden_dims=[8]).to(dtype)
    assert_works_in_transformed_distribution(flow, 4, dtype)


def test_bad_arguments():
    with pytest.raises(ValueError, match="'dim' keyword argument must be negative"):
        AffineCoupling(1, DenseNN(1, [3], [1, 1]), dim=0)
    with pytest.raises(ValueError, match="'dim' keyword argument must be negative"):
        affine_coupling(4, dim=1)
    with pytest.raises(ValueError, match="event shape"):
        affine_coupling(4, dim=-2)
    with pytest.raises(ValueError, match=r"event shape \(3, 4\) must have same length as event_dim 1"):
        affine_coupling((3, 4))
    for split_dim in (0, 4):
        with pytest.raises(ValueError, match="split_dim=.* must lie in 1..3"):
            affine_coupling(4, split_dim=split_dim)
    flow = AffineCoupling(3, DenseNN(3, [4], [1, 1]))
    with pytest.raises(ValueError, match=r"split_dim=3 must lie in 1..2 .* shape \(2, 3\)"):
        flow(torch.zeros(2, 3))
    wrong = AffineCoupling(1, DenseNN(1, [4], [1, 1]))  # returns size 1, the flow needs 2
    with pytest.raises(ValueError, match=r"expected a pair \(mean, log_scale\) of shape \(\.\.\., 2\)"):
        wrong(torch.zeros(5, 3))


# ----- the conditional variant -----------------------------------------------------------------
def test_conditional_helper_defaults():
    flow = conditional_affine_coupling(6, 2)
    assert type(flow) is ConditionalAffineCoupling
    assert isinstance(flow, ConditionalTransformModule) and isinstance(flow, torch.nn.Module)
    assert flow.domain == constraints.real_vector and flow.bijective
    assert flow.split_dim == 3 and flow.kwargs == {"dim": -1}
    assert type(flow.nn) is ConditionalDenseNN
    assert (flow.nn.input_dim, flow.nn.context_dim, flow.nn.hidden_dims, flow.nn.param_dims) == (
        3, 2, [60], [3, 3])
    t = flow.condition(torch.zeros(2))
    assert type(t) is AffineCoupling and t._cache_size == 1 and t.split_dim == 3
    # the conditioned flow holds no parameters of its own: they stay the conditional module's
    assert list(t.parameters()) == []
    assert conditional_affine_coupling(6, 2, log_scale_min_clip=-1.0).condition(
        torch.zeros(2)).log_scale_min_clip == -1.0
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        ConditionalAffineCoupling(1, flow.nn, stable=True)


def test_conditional_equals_coupling_with_network_outputs():
    torch.manual_seed(1)
    flow = scramble_(conditional_affine_coupling(5, 3, hidden_dims=[8]).double(), 0.5, 1)
    context = torch.randn(4, 3, dtype=torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64)
    t = flow.condition(context)
    y = t(x)
    mean, raw = flow.nn(x[..., :2], context=context)
    log_scale = raw.clamp(-5.0, 3.0)
    assert torch.equal(y[..., :2], x[..., :2])
    torch.testing.assert_close(y[..., 2:], torch.exp(log_scale) * x[..., 2:] + mean)
    torch.testing.assert_close(t.log_abs_det_jacobian(x, y), log_scale.sum(-1))
    assert_inverts(t, x, rtol=1e-10, atol=1e-10)
    other = flow.condition(torch.randn(4, 3, dtype=torch.float64))(x)
    assert (other[..., 2:] - y[..., 2:]).abs().min() > 1e-6
    # one context for a batch, and a batch of contexts for one input, broadcast
    single = flow.condition(context[1])(x)
    torch.testing.assert_close(single[1], y[1])
    grid = flow.condition(context.unsqueeze(1))(x)  # contexts (4, 1, 3) against x (4, 5)
    assert grid.shape == (4, 4, 5)
    torch.testing.assert_close(grid.diagonal(dim1=0, dim2=1).T, y)
