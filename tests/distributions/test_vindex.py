"""``pyro.ops.indexing``: ``vindex``/``Vindex`` against explicit loops, ``index``/``Index``."""

import itertools

import pytest
import torch

from pyro.ops.indexing import Index, Vindex, index, vindex


def loop_vindex(x, event_args):
    """``Vindex(x)[(...,) + event_args]`` the slow way: one element at a time.

    ``event_args`` holds ints, slices and integer tensors and indexes the rightmost
    ``len(event_args)`` dims of ``x``; the other dims of ``x`` are batch dims.
    """
    split = x.dim() - len(event_args)
    tensors = [a for a in event_args if isinstance(a, torch.Tensor)]
    batch = torch.broadcast_shapes(x.shape[:split], *(t.shape for t in tensors))
    kept = [range(*a.indices(x.shape[split + k])) for k, a in enumerate(event_args)
            if isinstance(a, slice)]
    out = torch.empty(tuple(batch) + tuple(len(r) for r in kept), dtype=x.dtype)
    for b in itertools.product(*(range(n) for n in batch)):
        # the element of x's batch dims (size-1 dims broadcast) and of each index tensor at b
        xb = tuple(b[len(batch) - split + d] if x.shape[d] > 1 else 0 for d in range(split))
        picked = []
        for a in event_args:
            if isinstance(a, torch.Tensor):
                at = b[len(batch) - a.dim():]
                picked.append(int(a[tuple(i if n > 1 else 0 for i, n in zip(at, a.shape))]))
            else:
                picked.append(a)
        for s in itertools.product(*(range(len(r)) for r in kept)):
            # s: position in the result's slice dims; r[k]: the element of x it stands for
            chosen = iter(r[k] for r, k in zip(kept, s))
            pos = tuple(next(chosen) if isinstance(a, slice) else a for a in picked)
            out[b + s] = x[xb + pos]
    return out


def idx(*shape, high):
    return torch.randint(0, high, shape)


CASES = [
    # (x shape, event args builder)
    ((4, 5), lambda: (idx(3, high=4), slice(None))),
    ((4, 5), lambda: (idx(3, 1, high=4), idx(2, high=5))),
    ((2, 4, 5), lambda: (idx(2, high=4), idx(2, high=5))),              # index dims = batch dim
    ((2, 4, 5), lambda: (idx(3, 1, high=4), slice(None))),              # new dim left of batch
    ((1, 4, 5), lambda: (idx(3, high=4), idx(3, high=5))),              # size-1 batch dim stretches
    ((3, 1, 4, 5, 6), lambda: (idx(2, 1, 1, high=4), slice(None), idx(7, high=6))),
    ((3, 4, 5, 6), lambda: (2, idx(1, 3, high=5), slice(None))),        # int drops its dim
    ((3, 4, 5, 6), lambda: (slice(None), idx(3, high=5), -1)),          # negative int
    ((3, 4, 5), lambda: (torch.tensor(2), idx(3, high=5))),             # 0-dim tensor is an int
    ((3, 4, 5), lambda: (-idx(3, 1, high=4) - 1, slice(None))),         # negative index tensors
    ((3, 4, 5, 6), lambda: (slice(1, None), idx(3, high=5), slice(None, None, 2))),  # slices
    ((2, 3, 4), lambda: (idx(5, 1, 1, 1, high=4),)),                    # more index dims than batch
    ((6,), lambda: (idx(2, 3, high=6),)),                                # no batch dims at all
]


@pytest.mark.parametrize("shape, make_args", CASES)
def test_vindex_matches_a_loop_over_every_element(shape, make_args):
    x = torch.randn(shape)
    event_args = make_args()
    expected = loop_vindex(x, event_args)
    actual = Vindex(x)[(Ellipsis,) + event_args]
    assert actual.shape == expected.shape
    assert torch.equal(actual, expected)  # a selection: no arithmetic, so exact
    assert torch.equal(vindex(x, (Ellipsis,) + event_args), expected)


def test_vindex_documented_shape_example():
    x = torch.randn(2, 3, 4, 5)
    i, j = idx(7, 1, 1, high=3), idx(2, 1, high=5)
    assert Vindex(x)[..., i, :, j].shape == (7, 2, 2, 4)


def test_vindex_without_ellipsis_indexes_leftmost_dims_and_keeps_the_rest():
    x = torch.randn(4, 5, 6)
    i, j = idx(3, 1, high=4), idx(2, high=6)
    # x has no batch dims here: the dims not named are kept whole, as with ':'
    assert torch.equal(Vindex(x)[i, :, j], loop_vindex(x, (i, slice(None), j)))
    assert torch.equal(Vindex(x)[i], loop_vindex(x, (i, slice(None), slice(None))))
    assert Vindex(x)[i, 2].shape == (3, 1, 6)


