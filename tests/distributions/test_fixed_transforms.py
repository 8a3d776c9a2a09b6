"""Pyro's fixed transforms: DiscreteCosineTransform (against scipy), HaarTransform (against a
hand-built Haar matrix), SimplexToOrderedTransform, CorrLCholeskyTransform, and the helpers
elu, leaky_relu and iterated. Log-dets against autograd Jacobians, inverses, dtypes, CUDA."""

import math

import numpy as np
import pytest
import scipy.fft
import torch
import torch.nn.functional as F
from torch.autograd.functional import jacobian

import pyro.distributions as dist
import pyro.distributions.transforms as T
import pyro.util
from pyro.distributions import constraints
from pyro.distributions.transforms.name_table import PYRO_TRANSFORMS
from pyro.plugins import get_registry

NEW_NAMES = ["DiscreteCosineTransform", "HaarTransform", "SimplexToOrderedTransform",
             "CorrLCholeskyTransform", "elu", "leaky_relu", "iterated"]
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def _event_log_det(fn, x, event_dim):
    """log|det J| of ``fn`` per event of ``x``, from autograd."""
    event_shape = x.shape[x.dim() - event_dim:]
    n = math.prod(event_shape)
    out = []
    for xi in x.reshape(-1, *event_shape):
        jac = jacobian(lambda v: fn(v.reshape(event_shape)).reshape(-1), xi.reshape(-1))
        out.append(torch.linalg.slogdet(jac.reshape(n, n))[1])
    return torch.stack(out).reshape(x.shape[: x.dim() - event_dim])


def _scipy_dct(x, axis, inverse=False):
    fn = scipy.fft.idct if inverse else scipy.fft.dct
    return torch.from_numpy(np.asarray(fn(x.detach().numpy(), type=2, norm="ortho", axis=axis)))


def _smooth_weights(n, smooth):
    w = (2.0 * np.arange(n) + 1.0) ** smooth
    return torch.from_numpy(w / np.exp(np.log(w).mean()))


# ----- registration --------------------------------------------------------------------------
def test_names_resolve_and_are_registered():
    registry = get_registry("transforms")
    for name in NEW_NAMES:
        assert getattr(T, name) is PYRO_TRANSFORMS[name]
        assert name in registry and name in T.__all__


# ----- DiscreteCosineTransform ---------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dct_matches_scipy_ortho(n, dtype):
    x = torch.randn(3, 2, n, dtype=torch.double)
    t = T.DiscreteCosineTransform()
    y = t(x.to(dtype))
    assert y.dtype == dtype and y.shape == x.shape
    torch.testing.assert_close(y.double(), _scipy_dct(x, -1), rtol=TOL[dtype], atol=TOL[dtype])
    back = t.inv(_scipy_dct(x, -1).to(dtype))
    torch.testing.assert_close(back.double(), x, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)
    assert torch.equal(t.log_abs_det_jacobian(x, t(x)), torch.zeros(3, 2, dtype=torch.double))


@pytest.mark.parametrize("smooth", [1.0, -0.5, 2.5])
def test_dct_smooth_weights_volume_preserving(smooth):
    x = torch.randn(4, 6, dtype=torch.double)
    t = T.DiscreteCosineTransform(smooth=smooth)
    want = _scipy_dct(x, -1) * _smooth_weights(6, smooth)
    torch.testing.assert_close(t(x), want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(t.inv(want.clone()), x, rtol=1e-12, atol=1e-12)
    ladj = t.log_abs_det_jacobian(x, t(x))
    torch.testing.assert_close(ladj, _event_log_det(t, x, 1), atol=1e-10, rtol=0)


def test_dct_along_dim_minus_two():
    x = torch.randn(2, 5, 3, dtype=torch.double)
    t = T.DiscreteCosineTransform(dim=-2, smooth=0.7)
    assert t.domain.event_dim == 2 and t.codomain.event_dim == 2
    want = _scipy_dct(x, -2) * _smooth_weights(5, 0.7)[:, None]
    torch.testing.assert_close(t(x), want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(t.inv(want), x, rtol=1e-12, atol=1e-12)
    ladj = t.log_abs_det_jacobian(x, want)
    assert ladj.shape == (2,)
    torch.testing.assert_close(ladj, _event_log_det(t, x, 2), atol=1e-10, rtol=0)


def test_dct_settings_equality_cache_and_errors():
    t = T.DiscreteCosineTransform()
    assert (t.dim, t.smooth, t._cache_size) == (-1, 0.0, 0) and t.bijective
    assert isinstance(t.domain, constraints.independent) and t.domain.event_dim == 1
    assert t == T.DiscreteCosineTransform() and hash(t) == hash(T.DiscreteCosineTransform())
    assert t != T.DiscreteCosineTransform(smooth=1.0) and t != T.DiscreteCosineTransform(dim=-2)
    cached = T.DiscreteCosineTransform(dim=-2, smooth=0.3).with_cache(1)
    assert (cached.dim, cached.smooth, cached._cache_size) == (-2, 0.3, 1)
    x = torch.randn(3, 4)
    assert cached.inv(cached(x)) is x
    with pytest.raises(AssertionError):
        T.DiscreteCosineTransform(dim=0)
    with pytest.raises(ValueError, match=r"at least 2 dims.*\(4,\)"):
        T.DiscreteCosineTransform(dim=-2)(torch.randn(4))


# ----- HaarTransform -------------------------------------------------------------------------
def _haar_matrix(n):
    """The Haar matrix built level by level from pairwise sum/difference matrices."""
    if n == 1:
        return torch.ones(1, 1, dtype=torch.double)
    m = n // 2
    sums = torch.zeros(m, n, dtype=torch.double)
    diffs = torch.zeros(m, n, dtype=torch.double)
    for i in range(m):
        sums[i, 2 * i] = sums[i, 2 * i + 1] = 2 ** -0.5
        diffs[i, 2 * i], diffs[i, 2 * i + 1] = 2 ** -0.5, -(2 ** -0.5)
    rows = [_haar_matrix(m) @ sums, diffs]
    if n % 2:
        rows.append(torch.eye(n, dtype=torch.double)[-1:])
    return torch.cat(rows, dim=0)


def test_haar_matrix_of_length_four_written_out():
    a, b = 0.5, 2 ** -0.5
    want = torch.tensor([[a, a, a, a], [a, a, -a, -a], [b, -b, 0, 0], [0, 0, b, -b]],
                        dtype=torch.double)
    torch.testing.assert_close(_haar_matrix(4), want)
    torch.testing.assert_close(jacobian(T.HaarTransform(), torch.randn(4, dtype=torch.double)),
                               want)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7, 8, 11, 16])
