"""pyro.ops.hessian and pyro.ops.newton (core tests: torch and pyro-core only)."""

import warnings

import pytest
import torch

from pyro.ops.hessian import HessianArgumentError, hessian
from pyro.ops.newton import newton_step, newton_step_1d, newton_step_2d, newton_step_3d, newton_step_from_grad

DT = torch.float64


# ----- hessian --------------------------------------------------------------------------------

def _y_of(a, b, c):
    return (a ** 2).sum() * c + (b ** 3).sum() * a[0] + torch.sin(a).prod() * b[1, 0] ** 2 + c ** 3


def test_hessian_matches_autograd_functional():
    g = torch.Generator().manual_seed(1)
    a, b, c = torch.randn(2, generator=g, dtype=DT), torch.randn(3, 2, generator=g, dtype=DT), torch.tensor(0.7, dtype=DT)
    xs = [t.clone().requires_grad_() for t in (a, b, c)]
    H = hessian(_y_of(*xs), xs)
    blocks = torch.autograd.functional.hessian(_y_of, (a, b, c))
    sizes = [2, 6, 1]
    expected = torch.cat([torch.cat([blocks[i][j].reshape(sizes[i], sizes[j]) for j in range(3)], 1)
                          for i in range(3)], 0)
    assert H.shape == (9, 9) and H.dtype == DT and not H.requires_grad
    assert torch.allclose(H, expected, rtol=1e-12, atol=1e-12)
    # a tuple and a single tensor give the matching sub-blocks
    H_ac = hessian(_y_of(*xs), (xs[0], xs[2]))
    assert torch.allclose(H_ac, expected[[0, 1, 8]][:, [0, 1, 8]], rtol=1e-12, atol=1e-12)
    assert torch.allclose(hessian(_y_of(*xs), xs[1]), expected[2:8, 2:8], rtol=1e-12, atol=1e-12)


def test_hessian_of_a_partly_linear_function_has_zero_blocks():
    # Pyro 1.9.2 raises torch's "appears to not have been used in the graph" here
    a = torch.ones(2, dtype=DT, requires_grad=True)
    c = torch.tensor(0.5, dtype=DT, requires_grad=True)
    H = hessian(a.sum() + 3 * c ** 2 + a[0] * c, [a, c])
    assert torch.equal(H, torch.tensor([[0., 0., 1.], [0., 0., 0.], [1., 0., 6.]], dtype=DT))
    assert torch.equal(hessian(a.sum() * c, [a]), torch.zeros(2, 2, dtype=DT))


def test_hessian_keeps_the_graph_of_y():
    a = torch.tensor([1.0, 2.0], dtype=DT, requires_grad=True)
    y = (a ** 3).sum()
    assert torch.equal(hessian(y, [a]), torch.diag(6 * a.detach()))
    y.backward()
    assert torch.equal(a.grad, 3 * a.detach() ** 2)


def test_hessian_bad_inputs():
    a = torch.ones(2, requires_grad=True)
    with pytest.raises(HessianArgumentError, match=r"y must be a scalar, got shape \(2,\)") as info:
        hessian(a ** 2, [a])
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)  # torch's type in Pyro
    assert hessian((a ** 2).sum().reshape(1), [a]).shape == (2, 2)  # one element is fine, as in Pyro
    with pytest.raises(TypeError, match="xs must be a tensor or a list"):
        hessian((a ** 2).sum(), {"a": a})
    with pytest.raises(TypeError, match=r"xs\[1\] must be a torch.Tensor"):
        hessian((a ** 2).sum(), [a, 1.0])
    with pytest.raises(RuntimeError, match=r"xs\[1\] \(shape \(3,\)\) does not require grad"):
        hessian((a ** 2).sum(), [a, torch.ones(3)])
    with pytest.raises(RuntimeError, match="xs is empty"):
        hessian((a ** 2).sum(), [])


# ----- newton on quadratics: exact in one step ------------------------------------------------

def _random_quadratic(batch, D, seed):
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(batch + (D, D), generator=g, dtype=DT)
    A = M @ M.transpose(-1, -2) + 0.5 * torch.eye(D, dtype=DT)
    b = torch.randn(batch + (D,), generator=g, dtype=DT)
    x0 = torch.randn(batch + (D,), generator=g, dtype=DT)

    def loss(x):
        return (0.5 * (x.unsqueeze(-2) @ A @ x.unsqueeze(-1)).reshape(batch) - (b * x).sum(-1)).sum()

    return A, b, x0, loss


