"""One suite over every distribution: shapes, expand, to_event, mask, enumerate_support,
score_parts, calling and pickling, each checked against numbers."""

import pickle

import pytest
import torch

import pyro.distributions as dist
from dist_cases import CASES, sample_value

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
PARAMS = [pytest.param(c, d, id=f"{c.name}-{d if isinstance(d, str) else 'cuda'}")
          for c in CASES for d in ("cpu",)] + [
    pytest.param(c, "cuda", id=f"{c.name}-cuda", marks=pytest.mark.cuda) for c in CASES]


@pytest.mark.parametrize("case,device", PARAMS)
def test_sample_shapes(case, device):
    d = case.make(device)
    x = sample_value(case, d, (4,))
    assert x.shape == d.shape((4,)) == (4,) + d.batch_shape + d.event_shape
    assert d.log_prob(x).shape == (4,) + d.batch_shape
    if case.value is None:
        assert d().shape == d.shape()
        assert d.sample().shape == d.shape()


@pytest.mark.parametrize("case,device", PARAMS)
def test_expand(case, device):
    d = case.make(device)
    new_batch = (5,) + d.batch_shape
    e = d.expand(new_batch)
    assert e.batch_shape == new_batch and e.event_shape == d.event_shape
    assert d.expand_by((5,)).batch_shape == new_batch
    x = sample_value(case, e)
    assert x.shape == new_batch + d.event_shape
    # Expanding only broadcasts: log-densities equal the original's on every slice. One batched
    # call against five per-slice calls runs different kernels (a batched triangular solve, SIMD
    # body against scalar tail), which round differently on different CPUs: a few ulp in float64
    # (measured up to 6e-15 relative). A wrong broadcast is off by far more than 1e-12.
    expected = torch.stack([d.log_prob(x[i]) for i in range(5)])
    torch.testing.assert_close(e.log_prob(x), expected, rtol=1e-12, atol=1e-12)
    if case.value is None and e.has_rsample == d.has_rsample:
        assert e().shape == e.shape()


@pytest.mark.parametrize("case,device", PARAMS)
def test_to_event(case, device):
    d = case.make(device)
    if not d.batch_shape:
        d = d.expand((3,))
    x = sample_value(case, d, (2,))
    ind = d.to_event(1)
    assert ind.batch_shape == d.batch_shape[:-1]
    assert ind.event_shape == d.batch_shape[-1:] + d.event_shape
    assert torch.allclose(ind.log_prob(x), d.log_prob(x).sum(-1))
    full = d.to_event()
    assert full.batch_shape == () and full.event_shape == d.batch_shape + d.event_shape
    assert torch.allclose(full.log_prob(x), d.log_prob(x).reshape(2, -1).sum(-1))
    assert d.to_event(0) is d
    with pytest.raises(ValueError, match="batch dims"):
        d.to_event(len(d.batch_shape) + 1)


@pytest.mark.parametrize("case,device", PARAMS)
def test_mask(case, device):
    d = case.make(device)
    if not d.batch_shape:
        d = d.expand((3,))
    x = sample_value(case, d, (2,))
    mask = torch.rand(d.batch_shape, device=device) < 0.5
    mask.view(-1)[0] = True
    # MaskedMixture's ``mask`` is its mask tensor (as in Pyro): it is masked by the class itself
    mask_of = d.mask if callable(d.mask) else (lambda m: dist.MaskedDistribution(d, m))
    m = mask_of(mask)
    lp = d.log_prob(x)
    assert torch.equal(m.log_prob(x), torch.where(mask, lp, torch.zeros_like(lp)))
    assert torch.equal(mask_of(False).log_prob(x), torch.zeros_like(lp))
    assert torch.equal(mask_of(True).log_prob(x), lp)
    parts = m.score_parts(x)
    assert torch.equal(parts.log_prob, m.log_prob(x))


@pytest.mark.parametrize("case,device", PARAMS)
def test_score_parts(case, device):
    d = case.make(device)
    x = sample_value(case, d)
    lp = d.log_prob(x)
    parts = d.score_parts(x)
    assert torch.equal(parts.log_prob, lp)
    if d.has_rsample:
        assert parts.score_function == 0 and torch.equal(parts.entropy_term, lp)
    else:
        assert torch.equal(parts.score_function, lp) and parts.entropy_term == 0


@pytest.mark.parametrize("case,device", PARAMS)
def test_enumerate_support(case, device):
    d = case.make(device)
    if not d.has_enumerate_support:
        with pytest.raises(NotImplementedError):
            d.enumerate_support()
        return
    support = d.enumerate_support()
    n = support.shape[0]
    assert support.shape == (n,) + d.batch_shape + d.event_shape
    small = d.enumerate_support(expand=False)
    assert small.shape == (n,) + (1,) * len(d.batch_shape) + d.event_shape
    # The support's probabilities sum to one in every batch element.
    total = d.log_prob(support).exp().sum(0)
    assert torch.allclose(total, torch.ones_like(total))
    e = d.expand((2,) + d.batch_shape)
    assert e.enumerate_support().shape == (n, 2) + d.batch_shape + d.event_shape


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_pickle_roundtrip(case):
    d = case.make()
    x = sample_value(case, d)
    d2 = pickle.loads(pickle.dumps(d))
    assert type(d2) is type(d)
    assert torch.equal(d2.log_prob(x), d.log_prob(x))


def test_expanded_fallback_draws_independent_samples():
    # A size-1 batch dim expanded by ExpandedDistribution must get independent draws.
    base = dist.Normal(torch.zeros(1, 3), torch.ones(1, 3))
    e = dist.ExpandedDistribution(base, (4, 2, 3))
    x = e.sample((1000,))
    assert x.shape == (1000, 4, 2, 3)
    flat = x.reshape(1000, -1)
    corr = torch.corrcoef(flat.T)
    off_diag = corr - torch.eye(24)
    assert off_diag.abs().max() < 0.15
    assert torch.allclose(x.mean(0), torch.zeros(4, 2, 3), atol=0.2)


def test_user_distribution_without_expand_gets_expanded_distribution():
    class Flat(dist.TorchDistribution):
        arg_constraints = {}
        support = dist.constraints.real

        def __init__(self, loc):
            self.loc = loc
            super().__init__(loc.shape, torch.Size())

        def sample(self, sample_shape=torch.Size()):
            return self.loc.expand(torch.Size(sample_shape) + self.loc.shape).clone()

        def log_prob(self, value):
            return -(value - self.loc) ** 2

    d = Flat(torch.tensor([1.0, 2.0]))
    e = d.expand((3, 2))
    assert isinstance(e, dist.ExpandedDistribution)
    assert torch.equal(e.sample(), torch.tensor([[1.0, 2.0]] * 3))
    assert torch.equal(e.log_prob(torch.zeros(3, 2)), torch.tensor([[-1.0, -4.0]] * 3))
    assert torch.equal(d.to_event(1).log_prob(torch.zeros(2)), torch.tensor(-5.0))
