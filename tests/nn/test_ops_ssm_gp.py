"""``pyro.ops.ssm_gp.MaternKernel``: the state-space form of the Matern GP kernels, checked
against the Matern SDE (matrix exponential, Lyapunov equation), the closed-form kernels and
numbers read from Pyro 1.9.2."""

import math

import pytest
import torch

import pyro
import pyro.ops
from pyro.distributions import constraints
from pyro.nn import PyroModule
from pyro.ops.ssm_gp import MaternKernel

NUS = [0.5, 1.5, 2.5]
LENGTH = torch.tensor([0.7, 1.3, 2.1], dtype=torch.float64)
SCALE = torch.tensor([0.5, 2.0, 1.1], dtype=torch.float64)


def kernel(nu, dtype=torch.float64):
    return MaternKernel(nu=nu, num_gps=3, length_scale_init=LENGTH.to(dtype),
                        kernel_scale_init=SCALE.to(dtype))


def sde(nu, length, scale):
    """Feedback matrix F (companion form), noise vector L and spectral density q of the Matern
    SDE, one GP, written from the kernel's spectral density."""
    d = int(nu + 0.5)
    lam = math.sqrt(2 * nu) / length
    coeffs = [math.comb(d, j) * lam ** (d - j) for j in range(d)]  # (x + lam)^d, low to high
    F = torch.zeros(d, d, dtype=torch.float64)
    F[:-1, 1:] = torch.eye(d - 1, dtype=torch.float64)
    F[-1] = -torch.tensor(coeffs, dtype=torch.float64)
    L = torch.zeros(d, 1, dtype=torch.float64)
    L[-1] = 1.0
    q = 2 * scale ** 2 * math.sqrt(math.pi) * lam ** (2 * nu) * math.gamma(nu + 0.5) / math.gamma(nu)
    return F, L, q


def matern(nu, t, length, scale):
    r = math.sqrt(2 * nu) * t / length
    poly = {0.5: 1.0, 1.5: 1.0 + r, 2.5: 1.0 + r + r * r / 3.0}[nu]
    return scale ** 2 * poly * torch.exp(-r)


