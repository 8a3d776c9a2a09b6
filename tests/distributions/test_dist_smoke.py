import math

import torch

import pyro
import pyro.distributions as dist


def test_normal_log_prob_in_plate_trace():
    data = torch.tensor([0.5, -1.0, 2.0])

    def model():
        with pyro.plate("data", 3):
            pyro.sample("x", dist.Normal(0.0, 2.0), obs=data)

    tr = pyro.poutine.trace(model).get_trace()
    expected = (-0.5 * (data / 2.0) ** 2 - math.log(2.0) - 0.5 * math.log(2 * math.pi)).sum()
    assert torch.allclose(tr.log_prob_sum(), expected)
    assert tr.nodes["x"]["fn"].batch_shape == (3,)