@pytest.mark.parametrize("batch", [(5,), (2, 3), ()], ids=["N", "2x3", "unbatched"])
@pytest.mark.parametrize("D", [1, 2, 3])
def test_newton_step_solves_a_quadratic_in_one_step(D, batch):
    A, b, x0, loss = _random_quadratic(batch, D, seed=10 * D + len(batch))
    x = x0.clone().requires_grad_()
    mode, cov = newton_step(loss(x), x)
    assert mode.shape == x.shape and cov.shape == x.shape[:-1] + (D, D)
    assert torch.allclose(mode, torch.linalg.solve(A, b.unsqueeze(-1)).squeeze(-1), rtol=1e-10, atol=1e-10)
    assert torch.allclose(cov, torch.linalg.inv(A), rtol=1e-10, atol=1e-10)
    step = {1: newton_step_1d, 2: newton_step_2d, 3: newton_step_3d}[D]
    mode_d, cov_d = step(loss(x), x)
    assert torch.allclose(mode_d, mode, rtol=1e-13, atol=1e-13) and torch.allclose(cov_d, cov, rtol=1e-13)


def test_newton_step_1d_floors_the_curvature():
    # h = -2 (a maximum): the curvature used is 1e-8, so the step is g * 1e8 (Pyro 1.9.2's numbers)
    x = torch.tensor([[0.5], [2.0]], dtype=DT, requires_grad=True)
    mode, cov = newton_step((-(x - 1) ** 2 + 0.1 * x ** 4).sum(), x)
    h = -2 + 1.2 * torch.tensor([0.25, 4.0], dtype=DT)
    g = -2 * (x.detach()[:, 0] - 1) + 0.4 * x.detach()[:, 0] ** 3
    assert torch.allclose(cov.reshape(2), torch.tensor([1e8, 1 / h[1].item()], dtype=DT), rtol=1e-12)
    assert torch.allclose(mode.reshape(2), x.detach()[:, 0] - g * cov.reshape(2), rtol=1e-12)


def test_newton_step_2d_3d_without_trust_radius_use_an_indefinite_hessian_as_is():
    for D, A in [(2, [[1., 2.], [2., -1.]]), (3, [[1., 2., 0.], [2., -1., 0.5], [0., 0.5, -2.]])]:
        A = torch.tensor(A, dtype=DT)
        b = torch.arange(1.0, D + 1, dtype=DT)
        x = torch.zeros(1, D, dtype=DT, requires_grad=True)
        mode, cov = newton_step((0.5 * (x @ A * x).sum() - (x * b).sum()), x)
        assert torch.allclose(cov[0], torch.linalg.inv(A), rtol=1e-12, atol=1e-12)
        assert torch.allclose(mode[0], torch.linalg.solve(A, b), rtol=1e-12, atol=1e-12)


# ----- trust regions, against Pyro 1.9.2 -----------------------------------------------------

def _nonconvex(x):
    return (torch.sin(3 * x).sum(-1) + 0.3 * (x ** 2).sum(-1) - 0.7 * x.prod(-1) + 0.05 * (x ** 4).sum(-1)).sum()


X0 = {1: [[0.4], [-1.2], [2.0]],
      2: [[0.4, -0.3], [-1.2, 0.9], [1.5, 1.5]],
      3: [[0.4, -0.3, 0.1], [-1.2, 0.9, 0.5], [1.0, 1.0, 1.0]]}

