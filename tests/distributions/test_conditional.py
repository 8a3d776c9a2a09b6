"""pyro.distributions.conditional: constant wrappers, conditional composition, and
ConditionalTransformedDistribution conditioned into an ordinary TransformedDistribution (torch
transforms only: this environment need not have pyro-nn)."""

import math

import pytest
import torch
from torch.distributions import transforms as tt

import pyro.distributions as dist
from pyro.distributions.conditional import (
    ConditionalComposeTransformModule,
    ConditionalDistribution,
    ConditionalTransform,
    ConditionalTransformedDistribution,
    ConditionalTransformModule,
    ConstantConditionalDistribution,
    ConstantConditionalTransform,
)
from pyro.distributions.torch_transform import ComposeTransformModule


class ShiftByContext(ConditionalTransformModule):
    """y = context + exp(log_scale) * x, with a learnable log_scale."""

    def __init__(self, log_scale=0.0):
        super().__init__()
        self.log_scale = torch.nn.Parameter(torch.tensor(float(log_scale)))

    def condition(self, context):
        return tt.AffineTransform(loc=context, scale=self.log_scale.exp())


class NormalAtContext(ConditionalDistribution):
    """Normal(context, 1) over vectors."""

    def condition(self, context):
        return dist.Normal(context, torch.ones_like(context)).to_event(1)


def _normal_log_prob(y, loc, scale):
    return (-0.5 * ((y - loc) / scale) ** 2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)).sum(-1)


def test_public_names():
    assert dist.ConditionalTransformedDistribution is ConditionalTransformedDistribution
    assert dist.ConditionalDistribution is ConditionalDistribution
    assert dist.ConditionalTransform is ConditionalTransform
    assert dist.ConditionalTransformModule is ConditionalTransformModule
    with pytest.raises(TypeError):
        ConditionalDistribution()  # abstract: condition is missing
    with pytest.raises(TypeError):
        ConditionalTransform()
    module = ShiftByContext()
    assert isinstance(module, torch.nn.Module) and isinstance(module, ConditionalTransform)
    assert hash(module) == hash(module) and {module: 1}[module] == 1
    assert [n for n, _ in module.named_parameters()] == ["log_scale"]


def test_constant_wrappers_ignore_the_context():
    base = dist.Normal(0.0, 1.0)
    wrapped = ConstantConditionalDistribution(base)
    assert wrapped.condition(torch.ones(3)) is base and wrapped.condition(torch.zeros(2, 5)) is base
    transform = tt.ExpTransform()
    constant = ConstantConditionalTransform(transform)
    assert isinstance(constant, ConditionalTransform)
    assert constant.condition(torch.ones(1)) is transform
    with pytest.raises(TypeError, match="ConstantConditionalDistribution: base_dist must be a "
                                        "Distribution, got int"):
        ConstantConditionalDistribution(3)
    with pytest.raises(TypeError, match="ConstantConditionalTransform: transform must be a "
                                        "Transform, got str"):
        ConstantConditionalTransform("exp")


def test_plain_parts_give_the_plain_transformed_distribution():
    cond = ConditionalTransformedDistribution(dist.Normal(0.5, 2.0), [tt.ExpTransform()])
    assert isinstance(cond.base_dist, ConstantConditionalDistribution)
    assert all(isinstance(t, ConstantConditionalTransform) for t in cond.transforms)
    d = cond.condition(torch.ones(1))
    assert isinstance(d, dist.TransformedDistribution)
    y = torch.tensor([0.3, 1.0, 4.0])
    torch.testing.assert_close(d.log_prob(y), torch.distributions.LogNormal(0.5, 2.0).log_prob(y))
    single = ConditionalTransformedDistribution(dist.Normal(0.5, 2.0), tt.ExpTransform())
    assert len(single.transforms) == 1
    torch.testing.assert_close(single.condition(torch.ones(1)).log_prob(y), d.log_prob(y))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conditional_base_and_transform(dtype):
    # x ~ N(c, 1), y = c + 2 x  =>  y ~ N(3 c, 2)
    flow = ShiftByContext(math.log(2.0)).to(dtype)
    cond = ConditionalTransformedDistribution(NormalAtContext(), [flow, tt.AffineTransform(0.0, 1.0)])
    context = torch.tensor([[0.0, 1.0], [-2.0, 0.5], [3.0, 3.0]], dtype=dtype)
    d = cond.condition(context)
    assert d.batch_shape == (3,) and d.event_shape == (2,)
    y = torch.randn(4, 3, 2, dtype=dtype)
    want = _normal_log_prob(y, 3 * context, torch.tensor(2.0, dtype=dtype))
    torch.testing.assert_close(d.log_prob(y), want)
    s = d.sample((5,))
    assert s.shape == (5, 3, 2) and s.dtype == dtype and not s.requires_grad
    r = d.rsample()
    (grad,) = torch.autograd.grad(r.sum(), [flow.log_scale])
    # d r / d log_scale = 2 x = r - c, summed
    torch.testing.assert_close(grad, (r - context).sum().detach())
    # each context gives its own distribution
    assert not torch.allclose(cond.condition(context + 1).log_prob(y), d.log_prob(y))


