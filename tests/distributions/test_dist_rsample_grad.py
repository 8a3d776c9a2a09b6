"""rsample gradients against finite differences.

Two checks: for pathwise samplers, the gradient of one sample (fixed seed) equals the finite
difference of that sample; for every reparameterised distribution with moments, the average
rsample gradient of ``E[w1 x + w2 x^2]`` equals the finite difference of its closed form.
"""

import pytest
import torch

from dist_cases import CASES

GRAD_CASES = [c for c in CASES if c.grad]


def _float_params(case):
    return [k for k, v in case.params.items()
            if isinstance(v, torch.Tensor) and v.is_floating_point() and k != "cov"]


def _with(case, name, value):
    params = dict(case.params)
    params[name] = value
    return case.build(**params)


@pytest.mark.parametrize("case", [c for c in GRAD_CASES if c.pathwise], ids=repr)
def test_pathwise_rsample_gradient_matches_finite_difference(case):
    d0 = case.make()
    assert d0.has_rsample
    w = torch.randn(d0.shape(), dtype=torch.float64)
    eps = 1e-6

    def loss(name, value):
        torch.manual_seed(123)
        return (_with(case, name, value).rsample() * w).sum()

    for name in _float_params(case):
        p = case.params[name].clone(memory_format=torch.contiguous_format).requires_grad_()
        value = loss(name, p)
        grad = torch.autograd.grad(value, p)[0] if value.requires_grad else torch.zeros_like(p)
        fd = torch.zeros_like(p)
        for i in range(p.numel()):
            step = torch.zeros_like(p).view(-1)
            step[i] = eps
            step = step.view_as(p)
            fd.view(-1)[i] = (loss(name, p.detach() + step) - loss(name, p.detach() - step)) / (2 * eps)
        assert torch.allclose(grad, fd, rtol=1e-4, atol=1e-6), (name, grad, fd)


@pytest.mark.parametrize("case", [c for c in GRAD_CASES if c.moments], ids=repr)
def test_expected_rsample_gradient_matches_finite_difference(case):
    d0 = case.make()
    if not d0.has_rsample:
        return
    shape = d0.shape()
    w1 = torch.randn(shape, dtype=torch.float64)
    w2 = torch.randn(shape, dtype=torch.float64)
    groups, per_group = 40, 2000
    eps = 1e-6

    def closed_form(name, value):
        d = _with(case, name, value)
        mean, var = d.mean, d.variance
        return (w1 * mean + w2 * (var + mean ** 2)).sum()

    for name in _float_params(case):
        p = case.params[name].clone(memory_format=torch.contiguous_format).requires_grad_()
        estimates = []
        for _ in range(groups):
            x = _with(case, name, p).rsample((per_group,))
            objective = (w1 * x + w2 * x ** 2).sum() / per_group
            estimates.append(torch.autograd.grad(objective, p)[0] if objective.requires_grad
                             else torch.zeros_like(p))
        estimates = torch.stack(estimates)
        grad = estimates.mean(0)
        se = estimates.std(0) / groups ** 0.5
        fd = torch.zeros_like(p)
        for i in range(p.numel()):
            step = torch.zeros(p.numel(), dtype=p.dtype)
            step[i] = eps
            step = step.view_as(p)
            fd.view(-1)[i] = (closed_form(name, p.detach() + step)
                              - closed_form(name, p.detach() - step)) / (2 * eps)
        assert torch.all((grad - fd).abs() <= 5 * se + 1e-5 * (1 + fd.abs())), (name, grad, fd, se)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 1)])
@pytest.mark.parametrize("loc_shape,scale_shape", [((), ()), ((3, 1), (4,)), ((2,), ())])
def test_normal_rsample_is_torchs_draw_and_gradient(dtype, sample_shape, loc_shape, scale_shape):
    # Our Normal has its own rsample (one fused op); it must consume the generator as torch's
    # does and give the same values and the pathwise gradients d/dloc = 1, d/dscale = eps.
    import pyro.distributions as dist

    loc = torch.randn(loc_shape, dtype=dtype).requires_grad_()
    scale = torch.rand(scale_shape, dtype=dtype).add(0.5).requires_grad_()
    torch.manual_seed(7)
    ours = dist.Normal(loc, scale).rsample(sample_shape)
    torch.manual_seed(7)
    theirs = torch.distributions.Normal(loc, scale).rsample(sample_shape)
    assert ours.shape == theirs.shape == torch.Size(sample_shape) + torch.broadcast_shapes(loc_shape, scale_shape)
    assert ours.dtype == dtype
    # addcmul(loc, noise, scale) against loc + noise * scale: one rounding against two (an FMA
    # where the CPU has one), so up to an ulp of the result plus half an ulp of noise * scale
    # (|noise * scale| < 8 here). A draw that consumed the generator differently is off by O(1).
    ulp1 = torch.finfo(dtype).eps
    torch.testing.assert_close(ours, theirs, rtol=2 * ulp1, atol=4 * ulp1)
    w = torch.randn(ours.shape, dtype=dtype)
    g_ours = torch.autograd.grad((ours * w).sum(), (loc, scale))
    g_theirs = torch.autograd.grad((theirs * w).sum(), (loc, scale))
    for a, b in zip(g_ours, g_theirs):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-6)
