"""DCTAdam against its update equations written out with an explicit cosine matrix, and against Pyro 1.9.2."""

import math

import pytest
import torch

import pyro
import pyro.optim
from pyro.ops.tensor_utils import dct, idct, next_fast_len
from pyro.optim.clipped_adam import ClippedAdam
from pyro.optim.dct_adam import DCTAdam


def cosine_matrix(n):
    """The orthonormal DCT-II as an n x n matrix, from its definition (float64)."""
    j = torch.arange(n, dtype=torch.float64)
    k = j[:, None]
    m = torch.cos(math.pi * k * (2 * j + 1) / (2 * n)) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m


def augment(g, dim):
    """[g, C pad(g)] along dim, C the cosine matrix of the padded length."""
    g = g.movedim(dim, -1)
    t = g.shape[-1]
    n = next_fast_len(t)
    padded = torch.nn.functional.pad(g, (0, n - t))
    return torch.cat([g, padded @ cosine_matrix(n).T], -1).movedim(-1, dim)


def reduce(u, dim, t):
    """The time-domain half plus the first t entries of C^T times the frequency-domain half."""
    u = u.movedim(dim, -1)
    out = u[..., :t] + (u[..., t:] @ cosine_matrix(u.shape[-1] - t))[..., :t]
    return out.movedim(-1, dim)


def reference_run(x0, dim, grads, lr, lrd, betas, eps, clip):
    """DCTAdam's equations by hand in float64: returns the final value, first moment and rate."""
    x = x0.double()
    m = v = None
    b1, b2 = betas
    for t, g in enumerate(grads, start=1):
        lr = lr * lrd
        g = g.double().clamp(-clip, clip)
        if dim is not None:
            g = augment(g, dim)
        if m is None:
            m, v = torch.zeros_like(g), torch.zeros_like(g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        u = -lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (v.sqrt() + eps)
        x = x + (reduce(u, dim, x.shape[dim]) if dim is not None else u)
    return x, m, lr


def test_dct_matches_the_cosine_matrix_and_idct_inverts_it():
    gen = torch.Generator().manual_seed(3)
    for n in (1, 2, 3, 5, 6, 7, 8, 13):
        x = torch.randn(4, n, dtype=torch.float64, generator=gen)
        torch.testing.assert_close(dct(x), x @ cosine_matrix(n).T, rtol=0, atol=1e-12)
        torch.testing.assert_close(idct(dct(x)), x, rtol=0, atol=1e-12)
        torch.testing.assert_close(dct(x.T.contiguous(), dim=0), dct(x).T, rtol=0, atol=1e-12)
    # float16 goes through float32 and comes back as float16
    half = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float16)
    assert dct(half, dim=0).dtype == torch.float16


def test_next_fast_len_values():
    # checked against pyro.ops.tensor_utils.next_fast_len of Pyro 1.9.2
    assert [next_fast_len(k) for k in (1, 2, 7, 11, 13, 17, 31, 97)] == [1, 2, 8, 12, 15, 18, 32, 100]


@pytest.mark.parametrize("shape,dim", [((7, 2), -2), ((13,), -1), ((3, 6), -1), ((4, 5, 3), 1), ((5, 3), None)])
def test_dct_adam_matches_its_equations(shape, dim):
    gen = torch.Generator().manual_seed(sum(shape))
    x0 = torch.randn(shape, dtype=torch.float64, generator=gen)
    grads = [4.0 * torch.randn(shape, dtype=torch.float64, generator=gen) for _ in range(5)]
    p = x0.clone().requires_grad_()
    if dim is not None:
        p._pyro_dct_dim = dim
    optim = DCTAdam([p], lr=0.1, betas=(0.8, 0.99), eps=1e-6, clip_norm=3.0, lrd=0.8)
    for g in grads:
        p.grad = g.clone()
        optim.step()
        assert p.grad.abs().max() <= 3.0  # clamped in place, as in Pyro
    x, m, lr = reference_run(x0, dim, grads, 0.1, 0.8, (0.8, 0.99), 1e-6, 3.0)
    # float64 through an FFT on one side and a cosine matrix on the other: agree to ~1e-12
    torch.testing.assert_close(p.detach(), x, rtol=0, atol=1e-9)
    torch.testing.assert_close(optim.state[p]["exp_avg"], m, rtol=0, atol=1e-9)
    if dim is not None:  # the moments live on T + next_fast_len(T) entries of the time axis
        t = shape[dim]
        assert optim.state[p]["exp_avg"].shape[dim] == t + next_fast_len(t)
    assert optim.state[p]["step"] == 5
    assert optim.param_groups[0]["lr"] == pytest.approx(lr, rel=1e-12)


