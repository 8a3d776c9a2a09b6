"""pyro.ops.welford, pyro.ops.dual_averaging and pyro.ops.integrator against hand computations."""

import math

import pytest
import torch

from pyro.ops.dual_averaging import DualAveraging
from pyro.ops.integrator import potential_grad, velocity_verlet
from pyro.ops.welford import WelfordArrowheadCovariance, WelfordCovariance


def _samples(n=40, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ a + 3.0


def test_welford_matches_torch_var_and_cov_with_stan_shrinkage():
    x = _samples()
    n = x.shape[0]
    diag, dense = WelfordCovariance(diagonal=True), WelfordCovariance(diagonal=False)
    for row in x:
        diag.update(row)
        dense.update(row)
    assert diag.n_samples == n
    assert torch.allclose(diag.get_covariance(regularize=False), x.var(0))
    cov = torch.cov(x.T)
    assert torch.allclose(dense.get_covariance(regularize=False), cov)
    shrunk = n / (n + 5) * cov + 1e-3 * 5 / (n + 5) * torch.eye(4, dtype=torch.float64)
    assert torch.allclose(dense.get_covariance(), shrunk)
    assert torch.allclose(diag.get_covariance(), shrunk.diagonal())
    diag.reset()
    assert diag.n_samples == 0
    with pytest.raises(RuntimeError):
        diag.get_covariance()


def test_welford_arrowhead_is_the_head_rows_and_tail_variances():
    x = _samples(d=5)
    w = WelfordArrowheadCovariance(head_size=2)
    for row in x:
        w.update(row)
    top, bottom = w.get_covariance(regularize=False)
    cov = torch.cov(x.T)
    assert torch.allclose(top, cov[:2]) and torch.allclose(bottom, cov.diagonal()[2:])
    n = x.shape[0]
    top_r, bottom_r = w.get_covariance()
    jitter = 1e-3 * 5 / (n + 5)
    expected_top = n / (n + 5) * cov[:2]
    expected_top[[0, 1], [0, 1]] += jitter
    assert torch.allclose(top_r, expected_top)
    assert torch.allclose(bottom_r, n / (n + 5) * cov.diagonal()[2:] + jitter)


def test_dual_averaging_recurrence_by_hand():
    da = DualAveraging(prox_center=1.0, t0=10, kappa=0.75, gamma=0.05)
    g_avg = x_avg = 0.0
    for t, g in enumerate([0.5, -0.2, 0.1, 0.3], start=1):
        da.step(g)
        g_avg = (1 - 1 / (t + 10)) * g_avg + g / (t + 10)
        x_t = 1.0 - math.sqrt(t) / 0.05 * g_avg
        w = t ** -0.75
        x_avg = (1 - w) * x_avg + w * x_t
        got_x, got_avg = da.get_state()
        assert got_x == pytest.approx(x_t) and got_avg == pytest.approx(x_avg)


def test_dual_averaging_finds_the_root_of_a_noisy_gradient():
    # As for a step size: the "acceptance" sigmoid(-x) falls as x grows; g = 0.8 - it.
    # The average iterate converges to the root x = -logit(0.8).
    torch.manual_seed(0)
    da = DualAveraging()
    x = 0.0
    for _ in range(2000):
        da.step(0.8 - 1 / (1 + math.exp(x)) + 0.05 * float(torch.randn(())))
        x, _ = da.get_state()
    assert da.get_state()[1] == pytest.approx(-math.log(4), abs=0.1)


def test_velocity_verlet_on_a_harmonic_oscillator():
    # H = q^2/2 + p^2/2: exact flow is a rotation; leapfrog is accurate to O(eps^2) and
    # exactly time-reversible.
    def potential(z):
        return 0.5 * (z["q"] ** 2).sum()

    def kinetic_grad(r):
        return {"q": r["q"]}

    z = {"q": torch.tensor([1.0, 0.0], dtype=torch.float64)}
    r = {"q": torch.tensor([0.0, 1.0], dtype=torch.float64)}
    eps, n = 0.01, 157  # t = 1.57 ~ pi / 2
    z1, r1, grads, energy = velocity_verlet(z, r, potential, kinetic_grad, eps, n)
    t = eps * n
    exact_q = torch.tensor([math.cos(t), math.sin(t)], dtype=torch.float64)
    exact_p = torch.tensor([-math.sin(t), math.cos(t)], dtype=torch.float64)
    assert torch.allclose(z1["q"], exact_q, atol=1e-4) and torch.allclose(r1["q"], exact_p, atol=1e-4)
    assert torch.allclose(grads["q"], z1["q"])
    assert float(energy) == pytest.approx(0.5 * float((z1["q"] ** 2).sum()))
    assert z["q"].tolist() == [1.0, 0.0]  # inputs untouched
    back_z, back_r, _, _ = velocity_verlet(z1, {"q": -r1["q"]}, potential, kinetic_grad, eps, n)
    assert torch.allclose(back_z["q"], z["q"], atol=1e-12)
    assert torch.allclose(-back_r["q"], r["q"], atol=1e-12)


def test_potential_grad_and_singular_matrices():
    def potential(z):
        return (z["a"] ** 3).sum() + torch.linalg.cholesky(z["m"]).diagonal().log().sum()

    z = {"a": torch.tensor([1.0, 2.0]), "m": torch.eye(2) * 4.0}
    grads, energy = potential_grad(potential, z)
    assert torch.allclose(grads["a"], 3 * z["a"] ** 2)
    assert float(energy) == pytest.approx(9.0 + math.log(4.0))
    bad = {"a": torch.tensor([1.0, 2.0]), "m": -torch.eye(2)}
    grads, energy = potential_grad(potential, bad)
    assert math.isnan(float(energy)) and all(bool((g == 0).all()) for g in grads.values())
