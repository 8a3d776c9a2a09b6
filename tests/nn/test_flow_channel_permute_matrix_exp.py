"""GeneralizedChannelPermute and MatrixExponential (and their conditional forms): maths against
hand-written torch, log-dets against autograd, inverses, initialisation, errors, CUDA."""

import copy

import pytest
import torch
import torch.nn.functional as F
from flow_checks import (
    assert_inverts,
    assert_log_det_matches_autograd,
    assert_works_in_transformed_distribution,
    scramble_,
)

import pyro.distributions as dist
from pyro.distributions import constraints
from pyro.distributions.conditional import ConditionalTransformedDistribution
from pyro.nn import DenseNN
from pyro.nn.flows.generalized_channel_permute import (
    ConditionalGeneralizedChannelPermute,
    ConditionedGeneralizedChannelPermute,
    GeneralizedChannelPermute,
    conditional_generalized_channel_permute,
    generalized_channel_permute,
)
from pyro.nn.flows.matrix_exponential import (
    ConditionalMatrixExponential,
    ConditionedMatrixExponential,
    MatrixExponential,
    conditional_matrix_exponential,
    matrix_exponential,
)


def _well_conditioned_(flow, seed=0):
    """Random LU entries with a diagonal kept away from zero."""
    scramble_(flow, scale=0.5, seed=seed)
    with torch.no_grad():
        diag = flow.LU.diagonal()
        diag.copy_(diag.sign() * (diag.abs() + 0.5))
    return flow


def _conv1x1(weight, x):
    """A 1x1 convolution of ``(N, C, H, W)`` images by a ``(C, C)`` matrix."""
    return F.conv2d(x, weight[:, :, None, None])


# ----- GeneralizedChannelPermute -------------------------------------------------------------
def test_gcp_defaults_parameters_and_helper():
    flow = GeneralizedChannelPermute()
    assert flow.channels == 3 and flow._cache_size == 1 and flow.bijective
    assert flow.domain.event_dim == 3 and flow.codomain.event_dim == 3
    assert isinstance(flow.domain, constraints.independent)
    assert [n for n, _ in flow.named_parameters()] == ["LU"]
    assert [n for n, _ in flow.named_buffers()] == ["permutation"]
    assert flow.LU.shape == (3, 3) and flow.permutation.shape == (3, 3)
    perm = flow.permutation
    assert torch.equal(perm.sum(0), torch.ones(3)) and torch.equal(perm.sum(1), torch.ones(3))
    assert torch.equal(flow.L, flow.LU.detach().tril(-1) + torch.eye(3))
    assert torch.equal(flow.U, flow.LU.detach().triu())
    assert torch.equal(flow.U_diag, flow.LU.detach().diagonal())
    helper = generalized_channel_permute(channels=5)
    assert isinstance(helper, GeneralizedChannelPermute) and helper.LU.shape == (5, 5)


def test_gcp_initialised_from_lu_of_a_random_orthogonal_matrix():
    torch.manual_seed(3)
    flow = GeneralizedChannelPermute(channels=4)
    torch.manual_seed(3)
    q = torch.linalg.qr(torch.randn(4, 4))[0]
    p, lower, upper = torch.linalg.lu(q)
    torch.testing.assert_close(flow.LU.detach(), lower.tril(-1) + upper)
    assert torch.equal(flow.permutation, p)
    weight = (flow.permutation @ flow.L @ flow.U).detach()
    torch.testing.assert_close(weight, q, atol=1e-5, rtol=0)  # starts orthogonal
    x = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x, flow(x)), torch.zeros(2),
                               atol=1e-5, rtol=0)


def test_gcp_given_permutation_and_bad_permutation():
    flow = GeneralizedChannelPermute(channels=3, permutation=torch.tensor([2, 0, 1]))
    assert torch.equal(flow.permutation, torch.eye(3)[[2, 0, 1]])
    x = torch.randn(3, 1, 1)
    lu_x = (flow.L @ flow.U).detach() @ x.reshape(3)
    torch.testing.assert_close(flow(x).reshape(3), lu_x[[2, 0, 1]])  # row i picks channel p[i]
    with pytest.raises(ValueError, match='"permutation" expected to have 3 elements but 2'):
        GeneralizedChannelPermute(channels=3, permutation=torch.tensor([0, 1]))