def test_vindex_selects_rows_of_a_transition_matrix_per_enumerated_state():
    # the HMM idiom: probs[..., z_prev, :] with z_prev enumerated in a dim left of a plate
    probs = torch.rand(3, 3).softmax(-1)
    z_prev = torch.arange(3).reshape(3, 1)
    rows = Vindex(probs)[..., z_prev, :]
    assert rows.shape == (3, 1, 3)
    for k in range(3):
        assert torch.equal(rows[k, 0], probs[k])


def test_vindex_without_tensor_indices_is_plain_indexing():
    x = torch.randn(2, 3, 4)
    for args in [(Ellipsis, 1), (Ellipsis, 0, slice(1, 3)), (0, 1), (Ellipsis,), (),
                 (Ellipsis, torch.tensor(1), slice(None)), (None, 0)]:
        assert torch.equal(vindex(x, args), x[args])
    assert torch.equal(Vindex(x)[1], x[1])


def test_vindex_gradient_accumulates_over_repeated_indices():
    x = torch.randn(2, 1, 4, 3, requires_grad=True)
    i = torch.tensor([[0, 0, 3], [1, 0, 0]])  # shape (2, 3): broadcasts with x's batch (2, 1)
    j = torch.tensor([2, 2, 1])
    weights = torch.randn(2, 3)
    (Vindex(x)[..., i, j] * weights).sum().backward()
    expected = torch.zeros(2, 1, 4, 3)
    for b in range(2):
        for k in range(3):
            expected[b, 0, i[b, k], j[k]] += weights[b, k]
    assert torch.allclose(x.grad, expected)


def test_vindex_gradient_against_finite_differences():
    x = torch.randn(2, 3, 4, dtype=torch.double, requires_grad=True)
    i = idx(5, 1, high=3)
    assert torch.autograd.gradcheck(lambda t: Vindex(t)[..., i, :].sin(), (x,))


def test_vindex_keeps_dtype_and_device_of_the_tensor():
    x = torch.arange(24, dtype=torch.int32).reshape(2, 3, 4)
    out = Vindex(x)[..., idx(2, high=3), idx(2, high=4)]
    assert out.dtype == torch.int32 and out.device == x.device
    assert Vindex(torch.randn(3, 4))[..., torch.tensor([0, 2], dtype=torch.int32), :].shape == (2, 4)


def test_vindex_bad_indices_raise_clear_errors():
    x = torch.randn(2, 3, 4)
    i = torch.tensor([0, 1])
    with pytest.raises(NotImplementedError, match="Ellipsis"):
        Vindex(x)[0, ..., i]
    with pytest.raises(NotImplementedError, match="Ellipsis"):
        Vindex(x)[i, ...]
    with pytest.raises(IndexError, match=r"4 indices for a tensor of 3 dims"):
        Vindex(x)[..., i, 0, 0, 0]
    with pytest.raises(IndexError, match=r"do not broadcast.*batch shape \(2,\)"):
        Vindex(x)[..., torch.tensor([0, 1, 2]), :]
    with pytest.raises(IndexError, match="boolean masks"):
        Vindex(x)[..., torch.tensor([True, False, True, False])]
    with pytest.raises(IndexError, match="integers"):
        Vindex(x)[..., torch.tensor([0.0, 1.0, 2.0])]
    with pytest.raises(IndexError, match="unsupported index None"):
        Vindex(x)[..., None, i]
    with pytest.raises(IndexError, match="out of bounds"):
        Vindex(x)[..., torch.tensor([0, 7, 1])]


def test_index_flattens_nested_tuples_and_merges_ellipsis():
    x = torch.randn(2, 3, 4)
    assert torch.equal(index(x, (Ellipsis, (Ellipsis, None))), x.unsqueeze(-1))
    assert torch.equal(index(x, (0, (Ellipsis, (1, None)))), x[0, ..., 1, None])
    assert torch.equal(index(x, (slice(None), (0, 1))), x[:, 0, 1])
    assert torch.equal(index(x, 1), x[1])
    for t in [1, slice(None), (Ellipsis, None)]:
        assert torch.equal(Index(x)[..., t], index(x, (Ellipsis, t)))
    assert Index(x)[..., (Ellipsis, None)].shape == (2, 3, 4, 1)


@pytest.mark.cuda
def test_vindex_on_cuda_with_cuda_and_cpu_indices():
    x = torch.randn(2, 4, 5, device="cuda")
    i = idx(3, 1, 1, high=4)
    expected = loop_vindex(x.cpu(), (i, slice(None)))
    for index_tensor in (i, i.cuda()):
        out = Vindex(x)[..., index_tensor, :]
        assert out.device == x.device
        assert torch.equal(out.cpu(), expected)
