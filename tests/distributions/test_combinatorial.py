"""SpanningTree, OneOneMatching and OneTwoMatching against brute-force enumeration."""

import itertools
import math
from collections import Counter

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
from pyro.distributions.one_one_matching import maximum_weight_matching
from pyro.distributions.one_two_matching import enumerate_one_two_matchings
from pyro.distributions.spanning_tree import (
    NUM_SPANNING_TREES,
    enumerate_spanning_trees,
    find_best_tree,
    make_complete_graph,
    sample_tree_mcmc,
)
from pyro.distributions.testing.gof import multinomial_goodness_of_fit

T = torch.float64


# ----- brute force, written independently of the library -------------------------------------

def brute_trees(V):
    """Every spanning tree of K_V as a tuple of colex-sorted edges, by testing every set of
    V-1 edges for acyclicity with a union-find."""
    edges = [(a, b) for b in range(V) for a in range(b)]
    trees = []
    for subset in itertools.combinations(edges, V - 1):
        root = list(range(V))

        def find(x):
            while root[x] != x:
                x = root[x]
            return x

        ok = True
        for a, b in subset:
            ra, rb = find(a), find(b)
            if ra == rb:
                ok = False
                break
            root[ra] = rb
        if ok:
            trees.append(subset)
    return trees


def tree_score(edge_logits, tree):
    return sum(edge_logits[a + b * (b - 1) // 2] for a, b in tree)


def brute_assignments(num_destins, capacity):
    size = capacity * num_destins
    return [v for v in itertools.product(range(num_destins), repeat=size)
            if all(v.count(j) == capacity for j in range(num_destins))]


def assignment_score(logits, v):
    return sum(logits[s, j] for s, j in enumerate(v))


def logsumexp(xs):
    return torch.stack([torch.as_tensor(x) for x in xs]).logsumexp(0)


def _key(x):
    return tuple(map(tuple, x.tolist())) if x.dim() > 1 else tuple(x.tolist())


def counts_of(samples, support):
    index = {_key(x): i for i, x in enumerate(support)}
    c = Counter(index[_key(x)] for x in samples)
    return torch.tensor([float(c[i]) for i in range(len(support))], dtype=T)


# ----- SpanningTree ----------------------------------------------------------------------------

def test_complete_graph_is_colexicographic():
    assert make_complete_graph(4).tolist() == [[0, 0, 1, 0, 1, 2], [1, 2, 2, 3, 3, 3]]
    v1, v2 = make_complete_graph(6)
    assert ((v1 + v2 * (v2 - 1) // 2) == torch.arange(15)).all()
    assert NUM_SPANNING_TREES[:7] == [1, 1, 1, 3, 16, 125, 1296]


@pytest.mark.parametrize("V", [2, 3, 4, 5])
def test_spanning_tree_partition_function_and_normalisation(V):
    edge_logits = torch.randn(V * (V - 1) // 2, dtype=T)
    d = dist.SpanningTree(edge_logits)
    trees = brute_trees(V)
    assert len(trees) == V ** (V - 2)
    expected = logsumexp([tree_score(edge_logits, t) for t in trees])
    assert torch.allclose(d.log_partition_function, expected, atol=1e-10)
    support = d.enumerate_support()
    assert support.shape == (V ** (V - 2), V - 1, 2) and support.dtype == torch.long
    assert sorted(map(tuple, (tuple(map(tuple, t)) for t in support.tolist()))) == sorted(trees)
    assert torch.allclose(d.log_prob(support).exp().sum(), torch.tensor(1.0, dtype=T), atol=1e-10)
    for t in support[:3]:
        expected_lp = tree_score(edge_logits, t.tolist()) - expected
        assert torch.allclose(d.log_prob(t), expected_lp, atol=1e-10)


def test_spanning_tree_enumeration_order_is_pyros():
    first = [[[0, 1], [0, 2], [0, 3]], [[0, 1], [0, 2], [1, 3]], [[0, 1], [0, 2], [2, 3]],
             [[0, 1], [0, 3], [2, 3]], [[0, 1], [1, 2], [0, 3]]]
    assert dist.SpanningTree(torch.zeros(6)).enumerate_support()[:5].tolist() == first
    trees = enumerate_spanning_trees(5)
    assert trees == sorted(trees) and len(trees) == 125
    assert enumerate_spanning_trees(3) == [((0, 1), (0, 2)), ((0, 1), (1, 2)), ((0, 2), (1, 2))]


def test_spanning_tree_edge_mean_and_gradient_are_marginals():
    V = 5
    edge_logits = torch.randn(10, dtype=T, requires_grad=True)
    d = dist.SpanningTree(edge_logits)
    support = d.enumerate_support()
    probs = d.log_prob(support).exp().detach()
    marg = torch.zeros(V, V, dtype=T)
    for p, t in zip(probs, support.tolist()):
        for a, b in t:
            marg[a, b] += p
            marg[b, a] += p
    assert torch.allclose(d.edge_mean.detach(), marg, atol=1e-10)
    d.log_partition_function.backward()
    v1, v2 = make_complete_graph(V)
    assert torch.allclose(edge_logits.grad, marg[v1, v2], atol=1e-10)


def test_spanning_tree_samples_match_log_prob():
    d = dist.SpanningTree(torch.tensor([1.0, -0.5, 0.3, 0.8, -1.2, 0.1], dtype=T))
    samples = d.sample((4000,))
    assert samples.shape == (4000, 3, 2) and samples.dtype == torch.long
    support = d.enumerate_support()
    probs = d.log_prob(support).exp()
    assert multinomial_goodness_of_fit(probs, counts_of(samples, support)) > 1e-3


def test_spanning_tree_mcmc_sweep_keeps_the_distribution():
    d = dist.SpanningTree(torch.tensor([1.0, -0.5, 0.3, 0.8, -1.2, 0.1], dtype=T))
    start = d.sample((1000,))
    moved = torch.stack([sample_tree_mcmc(d.edge_logits, t) for t in start])
    support = d.enumerate_support()
    probs = d.log_prob(support).exp()
    assert multinomial_goodness_of_fit(probs, counts_of(moved, support)) > 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spanning_tree_mode_is_argmax(seed):
    torch.manual_seed(seed)
    edge_logits = torch.randn(15, dtype=T)
    d = dist.SpanningTree(edge_logits)
    best = max(brute_trees(6), key=lambda t: float(tree_score(edge_logits, t)))
    assert d.mode.tolist() == [list(e) for e in best]
    assert find_best_tree(edge_logits).tolist() == [list(e) for e in best]


def test_spanning_tree_shapes_dtypes_and_small_graphs():
    d = dist.SpanningTree(torch.zeros(6, dtype=torch.float32))
    assert d.batch_shape == () and d.event_shape == (3, 2) and d.num_vertices == 4
    assert d.log_partition_function.dtype == torch.float32
    assert torch.allclose(d.log_partition_function, torch.tensor(math.log(16.0)))
    x = d.sample((2, 5))
    assert x.shape == (2, 5, 3, 2)
    assert d.log_prob(x).shape == (2, 5)
    assert torch.allclose(d.log_prob(x), torch.full((2, 5), -math.log(16.0)))
    single = dist.SpanningTree(torch.zeros(0))
    assert single.event_shape == (0, 2) and single.log_partition_function == 0
    assert single.enumerate_support().shape == (1, 0, 2)
    pair = dist.SpanningTree(torch.tensor([0.7]))
    assert pair.sample().tolist() == [[0, 1]] and pair.log_prob(pair.mode) == 0


def test_spanning_tree_in_a_model():
    edge_logits = torch.tensor([1.0, -0.5, 0.3], dtype=T)

    def model():
        return pyro.sample("tree", dist.SpanningTree(edge_logits))

    tr = poutine.trace(model).get_trace()
    tree = tr.nodes["tree"]["value"]
    expected = tree_score(edge_logits, tree.tolist()) - logsumexp(
        [tree_score(edge_logits, t) for t in brute_trees(3)])
    assert torch.allclose(tr.log_prob_sum(), expected)


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(2, 6), r"edge_logits .*shape \(2, 6\)"),
    (torch.zeros(5), r"edge_logits of shape \(5,\).*V\*\(V-1\)/2"),
    (torch.tensor(0.0), r"edge_logits .*shape \(\)"),
])
def test_spanning_tree_rejects_bad_edge_logits(bad, match):
    with pytest.raises(ValueError, match=match):
        dist.SpanningTree(bad)


def test_spanning_tree_sampler_options():
    d = dist.SpanningTree(torch.zeros(6), sampler_options={"mcmc_steps": 3, "backend": "cpp"})
    assert d.sampler_options == {"mcmc_steps": 3, "backend": "cpp"}
    assert dist.SpanningTree(torch.zeros(6)).sampler_options == {}
    with pytest.raises(TypeError, match="foo"):
        dist.SpanningTree(torch.zeros(6), sampler_options={"foo": 1})
    with pytest.raises(ValueError, match="unknown backend: 'bar'"):
        dist.SpanningTree(torch.zeros(6), sampler_options={"backend": "bar"})


@pytest.mark.parametrize("edges, match", [
    ([[0, 1], [0, 2]], r"Invalid edges shape: torch.Size\(\[2, 2\]\); expected \(\.\.\., 3, 2\)"),
    ([[1, 0], [0, 2], [0, 3]], "Vertices are not sorted in each edge"),
    ([[0, 1], [0, 3], [0, 2]], "Edges are not sorted colexicographically"),
    ([[0, 1], [0, 1], [0, 2]], "Edges are not sorted colexicographically"),
    ([[0, 1], [0, 2], [0, 4]], "Invalid vertex ids"),
    ([[0, 1], [0, 2], [1, 2]], "Edges do not constitute a tree"),
])
def test_spanning_tree_validates_edges(edges, match):
    d = dist.SpanningTree(torch.zeros(6), validate_args=True)
    with pytest.raises(ValueError, match=match):
        d.log_prob(torch.tensor(edges))
    good = torch.tensor([[[0, 1], [0, 2], [0, 3]], [[0, 1], [1, 2], [0, 3]]])
    d.validate_edges(good)  # a batch of valid trees passes
    with pytest.raises(ValueError, match="Edges do not constitute a tree"):
        d.validate_edges(torch.stack([good[0], torch.tensor([[0, 1], [0, 2], [1, 2]])]))


# ----- OneOneMatching and OneTwoMatching -------------------------------------------------------

MATCHINGS = [(dist.OneOneMatching, 1), (dist.OneTwoMatching, 2)]


def make_logits(capacity, n):
    return torch.randn(capacity * n, n, dtype=T)


@pytest.mark.parametrize("cls, capacity", MATCHINGS)
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_matching_partition_function_and_normalisation(cls, capacity, n):
    if capacity == 2 and n == 4:
        n = 3  # 2520 matchings of 8 sources: brute force over 4 ** 8 is slow; n=3 has 90
    logits = make_logits(capacity, n)
    d = cls(logits)
    everything = brute_assignments(n, capacity)
    expected = logsumexp([assignment_score(logits, v) for v in everything])
    assert torch.allclose(d.log_partition_function, expected, atol=1e-10)
    support = d.enumerate_support()
    assert support.shape == (len(everything), capacity * n) and support.dtype == torch.long
    assert sorted(map(tuple, support.tolist())) == sorted(everything)
    assert torch.allclose(d.log_prob(support).exp().sum(), torch.tensor(1.0, dtype=T), atol=1e-10)
    v = support[len(support) // 2]
    assert torch.allclose(d.log_prob(v), assignment_score(logits, v.tolist()) - expected)


def test_matching_enumeration_orders_are_pyros():
    assert dist.OneOneMatching(torch.zeros(3, 3)).enumerate_support().tolist() == [
        list(p) for p in itertools.permutations(range(3))]
    assert enumerate_one_two_matchings(2).tolist() == [
        [1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]]
    three = dist.OneTwoMatching(torch.zeros(6, 3)).enumerate_support()
    assert three[[0, 1, 6, 12, 18]].tolist() == [
        [2, 2, 1, 1, 0, 0], [2, 2, 1, 0, 1, 0], [2, 1, 2, 1, 0, 0], [1, 2, 2, 1, 0, 0],
        [2, 1, 1, 2, 0, 0]]


@pytest.mark.parametrize("cls, capacity, n, num_samples", [
    (dist.OneOneMatching, 1, 3, 3000), (dist.OneTwoMatching, 2, 2, 3000),
    (dist.OneTwoMatching, 2, 3, 9000),
])
def test_matching_samples_match_log_prob(cls, capacity, n, num_samples):
    d = cls(make_logits(capacity, n))
    samples = d.sample((num_samples,))
    assert samples.shape == (num_samples, capacity * n) and samples.dtype == torch.long
    support = d.enumerate_support()
    probs = d.log_prob(support).exp()
    assert multinomial_goodness_of_fit(probs, counts_of(samples, support)) > 1e-3
    assert d.sample((2, 3)).shape == (2, 3, capacity * n)


@pytest.mark.parametrize("cls, capacity", MATCHINGS)
@pytest.mark.parametrize("seed", [0, 1])
def test_matching_mode_is_argmax(cls, capacity, seed):
    torch.manual_seed(seed)
    n = 5 if capacity == 1 else 3
    logits = make_logits(capacity, n)
    best = max(brute_assignments(n, capacity), key=lambda v: float(assignment_score(logits, v)))
    assert cls(logits).mode().tolist() == list(best)
    assert cls(logits, bp_iters=5).mode().tolist() == list(best)


def test_max_weight_matching_larger_problem():
    # a planted permutation whose weights dominate everything else
    torch.manual_seed(3)
    perm = torch.randperm(40)
    logits = torch.rand(40, 40, dtype=T)
    logits[torch.arange(40), perm] = 5.0
    logits[0, 1] = -math.inf
    assert maximum_weight_matching(logits).tolist() == perm.tolist()


@pytest.mark.parametrize("cls, capacity", MATCHINGS)
def test_matching_gradient_is_marginals(cls, capacity):
    n = 3
    logits = make_logits(capacity, n).requires_grad_()
    d = cls(logits)
    d.log_partition_function.backward()
    support = d.enumerate_support()
    probs = d.log_prob(support).exp().detach()
    marg = torch.zeros(capacity * n, n, dtype=T)
    for p, v in zip(probs, support.tolist()):
        marg[torch.arange(capacity * n), v] += p
    assert torch.allclose(logits.grad, marg, atol=1e-10)


def _sinkhorn_bethe(logits, iters=500):
    # hand-written: balance exp(logits) to doubly stochastic P, then the Bethe free energy at P
    p = logits.exp()
    for _ in range(iters):
        p = p / p.sum(-1, keepdim=True)
        p = p / p.sum(0, keepdim=True)
    return (p * logits).sum() - (p * p.log()).sum() + ((1 - p) * (1 - p).log()).sum()


def test_one_one_bethe_matches_pyro_value_and_bounds():
    logits = torch.tensor([[1.5409960746765137, -0.293428897857666, -2.1787893772125244],
                           [0.5684312582015991, -1.0845223665237427, -1.3985954523086548],
                           [0.40334683656692505, 0.8380263447761536, -0.7192575931549072]],
                          dtype=T)
    exact = dist.OneOneMatching(logits).log_partition_function
    bethe = dist.OneOneMatching(logits, bp_iters=100).log_partition_function
    assert abs(bethe.item() - 0.6650557999034414) < 1e-10  # pyro-ppl 1.9.2's value
    assert abs(exact.item() - 1.5832262508571393) < 1e-10
    assert torch.allclose(bethe, _sinkhorn_bethe(logits), atol=1e-10)


@pytest.mark.parametrize("cls, capacity, n", [
    (dist.OneOneMatching, 1, 3), (dist.OneOneMatching, 1, 6), (dist.OneTwoMatching, 2, 2),
    (dist.OneTwoMatching, 2, 3),
])
def test_bethe_is_within_its_bounds_of_exact(cls, capacity, n):
    # The balanced marginals P are doubly stochastic, so the estimate is at most the Bethe
    # permanent, itself at most the permanent; and log perm <= sum P*l + H(P), so the gap is
    # at most -sum (1-P) log(1-P) <= -m (m-1) log(1 - 1/m) for an m x m problem.
    logits = make_logits(capacity, n)
    exact = cls(logits).log_partition_function
    d = cls(logits, bp_iters=50)
    m = capacity * n
    gap = exact - d.log_partition_function
    assert 0 <= gap <= -m * (m - 1) * math.log(1 - 1 / m) + 1e-9
    assert torch.allclose(d.log_partition_function,
                          cls(logits, bp_iters=200).log_partition_function, atol=1e-9)
    v = d.enumerate_support()[0]
    assert torch.allclose(d.log_prob(v), assignment_score(logits, v.tolist()) - d.log_partition_function)
    if capacity == 2:
        doubled = _sinkhorn_bethe(torch.cat([logits, logits], -1)) - n * math.log(2)
        assert torch.allclose(d.log_partition_function, doubled, atol=1e-9)


@pytest.mark.parametrize("cls, capacity", MATCHINGS)
def test_matching_support_and_validation(cls, capacity):
    n = 3
    d = cls(torch.zeros(capacity * n, n), validate_args=True)
    assert d.batch_shape == () and d.event_shape == (capacity * n,)
    support = d.enumerate_support()
    assert d.support.check(support[:4]).tolist() == [True] * 4
    bad = torch.zeros(capacity * n, dtype=torch.long)
    with pytest.warns(UserWarning, match="Matching is not binary"):
        assert d.support.check(torch.stack([support[0], bad])).tolist() == [True, False]
    with pytest.warns(UserWarning, match="Matching is not binary"), \
            pytest.raises(ValueError, match="support"):
        d.log_prob(bad)
    with pytest.warns(UserWarning, match="Value out of bounds"):
        assert not d.support.check(torch.full((capacity * n,), n)).any()
    with pytest.raises(ValueError, match="event_shape"):
        d.log_prob(torch.zeros(capacity * n + 1, dtype=torch.long))
    assert d.log_prob(support.reshape(-1, 2, capacity * n)[:3]).shape == (3, 2)
    f32 = cls(torch.zeros(capacity * n, n, dtype=torch.float32))
    assert f32.log_partition_function.dtype == torch.float32


@pytest.mark.parametrize("cls, capacity, text", [
    (dist.OneOneMatching, 1, r"\(N, N\)"), (dist.OneTwoMatching, 2, r"\(2 \* N, N\)"),
])
def test_matching_rejects_bad_arguments(cls, capacity, text):
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name}: logits must have shape {text}.*\(3, 4\)"):
        cls(torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"logits must have shape .*\(3,\)"):
        cls(torch.zeros(3))
    with pytest.raises(NotImplementedError, match=rf"{name} does not support batching.*\(2, "):
        cls(torch.zeros(2, capacity * 2, 2))
    for bad in [0, -1, 2.5, True]:
        with pytest.raises(ValueError, match="bp_iters"):
            cls(torch.zeros(capacity * 2, 2), bp_iters=bad)
    with pytest.raises(NotImplementedError, match="bp_iters=None"):
        cls(torch.zeros(capacity * 2, 2), bp_iters=3).sample()


def test_matchings_in_a_model():
    one = torch.randn(3, 3, dtype=T)
    two = torch.randn(4, 2, dtype=T)

    def model():
        pyro.sample("a", dist.OneOneMatching(one))
        pyro.sample("b", dist.OneTwoMatching(two))

    tr = poutine.trace(model).get_trace()
    a, b = tr.nodes["a"]["value"], tr.nodes["b"]["value"]
    expected = (assignment_score(one, a.tolist())
                - logsumexp([assignment_score(one, v) for v in brute_assignments(3, 1)])
                + assignment_score(two, b.tolist())
                - logsumexp([assignment_score(two, v) for v in brute_assignments(2, 2)]))
    assert torch.allclose(tr.log_prob_sum(), expected)


@pytest.mark.cuda
def test_combinatorial_on_cuda():
    edge_logits = torch.randn(10, dtype=T, device="cuda")
    tree = dist.SpanningTree(edge_logits)
    cpu_tree = dist.SpanningTree(edge_logits.cpu())
    assert torch.allclose(tree.log_partition_function.cpu(), cpu_tree.log_partition_function)
    x = tree.sample((7,))
    assert x.device.type == "cuda" and x.shape == (7, 4, 2)
    assert torch.allclose(tree.log_prob(x).cpu(), cpu_tree.log_prob(x.cpu()))
    assert tree.mode.device.type == "cuda" and tree.edge_mean.device.type == "cuda"
    assert torch.allclose(tree.log_prob(tree.enumerate_support()).exp().sum().cpu(),
                          torch.tensor(1.0, dtype=T))
    for cls, capacity in MATCHINGS:
        logits = make_logits(capacity, 3).cuda()
        d, cpu = cls(logits), cls(logits.cpu())
        assert torch.allclose(d.log_partition_function.cpu(), cpu.log_partition_function)
        v = d.sample((5,))
        assert v.device.type == "cuda" and bool(d.support.check(v).all())
        assert torch.allclose(d.log_prob(v).cpu(), cpu.log_prob(v.cpu()))
        assert d.mode().tolist() == cpu.mode().tolist()
        bethe = cls(logits, bp_iters=20).log_partition_function
        assert torch.allclose(bethe.cpu(), cls(logits.cpu(), bp_iters=20).log_partition_function)