def test_gcp_is_a_1x1_convolution_and_logdet_matches_autograd():
    flow = _well_conditioned_(GeneralizedChannelPermute(channels=3).double())
    x = torch.randn(2, 3, 2, 3, dtype=torch.double)
    weight = (flow.permutation @ flow.L @ flow.U).detach()
    torch.testing.assert_close(flow(x), _conv1x1(weight, x))
    ladj = flow.log_abs_det_jacobian(x, flow(x))
    assert ladj.shape == (2,)
    torch.testing.assert_close(ladj, 6 * torch.linalg.slogdet(weight)[1].expand(2))
    assert_log_det_matches_autograd(flow, x, event_dim=3, rtol=1e-8, atol=1e-8)


def test_gcp_inverses_cached_and_uncached_batched():
    flow = _well_conditioned_(GeneralizedChannelPermute(channels=4).double(), seed=1)
    x = torch.randn(3, 2, 4, 2, 2, dtype=torch.double)
    assert flow(x).shape == x.shape
    assert_inverts(flow, x, rtol=1e-9, atol=1e-9)
    assert_inverts(flow, x[0, 0], rtol=1e-9, atol=1e-9)  # a single image


def test_gcp_bad_shapes():
    flow = GeneralizedChannelPermute(channels=3)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\).*\(2, 4, 5, 5\)"):
        flow(torch.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match="shape"):
        flow.inv(torch.randn(3, 5))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gcp_in_transformed_distribution(dtype):
    flow = _well_conditioned_(GeneralizedChannelPermute(channels=2)).to(dtype)
    base = dist.Normal(torch.zeros(2, 3, 3, dtype=dtype), 1.0).to_event(3)
    flow_dist = dist.TransformedDistribution(base, [flow])
    y = flow_dist.rsample((4,))
    assert y.shape == (4, 2, 3, 3) and y.dtype == dtype
    y = y.detach().clone()
    x = flow.inv(y)
    want = base.log_prob(x) - flow.log_abs_det_jacobian(x, y)
    torch.testing.assert_close(flow_dist.log_prob(y), want)
    flow_dist.log_prob(y).sum().backward()
    assert flow.LU.grad is not None and flow.LU.grad.abs().sum() > 0


def test_conditional_gcp_network_permutation_and_context():
    torch.manual_seed(4)
    cond = conditional_generalized_channel_permute(2, channels=4)
    assert cond.nn.hidden_dims == [40, 40] and cond.nn.param_dims == [16]
    torch.manual_seed(4)
    DenseNN(2, [40, 40], param_dims=[16])
    assert torch.equal(cond.permutation, torch.eye(4)[torch.randperm(4)])
    assert conditional_generalized_channel_permute(2, hidden_dims=[7]).nn.hidden_dims == [7]
    scramble_(cond.nn, scale=0.5)
    cond.double()
    c1, c2 = torch.randn(2, dtype=torch.double), torch.randn(2, dtype=torch.double)
    t1, t2 = cond.condition(c1), cond.condition(c2)
    assert isinstance(t1, ConditionedGeneralizedChannelPermute) and t1._cache_size == 1
    torch.testing.assert_close(t1.LU, cond.nn(c1).reshape(4, 4))
    x = torch.randn(4, 2, 2, dtype=torch.double)
    weight = (cond.permutation @ t1.L @ t1.U).detach()
    torch.testing.assert_close(t1(x), _conv1x1(weight, x[None])[0])
    assert (t1(x) - t2(x)).abs().max() > 1e-3  # the context matters
    assert_log_det_matches_autograd(t1, x, event_dim=3, rtol=1e-8, atol=1e-8)
    assert_inverts(t1, x, rtol=1e-8, atol=1e-8)


