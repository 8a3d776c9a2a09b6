"""``pyro.ops.special`` against scipy.special and numpy, ``pyro.ops.linalg`` against
torch.linalg."""

import math
import warnings

import numpy as np
import pytest
import scipy.special as sc
import torch

import pyro.ops.linalg as linalg
import pyro.ops.special as special

T = torch.float64


def test_public_names():
    assert sorted(special.__all__) == ["get_quad_rule", "log_I1", "log_beta", "log_binomial",
                                       "safe_log", "sparse_multinomial_likelihood"]
    assert sorted(linalg.__all__) == ["determinant_3d", "eig_3d", "ignore_torch_deprecation_warnings",
                                      "inv3d", "rinverse"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_safe_log_value_and_clamped_gradient(dtype):
    x = torch.tensor([0.0, 1e-20, 0.5, 3.0], dtype=dtype, requires_grad=True)
    y = special.safe_log(x)
    assert y[0].item() == -math.inf
    torch.testing.assert_close(y[2:], x[2:].detach().log())
    y.sum().backward()
    eps = torch.finfo(dtype).eps
    expected = 1 / torch.tensor([eps, eps, 0.5, 3.0], dtype=dtype)
    torch.testing.assert_close(x.grad, expected)


GRID = np.array([0.01, 0.3, 1.0, 2.5, 10.0, 100.0, 1000.0])


def test_log_beta_exact_matches_scipy():
    x, y = np.meshgrid(GRID, GRID)
    actual = special.log_beta(torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(actual.numpy(), sc.betaln(x, y), rtol=1e-12, atol=1e-12)
    assert special.log_beta(torch.tensor(2.0, dtype=T), 3.0).item() == pytest.approx(math.log(1 / 12))
    # below 0.02 the tolerance changes nothing
    torch.testing.assert_close(special.log_beta(torch.tensor(x), torch.tensor(y), tol=0.019), actual,
                               rtol=0, atol=0)


@pytest.mark.parametrize("tol", [0.02, 0.05, 0.1, 0.5])
def test_log_beta_approximation_stays_within_tol(tol):
    x, y = np.meshgrid(GRID, GRID)
    approx = special.log_beta(torch.tensor(x), torch.tensor(y), tol=tol)
    error = np.abs(approx.numpy() - sc.betaln(x, y))
    assert error.max() <= tol
    assert error.max() > 0  # it is the approximation, not the exact form


@pytest.mark.parametrize("tol", [0.0, 0.05])
def test_log_binomial_matches_scipy(tol):
    n = torch.tensor([0.0, 5.0, 10.0, 100.0, 1000.5], dtype=T)
    k = torch.tensor([0.0, 2.0, 3.0, 50.0, 10.25], dtype=T)
    ref = -np.log(n.numpy() + 1) - sc.betaln(k.numpy() + 1, n.numpy() - k.numpy() + 1)
    np.testing.assert_allclose(ref[:4], np.log([1, 10, 120, sc.comb(100, 50)]), rtol=1e-12)
    actual = special.log_binomial(n, k, tol=tol)
    np.testing.assert_allclose(actual.numpy(), ref, rtol=0, atol=max(tol, 1e-11))


def test_log_I1_matches_scipy():
    z = torch.tensor([[0.0, 1e-3, 0.5], [2.0, 10.0, 50.0]], dtype=T)
    out = special.log_I1(3, z)
    assert out.shape == (4, 2, 3)
    for v in range(4):
        with np.errstate(divide="ignore"):
            ref = np.log(sc.ive(v, z.numpy())) + z.numpy()
        np.testing.assert_allclose(out[v].numpy(), ref, rtol=1e-10, atol=1e-12)
    short = special.log_I1(2, torch.tensor([0.5, 2.0], dtype=T), terms=3)
    k = np.arange(3)
    for v in range(3):
        for j, x in enumerate([0.5, 2.0]):
            ref = np.log(((x / 2) ** (2 * k + v) / (sc.factorial(k) * sc.factorial(k + v))).sum())
            assert short[v, j].item() == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_get_quad_rule_is_gauss_hermite_for_the_standard_normal(dtype):
    points, log_weights = special.get_quad_rule(6, torch.zeros(2, dtype=dtype))
    assert points.shape == log_weights.shape == (6,) and points.dtype == dtype
    ref_x, ref_w = np.polynomial.hermite_e.hermegauss(6)
    np.testing.assert_allclose(points.numpy(), ref_x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log_weights.exp().numpy(), ref_w / math.sqrt(2 * math.pi), rtol=1e-5)
    # exact moments up to degree 11: E Z^4 = 3, E Z^10 = 945
    p64, lw64 = special.get_quad_rule(6, torch.zeros((), dtype=T))
    assert (lw64.exp() * p64 ** 4).sum().item() == pytest.approx(3.0, rel=1e-12)
    assert (lw64.exp() * p64 ** 10).sum().item() == pytest.approx(945.0, rel=1e-10)
    # the example of Pyro's documentation: the variance of Normal(0, 4)
    p32, lw32 = special.get_quad_rule(32, torch.zeros((), dtype=T))
    variance = torch.logsumexp((4 * p32).pow(2).log() + lw32, 0).exp()
    assert variance.item() == pytest.approx(16.0, abs=1e-6)


def test_sparse_multinomial_likelihood_equals_the_dense_one():
    torch.manual_seed(0)
    logits = torch.randn(3, 6, dtype=T)
    value = torch.tensor([[0, 3, 0, 1, 0, 2], [5, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=T)
    dense = sum(torch.distributions.Multinomial(int(value[i].sum()), logits=logits[i]).log_prob(value[i])
                for i in range(3))
    nnz = value.nonzero(as_tuple=True)
    sparse = special.sparse_multinomial_likelihood(
        value.sum(-1), (logits - logits.logsumexp(-1, keepdim=True))[nnz], value[nnz])
    torch.testing.assert_close(sparse, dense)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("sym", [False, True])
def test_rinverse_matches_torch(n, sym):
    torch.manual_seed(n)
    A = torch.randn(2, 4, n, n, dtype=T)
    if sym:
        A = A @ A.mT + n * torch.eye(n, dtype=T)
    else:
        A = A + n * torch.eye(n, dtype=T)
    torch.testing.assert_close(linalg.rinverse(A, sym=sym), torch.linalg.inv(A))


def test_3d_helpers_match_torch():
    torch.manual_seed(0)
    A = torch.randn(5, 3, 3, dtype=T)
    torch.testing.assert_close(linalg.determinant_3d(A), torch.linalg.det(A))
    torch.testing.assert_close(linalg.inv3d(A), torch.linalg.inv(A))
    S = A @ A.mT
    torch.testing.assert_close(linalg.inv3d(S, sym=True), torch.linalg.inv(S))
    e = torch.stack(linalg.eig_3d(S), -1)
    torch.testing.assert_close(e, torch.linalg.eigvalsh(S))
    # repeated and all-equal eigenvalues
    D = torch.stack([torch.diag(torch.tensor([3.0, 1.0, 2.0], dtype=T)), 2 * torch.eye(3, dtype=T),
                     torch.diag(torch.tensor([1.0, 1.0, 4.0], dtype=T))])
    torch.testing.assert_close(torch.stack(linalg.eig_3d(D), -1),
                               torch.tensor([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0], [1.0, 1.0, 4.0]], dtype=T))
    with pytest.raises(ValueError, match=r"3 x 3 matrices, got shape \(2, 2\)"):
        linalg.inv3d(torch.eye(2))


def test_ignore_torch_deprecation_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with linalg.ignore_torch_deprecation_warnings():
            warnings.warn("torch.triangular_solve is deprecated in favor of ...", UserWarning)
        with pytest.raises(UserWarning):
            warnings.warn("torch.triangular_solve is deprecated in favor of ...", UserWarning)
        with pytest.raises(UserWarning), linalg.ignore_torch_deprecation_warnings():
            warnings.warn("something else", UserWarning)
