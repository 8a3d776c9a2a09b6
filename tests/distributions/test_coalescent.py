"""CoalescentTimes, CoalescentTimesWithRate and CoalescentRateLikelihood against a hand-written
coalescent likelihood, Kingman's inter-event time law, and each other."""

import math

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.distributions.coalescent import CoalescentTimesConstraint, bio_phylo_to_times
from pyro.distributions.testing.gof import auto_goodness_of_fit, exp_goodness_of_fit

F64 = torch.float64
TEST_FAILURE_RATE = 1e-3


def _hand_log_prob(leaf_times, coal_times, rate_fn, duration=None):
    """Walk the events back in time from the latest, one at a time, in plain Python."""
    events = sorted([(float(t), +1) for t in leaf_times] + [(float(t), -1) for t in coal_times],
                    key=lambda e: (-e[0], -e[1]))  # latest first; at a tie the leaf first
    total, k, prev = 0.0, 0, events[0][0]
    for time, step in events:
        # Integrate rate * C(k, 2) from `time` up to `prev`, cell by cell.
        if k >= 2 and prev > time:
            cuts = [time] + [float(c) for c in range(math.ceil(time), math.ceil(prev))
                             if time < c < prev] + [prev]
            for a, b in zip(cuts[:-1], cuts[1:]):
                total -= rate_fn((a + b) / 2) * k * (k - 1) / 2 * (b - a)
        if step < 0:
            total += math.log(rate_fn(time) * k * (k - 1) / 2)
        k += step
        prev = time
    return total


def _grid_rate(grid):
    def rate(t):
        return float(grid[min(max(int(math.floor(t)), 0), len(grid) - 1)])
    return rate


def test_log_prob_matches_hand_formula_for_small_trees():
    leaf_times = torch.tensor([0.0, 1.0, 2.0, 5.0], dtype=F64)
    coal_times = torch.tensor([-0.6575, 0.0274, 1.5611], dtype=F64)
    d = dist.CoalescentTimes(leaf_times, rate=2.0)
    assert d.batch_shape == () and d.event_shape == (3,)
    # 3 mergers of two lineages at rate 2, exposures 0.4389 + 0.9726 + 0.6575 with one pair.
    expected = 3 * math.log(2.0) - 2.0 * (0.4389 + 0.9726 + 0.6575)
    assert d.log_prob(coal_times).item() == pytest.approx(expected, abs=1e-10)
    assert expected == pytest.approx(_hand_log_prob(leaf_times, coal_times, lambda t: 2.0))
    # Isochronous leaves: C(4,2), C(3,2), C(2,2) pairs at the three mergers.
    iso = torch.tensor([-1.6099, -0.9948, -0.5847], dtype=F64)
    expected = math.log(18.0) - (6 * 0.5847 + 3 * (0.9948 - 0.5847) + (1.6099 - 0.9948))
    assert dist.CoalescentTimes(torch.zeros(4, dtype=F64)).log_prob(iso).item() == pytest.approx(
        expected, abs=1e-10)


def test_log_prob_matches_hand_walk_on_random_trees_and_batches():
    torch.manual_seed(0)
    leaf_times = torch.rand(3, 6, dtype=F64) * 4
    rate = torch.tensor([0.5, 1.0, 2.5], dtype=F64)
    d = dist.CoalescentTimes(leaf_times, rate)
    coal = d.sample((2,))
    assert coal.shape == (2, 3, 5)
    lp = d.log_prob(coal)
    assert lp.shape == (2, 3)
    for s in range(2):
        for b in range(3):
            r = float(rate[b])
            assert lp[s, b].item() == pytest.approx(
                _hand_log_prob(leaf_times[b], coal[s, b], lambda t: r), rel=1e-10, abs=1e-10)
    # log_prob sorts its argument (validation off, as for an unsorted value).
    unsorted = dist.CoalescentTimes(leaf_times, rate, validate_args=False)
    assert torch.allclose(unsorted.log_prob(coal.flip(-1)), lp)


def test_with_rate_matches_hand_walk_on_a_grid():
    torch.manual_seed(1)
    grid = torch.rand(2, 6, dtype=F64) + 0.3
    leaf_times = torch.tensor([[0.5, 2.2, 2.2, 4.7, 6.5], [1.0, 1.0, 3.0, 5.5, 0.1]], dtype=F64)
    coal = dist.CoalescentTimes(leaf_times).sample()
    d = dist.CoalescentTimesWithRate(leaf_times, grid)
    assert d.duration == 6 and d.batch_shape == (2,) and d.event_shape == (4,)
    lp = d.log_prob(coal)
    for b in range(2):
        assert lp[b].item() == pytest.approx(
            _hand_log_prob(leaf_times[b], coal[b], _grid_rate(grid[b])), rel=1e-10, abs=1e-10)
    # The cell convention: rate_grid[t] holds on [t, t + 1), the ends extend to -inf / +inf.
    g = torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=F64)
    two = dist.CoalescentTimesWithRate(torch.tensor([5.0, 5.0], dtype=F64), g)
    assert two.log_prob(torch.tensor([2.5], dtype=F64)).item() == pytest.approx(
        math.log(4.0) - (4.0 * 0.5 + 8.0 * 2.0))
    assert two.log_prob(torch.tensor([-0.5], dtype=F64)).item() == pytest.approx(
        0.0 - (1.0 * 1.5 + 2.0 + 4.0 + 8.0 * 2.0))