def test_conditional_gcp_batched_contexts_broadcast():
    cond = scramble_(conditional_generalized_channel_permute(3, channels=2), scale=0.5).double()
    contexts = torch.randn(5, 3, dtype=torch.double)
    t = cond.condition(contexts)
    assert t.LU.shape == (5, 2, 2)
    x = torch.randn(7, 5, 2, 2, 3, dtype=torch.double)
    y = t(x)
    for i in range(5):
        ti = cond.condition(contexts[i])
        torch.testing.assert_close(y[:, i], ti(x[:, i]))
        torch.testing.assert_close(t.log_abs_det_jacobian(x, y)[:, i],
                                   ti.log_abs_det_jacobian(x[:, i], y[:, i]))
    torch.testing.assert_close(t.inv(y.clone()), x)


def test_conditional_gcp_errors_and_distribution():
    nn = DenseNN(2, [5], param_dims=[4])
    with pytest.raises(ValueError, match="3 \\* 3 = 9 values"):
        ConditionalGeneralizedChannelPermute(nn, channels=3).condition(torch.randn(2))
    cond = ConditionalGeneralizedChannelPermute(DenseNN(2, [5], param_dims=[4]), channels=2)
    base = dist.Normal(torch.zeros(2, 2, 2), 1.0).to_event(3)
    flow_dist = ConditionalTransformedDistribution(base, [cond]).condition(torch.randn(2))
    y = flow_dist.rsample((3,))
    assert y.shape == (3, 2, 2, 2)
    flow_dist.log_prob(y).sum().backward()
    assert cond.nn.layers[0].weight.grad is not None


# ----- MatrixExponential ---------------------------------------------------------------------
def _series(w, x, iterations):
    """sum_{k <= iterations} W^k x / k!, by hand."""
    out, term = x.clone(), x.clone()
    for k in range(1, iterations + 1):
        term = term @ w.T / k
        out = out + term
    return out


def test_matrix_exponential_defaults_and_helper():
    flow = MatrixExponential(4)
    assert (flow.iterations, flow.normalization, flow.bound) == (8, "none", None)
    assert [n for n, _ in flow.named_parameters()] == ["weights"]
    assert flow.weights.shape == (4, 4) and flow.weights.abs().max() <= 0.5
    assert flow._cache_size == 1 and flow.bijective
    assert flow.domain is constraints.real_vector and flow.codomain is constraints.real_vector
    helper = matrix_exponential(3, iterations=5)
    assert isinstance(helper, MatrixExponential) and helper.iterations == 5


def test_matrix_exponential_settings_errors():
    with pytest.raises(NotImplementedError, match="Normalization is currently not implemented"):
        MatrixExponential(3, normalization="weight")
    with pytest.raises(NotImplementedError):
        MatrixExponential(3, normalization="spectral", bound=1.0)
    with pytest.raises(ValueError, match="Unknown normalization method: foo"):
        MatrixExponential(3, normalization="foo")
    with pytest.raises(AssertionError):
        MatrixExponential(3, iterations=0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\).*\(2, 4\)"):
        MatrixExponential(3)(torch.randn(2, 4))


