"""pyro.ops.arrowhead against the same operations on dense matrices."""

import pytest
import torch

from pyro.ops.arrowhead import SymmArrowhead, TriuArrowhead, sqrt, triu_gram, triu_inverse, triu_matvecmul


def _dense(x, n):
    h = x.top.size(0)
    m = torch.zeros(n, n, dtype=x.top.dtype)
    m[:h] = x.top
    m[range(h, n), range(h, n)] = x.bottom_diag
    return m


def _random_arrowhead(n, h, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    a = a @ a.T + n * torch.eye(n, dtype=torch.float64)
    return SymmArrowhead(a[:h], a.diagonal()[h:].clone())


@pytest.mark.parametrize("n, h", [(5, 2), (4, 0), (3, 3), (6, 1)])
def test_sqrt_inverse_products_and_gram_agree_with_dense_maths(n, h):
    x = _random_arrowhead(n, h, seed=n * 10 + h)
    dense = _dense(x, n)
    dense[h:, :h] = x.top[:, h:].T  # the symmetric part below the head
    u = sqrt(x)
    assert isinstance(u, TriuArrowhead)
    ud = _dense(u, n)
    torch.testing.assert_close(ud, ud.triu())
    torch.testing.assert_close(ud @ ud.T, dense)
    ui = _dense(triu_inverse(u), n)
    torch.testing.assert_close(ui @ ud, torch.eye(n, dtype=torch.float64))
    y = torch.randn(n, dtype=torch.float64)
    torch.testing.assert_close(triu_matvecmul(u, y), ud @ y)
    torch.testing.assert_close(triu_matvecmul(u, y, transpose=True), ud.T @ y)
    torch.testing.assert_close(triu_gram(u), ud.T @ ud)
    # the inverse of the symmetric arrowhead, as ArrowheadMassMatrix computes it
    torch.testing.assert_close(triu_gram(triu_inverse(u)), torch.linalg.inv(dense))