# Obtained from Pyro 1.9.2: /work/main/.bench/pyro192/bin/python -W ignore /tmp/hD/literals.py, which
# prints, in float64, newton_step(_nonconvex(x), x, r) for x = X0[D], r in (None, 0.1, 0.5), rounded
# to 12 decimals (our implementation printed the identical file).
PYRO_MODES = {
    (1, 0.1): [[0.3], [-1.1], [1.9]],
    (1, 0.5): [[-0.1], [-0.7], [1.5]],
    (2, None): [[0.616224686646, -0.462004412017], [-2.944858338029, 0.912673587436],
                [1.510687683633, 1.510687683633]],
    (2, 0.1): [[0.324552897862, -0.339995792398], [-1.104791810062, 0.92722592554],
               [1.510687683622, 1.510687683622]],
    (2, 0.5): [[0.017549457128, -0.385039248319], [-0.746830332164, 1.055390215548],
               [1.510687683622, 1.510687683622]],
    (3, None): [[0.619559937043, -0.457497083615, 1.609686723162], [-2.838021464737, 0.60249792419, 0.752236373765],
                [-0.95225929758, -0.95225929758, -0.95225929758]],
    (3, 0.1): [[0.363502520514, -0.331980688133, 0.029274044861], [-1.121111823629, 0.932317041806, 0.472266199739],
               [1.057735026919, 1.057735026919, 1.057735026919]],
    (3, 0.5): [[0.221771497677, -0.375829514689, -0.12971968428], [-0.931597527037, 1.022571595267, 0.368179535212],
               [1.288675134595, 1.288675134595, 1.288675134595]],
}
PYRO_COVS = {
    (1, 0.5): [[[1e8]], [[1e8]], [[0.181332228465]]],
    (2, 0.5): [[[0.239055251255, 0.008535761904], [0.008535761904, 0.051313680602]],
               [[0.10134168017, 0.007331069341], [0.007331069341, 0.10387335953]],
               [[0.093438904912, 0.006085655623], [0.006085655623, 0.093438904912]]],
    (3, 0.1): [[[0.027070896015, 3.5493601e-05, -0.000133277872], [3.5493601e-05, 0.019107492248, 0.000125473573],
                [-0.000133277872, 0.000125473573, 0.023486777046]],
               [[0.019412156858, 0.000128151114, 0.000264578949], [0.000128151114, 0.019506239003, -0.000355867408],
                [0.000264578949, -0.000355867408, 0.021836485845]],
               [[0.019573291482, 0.000271800209, 0.000271800209], [0.000271800209, 0.019573291482, 0.000271800209],
                [0.000271800209, 0.000271800209, 0.019573291482]]],
    (3, 0.5): [[[0.135297970668, 0.000388873456, -0.00217163818], [0.000388873456, 0.043889748079, 0.000936634058],
                [-0.00217163818, 0.000936634058, 0.076781441833]],
               [[0.066804751606, 0.001332237289, 0.004401031285], [0.001332237289, 0.068054039008, -0.006050902506],
                [0.004401031285, -0.006050902506, 0.10827017357]],
               [[0.088890431361, 0.00584701407, 0.00584701407], [0.00584701407, 0.088890431361, 0.00584701407],
                [0.00584701407, 0.00584701407, 0.088890431361]]],
}


@pytest.mark.parametrize("key", sorted(PYRO_MODES, key=str), ids=str)
def test_trust_region_steps_match_pyro(key):
    D, r = key
    x = torch.tensor(X0[D], dtype=DT, requires_grad=True)
    mode, cov = newton_step(_nonconvex(x), x, r)
    assert torch.allclose(mode, torch.tensor(PYRO_MODES[key], dtype=DT), rtol=0, atol=2e-11)
    if key in PYRO_COVS:
        assert torch.allclose(cov, torch.tensor(PYRO_COVS[key], dtype=DT), rtol=1e-10, atol=2e-12)
    if r is not None:
        assert ((mode - x).norm(dim=-1) <= r * (1 + 1e-12)).all()


@pytest.mark.parametrize("D", [1, 2, 3])
def test_trust_radius_bounds_every_step(D):
    g = torch.Generator().manual_seed(D)
    x = (2 * torch.randn(50, D, generator=g, dtype=DT)).requires_grad_()
    for r in (0.01, 0.2, 1.0):
        mode, cov = newton_step(_nonconvex(x), x, r)
        assert ((mode - x).norm(dim=-1) <= r * (1 + 1e-12)).all()
        if D > 1:  # cov is the inverse of a positive definite matrix whose eigenvalues are >= |g| / r
            assert (torch.linalg.eigvalsh(cov) > 0).all()