def test_constant_grid_equals_constant_rate():
    torch.manual_seed(2)
    leaf_times = torch.rand(7, dtype=F64) * 5
    coal = dist.CoalescentTimes(leaf_times, 1.7).sample((4,))
    a = dist.CoalescentTimes(leaf_times, 1.7).log_prob(coal)
    b = dist.CoalescentTimesWithRate(leaf_times, torch.full((5,), 1.7, dtype=F64)).log_prob(coal)
    assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_kingman_inter_event_times():
    # n isochronous leaves: while k lineages remain the wait is Exponential(rate * C(k, 2)).
    pyro.set_rng_seed(3)
    n, rate = 5, 1.5
    coal = dist.CoalescentTimes(torch.zeros(n, dtype=F64), rate).sample((4000,))
    times = torch.cat([coal, torch.zeros(4000, 1, dtype=F64)], -1)
    gaps = times[:, 1:] - times[:, :-1]  # earliest first: gaps[:, j] is the wait with j + 2
    assert bool((gaps >= 0).all())
    for j in range(n - 1):
        k = j + 2
        scaled = gaps[:, j] * rate * k * (k - 1) / 2
        assert exp_goodness_of_fit(scaled) > TEST_FAILURE_RATE
        assert scaled.mean().item() == pytest.approx(1.0, abs=0.08)
    # The time to the most recent common ancestor has mean 2 (1 - 1/n) / rate.
    assert (-coal[:, 0]).mean().item() == pytest.approx(2 * (1 - 1 / n) / rate, rel=0.05)


def test_heterochronous_samples_against_log_prob():
    pyro.set_rng_seed(4)
    # Two leaves at 0 and 1: the merger lies below 0 with an Exponential(rate) depth.
    d = dist.CoalescentTimes(torch.tensor([0.0, 1.0], dtype=F64), 0.7)
    x = d.sample((3000,))
    assert auto_goodness_of_fit(x, d.log_prob(x).exp()) > TEST_FAILURE_RATE
    # Three leaves: a two-dimensional density on the ordered times.
    d = dist.CoalescentTimes(torch.tensor([0.0, 0.3, 1.2], dtype=F64), 1.0)
    x = d.sample((6000,))
    assert bool(d.support.check(x).all())
    assert auto_goodness_of_fit(x, d.log_prob(x).exp()) > TEST_FAILURE_RATE


def test_rate_likelihood_is_with_rate_split_by_cell():
    torch.manual_seed(5)
    leaf_times = torch.tensor([0.3, 1.5, 2.0, 2.0, 4.4, 6.9], dtype=F64)
    coal = dist.CoalescentTimes(leaf_times, 0.8).sample((3,))
    grid = torch.rand(2, 1, 8, dtype=F64) + 0.2
    likelihood = dist.CoalescentRateLikelihood(leaf_times, coal, 8)
    terms = likelihood(grid)
    assert terms.shape == (2, 3, 8)
    expected = dist.CoalescentTimesWithRate(leaf_times, grid).log_prob(coal)
    assert torch.allclose(terms.sum(-1), expected, rtol=1e-12, atol=1e-12)
    # One time step at a time, as in a pyro.markov loop.
    steps = torch.stack([likelihood(grid[..., t], t) for t in range(8)], -1)
    assert torch.allclose(steps, terms, rtol=1e-12, atol=1e-12)
    assert torch.allclose(likelihood(grid[..., 2:5], slice(2, 5)), terms[..., 2:5])
    # A cell's term is affine in (log rate, rate): its gradient is mergers / rate - exposure.
    g = grid.clone().requires_grad_()
    dist.CoalescentTimesWithRate(leaf_times, g).log_prob(coal).sum().backward()
    eps = 1e-6
    for t in (0, 3, 7):
        bumped = grid.clone()
        bumped[..., t] += eps
        fd = (likelihood(bumped) - likelihood(grid)).sum((1, 2)) / eps
        assert torch.allclose(g.grad[:, 0, t], fd, rtol=1e-4, atol=1e-6)


def test_rate_likelihood_in_a_plate_equals_the_distribution():
    leaf_times = torch.tensor([0.0, 0.5, 2.5], dtype=F64)
    coal = torch.tensor([-0.4, 0.2], dtype=F64)
    rate_grid = torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    likelihood = dist.CoalescentRateLikelihood(leaf_times, coal, 3)

    def model_plate():
        with pyro.plate("time", 3):
            pyro.factor("coalescent", likelihood(rate_grid))

    def model_dist():
        pyro.sample("coalescent", dist.CoalescentTimesWithRate(leaf_times, rate_grid), obs=coal)

    a = pyro.poutine.trace(model_plate).get_trace().log_prob_sum()
    b = pyro.poutine.trace(model_dist).get_trace().log_prob_sum()
    assert a.item() == pytest.approx(b.item(), abs=1e-12)


