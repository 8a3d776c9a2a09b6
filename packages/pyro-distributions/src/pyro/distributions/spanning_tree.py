"""``SpanningTree``: a random spanning tree of the complete graph, weighted by edge logits.

Edges of the complete graph on ``V`` vertices are ranked colexicographically,
``(0,1), (0,2), (1,2), (0,3), (1,3), (2,3), ...``: edge ``(v1, v2)`` with ``v1 < v2`` has rank
``k = v1 + v2 * (v2 - 1) // 2``. A tree is a long tensor of shape ``(V-1, 2)`` of sorted edges
in increasing rank. Everything here is pure torch: the partition function by the matrix-tree
theorem, exact draws as a determinantal point process over edges, the mode by Prim's
algorithm.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch.distributions.utils import lazy_property

from pyro.distributions import constraints
from pyro.distributions.torch_distribution import TorchDistribution

#: ``NUM_SPANNING_TREES[V]`` is the number of spanning trees of the complete graph on ``V``
#: vertices (Cayley's formula ``V ** (V - 2)``), for ``V < 20``.
NUM_SPANNING_TREES = [1, 1] + [v ** (v - 2) for v in range(2, 20)]

_SAMPLER_OPTIONS = ("init_edges", "mcmc_steps", "backend")
_BACKENDS = ("python", "cpp")


def _check_backend(backend: str) -> None:
    if backend not in _BACKENDS:
        raise ValueError(f"unknown backend: {backend!r} (expected one of {_BACKENDS})")


def make_complete_graph(num_vertices: int, backend: str = "python") -> torch.Tensor:
    """The edges of the complete graph on ``num_vertices`` vertices, a ``(2, K)`` long
    tensor of ``(v1, v2)`` pairs with ``v1 < v2``, in colexicographic order
    (``K = V * (V - 1) // 2``)."""
    _check_backend(backend)
    pairs = [(v1, v2) for v2 in range(num_vertices) for v1 in range(v2)]
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t().contiguous()


def _num_vertices(num_edges: int) -> int:
    """The ``V`` with ``V * (V - 1) // 2 == num_edges``, or -1."""
    v = (1 + math.isqrt(1 + 8 * num_edges)) // 2
    return v if v * (v - 1) // 2 == num_edges else -1


def _edge_ranks(edges: torch.Tensor) -> torch.Tensor:
    v1, v2 = edges[..., 0], edges[..., 1]
    return v1 + v2 * (v2 - 1) // 2


def _grounded_laplacian(edge_logits: torch.Tensor, num_vertices: int
                        ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The weights ``exp(edge_logits - shift)``, ``shift`` and the Laplacian of the weighted
    complete graph without vertex 0's row and column, ``(V-1, V-1)``."""
    shift = edge_logits.detach().max()
    weights = (edge_logits - shift).exp()
    v1, v2 = make_complete_graph(num_vertices).to(edge_logits.device)
    adjacency = edge_logits.new_zeros(num_vertices, num_vertices)
    adjacency = adjacency.index_put((v1, v2), weights).index_put((v2, v1), weights)
    laplacian = torch.diag_embed(adjacency.sum(-1)) - adjacency
    return weights, shift, laplacian[1:, 1:]


def _tree_basis(edge_logits: torch.Tensor, num_vertices: int) -> torch.Tensor:
    """The ``(K, V-1)`` matrix ``Phi = diag(sqrt(w)) B L^{-T/2}`` in float64 (``B`` the
    incidence matrix without vertex 0, ``L = B^T diag(w) B`` the grounded Laplacian): its rows
    are the features of the edges, and ``Phi Phi^T`` is the projection kernel of the
    determinantal point process that the edge set of a random spanning tree is."""
    logits = edge_logits.detach().to(torch.float64)
    weights, _, laplacian = _grounded_laplacian(logits, num_vertices)
    v1, v2 = make_complete_graph(num_vertices).to(logits.device)
    ranks = torch.arange(weights.numel(), device=logits.device)
    incidence = logits.new_zeros(weights.numel(), num_vertices)
    incidence[ranks, v1] = 1.0
    incidence[ranks, v2] = -1.0
    chol = torch.linalg.cholesky(laplacian)
    scaled = incidence[:, 1:] * weights.sqrt().unsqueeze(-1)
    return torch.linalg.solve_triangular(chol, scaled.t(), upper=False).t()


def _sample_trees(edge_logits: torch.Tensor, num_vertices: int, num_samples: int,
                  basis: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``num_samples`` exact draws, a ``(num_samples, V-1, 2)`` long tensor.

    Draws an edge with probability proportional to its squared row of the basis
    (:func:`_tree_basis`, computed here unless given), projects every row onto the
    complement of the chosen one, and repeats ``V - 1`` times. All draws run together.
    """
    device = edge_logits.device
    num_edges = num_vertices - 1
    if num_edges == 0 or num_samples == 0:
        return torch.zeros(num_samples, num_edges, 2, dtype=torch.long, device=device)
    if basis is None:
        basis = _tree_basis(edge_logits, num_vertices)
    v1, v2 = make_complete_graph(num_vertices).to(device)
    phi = basis.expand(num_samples, -1, -1).clone()
    rows = torch.arange(num_samples, device=device)
    chosen = []
    for _ in range(num_edges):
        probs = phi.pow(2).sum(-1).clamp(min=0)
        pick = torch.multinomial(probs, 1).squeeze(-1)
        chosen.append(pick)
        a = phi[rows, pick]
        coef = (phi @ a.unsqueeze(-1)) / a.pow(2).sum(-1).view(-1, 1, 1)
        phi = phi - coef * a.unsqueeze(1)
    picked = torch.stack(chosen, -1).sort(-1).values
    grid = torch.stack([v1, v2], -1)
    return grid[picked]


def sample_tree(edge_logits: torch.Tensor, init_edges: Optional[torch.Tensor] = None,
                mcmc_steps: int = 1, backend: str = "python") -> torch.Tensor:
    """One exact draw of a spanning tree, a ``(V-1, 2)`` long tensor.

    Draws are exact, so ``init_edges`` and ``mcmc_steps`` (the starting tree and length of
    Pyro's Markov chain) do not change the result's distribution and are not used.
    """
    _check_backend(backend)
    num_vertices = _num_vertices(edge_logits.numel())
    return _sample_trees(edge_logits, num_vertices, 1)[0]


def sample_tree_approx(edge_logits: torch.Tensor, backend: str = "python") -> torch.Tensor:
    """A draw of a spanning tree to start a Markov chain from; here an exact draw."""
    return sample_tree(edge_logits, backend=backend)


def _component(num_vertices: int, edges: List[Tuple[int, int]], start: int) -> List[bool]:
    neighbors: List[List[int]] = [[] for _ in range(num_vertices)]
    for a, b in edges:
        neighbors[a].append(b)
        neighbors[b].append(a)
    seen = [False] * num_vertices
    seen[start] = True
    stack = [start]
    while stack:
        for u in neighbors[stack.pop()]:
            if not seen[u]:
                seen[u] = True
                stack.append(u)
    return seen


def sample_tree_mcmc(edge_logits: torch.Tensor, edges: torch.Tensor,
                     backend: str = "python") -> torch.Tensor:
    """One Gibbs sweep from the tree ``edges``: each edge in turn (in a random order) is
    removed and replaced by an edge joining the two components left, drawn with probability proportional to
    ``exp(edge_logit)``. The sweep leaves the spanning-tree distribution invariant. Returns
    the new tree, a ``(V-1, 2)`` long tensor in colexicographic order."""
    _check_backend(backend)
    num_vertices = edges.size(0) + 1
    grid = make_complete_graph(num_vertices).t().tolist()
    tree = [tuple(edges[i].tolist()) for i in torch.randperm(edges.size(0)).tolist()]
    for e in range(len(tree)):  # a systematic scan over randomly ordered slots
        others = tree[:e] + tree[e + 1:]
        side = _component(num_vertices, others, tree[e][0])
        candidates = [k for k, (a, b) in enumerate(grid) if side[a] != side[b]]
        logits = edge_logits.detach()[candidates]
        k = candidates[int(torch.multinomial((logits - logits.max()).exp(), 1))]
        tree[e] = tuple(grid[k])
    tree.sort(key=lambda ab: ab[0] + ab[1] * (ab[1] - 1) // 2)
    return torch.tensor(tree, dtype=torch.long, device=edges.device).reshape(-1, 2)


def find_best_tree(edge_logits: torch.Tensor, backend: str = "python") -> torch.Tensor:
    """The maximum-weight spanning tree (Prim's algorithm), a ``(V-1, 2)`` long tensor of
    sorted edges in colexicographic order."""
    _check_backend(backend)
    num_vertices = _num_vertices(edge_logits.numel())
    grid = make_complete_graph(num_vertices).t().tolist()
    weight = [[-math.inf] * num_vertices for _ in range(num_vertices)]
    for (a, b), w in zip(grid, edge_logits.detach().tolist()):
        weight[a][b] = weight[b][a] = w
    in_tree = [False] * num_vertices
    best = list(weight[0])
    parent = [0] * num_vertices
    in_tree[0] = True
    tree = []
    for _ in range(num_vertices - 1):
        v = max((u for u in range(num_vertices) if not in_tree[u]), key=lambda u: best[u])
        in_tree[v] = True
        tree.append((min(parent[v], v), max(parent[v], v)))
        for u in range(num_vertices):
            if not in_tree[u] and weight[v][u] > best[u]:
                best[u], parent[u] = weight[v][u], v
    tree.sort(key=lambda ab: ab[0] + ab[1] * (ab[1] - 1) // 2)
    return torch.tensor(tree, dtype=torch.long, device=edge_logits.device).reshape(-1, 2)


def _prufer_tree(code: Sequence[int], num_vertices: int) -> Tuple[Tuple[int, int], ...]:
    degree = [1] * num_vertices
    for v in code:
        degree[v] += 1
    edges = []
    for v in code:
        leaf = degree.index(1)
        edges.append((min(leaf, v), max(leaf, v)))
        degree[leaf] -= 1
        degree[v] -= 1
    a, b = [u for u in range(num_vertices) if degree[u] == 1]
    edges.append((a, b))
    return tuple(sorted(edges, key=lambda ab: ab[0] + ab[1] * (ab[1] - 1) // 2))


def enumerate_spanning_trees(V: int) -> List[Tuple[Tuple[int, int], ...]]:
    """Every spanning tree of the complete graph on ``V`` vertices, as tuples of sorted
    edges in colexicographic order, the list sorted (``V ** (V - 2)`` trees)."""
    if V <= 1:
        return [()]
    if V == 2:
        return [((0, 1),)]
    codes = itertools.product(range(V), repeat=V - 2)
    return sorted(_prufer_tree(code, V) for code in codes)


class SpanningTree(TorchDistribution):
    """A random spanning tree of the complete graph on ``V`` vertices, with probability
    proportional to ``exp(sum of the logits of its edges)``.

    A value is a long tensor ``edges`` of shape ``(V-1, 2)``: each row a sorted edge
    ``(v1, v2)``, ``v1 < v2``, the rows in colexicographic order (see
    :meth:`validate_edges`). ``edge_logits[k]`` is the logit of the edge of rank
    ``k = v1 + v2 * (v2 - 1) // 2``; :func:`make_complete_graph` lists the edges in that order,
    so a ``(V, V)`` matrix ``m`` of logits becomes ``m[make_complete_graph(V).unbind(0)]``.

    :attr:`log_partition_function` is exact (the matrix-tree theorem) and differentiable;
    :meth:`sample` draws exactly, any ``sample_shape``.

    Args:
        edge_logits: a vector of ``V * (V - 1) // 2`` edge logits (no batch dimensions).
        sampler_options: optional dict with Pyro's sampler keys ``mcmc_steps``,
            ``init_edges`` and ``backend`` (``"python"`` or ``"cpp"``). Draws here are
            exact, so the first two have no effect.
        validate_args: as for every distribution.

    Raises:
        ValueError: ``edge_logits`` is not a vector of length ``V * (V - 1) // 2``, or the
            backend is unknown.
        TypeError: ``sampler_options`` has an unknown key.
    """

    arg_constraints = {"edge_logits": constraints.real}
    support = constraints.nonnegative_integer
    has_enumerate_support = True

    def __init__(self, edge_logits: Any, sampler_options: Optional[Dict[str, Any]] = None,
                 validate_args: Optional[bool] = None) -> None:
        edge_logits = torch.as_tensor(edge_logits)
        if edge_logits.dim() != 1:
            raise ValueError(
                "SpanningTree: edge_logits must be a vector of V*(V-1)/2 logits (no batch "
                f"dimensions), got shape {tuple(edge_logits.shape)}")
        num_vertices = _num_vertices(edge_logits.size(0))
        if num_vertices < 0:
            raise ValueError(
                f"SpanningTree: edge_logits of shape {tuple(edge_logits.shape)}: its length "
                f"{edge_logits.size(0)} is not V*(V-1)/2 for any number V of vertices")
        options = {} if sampler_options is None else dict(sampler_options)
        unknown = sorted(set(options) - set(_SAMPLER_OPTIONS))
        if unknown:
            raise TypeError(
                f"SpanningTree: unexpected sampler option(s) {unknown}; expected some of "
                f"{list(_SAMPLER_OPTIONS)}")
        _check_backend(options.get("backend", "python"))
        self.edge_logits = edge_logits
        self.num_vertices = num_vertices
        self.sampler_options = options
        super().__init__(torch.Size(), torch.Size((num_vertices - 1, 2)),
                         validate_args=validate_args)

    def validate_edges(self, edges: torch.Tensor) -> None:
        """Check that ``edges`` (shape ``(..., V-1, 2)``) are spanning trees in the canonical
        form: integer vertex ids in ``[0, V)``, each edge sorted, edges in colexicographic
        order, connected (hence a tree).

        Raises:
            ValueError: naming the first property that fails.
        """
        num_vertices = self.num_vertices
        if edges.dim() < 2 or edges.shape[-2:] != (num_vertices - 1, 2):
            raise ValueError(
                f"Invalid edges shape: {edges.shape}; expected (..., {num_vertices - 1}, 2) for "
                f"V={num_vertices} vertices")
        if edges.dtype.is_floating_point or edges.dtype.is_complex or edges.dtype == torch.bool:
            raise ValueError(f"Invalid edges dtype: {edges.dtype}; expected an integer tensor")
        if num_vertices == 1:
            return
        if not bool((edges[..., 0] < edges[..., 1]).all()):
            raise ValueError(f"Vertices are not sorted in each edge:\n{edges}")
        ranks = _edge_ranks(edges)
        if not bool((ranks[..., :-1] < ranks[..., 1:]).all()):
            raise ValueError(f"Edges are not sorted colexicographically:\n{edges}")
        if not bool(((edges >= 0) & (edges < num_vertices)).all()):
            raise ValueError(f"Invalid vertex ids:\n{edges}")
        batch = edges.reshape(-1, num_vertices - 1, 2)
        reach = torch.eye(num_vertices, device=edges.device).expand(batch.size(0), -1, -1).clone()
        rows = torch.arange(batch.size(0), device=edges.device).unsqueeze(-1)
        reach[rows, batch[..., 0], batch[..., 1]] = 1.0
        reach[rows, batch[..., 1], batch[..., 0]] = 1.0
        for _ in range(max(1, (num_vertices - 1).bit_length())):
            reach = (reach @ reach).clamp(max=1.0)
        if not bool((reach[:, 0] > 0).all()):
            raise ValueError(f"Edges do not constitute a tree:\n{edges}")

    @lazy_property
    def log_partition_function(self) -> torch.Tensor:
        """``log Z``, the log-sum over all spanning trees of their edge logits (exact, by the
        matrix-tree theorem; differentiable)."""
        if self.num_vertices == 1:
            return self.edge_logits.new_zeros(())
        _, shift, laplacian = _grounded_laplacian(self.edge_logits, self.num_vertices)
        return (self.num_vertices - 1) * shift + torch.linalg.slogdet(laplacian)[1]

    @lazy_property
    def _basis(self) -> torch.Tensor:
        return _tree_basis(self.edge_logits, self.num_vertices)

    @property
    def edge_mean(self) -> torch.Tensor:
        """The ``(V, V)`` symmetric matrix of the probabilities that each edge is in the tree
        (zero diagonal); its entries sum to ``2 * (V - 1)``."""
        num_vertices = self.num_vertices
        result = self.edge_logits.new_zeros(num_vertices, num_vertices)
        if num_vertices == 1:
            return result
        weights, _, laplacian = _grounded_laplacian(self.edge_logits, num_vertices)
        inverse = result.clone()
        inverse[1:, 1:] = torch.linalg.inv(laplacian)
        diag = inverse.diagonal()
        resistance = diag.unsqueeze(-1) + diag - 2 * inverse
        v1, v2 = make_complete_graph(num_vertices).to(self.edge_logits.device)
        probs = weights * resistance[v1, v2]
        return result.index_put((v1, v2), probs).index_put((v2, v1), probs)

    def log_prob(self, edges: torch.Tensor) -> torch.Tensor:
        """The sum of the tree's edge logits minus ``log Z``, of shape ``edges.shape[:-2]``."""
        if self._validate_args:
            self.validate_edges(edges)
        return self.edge_logits[_edge_ranks(edges)].sum(-1) - self.log_partition_function

    def sample(self, sample_shape: Sequence[int] = torch.Size()) -> torch.Tensor:
        """Exact draws, a long tensor of shape ``sample_shape + (V-1, 2)``."""
        sample_shape = torch.Size(sample_shape)
        basis = self._basis if self.num_vertices > 1 else None
        draws = _sample_trees(self.edge_logits, self.num_vertices, sample_shape.numel(), basis)
        return draws.reshape(sample_shape + self.event_shape)

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        """All ``V ** (V - 2)`` trees, shape ``(V ** (V - 2), V-1, 2)``, in the order of
        :func:`enumerate_spanning_trees`."""
        trees = enumerate_spanning_trees(self.num_vertices)
        return torch.tensor(trees, dtype=torch.long, device=self.edge_logits.device).reshape(
            (len(trees),) + self.event_shape)

    @property
    def mode(self) -> torch.Tensor:
        """The most probable tree (the maximum-weight spanning tree), shape ``(V-1, 2)``."""
        return find_best_tree(self.edge_logits)


__all__ = [
    "NUM_SPANNING_TREES",
    "SpanningTree",
    "enumerate_spanning_trees",
    "find_best_tree",
    "make_complete_graph",
    "sample_tree",
    "sample_tree_approx",
    "sample_tree_mcmc",
]
