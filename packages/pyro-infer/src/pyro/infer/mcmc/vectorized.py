"""Several NUTS chains as one batch: the chain is a batch dim of the potential.

The batched potential and gradient come, in order of preference, from the single-chain
potential's recorded ops applied to the batch (:mod:`~pyro.infer.mcmc.batch_graph`), from the
model run once inside an extra plate (the chain dim, left of the model's own plates) when it
broadcasts over it, or from the single-chain potential mapped with ``torch.func.vmap``; each
is checked at the start against the model run alone, chain by chain. When none works (a model
that reads a value, enumeration, ...), :class:`NotVectorizable` is raised and the runner falls
back to sequential chains.

Each chain keeps its own step size, mass matrix (diagonal or dense), adaptation, tree and
random choices. The transitions run on the tensor state machine of
:mod:`~pyro.infer.mcmc.nuts_machine`: one compiled graph advances every chain by one leaf,
each at its own point of its own tree, and a chain whose transition ends is adapted here and
starts its next one while the others go on. The result has the same distribution as running
the chains one after another.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

import torch

from pyro.infer.mcmc import nuts_machine
from pyro.infer.mcmc.adaptation import WarmupAdapter
from pyro.infer.mcmc.batch_graph import Unbatchable, batch_recorded
from pyro.infer.mcmc.compiled import capture, capture_fn, check_points
from pyro.infer.mcmc.hmc import _Layout
from pyro.infer.mcmc.potential import PotentialEnergy, _SubstituteAndScore
from pyro.poutine.plate_messenger import PlateMessenger

__all__ = ["NotVectorizable", "VectorizedNUTS", "compiled_potential"]

Params = Dict[str, torch.Tensor]


class NotVectorizable(Exception):
    """The model cannot run its chains as a batch dim; run them one after another."""


class _ChainScore(_SubstituteAndScore):
    """Like the scalar scorer, but keeps each site's log-density per chain (dim 0)."""

    def _pyro_post_sample(self, msg: Dict[str, Any]) -> None:
        from pyro.ops.score_parts import scale_and_mask
        from pyro.poutine.util import site_is_subsample

        if site_is_subsample(msg):
            return
        log_p = msg["fn"].log_prob(msg["value"], *msg["args"], **msg["kwargs"])
        log_p = scale_and_mask(log_p, msg["scale"], msg["mask"])
        if not isinstance(log_p, torch.Tensor) or log_p.dim() < self.depth:
            raise NotVectorizable(f"site '{msg['name']}' has no chain dim")
        self.terms.append(log_p.reshape(log_p.shape[0], -1).sum(-1) if log_p.dim() > 1 else log_p)


