"""pyro.ops.tensor_utils (pyro-core) against direct sums and loops written here."""

import itertools
import math

import pytest
import torch

from pyro.ops import tensor_utils as tu


def _direct_convolution(signal, kernel):
    m, n = len(signal), len(kernel)
    return torch.tensor([sum(float(signal[j]) * float(kernel[k - j]) for j in range(m) if 0 <= k - j < n)
                         for k in range(m + n - 1)], dtype=torch.float64)


@pytest.mark.parametrize("m, n", [(5, 3), (6, 2), (7, 7), (4, 1)])
@pytest.mark.parametrize("mode", ["full", "valid", "same"])
def test_convolve_against_a_direct_sum(m, n, mode):
    torch.manual_seed(m * 10 + n)
    signal, kernel = torch.randn(m, dtype=torch.float64), torch.randn(n, dtype=torch.float64)
    full = _direct_convolution(signal, kernel)
    start, stop = {"full": (0, m + n - 1), "valid": (n - 1, m), "same": ((n - 1) // 2, (n - 1) // 2 + m)}[mode]
    torch.testing.assert_close(tu.convolve(signal, kernel, mode), full[start:stop])


def test_convolve_broadcasts_leading_dims_and_checks_its_mode():
    out = tu.convolve(torch.ones(2, 1, 5), torch.ones(3, 3))
    assert out.shape == (2, 3, 7)
    with pytest.raises(ValueError, match="mode must be 'full', 'valid' or 'same', got 'wide'"):
        tu.convolve(torch.ones(5), torch.ones(2), "wide")
    with pytest.raises(ValueError, match="kernel no longer than the signal"):
        tu.convolve(torch.ones(2), torch.ones(3), "valid")


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_dct_is_the_orthonormal_dct_ii(n):
    x = torch.randn(3, n, dtype=torch.float64)
    j = torch.arange(n, dtype=torch.float64)
    basis = torch.stack([torch.cos(math.pi * k * (2 * j + 1) / (2 * n)) for k in range(n)])
    basis[0] *= math.sqrt(1 / n)
    basis[1:] *= math.sqrt(2 / n)
    torch.testing.assert_close(tu.dct(x), x @ basis.T)
    torch.testing.assert_close(tu.idct(tu.dct(x)), x)
    torch.testing.assert_close(tu.dct(x.T, dim=0), (x @ basis.T).T)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 11])
def test_haar_transform_is_orthonormal_and_inverted(n):
    x = torch.randn(4, n, dtype=torch.float64)
    y = tu.haar_transform(x)
    matrix = tu.haar_transform(torch.eye(n, dtype=torch.float64))
    torch.testing.assert_close(matrix @ matrix.T, torch.eye(n, dtype=torch.float64))
    torch.testing.assert_close(tu.inverse_haar_transform(y), x)
    if n >= 2:  # the first coefficient is the scaled mean of the largest power-of-two prefix
        p = 2 ** int(math.log2(n))
        torch.testing.assert_close(y[:, 0], x[:, :p].sum(-1) / math.sqrt(p))


def test_haar_transform_values_as_pyro():
    # Pyro 1.9.2: haar_transform(arange(5.)) = [3, -2, -0.7071, -0.7071, 4]
    torch.testing.assert_close(tu.haar_transform(torch.arange(5.0)),
                               torch.tensor([3.0, -2.0, -math.sqrt(0.5), -math.sqrt(0.5), 4.0]))


def test_next_fast_len():
    assert [tu.next_fast_len(i) for i in [1, 7, 11, 13, 17, 97]] == [1, 8, 12, 15, 18, 100]


def test_block_diag_embed_and_block_diagonal():
    mat = torch.randn(2, 3, 2, 4)
    big = tu.block_diag_embed(mat)
    expected = torch.stack([torch.block_diag(*m) for m in mat])
    assert torch.equal(big, expected)
    assert torch.equal(tu.block_diagonal(big, 3), mat)
    with pytest.raises(ValueError, match=r"does not split into 4 x 4 blocks"):
        tu.block_diagonal(big, 4)


def test_repeated_matmul_stacks_the_powers():
    M = torch.randn(3, 2, 2, dtype=torch.float64) / 2
    powers = tu.repeated_matmul(M, 5)
    assert powers.shape == (5, 3, 2, 2)
    for k in range(5):
        torch.testing.assert_close(powers[k], torch.linalg.matrix_power(M, k + 1))


def test_broadcast_tensors_without_dim():
    a, b = tu.broadcast_tensors_without_dim([torch.randn(3, 1, 5), torch.randn(2, 7)], -1)
    assert a.shape == (3, 2, 5) and b.shape == (3, 2, 7)
    a2, b2 = tu.broadcast_tensors_without_dim([torch.randn(3, 1, 5), torch.randn(4, 5)], -2)
    assert a2.shape == (3, 1, 5) and b2.shape == (3, 4, 5)


def test_periodic_repeat_and_cumsum():
    x = torch.randn(3, 2)
    rep = tu.periodic_repeat(x, 7, 0)
    assert all(torch.equal(rep[t], x[t % 3]) for t in range(7))
    y = torch.randn(2, 7)
    out = tu.periodic_cumsum(y, 3, -1)
    for t in range(7):
        torch.testing.assert_close(out[:, t], sum(y[:, s] for s in range(t % 3, t + 1, 3)))
    torch.testing.assert_close(tu.periodic_cumsum(y.T, 3, 0), out.T)


def test_periodic_features_are_the_seasonal_harmonics():
    feats = tu.periodic_features(5, 6, 2)  # K = 3: harmonics k = 1, 2 of the period 6
    assert feats.shape == (5, 4)
    for t, k in itertools.product(range(5), range(1, 3)):
        angle = 2 * math.pi * k * t / 6
        assert feats[t, k - 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
        assert feats[t, k + 1].item() == pytest.approx(-math.sin(angle), abs=1e-6)
    assert tu.periodic_features(6, 4).shape == (6, 2)
    assert tu.periodic_features(8, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match="min_period <= max_period"):
        tu.periodic_features(8, 4, 5)


def test_safe_normalize_and_as_complex():
    torch.testing.assert_close(tu.safe_normalize(torch.tensor([3.0, 4.0])), torch.tensor([0.6, 0.8]))
    torch.testing.assert_close(tu.safe_normalize(torch.tensor([3.0, 4.0]), p=1), torch.tensor([3 / 7, 4 / 7]))
    assert torch.equal(tu.safe_normalize(torch.zeros(2, 3)), torch.tensor([[1.0, 0, 0], [1.0, 0, 0]]))
    strided = torch.arange(6.0).reshape(3, 2).t().contiguous().t()
    assert torch.equal(tu.as_complex(strided), torch.tensor([0 + 1j, 2 + 3j, 4 + 5j]))
    assert tu.rfft is torch.fft.rfft and tu.irfft is torch.fft.irfft
