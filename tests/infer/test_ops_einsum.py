"""pyro.ops.einsum (opt_einsum paths, Pyro's backends, the adjoint passes) and pyro.ops.contract
(plated einsum, tensor trees), against brute-force enumeration written out in torch."""

import itertools
from collections import OrderedDict

import pytest
import scipy.stats
import torch

from pyro.ops.contract import contract_tensor_tree, contract_to_tensor, einsum, ubersum
from pyro.ops.einsum import contract
from pyro.ops.einsum.adjoint import require_backward

LOG = "pyro.ops.einsum.torch_log"
MARGINAL = "pyro.ops.einsum.torch_marginal"
MAP = "pyro.ops.einsum.torch_map"
SAMPLE = "pyro.ops.einsum.torch_sample"


def _rand(*shape, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g, dtype=torch.float64)


def _log_brute(equation, *operands):
    """log(einsum(exp)) by materialising the full joint and a logsumexp."""
    inputs, output = equation.split("->")
    inputs = inputs.split(",")
    dims = "".join(dict.fromkeys("".join(inputs)))
    sizes = {c: s for spec, x in zip(inputs, operands) for c, s in zip(spec, x.shape)}
    total = torch.zeros([sizes[c] for c in dims], dtype=torch.float64)
    for spec, x in zip(inputs, operands):
        total = total + torch.einsum(f"{spec}->{''.join(sorted(spec, key=dims.index))}", x).reshape(
            [sizes[c] if c in spec else 1 for c in dims])
    lost = [i for i, c in enumerate(dims) if c not in output]
    result = torch.logsumexp(total, lost) if lost else total
    kept = "".join(c for c in dims if c in output)
    return torch.einsum(f"{kept}->{output}", result)


EQUATIONS = ["ab,bc->ac", "ab,bc,cd->", "ab,bc,cd->ad", "a,ab,b->b", "abc,cd,da->bd", "ab->ba"]


@pytest.mark.parametrize("equation", EQUATIONS)
def test_contract_torch_and_log_backends(equation):
    inputs = equation.split("->")[0].split(",")
    sizes = {c: 2 + i for i, c in enumerate("abcd")}
    ops = [_rand(*[sizes[c] for c in spec], seed=i) for i, spec in enumerate(inputs)]
    assert torch.allclose(contract(equation, *ops), torch.einsum(equation, *ops))
    big = [50.0 * x for x in ops]  # exp would overflow without the max shift
    result = contract(equation, *big, backend=LOG)
    assert torch.isfinite(result).all()
    assert torch.allclose(result, _log_brute(equation, *big))
    assert contract(equation, *ops, backend=LOG, cache_path=False).shape == result.shape


def test_log_backend_gradient_matches_brute_force():
    x = _rand(3, 4, seed=1).requires_grad_()
    y = _rand(4, 5, seed=2).requires_grad_()
    gx, gy = torch.autograd.grad(contract("ab,bc->", x, y, backend=LOG), [x, y])
    ex, ey = torch.autograd.grad(_log_brute("ab,bc->", x, y), [x, y])
    assert torch.allclose(gx, ex) and torch.allclose(gy, ey)


def _chain(seed=0):
    return [_rand(2, 3, seed=seed), _rand(3, 4, seed=seed + 1), _rand(4, 2, seed=seed + 2)]


def _joint(x, y, z):
    return x[:, :, None, None] + y[None, :, :, None] + z[None, None, :, :]  # a b c d


@pytest.mark.parametrize("output", ["", "a"])
def test_marginal_backend_gives_brute_force_marginals(output):
    x, y, z = _chain()
    for t in (x, y, z):
        require_backward(t)
    result = contract(f"ab,bc,cd->{output}", x, y, z, backend=MARGINAL)
    assert torch.allclose(result, _log_brute(f"ab,bc,cd->{output}", x, y, z))
    result._pyro_backward()
    joint = _joint(x, y, z)
    assert torch.allclose(x._pyro_backward_result, joint.logsumexp((2, 3)))
    assert torch.allclose(y._pyro_backward_result, joint.logsumexp((0, 3)))
    assert torch.allclose(z._pyro_backward_result, joint.logsumexp((0, 1)))


