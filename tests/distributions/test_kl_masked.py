"""KL divergences between masked distributions, as Pyro 1.9 gives them."""

import torch

import pyro.distributions as dist


def test_kl_of_masked_out_distributions_is_the_number_zero():
    p = dist.Normal(torch.zeros(3), 1.0)
    q = dist.Normal(torch.ones(3), 2.0)
    for mp, mq in [(False, False), (False, True), (True, False)]:
        kl = dist.kl_divergence(p.mask(mp), q.mask(mq))
        assert type(kl) is float and kl == 0.0
    assert dist.kl_divergence(p.mask(False).to_event(1), q.mask(False).to_event(1)) == 0.0
    partial = dist.kl_divergence(p.mask(torch.tensor([True, False, True])), q.mask(True))
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(0.0, 1.0),
                                                 torch.distributions.Normal(1.0, 2.0))
    torch.testing.assert_close(partial, torch.stack([expected, torch.tensor(0.0), expected]))