class _BatchedPotential:
    """Per-chain potentials of a model from one run with the chains as a batch dim."""

    def __init__(self, energy: PotentialEnergy, layout: _Layout, site_shapes: Dict[str, Any],
                 num_chains: int, nesting: int) -> None:
        self.energy = energy
        self.layout = layout
        self.num_chains = num_chains
        self.nesting = nesting
        # The value of a site of batch shape B and event shape E: (C,) + (1,) * pad + B + E.
        self.shapes = {}
        for name, (batch, event) in site_shapes.items():
            pad = nesting - len(batch)
            self.shapes[name] = (num_chains,) + (1,) * pad + tuple(batch) + tuple(event)

    def energy_and_grad(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(C,)`` potentials at ``z`` of shape ``(C, D)`` and their ``(C, D)`` gradients."""
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            energy = self(leaf)
            grad, = torch.autograd.grad(energy.sum(), leaf)
        return energy.detach(), grad

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """``(C,)`` potentials of the flat positions ``z`` of shape ``(C, D)``."""
        c = self.num_chains
        inverses = self.energy._inverses
        values = {}
        total = torch.zeros(c, dtype=z.dtype, device=z.device)
        for name, part, size in zip(self.layout.names, z.split(self.layout.sizes, dim=1),
                                    self.layout.sizes):
            u = part.reshape(self.shapes[name])
            t = inverses.get(name)
            if t is None:
                values[name] = u
                continue
            x = t(u)
            values[name] = x
            ladj = t.log_abs_det_jacobian(u, x)
            total = total - ladj.reshape(c, -1).sum(-1)
        scorer = _ChainScore(values)
        scorer.depth = 1
        plate = PlateMessenger("_mcmc_chains", c, dim=-1 - self.nesting)
        with scorer, plate:
            self.energy.model(*self.energy.model_args, **self.energy.model_kwargs)
        for term in scorer.terms:
            if term.shape != (c,):
                raise NotVectorizable(f"a log-density of shape {tuple(term.shape)}")
            total = total - term
        return total


def batched_potential(energy: PotentialEnergy, prototype: Any, layout: _Layout,
                      num_chains: int, nesting: int, z: torch.Tensor) -> _BatchedPotential:
    """The batched potential of ``energy``, checked against the per-chain one at ``z``."""
    site_shapes = {name: (prototype.nodes[name]["fn"].batch_shape,
                          prototype.nodes[name]["fn"].event_shape) for name in layout.names}
    # The unconstrained shape of a site must be its constrained shape (elementwise transforms)
    # or the whole flat vector must still split per site: check sizes.
    for name, size in zip(layout.names, layout.sizes):
        batch, event = site_shapes[name]
        if math.prod(tuple(batch) + tuple(event)) != size:
            raise NotVectorizable(f"site '{name}' changes size when unconstrained")
    fn = _BatchedPotential(energy, layout, site_shapes, num_chains, nesting)
    try:
        leaf = z.detach().requires_grad_(True)
        batched = fn(leaf)
        grad, = torch.autograd.grad(batched.sum(), leaf)
        for c in range(num_chains):
            one = z[c].detach().requires_grad_(True)
            e = energy(layout.unflatten(one))
            g, = torch.autograd.grad(e, one)
            if not (torch.allclose(batched[c].detach(), e.detach(), rtol=1e-4, atol=1e-4)
                    and torch.allclose(grad[c], g, rtol=1e-4, atol=1e-4)):
                raise NotVectorizable("the batched model disagrees with the model run alone")
    except NotVectorizable:
        raise
    except Exception as e:  # the model does not broadcast over the chain dim
        raise NotVectorizable(str(e)) from e
    return fn


class _VmapPotential:
    """Per-chain potentials of a model that does not batch by itself: the single-chain
    potential mapped over the chain dim with ``torch.func.vmap``, differentiated outside the
    map (plain autograd: ``torch.func.grad`` would import torch's compiler, seconds)."""

    def __init__(self, energy: PotentialEnergy, layout: _Layout) -> None:
        self.energy = energy
        self.layout = layout

        def one(z: torch.Tensor) -> torch.Tensor:
            return energy(layout.unflatten(z))

        self._fn = torch.func.vmap(one)

    def energy_and_grad(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(C,)`` potentials at ``z`` of shape ``(C, D)`` and their ``(C, D)`` gradients."""
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            energy = self._fn(leaf)
            grad, = torch.autograd.grad(energy.sum(), leaf)
        return energy.detach(), grad


class _RecordedPotential(_VmapPotential):
    """The single-chain potential mapped over the chain dim another way: its recorded ops
    (forward and backward) each applied to the whole batch by a rule
    (:mod:`~pyro.infer.mcmc.batch_graph`)."""

    def __init__(self, energy: PotentialEnergy, layout: _Layout,
                 energy_and_grad: Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]
                 ) -> None:
        super().__init__(energy, layout)
        self._batched = energy_and_grad

    def energy_and_grad(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(C,)`` potentials at ``z`` of shape ``(C, D)`` and their ``(C, D)`` gradients."""
        return self._batched(z)


def _single_energy_and_grad(energy: PotentialEnergy, layout: _Layout
                            ) -> Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]:
    def energy_grad(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            e = energy(layout.unflatten(leaf))
            g, = torch.autograd.grad(e, leaf)
        return e.detach(), g

    return energy_grad


def _agrees(compiled: Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]],
            single: Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]],
            points: List[torch.Tensor]) -> bool:
    """Whether the batched ``compiled`` gives each chain its own potential and gradient."""
    for z in points:
        e, g = compiled(z)
        for c in range(z.shape[0]):
            e1, g1 = single(z[c])
            if not (torch.allclose(e[c], e1, rtol=1e-4, atol=1e-4)
                    and torch.allclose(g[c], g1, rtol=1e-4, atol=1e-4)):
                return False
    return True