def test_map_backend_gives_the_argmax():
    x, y, z = _chain(seed=3)
    x._pyro_dims, y._pyro_dims, z._pyro_dims = "ab", "bc", "cd"
    for t in (x, y, z):
        require_backward(t)
    result = contract("ab,bc,cd->", x, y, z, backend=MAP)
    joint = _joint(x, y, z)
    assert torch.allclose(result, joint.max())
    result._pyro_backward()
    best = list(itertools.product(*map(range, joint.shape)))[int(joint.argmax())]
    a, b, c, d = best
    for t, expected in ((x, {"a": a, "b": b}), (y, {"b": b, "c": c}), (z, {"c": c, "d": d})):
        r = t._pyro_backward_result
        assert r._pyro_dims == " " and r.shape == (2,)
        assert dict(zip(r._pyro_sample_dims, r.tolist())) == expected


def test_map_backend_batches_over_the_output_dims():
    x, y, z = _chain(seed=4)
    x._pyro_dims, y._pyro_dims, z._pyro_dims = "ab", "bc", "cd"
    for t in (x, y, z):
        require_backward(t)
    contract("ab,bc,cd->a", x, y, z, backend=MAP)._pyro_backward()
    joint = _joint(x, y, z)
    r = z._pyro_backward_result
    assert r._pyro_dims == " a" and r._pyro_sample_dims == "cd" and r.shape == (2, 2)
    for a in range(2):
        flat = int(joint[a].argmax())
        assert (r[0, a].item(), r[1, a].item()) == (flat // 2 % 4, flat % 2)


def test_sample_backend_draws_from_the_exact_posterior():
    torch.manual_seed(0)
    n = 4000
    x, y = _rand(2, 3, seed=5), _rand(3, 2, seed=6)
    xs, ys = x.expand(n, 2, 3).clone(), y.expand(n, 3, 2).clone()
    require_backward(xs)
    require_backward(ys)
    result = contract("nab,nbc->n", xs, ys, backend=SAMPLE)
    assert torch.allclose(result, _log_brute("ab,bc->", x, y).expand(n))
    result._pyro_backward()
    rx, ry = xs._pyro_backward_result, ys._pyro_backward_result
    assert rx._pyro_sample_dims == "ab" and ry._pyro_sample_dims == "bc"
    assert (rx[1] == ry[0]).all()  # one joint draw: the shared dim agrees
    index = (rx[0] * 3 + rx[1]) * 2 + ry[1]
    counts = torch.bincount(index, minlength=12).double()
    probs = (x[:, :, None] + y[None]).reshape(-1).softmax(0)
    assert scipy.stats.chisquare(counts.numpy(), (probs * n).numpy()).pvalue > 1e-3


# ----- pyro.ops.contract: plates ---------------------------------------------------------------


def _plated_brute(x, y):
    """log sum_a exp(x_a) prod_i sum_b exp(y_iab), and the joint of (a, b_i) for each i."""
    m = y.logsumexp(-1)  # i a
    log_z = (x + m.sum(0)).logsumexp(0)
    joint = x[None, :, None] + y + (m.sum(0) - m)[:, :, None]  # i a b
    return log_z, joint


def test_plated_einsum_matches_the_plated_sum_product():
    x, y = _rand(2, seed=7), _rand(3, 2, 4, seed=8)
    log_z, joint = _plated_brute(x, y)
    (value,) = einsum("a,iab->", x, y, plates="i", backend=LOG)
    assert torch.allclose(value, log_z)
    (linear,) = einsum("a,iab->", x.exp(), y.exp(), plates="i")
    assert torch.allclose(linear, log_z.exp())
    za, ziab, zi = einsum("a,iab->a,iab,i", x, y, plates="i", backend=LOG, modulo_total=True)
    assert torch.allclose(za, joint.logsumexp(-1)[0])
    for i in range(3):  # up to a constant per result plate slice
        assert torch.allclose(ziab[i] - ziab[i].logsumexp((0, 1)), joint[i] - log_z)
    assert zi.shape == (3,)


def test_plated_einsum_with_two_plates_and_a_shared_variable():
    e, u, v = _rand(2, seed=9), _rand(3, 2, seed=10), _rand(4, 2, seed=11)
    (value,) = einsum("a,ia,ja->", e.exp(), u.exp(), v.exp(), plates="ij", modulo_total=True)
    expected = (e.exp() * u.exp().prod(0) * v.exp().prod(0)).sum()
    assert torch.allclose(value, expected)


def test_plated_einsum_errors_are_pyros():
    x, y = _rand(2, seed=7), _rand(3, 2, 4, seed=8)
    with pytest.raises(ValueError, match="Dimension size mismatch at dim 'b'"):
        einsum("ab,bc->", _rand(2, 3), _rand(2, 3))
    with pytest.raises(NotImplementedError, match="Only the following pyro backends"):
        einsum("a,iab->", x, y, plates="i", backend="foo")
    with pytest.raises(NotImplementedError, match="modulo_total=True"):
        einsum("a,iab->a", x, y, plates="i", backend=LOG)
    with pytest.raises(ValueError, match="nonsensical to preserve a plated dim"):
        einsum("a,iab->b", x, y, plates="i", backend=LOG, modulo_total=True)
    with pytest.warns(DeprecationWarning, match="'ubersum' is deprecated"):
        (value,) = ubersum("a,iab->", x, y, plates="i", backend=LOG)
    assert torch.allclose(value, _plated_brute(x, y)[0])


def test_plated_marginal_and_map_backward():
    x, y = _rand(2, seed=12), _rand(3, 2, 2, seed=13)
    log_z, joint = _plated_brute(x, y)
    xm, ym = x.clone(), y.clone()
    require_backward(xm)
    require_backward(ym)
    (value,) = einsum("a,iab->", xm, ym, plates="i", backend=MARGINAL)
    value._pyro_backward()
    assert torch.allclose(xm._pyro_backward_result, joint.logsumexp(-1)[0])
    assert torch.allclose(ym._pyro_backward_result, joint)
    # MAP over a and b_0, b_1, b_2 by brute force
    best, best_value = None, -float("inf")
    for a, *bs in itertools.product(range(2), *[range(2)] * 3):
        v = x[a] + sum(y[i, a, b] for i, b in enumerate(bs))
        if v > best_value:
            best, best_value = (a, bs), v
    xp, yp = x.clone(), y.clone()
    require_backward(xp)
    require_backward(yp)
    (value,) = einsum("a,iab->", xp, yp, plates="i", backend=MAP)
    assert torch.allclose(value, best_value)
    value._pyro_backward()
    assert xp._pyro_backward_result.tolist() == [best[0]]
    r = yp._pyro_backward_result
    assert r._pyro_sample_dims == "ab" and r._pyro_dims == " i"
    assert r[0].tolist() == [best[0]] * 3 and r[1].tolist() == best[1]


def _tree():
    x, y, z = _rand(2, seed=14), _rand(3, 2, 3, seed=15), _rand(3, 4, 3, 2, seed=16)
    x._pyro_dims, y._pyro_dims, z._pyro_dims = "a", "iab", "ijbc"
    return x, y, z, OrderedDict([(frozenset(), [x]), (frozenset("i"), [y]), (frozenset("ij"), [z])])


def _tree_brute(x, y, z):
    inner = z.logsumexp(-1).sum(1)  # i b: prod_j sum_c
    per_i = (y + inner[:, None, :]).logsumexp(-1)  # i a
    return x + per_i.sum(0)  # a


def test_contract_to_tensor_matches_brute_force_on_a_plate_tree():
    x, y, z, tree = _tree()
    by_a = _tree_brute(x, y, z)
    total = contract_to_tensor(tree, {"a", "b", "c"})
    assert total._pyro_dims == "" and torch.allclose(total, by_a.logsumexp(0))
    kept = contract_to_tensor(tree, {"a", "b", "c"}, target_dims={"a"})
    assert kept._pyro_dims == "a" and torch.allclose(kept, by_a)
    contracted = contract_tensor_tree(tree, {"b", "c"})
    parts = [t for ts in contracted.values() for t in ts]
    combined = sum(t.sum(list(range(1, t.dim()))) if t._pyro_dims.startswith("a") and t.dim() > 1
                   else t for t in parts)
    assert torch.allclose(combined, by_a)


def test_log_einsum_does_not_materialise_expanded_dims():
    x = _rand(3, 1, seed=17).expand(3, 5)  # constant along b
    y = _rand(5, 4, seed=18)
    z = _rand(3, seed=19)[:, None].expand(3, 6)  # c: held by nothing else, summed
    for equation, ops in [("ab,bc->ac", (x, y)), ("ab,ac->a", (x, z)), ("ab,ac->ac", (x, z))]:
        expected = _log_brute(equation, *[o.contiguous() for o in ops])
        assert torch.allclose(contract(equation, *ops, backend=LOG), expected)
    leaf = _rand(3, 1, seed=20).requires_grad_()
    (g,) = torch.autograd.grad(contract("ab,bc->", leaf.expand(3, 5), y, backend=LOG), [leaf])
    (e,) = torch.autograd.grad(_log_brute("ab,bc->", leaf.expand(3, 5).contiguous(), y), [leaf])
    assert torch.allclose(g, e)


def _parents_model(K, n, locs):
    import pyro
    import pyro.distributions as dist

    g = torch.Generator().manual_seed(0)
    data = torch.randn(3, n, generator=g, dtype=torch.float64)
    T = torch.rand(K, K, generator=g, dtype=torch.float64).softmax(-1)
    U = torch.rand(K, K, K, generator=g, dtype=torch.float64).softmax(-1)

    def model():
        with pyro.plate("data", n):
            x1 = pyro.sample("x1", dist.Categorical(torch.ones(K, dtype=torch.float64) / K),
                             infer={"enumerate": "parallel"})
            x2 = pyro.sample("x2", dist.Categorical(T[x1]), infer={"enumerate": "parallel"})
            x3 = pyro.sample("x3", dist.Categorical(U[x1, x2]), infer={"enumerate": "parallel"})
            for i, x in enumerate((x1, x2, x3)):
                pyro.sample(f"y{i}", dist.Normal(locs[x], 1.0), obs=data[i])

    def brute():
        emit = torch.distributions.Normal(locs, 1.0).log_prob(data[..., None])  # 3 n K
        joint = (torch.full((K,), -torch.log(torch.tensor(float(K))), dtype=torch.float64)[:, None, None]
                 + T.log()[:, :, None] + U.log())  # x1 x2 x3
        total = joint + emit[0][:, :, None, None] + emit[1][:, None, :, None] + emit[2][:, None, None, :]
        return total.reshape(n, -1).logsumexp(-1).sum()

    return model, brute


@pytest.mark.parametrize("fast_path_numel", [None, 0])
def test_enumeration_through_the_einsum_path_matches_brute_force(fast_path_numel, monkeypatch):
    import pyro.infer.enum.contract as enum_contract
    from pyro.infer import TraceEnum_ELBO

    if fast_path_numel is not None:
        monkeypatch.setattr(enum_contract, "FAST_PATH_NUMEL", fast_path_numel)
    locs = torch.linspace(-2, 2, 8, dtype=torch.float64).requires_grad_()
    model, brute = _parents_model(8, 100, locs)  # a step's product: 100 * 8**3 > FAST_PATH_NUMEL
    loss = TraceEnum_ELBO(max_plate_nesting=1).differentiable_loss(model, lambda: None)
    expected = -brute()
    assert torch.allclose(loss, expected)
    (g,) = torch.autograd.grad(loss, [locs])
    (e,) = torch.autograd.grad(expected, [locs])
    assert torch.allclose(g, e)