def test_dct_adam_without_time_dim_is_clipped_adam():
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(4, 3, generator=gen)
    p, q = x0.clone().requires_grad_(), x0.clone().requires_grad_()
    a = DCTAdam([p], lr=0.05, clip_norm=1.0, lrd=0.9)
    b = ClippedAdam([q], lr=0.05, clip_norm=1.0, lrd=0.9)
    for _ in range(4):
        g = 3.0 * torch.randn(4, 3, generator=gen)
        p.grad, q.grad = g.clone(), g.clone()
        a.step()
        b.step()
    torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-6, atol=1e-7)
    assert a.param_groups[0]["lr"] == b.param_groups[0]["lr"]


def test_dct_adam_defaults_and_validation():
    p = torch.zeros(2, requires_grad=True)
    group = DCTAdam([p]).param_groups[0]
    assert {k: v for k, v in group.items() if k != "params"} == {
        "lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "clip_norm": 10.0, "lrd": 1.0, "subsample_aware": False}
    with pytest.raises(ValueError, match="DCTAdam: clip_norm"):
        DCTAdam([p], clip_norm=0.0)
    with pytest.raises(ValueError, match="DCTAdam: lrd"):
        DCTAdam([p], lrd=0.0)
    q = torch.zeros(3, 4, requires_grad=True)
    q._pyro_dct_dim = -3
    q.grad = torch.ones(3, 4)
    with pytest.raises(ValueError, match=r"_pyro_dct_dim=-3 is out of range .*\(3, 4\)"):
        DCTAdam([q]).step()


def test_subsample_aware_updates_only_the_subsample():
    x0 = torch.tensor([[0.4, -1.2, 2.2, 0.9], [1.0, 0.1, -0.6, -2.0], [0.7, 0.3, 1.8, -0.2]], dtype=torch.float64)
    p = x0.clone().requires_grad_()
    optim = DCTAdam([p], lr=0.05, betas=(0.9, 0.999), eps=1e-8, subsample_aware=True)
    subsamples = [{-1: torch.tensor([0, 2]), -2: torch.tensor([0, 2])}, {-1: torch.tensor([1, 2, 3])}, {-1: [2]}]
    x, m, v, steps = x0.clone(), torch.zeros_like(x0), torch.zeros_like(x0), torch.zeros_like(x0)
    for sub in subsamples:
        g = 3 * p.detach() ** 3 - 2 * p.detach() + 0.5
        p.grad = g.clone()
        p._pyro_subsample = sub
        optim.step()
        g = g.clamp(-10.0, 10.0)  # the default clip_norm
        inside = torch.ones(3, 4, dtype=torch.bool)
        for d, idx in sub.items():
            hit = torch.zeros(x0.shape[d], dtype=torch.bool)
            hit[torch.as_tensor(idx)] = True
            inside &= hit.reshape((1, -1) if d == -1 else (-1, 1))
        steps = steps + inside
        m = torch.where(inside, 0.9 * m + 0.1 * g, m)
        v = torch.where(inside, 0.999 * v + 0.001 * g * g, v)
        t = steps.clamp(min=1)
        rate = 0.05 * (1 - 0.999 ** t).sqrt() / (1 - 0.9 ** t)
        x = torch.where(inside, x - rate * m / (v.sqrt() + 1e-8), x)
    torch.testing.assert_close(p.detach(), x, rtol=0, atol=1e-9)
    assert torch.equal(optim.state[p]["step"], torch.tensor(
        [[1.0, 1.0, 3.0, 1.0], [0.0, 1.0, 2.0, 1.0], [1.0, 1.0, 3.0, 1.0]], dtype=torch.float64))
    # the middle row was outside the first subsample only: element (1, 0) never moved
    assert p[1, 0].item() == 1.0


def test_subsample_aware_mixes_full_and_subsampled_steps():
    # Pyro 1.9.2 fails on either mix; here a full step counts for every element
    p = torch.zeros(2, 3, requires_grad=True)
    optim = DCTAdam([p], lr=0.1, subsample_aware=True)
    p.grad = torch.ones(2, 3)
    optim.step()
    p._pyro_subsample = {-1: torch.tensor([1])}
    p.grad = torch.ones(2, 3)
    optim.step()
    assert torch.equal(optim.state[p]["step"], torch.tensor([[1.0, 2.0, 1.0], [1.0, 2.0, 1.0]]))
    del p._pyro_subsample
    p.grad = torch.ones(2, 3)
    optim.step()
    assert torch.equal(optim.state[p]["step"], torch.tensor([[2.0, 3.0, 2.0], [2.0, 3.0, 2.0]]))
    # with a constant gradient every Adam step moves by lr (up to eps and rounding)
    torch.testing.assert_close(p.detach(), torch.tensor([[-0.2, -0.3, -0.2], [-0.2, -0.3, -0.2]]),
                               rtol=1e-5, atol=1e-6)


def test_subsample_with_a_time_dim_is_refused_and_ignored_when_not_aware():
    p = torch.zeros(2, 5, requires_grad=True)
    p._pyro_dct_dim = -1
    p._pyro_subsample = {-2: torch.tensor([1])}
    p.grad = torch.ones(2, 5)
    with pytest.raises(ValueError, match="subsample_aware .* time dimension"):
        DCTAdam([p], subsample_aware=True).step()
    optim = DCTAdam([p], lr=0.1)  # not subsample aware: the subsample is ignored
    optim.step()
    assert optim.state[p]["step"] == 1 and optim.state[p]["exp_avg"].shape == (2, 10)


# Pyro 1.9.2's pyro.optim.dct_adam.DCTAdam run on the same inputs (float32; see make_inputs)
PYRO_192 = {
    "x": [[-0.84585583, -0.79551858], [-0.88307077, -1.04027665], [-1.05856717, -0.44578648],
          [0.70312363, 0.71901792], [0.48041236, 0.66114819], [1.01412249, 1.18858147]],
    "y": [0.68436092, -0.99747241, 0.24768539, 1.48117650, -1.17642903, -0.65720767, 0.57890677],
    "z": [1.13144112, -2.13144112, -0.09265147],
    "s": [[0.44999951, -1.15000033, 2.05000114, 0.85000032], [1.0, 0.1, -0.6, -2.0],
          [0.65000045, 0.34999883, 1.65000093, -0.24999966]],
}


def make_inputs():
    return {
        "x": torch.linspace(-1.5, 2.0, 12).reshape(6, 2),
        "y": torch.tensor([0.3, -0.7, 1.1, 2.4, -1.9, 0.05, 0.8]),
        "z": torch.tensor([1.5, -2.5, 0.25]),
        "s": torch.tensor([[0.4, -1.2, 2.2, 0.9], [1.0, 0.1, -0.6, -2.0], [0.7, 0.3, 1.8, -0.2]]),
    }


def test_dct_adam_agrees_with_pyro_192():
    params = {k: v.clone().requires_grad_() for k, v in make_inputs().items()}
    params["x"]._pyro_dct_dim = -2  # T = 6, a fast length
    params["y"]._pyro_dct_dim = -1  # T = 7, padded to 8
    optim = DCTAdam([params["x"], params["y"], params["z"]], lr=0.1, lrd=0.9, clip_norm=2.0)
    aware = DCTAdam([params["s"]], lr=0.05, subsample_aware=True)
    subsamples = [[0, 2], [1, 2, 3], [2]]
    for k in range(5):
        for p in params.values():
            p.grad = 3 * p.detach() ** 3 - 2 * p.detach() + 0.5
        optim.step()
        if k < 3:
            params["s"]._pyro_subsample = {-1: torch.tensor(subsamples[k]), -2: torch.tensor([0, 2])}
            aware.step()
    for name, expected in PYRO_192.items():
        torch.testing.assert_close(params[name].detach(), torch.tensor(expected), rtol=1e-5, atol=1e-5)
    assert optim.param_groups[0]["lr"] == pytest.approx(0.1 * 0.9 ** 5, rel=1e-12)


def test_dct_adam_wrapper_steps_and_resumes_bit_for_bit(tmp_path):
    target = torch.tensor([[1.0, -1.0], [0.5, 0.0], [2.0, 1.0], [-1.0, 0.5], [0.0, 0.0]])

    def step(optim):
        w = pyro.param("w", torch.zeros(5, 2))
        w.unconstrained()._pyro_dct_dim = -2
        b = pyro.param("b", torch.tensor(0.3))
        loss = ((w - target) ** 2).sum() + (b - 1.0) ** 2
        loss.backward()
        optim([w.unconstrained(), b.unconstrained()])
        for p in (w, b):
            p.unconstrained().grad = None

    def make():
        return pyro.optim.DCTAdam({"lr": 0.05, "lrd": 0.99})

    optim = make()
    for _ in range(8):
        step(optim)
    straight = {n: pyro.param(n).detach().clone() for n in ("w", "b")}
    entry = optim.get_state()["w"]
    assert entry["state"][0]["exp_avg"].shape == (10, 2) and entry["state"][0]["step"] == 8
    assert entry["param_groups"][0]["lr"] == pytest.approx(0.05 * 0.99 ** 8, rel=1e-12)

    pyro.clear_param_store()
    optim = make()
    for _ in range(4):
        step(optim)
    pyro.get_param_store().save(tmp_path / "params.pt")
    optim.save(tmp_path / "optim.pt")
    pyro.clear_param_store()
    pyro.get_param_store().load(tmp_path / "params.pt")
    optim = make()
    optim.load(tmp_path / "optim.pt")
    for _ in range(4):
        step(optim)
    for n in ("w", "b"):
        assert torch.equal(pyro.param(n).detach(), straight[n]), n
    # and the optimizer moved w towards the target
    assert ((straight["w"] - target) ** 2).sum() < (target ** 2).sum()


def test_dct_adam_is_registered_like_clipped_adam():
    optim = pyro.optim.DCTAdam({"lr": 0.1})
    assert isinstance(optim, pyro.optim.PyroOptim) and optim.pt_optim_constructor is DCTAdam
    assert pyro.optim.DCTAdam.pt_optim_constructor is DCTAdam and "DCTAdam" in pyro.optim.__all__


@pytest.mark.cuda
def test_dct_adam_on_cuda_matches_cpu():
    results = {}
    for device in ("cpu", "cuda"):
        params = {k: v.to(device).requires_grad_() for k, v in make_inputs().items()}
        params["x"]._pyro_dct_dim = -2
        params["y"]._pyro_dct_dim = -1
        optim = DCTAdam(list(params.values())[:3], lr=0.1, lrd=0.9, clip_norm=2.0)
        aware = DCTAdam([params["s"]], lr=0.05, subsample_aware=True)
        params["s"]._pyro_subsample = {-1: torch.tensor([0, 2], device=device)}
        for _ in range(4):
            for p in params.values():
                p.grad = 3 * p.detach() ** 3 - 2 * p.detach() + 0.5
            optim.step()
            aware.step()
        assert all(p.device.type == device for p in params.values())
        assert optim.state[params["x"]]["exp_avg"].device.type == device
        results[device] = {k: p.detach().cpu() for k, p in params.items()}
    for k in results["cpu"]:
        torch.testing.assert_close(results["cuda"][k], results["cpu"][k], rtol=1e-5, atol=1e-5)
