"""Bad sizes given to pyro-nn's networks fail when the network is built, naming the argument."""

import pytest
import torch

from pyro.nn import AutoRegressiveNN, ConditionalAutoRegressiveNN, ConditionalDenseNN, DenseNN


@pytest.mark.parametrize("make", [
    lambda: AutoRegressiveNN(5, [3]),
    lambda: AutoRegressiveNN(5, [10, 4]),
    lambda: ConditionalAutoRegressiveNN(5, 2, [4]),
])
def test_hidden_dims_smaller_than_input_dim_is_pyros_value_error(make):
    with pytest.raises(ValueError, match=r"^Hidden dimension must not be less than input dimension\. "
                                         r"\(AutoRegressiveNN: hidden_dims=\[.*\], input_dim=5\)"):
        make()


@pytest.mark.parametrize("make, error, words", [
    (lambda: DenseNN(-2, [3]), ValueError, r"^DenseNN: input_dim must be non-negative, got -2"),
    (lambda: DenseNN(2, [-3]), ValueError, r"^DenseNN: hidden_dims must be positive, got \[-3\]"),
    (lambda: DenseNN(2, [0]), ValueError, r"^DenseNN: hidden_dims must be positive, got \[0\]"),
    (lambda: DenseNN(2, [3], param_dims=[-1]), ValueError, r"^DenseNN: param_dims must be positive, got \[-1\]"),
    (lambda: ConditionalDenseNN(2, -1, [3]), ValueError, r"^DenseNN: context_dim must be non-negative, got -1"),
    (lambda: DenseNN(2.0, [3]), TypeError, r"^DenseNN: input_dim must be an int, got float 2\.0"),
    (lambda: DenseNN(2, "8"), TypeError, r"^DenseNN: hidden_dims must be a list of ints, got '8'"),
    (lambda: DenseNN(2, [3], param_dims=[1.5]), TypeError, r"^DenseNN: param_dims must be a list of ints"),
    (lambda: AutoRegressiveNN(3, [-10]), ValueError, r"^AutoRegressiveNN: hidden_dims must be positive, got \[-10\]"),
])
def test_bad_network_sizes(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_valid_networks_keep_their_shapes_and_autoregressive_structure():
    torch.manual_seed(0)
    net = AutoRegressiveNN(3, [3], param_dims=[1], permutation=torch.tensor([2, 0, 1]))
    x = torch.randn(3, requires_grad=True)
    jac = torch.autograd.functional.jacobian(net, x)
    assert jac.shape == (3, 3)
    # output i depends only on inputs earlier in the order 2, 0, 1
    order = [2, 0, 1]
    for out_pos, i in enumerate(order):
        for j in order[out_pos:]:
            assert jac[i, j].abs().item() == 0.0
    dense = DenseNN(2, [4, 4], param_dims=[1, 3])
    a, b = dense(torch.randn(5, 2))
    assert a.shape == (5, 1) and b.shape == (5, 3)


@pytest.mark.parametrize("call, error, words", [
    (lambda: AutoRegressiveNN(3, [6])(torch.tensor(1.0)), ValueError,
     r"^AutoRegressiveNN: inputs of shape \(\), expected \(\.\.\., 3\)"),
    (lambda: AutoRegressiveNN(3, [6])(torch.randn(2, 4)), ValueError,
     r"^AutoRegressiveNN: inputs of shape \(2, 4\), expected \(\.\.\., 3\)"),
    (lambda: AutoRegressiveNN(3, [6])([1.0, 2.0, 3.0]), TypeError,
     r"^AutoRegressiveNN: inputs must be a tensor, got list"),
    (lambda: ConditionalAutoRegressiveNN(3, 2, [6])(torch.randn(3), context=torch.randn(5)), ValueError,
     r"^ConditionalAutoRegressiveNN: context of shape \(5,\), expected \(\.\.\., 2\)"),
    (lambda: ConditionalAutoRegressiveNN(3, 2, [6])(torch.randn(3), context=[1.0, 2.0]), TypeError,
     r"^ConditionalAutoRegressiveNN: context must be a tensor, got list"),
])
def test_autoregressive_network_inputs_are_checked_when_called(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_iterated_needs_a_function():
    import pyro.distributions.transforms as T

    with pytest.raises(TypeError, match=r"^iterated: base_fn must be a function returning a transform, got int 42"):
        T.iterated(2, 42, 3)
    flow = T.iterated(2, T.planar, 3)
    assert len(flow.parts) == 2