@pytest.mark.parametrize("nu", NUS)
@pytest.mark.parametrize("dt", [0.05, 0.4, 3.0])
def test_transition_matrix_is_the_transposed_matrix_exponential(nu, dt):
    A = kernel(nu).transition_matrix(dt)
    assert A.shape == (3, int(nu + 0.5), int(nu + 0.5)) and A.dtype == torch.float64
    for g in range(3):
        F, _, _ = sde(nu, LENGTH[g].item(), SCALE[g].item())
        torch.testing.assert_close(A[g], torch.linalg.matrix_exp(F * dt).T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("nu", NUS)
def test_stationary_covariance_solves_the_lyapunov_equation(nu):
    P = kernel(nu).stationary_covariance()
    assert P.shape == (3, int(nu + 0.5), int(nu + 0.5))
    torch.testing.assert_close(P, P.transpose(-1, -2))
    assert (torch.linalg.eigvalsh(P) > 0).all()
    for g in range(3):
        F, L, q = sde(nu, LENGTH[g].item(), SCALE[g].item())
        residual = F @ P[g] + P[g] @ F.T + q * L @ L.T
        assert residual.abs().max() < 1e-9 * (1 + P[g].abs().max())


@pytest.mark.parametrize("nu", NUS)
def test_process_covariance_keeps_the_stationary_covariance(nu):
    k = kernel(nu)
    A = k.transition_matrix(0.3)
    P = k.stationary_covariance()
    Q = k.process_covariance(A)
    # column layout: x' = M x + w, M = A^T, so Q = P - M P M^T
    M = A.transpose(-1, -2)
    torch.testing.assert_close(Q, P - M @ P @ M.transpose(-1, -2))
    assert (torch.linalg.eigvalsh(Q) > -1e-12).all()
    A2, Q2 = k.transition_matrix_and_covariance(0.3)
    torch.testing.assert_close(A2, A, rtol=0, atol=0)
    torch.testing.assert_close(Q2, Q, rtol=0, atol=0)


@pytest.mark.parametrize("nu", NUS)
def test_lag_covariance_of_the_first_component_is_the_matern_kernel(nu):
    k = kernel(nu)
    dt = torch.tensor([0.0, 0.1, 0.8, 2.5], dtype=torch.float64).reshape(4, 1, 1, 1)
    A = k.transition_matrix(dt)  # (4, 3, d, d)
    cov = (k.stationary_covariance() @ A)[..., 0, 0]  # Cov(x_t[0], (x_t A)[0])
    expected = matern(nu, dt.reshape(4, 1), LENGTH, SCALE)
    torch.testing.assert_close(cov, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("nu", NUS)
def test_gradients_match_the_closed_form_kernel(nu):
    k = kernel(nu)
    dt = 0.6
    cov = (k.stationary_covariance() @ k.transition_matrix(dt))[..., 0, 0].sum()
    gl, gs = torch.autograd.grad(cov, [k.length_scale_unconstrained, k.kernel_scale_unconstrained])
    log_l = LENGTH.log().requires_grad_()
    log_s = SCALE.log().requires_grad_()
    el, es = torch.autograd.grad(matern(nu, torch.tensor(dt), log_l.exp(), log_s.exp()).sum(), [log_l, log_s])
    torch.testing.assert_close(gl, el)
    torch.testing.assert_close(gs, es)


@pytest.mark.parametrize("nu", NUS)
def test_batching_over_dt_and_num_gps(nu):
    k = kernel(nu)
    d = k.state_dim
    dts = torch.tensor([0.2, 1.0, 0.5, 4.0], dtype=torch.float64).reshape(4, 1, 1, 1)
    A, Q = k.transition_matrix_and_covariance(dts)
    assert A.shape == Q.shape == (4, 3, d, d)
    for i in range(4):
        Ai, Qi = k.transition_matrix_and_covariance(dts[i].item())
        torch.testing.assert_close(A[i], Ai)
        torch.testing.assert_close(Q[i], Qi)
    per_gp = torch.tensor([0.2, 1.0, 0.5], dtype=torch.float64).reshape(3, 1, 1)  # one dt per GP
    A = k.transition_matrix(per_gp)
    for g in range(3):
        torch.testing.assert_close(A[g], k.transition_matrix(per_gp[g].item())[g])
    for dt in [torch.tensor(0.2, dtype=torch.float64), torch.tensor([0.2], dtype=torch.float64)]:
        torch.testing.assert_close(k.transition_matrix(dt), k.transition_matrix(0.2))
    deep = k.process_covariance(torch.eye(d, dtype=torch.float64).expand(5, 2, 3, d, d))
    assert deep.shape == (5, 2, 3, d, d) and deep.abs().max() < 1e-12  # no move: no noise
    pyro.clear_param_store()  # the kernels' params share the global store's names, as in Pyro
    one = MaternKernel(nu=nu)
    assert one.num_gps == 1 and one.transition_matrix(0.1).shape == (1, d, d)
    assert one.stationary_covariance().shape == (1, d, d)


@pytest.mark.parametrize("nu,state_dim", [(0.5, 1), (1.5, 2), (2.5, 3)])
def test_parameters_are_pyro_params_with_pyro_names(nu, state_dim):
    k = kernel(nu)
    assert isinstance(k, PyroModule)
    assert (k.nu, k.num_gps, k.state_dim) == (nu, 3, state_dim)
    params = dict(k.named_parameters())
    assert list(params) == ["length_scale_unconstrained", "kernel_scale_unconstrained"]
    torch.testing.assert_close(params["length_scale_unconstrained"].detach(), LENGTH.log())
    for name in ("length_scale", "kernel_scale"):
        constraint, event_dim = k._pyro_params[name]
        assert isinstance(constraint, type(constraints.positive)) and constraint.lower_bound == 0.0
        assert event_dim is None
    values = dict(k.named_pyro_params())
    torch.testing.assert_close(values["length_scale"].detach(), LENGTH)
    torch.testing.assert_close(values["kernel_scale"].detach(), SCALE)
    default = MaternKernel(nu=nu, num_gps=2)
    torch.testing.assert_close(default.length_scale.detach(), torch.ones(2))
    torch.testing.assert_close(default.kernel_scale.detach(), torch.ones(2))
    trace = pyro.poutine.trace(k.transition_matrix_and_covariance).get_trace(0.4)
    assert [n for n, s in trace.nodes.items() if s["type"] == "param"] == ["length_scale", "kernel_scale"]


# From Pyro 1.9.2 (/work/main/.bench/pyro192/bin/python):
#   k = MaternKernel(nu=nu, num_gps=2, length_scale_init=torch.tensor([0.7, 1.3]),
#                    kernel_scale_init=torch.tensor([0.5, 2.0]))
#   A, Q = k.transition_matrix_and_covariance(torch.tensor(0.4)); P = k.stationary_covariance()
PYRO_1_9_2 = {
    0.5: {"A": [[[0.5647181273]], [[0.7351414561]]], "Q": [[[0.1702733636]], [[1.8382680416]]]},
    1.5: {"A": [[[0.7395319939, -0.9102174044], [0.1486688256, 0.0038121096]],
                [[0.8996476531, -0.4167179763], [0.2347511053, 0.2741078734]]],
          "P": [[[0.25, 0.0], [0.0, 1.5306122303]], [[4.0, 0.0], [0.0, 7.1005926132]]],
          "Q": [[[0.0794428885, 0.1674162596], [0.1674162596, 1.3234660625]],
                [[0.3712363243, 1.0426946878], [1.0426946878, 5.8724732399]]]},
    2.5: {"A": [[[0.8622046113, -0.7266575694, -1.3120648861],
                 [0.2538899481, 0.1797652990, -1.9588817358],
                 [0.0222930163, 0.0402526446, -0.2059818208]],
                [[0.9672995806, -0.2046027184, -0.6710861325],
                 [0.3393392563, 0.6104452610, -1.3750660419],
                 [0.0402055755, 0.1318721920, -0.0700358748]]],
          "P": [[[0.25, 0.0, -0.8503401279], [0.0, 0.8503401279, 0.0], [-0.8503401279, 0.0, 26.0308227539]],
                [[4.0, 0.0, -3.9447736740], [0.0, 3.9447736740, 0.0], [-3.9447736740, 0.0, 35.0127868652]]],
          "Q": [[[0.0290900469, 0.1101999432, -0.2009736300],
                 [0.1101999357, 0.5989313126, 0.3592795730],
                 [-0.2009735703, 0.3592796326, 21.6926841736]],
                [[0.0533144474, 0.2596033216, 0.2173910141],
                 [0.2596032321, 1.4855775833, 2.7928233147],
                 [0.2173910141, 2.7928230762, 25.9516258240]]]},
}


@pytest.mark.parametrize("nu", NUS)
def test_outputs_match_pyro_1_9_2(nu):
    k = MaternKernel(nu=nu, num_gps=2, length_scale_init=torch.tensor([0.7, 1.3]),
                     kernel_scale_init=torch.tensor([0.5, 2.0]))
    A, Q = k.transition_matrix_and_covariance(torch.tensor(0.4))
    got = {"A": A, "Q": Q, "P": k.stationary_covariance()}
    for name, expected in PYRO_1_9_2[nu].items():
        assert got[name].dtype == torch.float32
        torch.testing.assert_close(got[name].detach(), torch.tensor(expected), rtol=2e-6, atol=2e-5)


def test_module_constants_and_namespace():
    import pyro.ops.ssm_gp as ssm_gp

    assert (ssm_gp.root_three, ssm_gp.root_five, ssm_gp.five_thirds) == (math.sqrt(3), math.sqrt(5), 5 / 3)
    assert pyro.ops.ssm_gp is ssm_gp
    assert pyro._OPS_MODULES["ssm_gp"] == "nn"


@pytest.mark.parametrize("nu", [1.0, 3.5, 0, "1.5", True])
def test_unsupported_nu_is_pyros_not_implemented_error(nu):
    with pytest.raises(NotImplementedError, match="supported values of nu are 0.5, 1.5 and 2.5"):
        MaternKernel(nu=nu)


def test_bad_num_gps_and_inits_name_the_argument():
    for num_gps in (0, -1):
        with pytest.raises(ValueError, match=r"num_gps must be >= 1, got " + str(num_gps)) as info:
            MaternKernel(num_gps=num_gps)
        assert isinstance(info.value, RuntimeError)  # torch's type under Pyro for -1
    with pytest.raises(TypeError, match="num_gps must be an int"):
        MaternKernel(num_gps=2.0)
    for argument in ("length_scale_init", "kernel_scale_init"):
        for shape in [(3,), (), (2, 1)]:
            with pytest.raises(AssertionError, match=rf"{argument} must have shape \(num_gps,\) = \(2,\)"
                               rf", got shape \({', '.join(map(str, shape))},?\)") as info:
                MaternKernel(num_gps=2, **{argument: torch.ones(shape)})
            assert isinstance(info.value, ValueError)
        with pytest.raises(AttributeError, match=f"{argument} must be a tensor") as info:
            MaternKernel(num_gps=1, **{argument: 2.0})
        assert isinstance(info.value, TypeError)


def test_bad_dt_and_transition_matrix_shapes_name_the_argument():
    k = MaternKernel(nu=1.5, num_gps=2)
    for shape in [(3,), (1, 2), (5, 2), (4, 1, 1)]:
        with pytest.raises(RuntimeError, match=r"dt must be .* \(\.\.\., 2, 1, 1\), got shape") as info:
            k.transition_matrix(torch.ones(shape))
        assert isinstance(info.value, ValueError)
    with pytest.raises(TypeError, match="dt must be a number or a tensor"):
        k.transition_matrix("0.4")
    with pytest.raises(AssertionError, match=r"A must be a tensor of shape \(\.\.\., num_gps, 2, 2\), "
                       r"got \(3, 3\)") as info:
        k.process_covariance(torch.ones(3, 3))
    assert isinstance(info.value, ValueError)


@pytest.mark.cuda
@pytest.mark.parametrize("nu", NUS)
def test_on_cuda_matches_cpu(nu):
    cpu = kernel(nu)
    dts = torch.tensor([0.2, 1.0], dtype=torch.float64).reshape(2, 1, 1, 1)
    A, Q = cpu.transition_matrix_and_covariance(dts)
    pyro.clear_param_store()
    gpu = MaternKernel(nu=nu, num_gps=3, length_scale_init=LENGTH.cuda(), kernel_scale_init=SCALE.cuda())
    A_gpu, Q_gpu = gpu.transition_matrix_and_covariance(dts.cuda())
    assert A_gpu.device.type == Q_gpu.device.type == "cuda"
    torch.testing.assert_close(A_gpu.cpu(), A)
    torch.testing.assert_close(Q_gpu.cpu(), Q)