def test_trust_region_rule_for_2d_and_3d():
    # H + lam * I with lam = max(|g| / r - eigmin(H), 1e-8), checked on a fixed quadratic
    A = torch.tensor([[3., 1., 0.], [1., 2., 0.5], [0., 0.5, 1.]], dtype=DT)
    b = torch.tensor([1., -2., 0.5], dtype=DT)
    for D in (2, 3):
        A_d, b_d = A[:D, :D], b[:D]
        for r in (0.05, 0.3, 10.0):
            x = torch.zeros(1, D, dtype=DT, requires_grad=True)
            mode, cov = newton_step(0.5 * (x @ A_d * x).sum() - (x * b_d).sum(), x, r)
            lam = max(b_d.norm().item() / r - torch.linalg.eigvalsh(A_d)[0].item(), 1e-8)
            expected = torch.linalg.inv(A_d + lam * torch.eye(D, dtype=DT))
            assert torch.allclose(cov[0], expected, rtol=1e-12, atol=1e-14)
            assert torch.allclose(mode[0], expected @ b_d, rtol=1e-12, atol=1e-14)


def test_isotropic_3d_hessian_under_a_trust_radius_is_finite():
    # Pyro 1.9.2 returns NaN here (its closed-form 3x3 eigenvalues divide by zero)
    x = torch.ones(2, 3, dtype=DT, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mode, cov = newton_step((x ** 4).sum(), x, 0.5)
    g, h = 4.0, 12.0  # gradient and curvature of each coordinate at 1
    lam = max(g * 3 ** 0.5 / 0.5 - h, 1e-8)
    assert torch.allclose(mode, torch.full((2, 3), 1 - g / (h + lam), dtype=DT), rtol=1e-12)
    assert torch.allclose(cov, torch.eye(3, dtype=DT).expand(2, 3, 3) / (h + lam), rtol=1e-12)


def test_tensor_trust_radius_per_batch_element():
    for D in (1, 2, 3):
        x = torch.tensor(X0[D], dtype=DT, requires_grad=True)
        radii = torch.tensor([0.1, 0.5, 0.05], dtype=DT)
        mode, cov = newton_step(_nonconvex(x), x, radii)
        for i, r in enumerate(radii.tolist()):
            xi = torch.tensor(X0[D][i:i + 1], dtype=DT, requires_grad=True)
            mode_i, cov_i = newton_step(_nonconvex(xi), xi, r)
            assert torch.allclose(mode[i:i + 1], mode_i, rtol=1e-12, atol=1e-14)
            assert torch.allclose(cov[i:i + 1], cov_i, rtol=1e-12, atol=1e-14)


def test_linear_loss_takes_a_full_trust_radius_step():
    x = torch.zeros(3, 1, dtype=DT, requires_grad=True)
    c = torch.tensor([[2.0], [-1.0], [0.5]], dtype=DT)
    mode, cov = newton_step((c * x).sum(), x, 0.25)
    assert torch.equal(mode, -0.25 * c.sign())
    assert torch.equal(cov, torch.full((3, 1, 1), 1e8, dtype=DT))


# ----- derivatives through the result --------------------------------------------------------

@pytest.mark.parametrize("radius", [None, 0.3], ids=["plain", "trust"])
@pytest.mark.parametrize("D", [1, 2, 3])
def test_mode_and_cov_are_differentiable(D, radius):
    g = torch.Generator().manual_seed(D)
    x0 = torch.randn(2, D, generator=g, dtype=DT)
    theta0 = torch.randn(2, D, generator=g, dtype=DT)

    def fn(theta):
        x = x0.clone().requires_grad_()
        loss = (torch.cosh(x - theta).sum(-1) + 0.2 * (x * theta.roll(1, -1)).sum(-1) * x.sum(-1)).sum()
        return newton_step(loss, x, radius)

    assert torch.autograd.gradcheck(fn, (theta0.clone().requires_grad_(),), eps=1e-6, atol=1e-6)


def test_converged_newton_solution_has_the_implicit_derivative():
    # iterate with detached steps; the last step's mode carries d x*/d theta = -H^-1 d^2 f / dx dtheta
    def solve(theta):
        x = torch.zeros(4, 2, dtype=DT)
        for _ in range(20):
            x = x.detach().requires_grad_()
            loss = (torch.cosh(x - theta).sum(-1) + 0.3 * x.prod(-1)).sum()
            x, _ = newton_step(loss, x)
        return x

    theta = torch.tensor([0.1, -0.2], dtype=DT, requires_grad=True)
    (grad,) = torch.autograd.grad(solve(theta).sum(), theta)
    eps = 1e-6
    numeric = torch.stack([(solve(theta.detach() + eps * e) - solve(theta.detach() - eps * e)).sum() / (2 * eps)
                           for e in torch.eye(2, dtype=DT)])
    assert torch.allclose(grad, numeric, rtol=1e-7, atol=1e-8)


def test_newton_step_from_grad_equals_newton_step():
    x = torch.tensor(X0[2], dtype=DT, requires_grad=True)
    (g,) = torch.autograd.grad(_nonconvex(x), [x], create_graph=True)
    mode, cov = newton_step_from_grad(g, x, 0.3)
    mode2, cov2 = newton_step(_nonconvex(x), x, 0.3)
    assert torch.allclose(mode, mode2, rtol=1e-14) and torch.allclose(cov, cov2, rtol=1e-14)


def test_dtype_follows_x_and_no_warnings_on_finite_input():
    x = torch.tensor(X0[3], dtype=torch.float32, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mode, cov = newton_step(_nonconvex(x), x, 0.5)
    assert mode.dtype == cov.dtype == torch.float32
    assert torch.allclose(mode.double(), torch.tensor(PYRO_MODES[3, 0.5], dtype=DT), atol=1e-5)


def test_nan_gradient_warns_as_pyro_does():
    x = torch.zeros(2, 2, requires_grad=True)
    with pytest.warns(UserWarning, match="Encountered NaN: g"):
        newton_step((x ** 2).sum() + x[0, 0] * float("nan"), x)


# ----- bad input ------------------------------------------------------------------------------

def test_newton_step_bad_inputs():
    x4 = torch.zeros(5, 4, requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"newton_step_nd is not implemented.*shape \(5, 4\)"):
        newton_step((x4 ** 2).sum(), x4)
    x0 = torch.zeros(5, 0, requires_grad=True)
    with pytest.raises(NotImplementedError, match="newton_step_nd"):
        newton_step((x0 ** 2).sum(), x0)
    xs = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match=r"Expected x to have at least one dimension, actual shape torch.Size\(\[\]\)"):
        newton_step(xs ** 2, xs)
    x = torch.ones(4, 2, requires_grad=True)
    with pytest.raises(ValueError, match=r"Expected loss to be a scalar, actual shape torch.Size\(\[4\]\)"):
        newton_step((x ** 2).sum(-1), x)
    with pytest.raises(ValueError, match=r"Expected x to have rightmost size 1, actual shape torch.Size\(\[4, 2\]\)"):
        newton_step_1d((x ** 2).sum(), x)
    with pytest.raises(ValueError, match="rightmost size 3"):
        newton_step_3d((x ** 2).sum(), x)
    with pytest.raises(ValueError, match="rightmost size 2"):
        newton_step_2d((x4[:, :3] ** 2).sum(), x4[:, :3])
    for radius in (0.0, -1.0):
        with pytest.raises(ValueError, match=f"trust_radius must be > 0, got {radius}"):
            newton_step((x ** 4).sum(), x, radius)
    with pytest.raises(TypeError, match="trust_radius must be None, a positive number or a tensor, got str"):
        newton_step((x ** 4).sum(), x, "1")
    with pytest.raises(TypeError, match="loss must be a scalar torch.Tensor"):
        newton_step(1.0, x)
    plain = torch.ones(4, 2)
    with pytest.raises(RuntimeError, match="x does not require grad"):
        newton_step((plain ** 2).sum(), plain)
    with pytest.raises(ValueError, match=r"grad must be a tensor of x's shape \(4, 2\), got \(4, 1\)"):
        newton_step_from_grad(torch.ones(4, 1), x)


@pytest.mark.cuda
def test_newton_step_on_cuda_matches_cpu():
    for D in (1, 2, 3):
        for r in (None, 0.3):
            x = torch.tensor(X0[D], dtype=DT, requires_grad=True)
            mode, cov = newton_step(_nonconvex(x), x, r)
            xc = torch.tensor(X0[D], dtype=DT, device="cuda", requires_grad=True)
            radius = None if r is None else torch.tensor(r, dtype=DT, device="cuda")
            mode_c, cov_c = newton_step(_nonconvex(xc), xc, radius)
            assert mode_c.device.type == cov_c.device.type == "cuda"
            assert torch.allclose(mode_c.cpu(), mode, rtol=1e-10, atol=1e-12)
            assert torch.allclose(cov_c.cpu(), cov, rtol=1e-10, atol=1e-12)
