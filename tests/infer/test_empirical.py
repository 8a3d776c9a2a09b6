"""EmpiricalMarginal statistics over hand-made weighted traces."""

import pytest
import torch

import pyro
from pyro import poutine
from pyro.infer import EmpiricalMarginal, TracePosterior

D = torch.distributions


class FixedPosterior(TracePosterior):
    """Traces of a model with given values at "x" and given log weights."""

    def __init__(self, values, log_weights):
        super().__init__()
        self.values = values
        self.lw = log_weights

    def _traces(self):
        for v, lw in zip(self.values, self.lw):
            tr = poutine.trace(poutine.condition(lambda: pyro.sample("x", D.Normal(0.0, 1.0)),
                                                 {"x": v})).get_trace()
            yield tr, torch.tensor(lw)


def test_weighted_mean_variance_log_prob():
    values = [torch.tensor(1.0), torch.tensor(2.0), torch.tensor(2.0), torch.tensor(5.0)]
    w = torch.tensor([0.1, 0.2, 0.3, 0.4])
    posterior = FixedPosterior(values, w.log().tolist()).run()
    m = EmpiricalMarginal(posterior, "x")
    x = torch.stack(values)
    mean = (w * x).sum()
    assert m.mean.item() == pytest.approx(mean.item(), abs=1e-6)
    assert m.variance.item() == pytest.approx((w * (x - mean) ** 2).sum().item(), abs=1e-6)
    assert m.log_prob(torch.tensor(2.0)).exp().item() == pytest.approx(0.5, abs=1e-6)
    assert m.log_prob(torch.tensor(3.0)).exp().item() == pytest.approx(0.0, abs=1e-12)
    batch = m.log_prob(torch.tensor([1.0, 5.0])).exp()
    assert torch.allclose(batch, torch.tensor([0.1, 0.4]), atol=1e-6)


def test_sample_frequencies():
    pyro.set_rng_seed(0)
    values = [torch.tensor(0.0), torch.tensor(1.0), torch.tensor(2.0)]
    w = torch.tensor([0.2, 0.5, 0.3])
    m = EmpiricalMarginal(FixedPosterior(values, w.log().tolist()).run(), "x")
    draws = m.sample((20000,))
    assert draws.shape == (20000,)
    freq = torch.stack([(draws == k).float().mean() for k in (0.0, 1.0, 2.0)])
    assert torch.allclose(freq, w, atol=0.015)
    assert m.sample().shape == ()


def test_vector_values_and_errors():
    values = [torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0])]
    m = EmpiricalMarginal(FixedPosterior(values, [0.0, 0.0]).run(), "x")
    assert m.event_shape == (2,)
    assert torch.allclose(m.mean, torch.tensor([2.0, 4.0]))
    assert torch.allclose(m.variance, torch.tensor([1.0, 4.0]))
    assert m.log_prob(torch.tensor([3.0, 6.0])).exp().item() == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(TypeError):
        EmpiricalMarginal(object(), "x")
    with pytest.raises(ValueError, match="empty"):
        EmpiricalMarginal(FixedPosterior([], []).run(), "x")
    with pytest.raises(KeyError):
        EmpiricalMarginal(FixedPosterior(values, [0.0, 0.0]).run(), "nope")