def test_support_and_validation():
    s = dist.CoalescentTimes(torch.tensor([0.0, 1.0, 2.0])).support
    assert isinstance(s, CoalescentTimesConstraint) and s.event_dim == 1
    values = torch.tensor([[-1.0, 0.5], [0.5, -1.0], [-1.0, 1.5], [1.5, 2.5], [0.0, 1.0]])
    # valid; unsorted; a merger with one lineage; after every leaf; a merger at a leaf's time
    assert s.check(values).tolist() == [True, False, False, False, False]
    assert CoalescentTimesConstraint(torch.tensor([0.0, 1.0, 2.0]), ordered=False).check(
        torch.tensor([0.5, -1.0])).item()
    d = dist.CoalescentTimes(torch.tensor([0.0, 1.0, 2.0]), validate_args=True)
    with pytest.raises(ValueError, match="support"):
        d.log_prob(torch.tensor([1.5, 0.5]))
    # Without validation an impossible tree (a merger with one lineage) has density zero.
    free = dist.CoalescentTimes(torch.tensor([0.0, 1.0, 2.0]), validate_args=False)
    assert free.log_prob(torch.tensor([1.5, 0.5])).item() == -float("inf")
    with pytest.raises(ValueError, match="rate"):
        dist.CoalescentTimes(torch.zeros(3), rate=-1.0, validate_args=True)
    with pytest.raises(ValueError, match=r"coal_times must have one time fewer.*\(3,\).*\(3,\)"):
        dist.CoalescentRateLikelihood(torch.zeros(3), torch.zeros(3), 4)
    with pytest.raises(ValueError, match="rate_grid has 7 time steps.*expected 8"):
        dist.CoalescentRateLikelihood(torch.tensor([0.0, 1.0]), torch.tensor([-1.0]), 8)(
            torch.ones(7))
    with pytest.raises(ValueError, match="do not form a phylogeny"):
        dist.CoalescentRateLikelihood(torch.tensor([0.0, 1.0]), torch.tensor([2.0]), 3,
                                      validate_args=True)


def test_shapes_expand_and_no_sampler():
    d = dist.CoalescentTimes(torch.zeros(2, 3), rate=torch.ones(4, 1))
    assert d.batch_shape == (4, 2) and d.sample((5,)).shape == (5, 4, 2, 2)
    e = d.expand((3, 4, 2))
    assert e.batch_shape == (3, 4, 2) and e.sample().shape == (3, 4, 2, 2)
    w = dist.CoalescentTimesWithRate(torch.tensor([3.5, 5.0, 5.0, 7.0]), torch.ones(2, 8))
    assert w.batch_shape == (2,) and not w.has_rsample
    ew = w.expand((3, 2))
    assert type(ew) is dist.CoalescentTimesWithRate and ew.duration == 8
    coal = torch.tensor([1.5, 2.0, 4.0])
    assert torch.allclose(ew.log_prob(coal), w.log_prob(coal).expand(3, 2))
    with pytest.raises(NotImplementedError):
        w.sample()


class _Clade:
    def __init__(self, branch_length, clades=()):
        self.branch_length = branch_length
        self.clades = list(clades)


def test_bio_phylo_to_times():
    # ((a:1, b:2):0.5, c:3): the root at 0, the inner merger at 0.5.
    tree = _Clade(None, [_Clade(0.5, [_Clade(1.0), _Clade(2.0)]), _Clade(3.0)])
    leaf_times, coal_times = bio_phylo_to_times(tree)
    assert leaf_times.tolist() == [1.5, 2.5, 3.0]
    assert coal_times.tolist() == [0.0, 0.5]
    times = {id(c): t for c, t in [(tree, 10.0), (tree.clades[0], 11.0), (tree.clades[1], 12.0),
                                   (tree.clades[0].clades[0], 13.0),
                                   (tree.clades[0].clades[1], 14.0)]}
    leaf_times, coal_times = bio_phylo_to_times(tree, get_time=lambda c: times[id(c)])
    assert leaf_times.tolist() == [13.0, 14.0, 12.0] and coal_times.tolist() == [10.0, 11.0]
    assert dist.CoalescentTimes(leaf_times).support.check(coal_times)


@pytest.mark.cuda
def test_cuda_log_prob_sample_and_rate_likelihood():
    torch.manual_seed(6)
    leaf_times = torch.rand(2, 5, dtype=F64) * 4
    coal = dist.CoalescentTimes(leaf_times).sample()
    grid = torch.rand(6, dtype=F64) + 0.5
    d = dist.CoalescentTimes(leaf_times.cuda(), torch.tensor(1.3, dtype=F64).cuda())
    assert torch.allclose(d.log_prob(coal.cuda()).cpu(),
                          dist.CoalescentTimes(leaf_times, 1.3).log_prob(coal))
    assert d.sample((3,)).device.type == "cuda"
    likelihood = dist.CoalescentRateLikelihood(leaf_times.cuda(), coal.cuda(), 6)
    assert torch.allclose(likelihood(grid.cuda()).sum(-1).cpu(),
                          dist.CoalescentTimesWithRate(leaf_times, grid).log_prob(coal))
