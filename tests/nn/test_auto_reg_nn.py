import contextlib

import pytest
import torch
from torch.autograd.functional import jacobian

import pyro.nn
from pyro.nn import AutoRegressiveNN, ConditionalAutoRegressiveNN, ConditionalDenseNN, DenseNN, MaskedLinear


def _position(permutation):
    pos = torch.empty_like(permutation)
    pos[permutation] = torch.arange(len(permutation))
    return pos


@pytest.mark.parametrize("input_dim", [1, 2, 5])
@pytest.mark.parametrize("hidden_dims", [[10], [12, 7]])
@pytest.mark.parametrize("skip_connections", [False, True])
def test_autoregressive_jacobian(input_dim, hidden_dims, skip_connections):
    torch.manual_seed(1)
    # a one-variable network warns, as Pyro's does
    with pytest.warns(UserWarning, match="input_dim = 1") if input_dim == 1 else contextlib.nullcontext():
        arn = AutoRegressiveNN(input_dim, hidden_dims, param_dims=[1, 1],
                               skip_connections=skip_connections, nonlinearity=torch.nn.Tanh())
    pos = _position(arn.get_permutation())
    x = torch.randn(input_dim)
    for out in range(2):
        jac = jacobian(lambda v: arn(v)[out], x)
        assert jac.shape == (input_dim, input_dim)
        allowed = pos.unsqueeze(-1) > pos.unsqueeze(0)  # output i may see input j iff j comes first
        assert torch.all(jac[~allowed] == 0)
        if skip_connections:
            # a direct connection makes every allowed entry nonzero (generic weights)
            assert torch.all(jac[allowed] != 0)
    # the first variable in the order depends on nothing
    first = arn.get_permutation()[0]
    assert torch.all(jacobian(lambda v: arn(v)[0], x)[first] == 0)


def test_identity_permutation_gives_strictly_lower_triangular_jacobian():
    torch.manual_seed(0)
    arn = AutoRegressiveNN(4, [16], param_dims=[1], permutation=torch.arange(4), skip_connections=True)
    jac = jacobian(arn, torch.randn(4))
    assert torch.equal(jac.triu(), torch.zeros(4, 4))
    assert torch.all(jac.tril(-1)[torch.tril(torch.ones(4, 4, dtype=torch.bool), -1)] != 0)


def test_output_shapes_for_param_dims():
    x = torch.randn(3, 6, 4)
    assert AutoRegressiveNN(4, [8], param_dims=[1])(x).shape == (3, 6, 4)
    loc, scale = AutoRegressiveNN(4, [8])(x)
    assert loc.shape == scale.shape == (3, 6, 4)
    a, b, c = AutoRegressiveNN(4, [8], param_dims=[1, 2, 3])(x)
    assert a.shape == (3, 6, 4) and b.shape == (3, 6, 2, 4) and c.shape == (3, 6, 3, 4)
    assert AutoRegressiveNN(4, [8], param_dims=[3])(x).shape == (3, 6, 3, 4)


def test_conditional_arn_sees_all_context():
    torch.manual_seed(2)
    arn = ConditionalAutoRegressiveNN(3, 2, [20], param_dims=[1], nonlinearity=torch.nn.Tanh())
    x, ctx = torch.randn(3), torch.randn(2)
    jac_ctx = jacobian(lambda c: arn(x, c), ctx)
    assert jac_ctx.shape == (3, 2)
    assert torch.all(jac_ctx != 0)
    pos = _position(arn.get_permutation())
    jac_x = jacobian(lambda v: arn(v, ctx), x)
    assert torch.all(jac_x[~(pos.unsqueeze(-1) > pos.unsqueeze(0))] == 0)
    with pytest.raises(ValueError, match="context"):
        arn(x)


def test_pyro_0_1_signature():
    torch.manual_seed(0)
    arn = AutoRegressiveNN(3, 9, output_dim_multiplier=2, permutation=torch.tensor([2, 0, 1]))
    out = arn(torch.randn(5, 3))
    assert out.shape == (5, 2, 3)
    assert torch.equal(arn.get_permutation(), torch.tensor([2, 0, 1]))
    assert arn.get_mask_encoding().tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 2]
    assert AutoRegressiveNN(3, 9)(torch.randn(3)).shape == (3,)


def test_masked_linear_matches_hand_computation():
    torch.manual_seed(0)
    mask = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    layer = MaskedLinear(3, 2, mask)
    x = torch.randn(4, 3)
    expected = x @ (layer.weight * mask).T + layer.bias
    assert torch.allclose(layer(x), expected)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        MaskedLinear(3, 2, torch.ones(3, 2))


def test_dense_nn_splits_outputs():
    torch.manual_seed(0)
    nn = DenseNN(3, [5], param_dims=[1, 2], nonlinearity=torch.nn.Identity())
    x = torch.randn(7, 3)
    a, b = nn(x)
    assert a.shape == (7, 1) and b.shape == (7, 2)
    full = nn.layers[1](nn.layers[0](x))
    assert torch.allclose(torch.cat([a, b], -1), full)
    cnn = ConditionalDenseNN(3, 2, [4], param_dims=[2])
    assert cnn(x, torch.randn(2)).shape == (7, 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="permutation"):
        AutoRegressiveNN(3, [6], permutation=torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match=r"inputs of shape \(4,\), expected \(\.\.\., 3\)"):
        AutoRegressiveNN(3, [6])(torch.randn(4))
    with pytest.raises(ValueError, match="param_dims"):
        DenseNN(3, [6], param_dims=[0])


def test_registered_through_plugin():
    from pyro.plugins import get_registry

    registry = get_registry("nn")
    for name in ["AutoRegressiveNN", "ConditionalAutoRegressiveNN", "DenseNN", "ConditionalDenseNN", "MaskedLinear"]:
        assert registry.get(name) is getattr(pyro.nn, name)
        assert registry.owner(name) == "pyro-nn"