@pytest.mark.parametrize("flip", [False, True])
def test_haar_matches_hand_built_matrix(n, flip):
    h = _haar_matrix(n)
    torch.testing.assert_close(h @ h.T, torch.eye(n, dtype=torch.double))
    x = torch.randn(3, n, dtype=torch.double)
    t = T.HaarTransform(flip=flip)
    want = (x.flip(-1) if flip else x) @ h.T
    torch.testing.assert_close(t(x), want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(t.inv(want), x, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(t.log_abs_det_jacobian(x, want), _event_log_det(t, x, 1),
                               atol=1e-10, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_haar_along_dim_and_dtype(dtype):
    x = torch.randn(2, 6, 3, dtype=dtype)
    t = T.HaarTransform(dim=-2)
    assert t.domain.event_dim == 2
    y = t(x)
    assert y.dtype == dtype
    want = (_haar_matrix(6).to(dtype) @ x)
    torch.testing.assert_close(y, want, rtol=TOL[dtype], atol=TOL[dtype])
    torch.testing.assert_close(t.inv(y), x, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)
    assert t.log_abs_det_jacobian(x, y).shape == (2,)


def test_haar_settings_equality_cache_and_errors():
    t = T.HaarTransform()
    assert (t.dim, t.flip, t._cache_size) == (-1, False, 0) and t.bijective
    assert t == T.HaarTransform() and hash(t) == hash(T.HaarTransform())
    assert t != T.HaarTransform(flip=True) and t != T.HaarTransform(dim=-2)
    cached = T.HaarTransform(dim=-2, flip=True).with_cache(1)
    assert (cached.dim, cached.flip, cached._cache_size) == (-2, True, 1)
    with pytest.raises(AssertionError):
        T.HaarTransform(dim=1)


# ----- SimplexToOrderedTransform -------------------------------------------------------------
def _from_free(q):
    return torch.cat([q, 1 - q.sum(-1, keepdim=True)], dim=-1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_simplex_to_ordered_maps_and_inverts(dtype):
    p = dist.Dirichlet(torch.ones(5, dtype=dtype)).sample((4,))
    t = T.SimplexToOrderedTransform()
    assert t.domain is constraints.simplex and t.codomain is constraints.ordered_vector
    assert not t.bijective and torch.equal(t.anchor_point, torch.tensor(0.0))
    y = t(p)
    assert y.shape == (4, 4) and y.dtype == dtype
    assert t.codomain.check(y).all() and (y[..., 1:] > y[..., :-1]).all()
    cum = p.cumsum(-1)[..., :-1]
    torch.testing.assert_close(y, torch.log(cum / (1 - cum)), rtol=TOL[dtype] * 10,
                               atol=TOL[dtype] * 10)
    back = t.inv(y)
    assert t.domain.check(back).all()
    torch.testing.assert_close(back, p, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)
    assert t.forward_shape((4, 5)) == (4, 4) and t.inverse_shape((4, 4)) == (4, 5)


def test_simplex_to_ordered_anchor_is_the_ordered_logistic_predictor():
    p = dist.Dirichlet(torch.ones(4, dtype=torch.double)).sample((3,))
    anchor = torch.tensor([0.3, -1.0, 2.0], dtype=torch.double)
    t = T.SimplexToOrderedTransform(anchor)
    y = t(p)
    torch.testing.assert_close(y, T.SimplexToOrderedTransform()(p) + anchor[:, None])
    probs = dist.OrderedLogistic(anchor, y).probs
    torch.testing.assert_close(probs, p, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(t.inv(y), p, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("anchor", [None, 0.0, 1.5])
def test_simplex_to_ordered_logdet_matches_autograd_on_free_coordinates(anchor):
    p = dist.Dirichlet(torch.ones(4, dtype=torch.double)).sample((3,))
    t = T.SimplexToOrderedTransform(anchor)
    ladj = t.log_abs_det_jacobian(p, t(p))
    assert ladj.shape == (3,)
    want = torch.stack([torch.linalg.slogdet(jacobian(lambda q: t(_from_free(q)), pi[:-1]))[1]
                        for pi in p])
    torch.testing.assert_close(ladj, want, rtol=1e-10, atol=1e-10)


def test_simplex_to_ordered_equality_and_cache():
    assert T.SimplexToOrderedTransform() == T.SimplexToOrderedTransform(torch.tensor(0.0))
    assert T.SimplexToOrderedTransform() != T.SimplexToOrderedTransform(torch.tensor(1.0))
    cached = T.SimplexToOrderedTransform(torch.tensor(2.0)).with_cache(1)
    assert cached._cache_size == 1 and cached.anchor_point.item() == 2.0
    p = torch.tensor([0.2, 0.3, 0.5])
    assert cached.inv(cached(p)) is p


# ----- CorrLCholeskyTransform ----------------------------------------------------------------
def test_corr_l_cholesky_is_torchs_corr_cholesky_and_warns():
    pyro.util._WARNED.discard("CorrLCholeskyTransform")
    with pytest.warns(FutureWarning, match="deprecated in favor of CorrCholeskyTransform"):
        t = T.CorrLCholeskyTransform()
    assert isinstance(t, torch.distributions.transforms.CorrCholeskyTransform)
    assert t.domain.event_dim == 1 and t.codomain is constraints.corr_cholesky
    ref = torch.distributions.transforms.CorrCholeskyTransform()
    x = torch.randn(5, 6, dtype=torch.double)
    y = t(x)
    assert y.shape == (5, 4, 4)
    torch.testing.assert_close(y, ref(x))
    torch.testing.assert_close(t.log_abs_det_jacobian(x, y), ref.log_abs_det_jacobian(x, y))
    torch.testing.assert_close(t.inv(y.clone()), x, rtol=1e-10, atol=1e-10)
    cached = t.with_cache(1)
    assert isinstance(cached, T.CorrLCholeskyTransform) and cached._cache_size == 1


# ----- elu, leaky_relu, iterated -------------------------------------------------------------
@pytest.mark.parametrize("helper, cls, fn", [(T.elu, T.ELUTransform, F.elu),
                                             (T.leaky_relu, T.LeakyReLUTransform, F.leaky_relu)])
def test_activation_helpers(helper, cls, fn):
    t = helper()
    assert type(t) is cls
    x = torch.randn(4, 3, dtype=torch.double)
    torch.testing.assert_close(t(x), fn(x))
    torch.testing.assert_close(t.log_abs_det_jacobian(x, t(x)).sum(-1), _event_log_det(t, x, 1))


class _Scale(T.TransformModule):
    """A learnable element-wise scale, to see that iterated builds each repeat afresh."""

    domain = constraints.real
    codomain = constraints.real
    bijective = True

    def __init__(self, init, bias=0.0):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(float(init)))
        self.bias = bias

    def _call(self, x):
        return x * self.scale + self.bias

    def _inverse(self, y):
        return (y - self.bias) / self.scale

    def log_abs_det_jacobian(self, x, y):
        return self.scale.abs().log().expand(x.shape)


def test_iterated_composes_fresh_transforms():
    flow = T.iterated(3, _Scale, 2.0, bias=1.0)
    assert isinstance(flow, T.ComposeTransformModule) and len(flow.parts) == 3
    assert len({id(p) for p in flow.parts}) == 3 and len(list(flow.parameters())) == 3
    x = torch.randn(5)
    torch.testing.assert_close(flow(x), ((x * 2 + 1) * 2 + 1) * 2 + 1)
    torch.testing.assert_close(flow.log_abs_det_jacobian(x, flow(x)),
                               torch.full((5,), 3 * math.log(2.0)))
    elus = T.iterated(2, T.elu)
    torch.testing.assert_close(elus(x), F.elu(F.elu(x)))
    with pytest.raises(AssertionError):
        T.iterated(0, T.elu)


# ----- CUDA ----------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("make, shape", [
    (lambda: T.DiscreteCosineTransform(smooth=1.0), (3, 7)),
    (lambda: T.HaarTransform(dim=-2, flip=True), (2, 6, 3)),
    (lambda: T.SimplexToOrderedTransform(torch.tensor(0.5)), None),
])
def test_on_cuda_matches_cpu(make, shape):
    t = make()
    if shape is None:
        x = dist.Dirichlet(torch.ones(4)).sample((3,))
    else:
        x = torch.randn(shape)
    y = t(x.cuda())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), t(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(t.inv(y).cpu(), x, atol=1e-5, rtol=1e-5)
    assert t.log_abs_det_jacobian(x.cuda(), y).device.type == "cuda"
