"""Bad inputs to pyro.ops.tensor_utils answer at the call, naming the function, the argument
and what was given (each error is also the AssertionError Pyro's asserts raise)."""

import warnings

import pytest
import torch

from pyro.ops import tensor_utils as tu

CASES = {
    "next_fast_len float": (lambda: tu.next_fast_len(2.5), TypeError,
                            r"^next_fast_len: size must be an int >= 1, got float 2\.5$"),
    "next_fast_len zero": (lambda: tu.next_fast_len(0), ValueError,
                           r"^next_fast_len: size must be an int >= 1, got 0$"),
    "repeated_matmul n": (lambda: tu.repeated_matmul(torch.eye(2), 2.5), TypeError,
                          r"^argument n to repeated_matmul must be 1 or larger: got float 2\.5, "
                          r"expected an int$"),
    "repeated_matmul zero": (lambda: tu.repeated_matmul(torch.eye(2), 0), ValueError,
                             r"^argument n to repeated_matmul must be 1 or larger: got n=0$"),
    "repeated_matmul not square": (lambda: tu.repeated_matmul(torch.zeros(2, 3), 2), ValueError,
                                   r"^Input tensors must satisfy M\.size\(-1\) == M\.size\(-2\): "
                                   r"repeated_matmul got M of shape \(2, 3\)$"),
    "block_diag_embed dims": (lambda: tu.block_diag_embed(torch.zeros(3)), ValueError,
                              r"^Input to block_diag\(\) must be of dimension 3 or higher: "
                              r"block_diag_embed got mat of shape \(3,\)"),
    "block_diagonal size": (lambda: tu.block_diagonal(torch.zeros(4, 4), 0), ValueError,
                            r"^block_diagonal: block_size must be an int >= 1, got 0$"),
    "periodic_cumsum period": (lambda: tu.periodic_cumsum(torch.zeros(6), 0, -1), ValueError,
                               r"^periodic_cumsum: period must be an int >= 1, got 0$"),
    "periodic_features duration": (lambda: tu.periodic_features(0), ValueError,
                                   r"^periodic_features: duration must be an int >= 1, got 0$"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_answers_clearly(name):
    call, error, words = CASES[name]
    with pytest.raises(error, match=words) as info:
        call()
    assert isinstance(info.value, AssertionError)


def test_valid_calls_give_the_known_answers_and_warn_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [tu.next_fast_len(n) for n in (1, 7, 11, 13, 17)] == [1, 8, 12, 15, 18]
        M = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
        powers = tu.repeated_matmul(M, 3)
        assert powers[:, 0, 1].tolist() == [1.0, 2.0, 3.0]
        blocks = torch.arange(8.0).reshape(2, 2, 2)
        embedded = tu.block_diag_embed(blocks)
        assert torch.equal(embedded, torch.block_diag(blocks[0], blocks[1]))
        assert torch.equal(tu.block_diagonal(embedded, 2), blocks)
        out = tu.periodic_cumsum(torch.arange(6.0), 2, -1)
        assert out.tolist() == [0.0, 1.0, 2.0, 4.0, 6.0, 9.0]
        assert tu.periodic_features(8).shape == (8, 6)