def test_compose_conditions_each_part():
    flow = ShiftByContext(0.3)
    compose = ConditionalComposeTransformModule([flow, tt.ExpTransform()], cache_size=1)
    assert isinstance(compose, ConditionalTransformModule)
    assert list(compose.parameters()) == [flow.log_scale]
    context = torch.tensor([0.5, -1.0])
    t = compose.condition(context)
    assert type(t) is ComposeTransformModule and t._cache_size == 1
    assert type(t.parts[0]) is tt.AffineTransform and type(t.parts[1]) is tt.ExpTransform
    x = torch.tensor([[0.2, 0.4], [1.0, -1.0]])
    y = t(x)
    torch.testing.assert_close(y, torch.exp(context + math.exp(0.3) * x))
    torch.testing.assert_close(t.log_abs_det_jacobian(x, y), 0.3 + context + math.exp(0.3) * x)
    # as part of a conditional distribution
    cond = ConditionalTransformedDistribution(dist.Normal(torch.zeros(2), 1.0), [compose])
    # log y = c + s x with x ~ N(0, 1): y is log-normal
    want = torch.distributions.LogNormal(context, math.exp(0.3)).log_prob(y)
    torch.testing.assert_close(cond.condition(context).log_prob(y), want)


def test_bad_parts_are_named():
    with pytest.raises(TypeError, match="ConditionalTransformedDistribution: base_dist must be a "
                                        "Distribution or a ConditionalDistribution, got float"):
        ConditionalTransformedDistribution(1.0, [tt.ExpTransform()])
    with pytest.raises(TypeError, match="expected a Transform or ConditionalTransform, got int"):
        ConditionalTransformedDistribution(dist.Normal(0.0, 1.0), [tt.ExpTransform(), 3])
    with pytest.raises(TypeError, match="expected a Transform or ConditionalTransform, got str"):
        ConditionalComposeTransformModule(["exp"])


def test_clear_cache_resets_a_plain_torch_transform():
    t = tt.ExpTransform(cache_size=1)
    c = ConstantConditionalTransform(t)
    t(torch.ones(2))
    assert t._cached_x_y[0] is not None
    c.clear_cache()
    assert t._cached_x_y == (None, None)
    dist.ConditionalTransformedDistribution(dist.Normal(0.0, 1.0), [t]).clear_cache()


def test_conditional_module_inverse():
    class Shift(dist.ConditionalTransformModule):
        def condition(self, context):
            return tt.AffineTransform(context, 2.0)

    flow = Shift()
    inv = flow.inv
    assert isinstance(inv, dist.ConditionalTransformModule) and inv.inv is flow
    ctx = torch.tensor([1.0, -3.0])
    y = torch.tensor([5.0, 1.0])
    torch.testing.assert_close(inv.condition(ctx)(y), (y - ctx) / 2.0)
    d = dist.ConditionalTransformedDistribution(dist.Normal(0.0, 1.0), [inv]).condition(ctx)
    x = torch.tensor([0.3, -1.2])  # x = (z - ctx) / 2, so z = 2 x + ctx and |dz/dx| = 2
    want = dist.Normal(0.0, 1.0).log_prob(2.0 * x + ctx) + torch.log(torch.tensor(2.0))
    torch.testing.assert_close(d.log_prob(x), want)


def test_torch_transforms_get_clear_cache_as_in_pyro():
    t = tt.ExpTransform(cache_size=1)
    composed = tt.ComposeTransform([t, tt.AffineTransform(1.0, 2.0, cache_size=1)], cache_size=1)
    composed(torch.ones(2))
    assert t._cached_x_y[0] is not None
    composed.clear_cache()
    assert t._cached_x_y == (None, None) and composed._cached_x_y == (None, None)
    tt.ExpTransform().clear_cache()  # no cache: nothing to do


def test_transformed_distribution_clear_cache_clears_each_transform():
    # Pyro's flow tutorial calls flow_dist.clear_cache() after every optimizer step
    t = tt.ExpTransform(cache_size=1)
    d = torch.distributions.TransformedDistribution(torch.distributions.Normal(0.0, 1.0), [t])
    x = torch.ones(2)
    t(x)
    assert t._cached_x_y[0] is x
    assert d.clear_cache() is None
    assert t._cached_x_y == (None, None)
