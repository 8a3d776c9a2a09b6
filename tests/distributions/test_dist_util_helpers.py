"""pyro.distributions.util's container and indexing helpers, against hand-written torch."""

import collections
import itertools

import pytest
import torch

from pyro.distributions import util


@pytest.mark.parametrize("value_shape, index_shape, dim", [
    ((2, 3), (2, 1), -1),
    ((3,), (2, 1), -1),        # value broadcast along the batch
    ((2, 3), (1, 2), -1),      # index broadcast along the batch
    ((4, 1, 3), (2, 1), -1),
    ((5, 2), (3, 1, 2), 0),    # a non-negative dim counts from value's left
])
def test_gather_broadcasts_everything_but_dim(value_shape, index_shape, dim):
    torch.manual_seed(0)
    value = torch.randn(value_shape)
    index = torch.randint(0, value.shape[dim], index_shape)
    got = util.gather(value, index, dim)
    # by hand, one element at a time: out[..., k, ...] = value[..., index[..., k, ...], ...]
    d = dim if dim < 0 else dim - value.dim()
    n = max(value.dim(), index.dim())
    v = value.reshape((1,) * (n - value.dim()) + value.shape)
    i = index.reshape((1,) * (n - index.dim()) + index.shape)
    out_shape = [max(a, b) for a, b in zip(v.shape, i.shape)]
    out_shape[n + d] = i.shape[n + d]
    expected = torch.empty(out_shape)
    for pos in itertools.product(*map(range, out_shape)):
        ipos = tuple(p if s > 1 else 0 for p, s in zip(pos, i.shape))
        vpos = [p if s > 1 else 0 for p, s in zip(pos, v.shape)]
        vpos[n + d] = int(i[ipos])
        expected[pos] = v[tuple(vpos)]
    assert got.shape == expected.shape
    assert torch.equal(got, expected)


def test_detach_copies_containers_and_cuts_the_graph():
    Pair = collections.namedtuple("Pair", "a b")
    w = torch.ones(2, requires_grad=True)
    layer = torch.nn.Linear(2, 1)
    obj = {"x": (w * 2, [w + 1]), "p": Pair(w, 3), "m": layer, "s": "keep"}
    out = util.detach(obj)
    assert isinstance(out["x"], tuple) and isinstance(out["x"][1], list)
    assert isinstance(out["p"], Pair) and out["p"].b == 3 and out["s"] == "keep"
    assert not out["x"][0].requires_grad and torch.equal(out["x"][0], w * 2)
    assert out["m"] is not layer and not any(p.requires_grad for p in out["m"].parameters())
    assert all(p.requires_grad for p in layer.parameters())  # the original is untouched


def test_deep_to_moves_every_tensor_and_keeps_shared_ones_shared():
    t = torch.ones(2)
    obj = {"a": [t, t], "b": {"c": torch.zeros(1, dtype=torch.int64)}, "n": 1.5}
    out = util.deep_to(obj, torch.float64)
    assert out["a"][0].dtype == torch.float64 and out["b"]["c"].dtype == torch.float64
    assert out["a"][0] is out["a"][1] and out["n"] == 1.5
    assert t.dtype == torch.float32


def test_reexported_names_are_the_originals():
    from torch.distributions.utils import broadcast_all

    import pyro.util

    assert util.broadcast_all is broadcast_all
    assert util.ignore_jit_warnings is pyro.util.ignore_jit_warnings
    assert util.log_sum_exp is util.logsumexp is torch.logsumexp
    assert util.torch_jit_script_if_tracing is torch.jit.script_if_tracing
