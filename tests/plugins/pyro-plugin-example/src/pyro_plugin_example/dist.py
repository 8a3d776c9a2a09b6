"""``ExampleDist``: a shifted exponential, written against torch's Distribution interface only."""

import torch
from torch.distributions import constraints


class ExampleDist(torch.distributions.Distribution):
    """The exponential distribution with rate ``rate`` shifted right by ``shift``.

    Density ``rate * exp(-rate * (x - shift))`` for ``x >= shift``.
    """

    arg_constraints = {"shift": constraints.real, "rate": constraints.positive}
    has_rsample = True

    def __init__(self, shift, rate, validate_args=None):
        self.shift, self.rate = torch.broadcast_tensors(torch.as_tensor(shift, dtype=torch.get_default_dtype()),
                                                        torch.as_tensor(rate, dtype=torch.get_default_dtype()))
        super().__init__(self.shift.shape, validate_args=validate_args)

    @constraints.dependent_property
    def support(self):
        return constraints.greater_than_eq(self.shift)

    def expand(self, batch_shape, _instance=None):
        batch_shape = torch.Size(batch_shape)
        return ExampleDist(self.shift.expand(batch_shape), self.rate.expand(batch_shape))

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        u = torch.rand(shape, dtype=self.rate.dtype, device=self.rate.device)
        return self.shift - torch.log1p(-u) / self.rate

    def log_prob(self, value):
        lp = self.rate.log() - self.rate * (value - self.shift)
        return torch.where(value >= self.shift, lp, torch.full_like(lp, -float("inf")))

    @property
    def mean(self):
        return self.shift + 1 / self.rate