def compiled_potential(energy: PotentialEnergy, prototype: Any, layout: _Layout,
                       num_chains: int, nesting: int, z: torch.Tensor) -> Tuple[Any, Any]:
    """``(potential, compiled energy_and_grad or None)`` of the chains as a batch.

    First choice: the single-chain potential's recorded ops applied to the batch
    (:func:`~pyro.infer.mcmc.batch_graph.batch_recorded`: the fewest ops). Then the chain dim
    as a plate when the model broadcasts over it (compiled if
    :func:`~pyro.infer.mcmc.compiled.capture` allows it, else eager: a model whose ops depend
    on the values). Last, the single-chain potential mapped with ``torch.func.vmap`` (used
    only compiled). Each is checked per chain against the model run alone. Raises
    :class:`NotVectorizable` when none works.
    """
    points = check_points(z, 2)
    single = _single_energy_and_grad(energy, layout)
    try:
        recorded = _RecordedPotential(energy, layout, batch_recorded(single, z))
        compiled = capture(recorded.energy_and_grad, z, points)
        if compiled is not None and _agrees(compiled, single, [z, points[0]]):
            return recorded, compiled
    except Unbatchable:
        pass
    try:
        potential: Any = batched_potential(energy, prototype, layout, num_chains, nesting, z)
    except NotVectorizable:
        potential = None
    if potential is not None:
        return potential, capture(potential.energy_and_grad, z, points)
    potential = _VmapPotential(energy, layout)
    compiled = capture(potential.energy_and_grad, z, points)
    if compiled is None:
        raise NotVectorizable("the model neither batches nor maps over the chain dim")
    if not _agrees(compiled, single, [z]):
        raise NotVectorizable("the mapped model disagrees with the model run alone")
    return potential, compiled


#: How many transitions a chain may run ahead of the draws handed out (its extra draws wait in
#: a queue; a chain that far ahead idles until the others catch up).
MAX_LEAD = 64
_BLOCK = 256  # random draws made at once, in leaves