def test_matrix_exponential_is_the_truncated_series_and_converges_to_matrix_exp():
    flow = scramble_(MatrixExponential(3, iterations=3).double(), scale=1.0, seed=2)
    w = flow.weights.detach()
    x = torch.randn(5, 3, dtype=torch.double)
    torch.testing.assert_close(flow(x), _series(w, x, 3), rtol=1e-12, atol=1e-12)
    exact = x @ torch.linalg.matrix_exp(w).T
    assert (flow(x) - exact).abs().max() > 1e-3  # three terms are not the exponential
    flow.iterations = 30
    torch.testing.assert_close(flow(x.clone()), exact, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(flow.inv(exact.clone()), x, rtol=1e-10, atol=1e-10)


def test_matrix_exponential_logdet_is_trace_and_matches_autograd():
    flow = scramble_(MatrixExponential(4, iterations=25).double(), scale=0.5, seed=3)
    x = torch.randn(2, 3, 4, dtype=torch.double)
    ladj = flow.log_abs_det_jacobian(x, flow(x))
    assert ladj.shape == (2, 3)
    torch.testing.assert_close(ladj, torch.trace(flow.weights.detach()).expand(2, 3))
    assert_log_det_matches_autograd(flow, x, rtol=1e-9, atol=1e-9)
    assert_inverts(flow, x, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matrix_exponential_in_transformed_distribution(dtype):
    flow = scramble_(MatrixExponential(3), scale=0.3).to(dtype)
    assert_works_in_transformed_distribution(flow, 3, dtype)


def test_conditional_matrix_exponential_context_and_batches():
    torch.manual_seed(5)
    cond = conditional_matrix_exponential(3, 2, iterations=20)
    assert cond.nn.hidden_dims == [30, 30] and cond.nn.param_dims == [9]
    assert conditional_matrix_exponential(4, 2).nn.hidden_dims == [40, 40]
    assert (cond.input_dim, cond.iterations, cond.normalization) == (3, 20, "none")
    cond = scramble_(cond, scale=0.3).double()
    c1, c2 = torch.randn(2, dtype=torch.double), torch.randn(2, dtype=torch.double)
    t1 = cond.condition(c1)
    assert isinstance(t1, ConditionedMatrixExponential) and t1._cache_size == 1
    w1 = cond.nn(c1).detach().reshape(3, 3)
    x = torch.randn(4, 3, dtype=torch.double)
    torch.testing.assert_close(t1(x), _series(w1, x, 20))
    assert (t1(x) - cond.condition(c2)(x)).abs().max() > 1e-3
    assert_log_det_matches_autograd(t1, x, rtol=1e-8, atol=1e-8)
    assert_inverts(t1, x, rtol=1e-8, atol=1e-8)
    contexts = torch.randn(4, 2, dtype=torch.double)
    tb = cond.condition(contexts)
    yb = tb(x)
    for i in range(4):
        ti = cond.condition(contexts[i])
        torch.testing.assert_close(yb[i], ti(x[i]))
    ladj = tb.log_abs_det_jacobian(x, yb)
    want = cond.nn(contexts).detach().reshape(4, 3, 3).diagonal(dim1=-2, dim2=-1).sum(-1)
    torch.testing.assert_close(ladj, want)


def test_conditional_matrix_exponential_errors():
    with pytest.raises(NotImplementedError):
        conditional_matrix_exponential(3, 2, normalization="weight")
    with pytest.raises(ValueError, match="Unknown normalization method"):
        ConditionalMatrixExponential(3, DenseNN(2, [4], param_dims=[9]), normalization="x")
    cond = ConditionalMatrixExponential(3, DenseNN(2, [4], param_dims=[6]))
    with pytest.raises(ValueError, match="3 \\* 3 = 9 values"):
        cond.condition(torch.randn(2))


# ----- CUDA ----------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("which", ["gcp", "cgcp", "me", "cme"])
def test_on_cuda_matches_cpu(which):
    torch.manual_seed(0)
    if which in ("gcp", "cgcp"):
        x = torch.randn(2, 3, 4, 4)
        module = (GeneralizedChannelPermute() if which == "gcp"
                  else conditional_generalized_channel_permute(2))
    else:
        x = torch.randn(5, 3)
        module = MatrixExponential(3) if which == "me" else conditional_matrix_exponential(3, 2)
    scramble_(module, scale=0.3)
    if which == "gcp":
        _well_conditioned_(module)
    cpu, gpu = module, copy.deepcopy(module).cuda()
    if which in ("cgcp", "cme"):
        context = torch.randn(2)
        cpu, gpu = cpu.condition(context), gpu.condition(context.cuda())
    y = gpu(x.cuda())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), cpu(x), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gpu.log_abs_det_jacobian(x.cuda(), y).cpu(),
                               cpu.log_abs_det_jacobian(x, cpu(x)), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gpu.inv(y.clone()).cpu(), x, atol=1e-3, rtol=1e-3)


def test_the_flows_resolve_where_pyro_users_look():
    import importlib

    import pyro.distributions.transforms as T

    for family in ("generalized_channel_permute", "matrix_exponential", "block_autoregressive",
                   "neural_autoregressive", "polynomial", "sylvester"):
        module = importlib.import_module(f"pyro.nn.flows.{family}")
        assert module.__all__
        for name in module.__all__:
            if name.startswith("Conditioned"):  # what .condition() returns: not registered
                assert not hasattr(T, name)
            else:
                assert getattr(T, name) is getattr(module, name)
    assert not hasattr(T, "MaskedBlockLinear")