class VectorizedNUTS:
    """NUTS over ``C`` chains at once (see the module docstring).

    Args:
        kernel: the user's :class:`~pyro.infer.mcmc.NUTS` (its settings are used, and its
            ``potential_fn``/``transforms`` after its setup for chain 0).
        potential: the batched potential.
        z: initial flat positions ``(C, D)``.
        warmup_steps: warm-up steps.
        energy_and_grad: the compiled batched potential and gradient (``None``: eager).
        num_samples: the draws after warm-up that will be asked for, if known: no chain
            then runs past ``warmup_steps + num_samples`` transitions.
    """

    def __init__(self, kernel: Any, potential: Any, z: torch.Tensor, warmup_steps: int,
                 energy_and_grad: Optional[Callable[[torch.Tensor], Any]] = None,
                 num_samples: Optional[int] = None) -> None:
        self.kernel = kernel
        self.potential = potential
        self._batched = energy_and_grad or potential.energy_and_grad
        self._eager_batched = potential.energy_and_grad
        # The whole leaf is compiled only over a compiled potential (the model is static).
        self._compile_leaf = energy_and_grad is not None
        self._compiled_leaf: Optional[Callable[..., Tuple[torch.Tensor, ...]]] = None
        self._compiled_begin: Optional[Callable[..., Tuple[torch.Tensor, ...]]] = None
        single = _single_energy_and_grad(potential.energy, potential.layout)
        self._single = capture(single, z[0], check_points(z[0], 2)) or single
        self.num_chains, self.dim = z.shape
        self.warmup_steps = warmup_steps
        self._last = None if num_samples is None else warmup_steps + num_samples
        self.max_tree_depth = kernel._max_tree_depth
        self.t = 0
        self.z = z
        self.energy, self.grad = self._energy_and_grad(z)
        if not bool(torch.isfinite(self.energy).all()):
            raise NotVectorizable("non-finite initial energy")
        self.masses = [kernel._new_mass(potential.layout, z.dtype, z.device, fresh=True)
                       for _ in range(self.num_chains)]
        self.adapters: List[WarmupAdapter] = []
        base = kernel._adapter
        for c in range(self.num_chains):
            a = WarmupAdapter(base._init_step_size, adapt_step_size=base.adapt_step_size,
                              target_accept_prob=base.target_accept_prob,
                              adapt_mass_matrix=base.adapt_mass_matrix, dense_mass=base.dense_mass)
            a.configure(warmup_steps, mass_matrix=self.masses[c],
                        find_reasonable_step_size_fn=self._step_size_finder(c))
            self.adapters.append(a)
        self._stack_masses()
        self._stack_step_sizes()
        self.divergences: List[List[int]] = [[] for _ in range(self.num_chains)]
        self.accept_cnt = [0] * self.num_chains
        self.mean_accept = [0.0] * self.num_chains
        # Each chain's finished transitions not yet handed out: (z, accept prob, moved, div).
        self._queues: List[Deque[Tuple[torch.Tensor, float, bool, bool]]] = [
            deque() for _ in range(self.num_chains)]
        self._finished = [0] * self.num_chains  # transitions each chain has finished
        self._idle = [True] * self.num_chains  # between transitions (waiting for begin)
        self._log_u: Tuple[torch.Tensor, ...] = ()
        self._noise: Tuple[torch.Tensor, ...] = ()
        self._draw_index = 0
        self.state = nuts_machine.initial_state(z, self.energy, self.grad, self.max_tree_depth)

    # ----- batched pieces -------------------------------------------------------------------
    def _energy_and_grad(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self._batched(z)

    def _eager_leaf(self, *args: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """:func:`~pyro.infer.mcmc.nuts_machine.leaf` over the eager batched potential, as a
        function of tensors (the state, step sizes, inverse masses, uniforms) for capture."""
        k = len(nuts_machine.FIELDS)
        state, done = nuts_machine.leaf(self._eager_batched, self.max_tree_depth, args[:k],
                                        *args[k:])
        return state + (done,)

    def _leaf(self, *args: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """:meth:`_eager_leaf`, compiled into one graph on its first call when it can be."""
        if self._compiled_leaf is None:
            tip = args[0]
            g = torch.Generator(device=tip.device).manual_seed(0)
            moved = (tip + 0.1 * torch.randn(tip.shape, generator=g, dtype=tip.dtype,
                                             device=tip.device),)
            compiled = None
            if self._compile_leaf:
                compiled = capture_fn(self._eager_leaf, args, [moved + args[1:]])
            self._compiled_leaf = compiled or self._fast_eager_leaf
        return self._compiled_leaf(*args)

    def _fast_eager_leaf(self, *args: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        k = len(nuts_machine.FIELDS)
        state, done = nuts_machine.leaf(self._batched, self.max_tree_depth, args[:k], *args[k:])
        return state + (done,)

    def _eager_begin(self, *args: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        k = len(nuts_machine.FIELDS)
        return nuts_machine.begin(args[:k], *args[k:])

    def _begin(self, *args: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self._compiled_begin is None:
            noise = args[-2]
            self._compiled_begin = capture_fn(
                self._eager_begin, args, [args[:-2] + (noise + 1.0, args[-1] - 0.5)]
            ) or self._eager_begin
        return self._compiled_begin(*args)

    def _stack_masses(self) -> None:
        self._inverses = [m.inverse for m in self.masses]
        self.inverse = torch.stack(self._inverses)
        self.factor = torch.stack([m._momentum_factor for m in self.masses])

    def _stack_step_sizes(self) -> None:
        self.eps = torch.tensor([a.step_size for a in self.adapters], dtype=self.z.dtype,
                                device=self.z.device)

    def _step_size_finder(self, c: int) -> Callable[[], float]:
        kernel = self.kernel

        def find() -> float:
            mass = self.masses[c]
            z = self.z[c]
            adapter = self.adapters[c] if c < len(self.adapters) else None
            step = adapter.step_size if adapter is not None else kernel._adapter._init_step_size

            energy_grad = self._single
            e0, g0 = energy_grad(z)
            r = mass.sample_momentum()
            h0 = float(e0 + mass.kinetic(r))
            log_target = math.log(0.8)

            def delta(s: float) -> float:
                r1 = r - 0.5 * s * g0
                z1 = z + s * mass.velocity(r1)
                e1, g1 = energy_grad(z1)
                r1 = r1 - 0.5 * s * g1
                h1 = float(e1 + mass.kinetic(r1))
                return h0 - h1 if math.isfinite(h1) else -math.inf

            d = delta(step)
            direction = 1 if d > log_target else -1
            for _ in range(100):
                new = step * 2.0 ** direction
                if not kernel._min_stepsize <= new <= kernel._max_stepsize:
                    break
                d = delta(new)
                if (direction == 1 and not d > log_target) or (direction == -1 and d > log_target):
                    break
                step = new
            return step

        return find

    # ----- transitions ----------------------------------------------------------------------
    def sample(self) -> torch.Tensor:
        """Hand out the next transition of every chain; return the positions ``(C, D)``.

        The chains advance leaf by leaf until each has a finished transition queued (a chain
        ahead of the others keeps going, up to :data:`MAX_LEAD` transitions)."""
        queues = self._queues
        with torch.no_grad():
            while not all(queues):
                self._advance()
        t = self.t
        out = []
        for c in range(self.num_chains):
            z, accept_prob, moved, diverged = queues[c].popleft()
            out.append(z)
            if t >= self.warmup_steps:
                n = t - self.warmup_steps + 1
                self.mean_accept[c] += (accept_prob - self.mean_accept[c]) / n
                self.accept_cnt[c] += int(moved)
                if diverged:
                    self.divergences[c].append(t - self.warmup_steps)
        self.t += 1
        return torch.stack(out)

    def _draws(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The next leaf's log-uniforms ``(C, 4)`` (three for the leaf, one for a new
        transition's first direction) and standard normals ``(C, D)`` (for its momenta), drawn
        in blocks: a draw per leaf would cost more than the slicing."""
        i = self._draw_index
        if i == len(self._log_u):
            C, dtype, device = self.num_chains, self.z.dtype, self.z.device
            self._log_u = torch.rand(_BLOCK, C, 4, dtype=dtype, device=device).log().unbind(0)
            self._noise = torch.randn(_BLOCK, C, self.dim, dtype=dtype, device=device).unbind(0)
            i = 0
        self._draw_index = i + 1
        return self._log_u[i], self._noise[i]

    def _advance(self) -> None:
        """Start the idle chains that may start, then one leaf of every chain."""
        log_u, noise = self._draws()
        last = self._last
        start = [idle and done - self.t < MAX_LEAD and (last is None or done < last)
                 for idle, done in zip(self._idle, self._finished)]
        if True in start:
            mask = torch.tensor(start, device=self.z.device)
            self.state = self._begin(*self.state, mask, self.inverse, self.factor, noise,
                                     log_u[:, 3])
            self._idle = [i and not s for i, s in zip(self._idle, start)]
        elif all(self._idle):
            raise RuntimeError(f"VectorizedNUTS.sample: more than {self._last} transitions "
                               f"asked for (warmup_steps + num_samples)")
        out = self._leaf(*self.state, self.eps, self.inverse, log_u[:, :3])
        self.state = out[:-1]
        done = out[-1].tolist()
        if True in done:
            self._finish(done)

    def _finish(self, done: List[bool]) -> None:
        """Queue the transitions that ended at the last leaf and adapt their chains."""
        fields = dict(zip(nuts_machine.FIELDS, self.state))
        pz, pg = fields["prop"][:, 0], fields["prop"][:, 2]
        accepts = (fields["sum_accept"] / fields["n_leaves"].clamp(min=1)).tolist()
        moved, diverged = torch.stack([fields["moved"], fields["diverged"]]).tolist()
        self.z, self.energy, self.grad = pz, fields["pe"], pg
        adapted = False
        for c in range(self.num_chains):
            if not done[c]:
                continue
            t = self._finished[c]
            if t < self.warmup_steps:
                a = self.adapters[c]
                a.step(t, pz[c], accepts[c], pg[c])
                a.step_size = min(max(a.step_size, self.kernel._min_stepsize),
                                  self.kernel._max_stepsize)
                adapted = True
            self._queues[c].append((pz[c], accepts[c], moved[c], diverged[c]))
            self._finished[c] = t + 1
            self._idle[c] = True
        if adapted:
            self._stack_step_sizes()
            if any(m.inverse is not i for m, i in zip(self.masses, self._inverses)):
                self._stack_masses()
