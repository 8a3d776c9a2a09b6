"""Several NUTS chains as one batch: the chain is a batch dim of the model, trees in lockstep.

The model runs once per leapfrog step for every chain, inside an extra plate (the chain dim,
left of the model's own plates), so the Python work of the model and the autograd graph are
paid once for all chains. A model that does not broadcast over that plate (``x @ w``) has its
single-chain potential mapped over the chains with ``torch.func.vmap`` instead. Each chain keeps
its own step size, mass matrix (diagonal or dense), adaptation, tree and random choices; the
trees are built in lockstep, leaf by leaf, and a chain whose subtree or tree has ended is
masked until the others finish. The result has the same distribution as running the chains one
after another.

The batched potential and its gradient, and then one whole leaf (leapfrog step, energy error,
progressive sampling and masking), are compiled by :mod:`~pyro.infer.mcmc.compiled` where the
model is static. :func:`compiled_potential` checks at the start that the batched model gives
every chain the same potential and gradient as the model run alone; when neither route does
(a model that reads a value, enumeration, ...), :class:`NotVectorizable` is raised and the
runner falls back to sequential chains.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from pyro.infer.mcmc.adaptation import WarmupAdapter
from pyro.infer.mcmc.compiled import capture, capture_fn, check_points
from pyro.infer.mcmc.hmc import MAX_ENERGY_ERROR, _Layout
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


def _single_energy_and_grad(energy: PotentialEnergy, layout: _Layout
                            ) -> Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]:
    def energy_grad(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            e = energy(layout.unflatten(leaf))
            g, = torch.autograd.grad(e, leaf)
        return e.detach(), g

    return energy_grad


def compiled_potential(energy: PotentialEnergy, prototype: Any, layout: _Layout,
                       num_chains: int, nesting: int, z: torch.Tensor) -> Tuple[Any, Any]:
    """``(potential, compiled energy_and_grad or None)`` of the chains as a batch.

    The chain dim goes in as a plate when the model broadcasts over it (checked per chain,
    then compiled if :func:`~pyro.infer.mcmc.compiled.capture` allows it); otherwise the
    single-chain potential is mapped with ``torch.func.vmap``, which is used only compiled
    and after the same per-chain check. Raises :class:`NotVectorizable` when neither works.
    """
    points = check_points(z, 2)
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
    single = _single_energy_and_grad(energy, layout)
    e, g = compiled(z)
    for c in range(num_chains):
        e1, g1 = single(z[c])
        if not (torch.allclose(e[c], e1, rtol=1e-4, atol=1e-4)
                and torch.allclose(g[c], g1, rtol=1e-4, atol=1e-4)):
            raise NotVectorizable("the mapped model disagrees with the model run alone")
    return potential, compiled


def _logaddexp(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    m = torch.maximum(a, b)
    m_safe = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    return torch.where(torch.isfinite(m), m_safe + ((a - m_safe).exp() + (b - m_safe).exp()).log(), m)


class VectorizedNUTS:
    """NUTS over ``C`` chains at once (see the module docstring).

    Args:
        kernel: the user's :class:`~pyro.infer.mcmc.NUTS` (its settings are used, and its
            ``potential_fn``/``transforms`` after its setup for chain 0).
        potential: the batched potential.
        z: initial flat positions ``(C, D)``.
        warmup_steps: warm-up steps.
    """

    def __init__(self, kernel: Any, potential: Any, z: torch.Tensor, warmup_steps: int,
                 energy_and_grad: Optional[Callable[[torch.Tensor], Any]] = None) -> None:
        self.kernel = kernel
        self.potential = potential
        self._batched = energy_and_grad or potential.energy_and_grad
        self._eager_batched = potential.energy_and_grad
        # The whole leaf is compiled only over a compiled potential (the model is static).
        self._compile_leaf = energy_and_grad is not None
        self._compiled_leaf: Optional[Callable[..., Tuple[torch.Tensor, ...]]] = None
        single = _single_energy_and_grad(potential.energy, potential.layout)
        self._single = capture(single, z[0], check_points(z[0], 2)) or single
        self.num_chains, self.dim = z.shape
        self.warmup_steps = warmup_steps
        self.max_tree_depth = kernel._max_tree_depth
        self.t = 0
        self.z = z
        self.energy, self.grad = self._energy_and_grad(z)
        if not bool(torch.isfinite(self.energy).all()):
            raise NotVectorizable("non-finite initial energy")
        self.masses = [kernel._new_mass(potential.layout, z.dtype, z.device, fresh=True)
                       for _ in range(self.num_chains)]
        self._dense = self.masses[0].dense
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
        self.divergences: List[List[int]] = [[] for _ in range(self.num_chains)]
        self.accept_cnt = [0] * self.num_chains
        self.mean_accept = [0.0] * self.num_chains

    # ----- batched pieces -------------------------------------------------------------------
    def _energy_and_grad(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self._batched(z)

    def _eager_leaf(self, z: torch.Tensor, r: torch.Tensor, grad: torch.Tensor, v: torch.Tensor,
                    step: torch.Tensor, inverse: torch.Tensor, h0: torch.Tensor,
                    live: torch.Tensor, log_w: torch.Tensor, prop_z: torch.Tensor,
                    prop_e: torch.Tensor, prop_g: torch.Tensor, sum_accept: torch.Tensor,
                    leaves: torch.Tensor, diverging: torch.Tensor, r_sum: torch.Tensor,
                    log_u: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """One leapfrog leaf of every live chain and its bookkeeping (masked chains keep
        their state); ``log_u`` is the log-uniform draw of the progressive sampling."""
        dense = self._dense

        def velocity(x: torch.Tensor) -> torch.Tensor:
            return (inverse @ x.unsqueeze(-1)).squeeze(-1) if dense else inverse * x

        lv = live.unsqueeze(-1)
        r1 = r - 0.5 * step * grad
        z1 = torch.where(lv, z + step * velocity(r1), z)  # masked chains stay put (finite)
        e1, g1 = self._eager_batched(z1)
        r1 = r1 - 0.5 * step * g1
        v1 = velocity(r1)
        delta = e1 + 0.5 * (r1 * v1).sum(-1) - h0
        delta = torch.where(torch.isnan(delta), torch.full_like(delta, math.inf), delta)
        sum_accept = sum_accept + torch.where(live, torch.exp(torch.clamp(-delta, max=0.0)),
                                              torch.zeros_like(delta))
        leaves = leaves + live.to(delta.dtype)
        div = live & (delta > MAX_ENERGY_ERROR)
        diverging = diverging | div
        valid = live & ~div
        vl = valid.unsqueeze(-1)
        leaf_w = torch.where(valid, -delta, torch.full_like(delta, -math.inf))
        new_w = _logaddexp(log_w, leaf_w)
        take = valid & (log_u < leaf_w - new_w)
        tk = take.unsqueeze(-1)
        prop_z = torch.where(tk, z1, prop_z)
        prop_e = torch.where(take, e1, prop_e)
        prop_g = torch.where(tk, g1, prop_g)
        log_w = torch.where(valid, new_w, log_w)
        z = torch.where(vl, z1, z)
        r = torch.where(vl, r1, r)
        grad = torch.where(vl, g1, grad)
        v = torch.where(vl, v1, v)
        r_sum = torch.where(vl, r_sum + r, r_sum)
        return (z, r, grad, v, log_w, prop_z, prop_e, prop_g, sum_accept, leaves, diverging,
                r_sum, valid)

    def _leaf(self, *args: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """:meth:`_eager_leaf`, compiled into one graph on its first call when it can be."""
        if self._compiled_leaf is None:
            g = torch.Generator(device=args[0].device).manual_seed(0)
            moved = (args[0] + 0.1 * torch.randn(args[0].shape, generator=g,
                                                 dtype=args[0].dtype, device=args[0].device),)
            compiled = None
            if self._compile_leaf:
                compiled = capture_fn(self._eager_leaf, args, [moved + args[1:]])
            self._compiled_leaf = compiled or self._fast_eager_leaf
        return self._compiled_leaf(*args)

    def _fast_eager_leaf(self, *args: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        eager = self._eager_batched
        self._eager_batched = self._batched
        try:
            return self._eager_leaf(*args)
        finally:
            self._eager_batched = eager

    def _stack_masses(self) -> None:
        self._inverses = [m.inverse for m in self.masses]
        self.inverse = torch.stack(self._inverses)
        self.factor = torch.stack([m._momentum_factor for m in self.masses])

    def _velocity(self, r: torch.Tensor) -> torch.Tensor:
        if self._dense:
            return (self.inverse @ r.unsqueeze(-1)).squeeze(-1)
        return self.inverse * r

    def _momentum(self) -> torch.Tensor:
        eps = torch.randn(self.num_chains, self.dim, dtype=self.z.dtype, device=self.z.device)
        if self._dense:
            return (self.factor @ eps.unsqueeze(-1)).squeeze(-1)
        return self.factor * eps

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

    # ----- one transition of every chain ----------------------------------------------------
    def sample(self) -> torch.Tensor:
        """Advance every chain by one NUTS transition; return the positions ``(C, D)``."""
        with torch.no_grad():
            accept_prob, moved, diverged = self._transition()
        t = self.t
        for c in range(self.num_chains):
            if t < self.warmup_steps:
                a = self.adapters[c]
                a.step(t, self.z[c], float(accept_prob[c]), self.grad[c])
                a.step_size = min(max(a.step_size, self.kernel._min_stepsize),
                                  self.kernel._max_stepsize)
            else:
                n = t - self.warmup_steps + 1
                self.mean_accept[c] += (float(accept_prob[c]) - self.mean_accept[c]) / n
                self.accept_cnt[c] += int(moved[c])
                if diverged[c]:
                    self.divergences[c].append(t - self.warmup_steps)
        if any(m.inverse is not i for m, i in zip(self.masses, self._inverses)):
            self._stack_masses()
        self.t += 1
        return self.z

    def _transition(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        C = self.num_chains
        dtype, device = self.z.dtype, self.z.device
        eps = torch.tensor([a.step_size for a in self.adapters], dtype=dtype, device=device)
        r0 = self._momentum()
        v0 = self._velocity(r0)
        h0 = self.energy + 0.5 * (r0 * v0).sum(-1)
        left = [self.z, r0, self.grad, v0]
        right = list(left)
        prop_z, prop_e, prop_g = self.z, self.energy, self.grad
        log_w = torch.zeros(C, dtype=dtype, device=device)
        r_sum = r0
        active = torch.ones(C, dtype=torch.bool, device=device)
        diverged = torch.zeros(C, dtype=torch.bool, device=device)
        sum_accept = torch.zeros(C, dtype=dtype, device=device)
        n_leaves = torch.zeros(C, dtype=dtype, device=device)
        for depth in range(self.max_tree_depth):
            forward = torch.rand(C, device=device) < 0.5
            sign = torch.where(forward, 1.0, -1.0).to(dtype)
            fw = forward[:, None]
            start = [torch.where(fw, a, b) for a, b in zip(right, left)]
            sub = self._subtree(start, (eps * sign)[:, None], depth, h0, active)
            (end, s_prop, s_log_w, s_r_sum, s_accept, s_leaves, s_turn, s_div) = sub
            sum_accept = sum_accept + s_accept
            n_leaves = n_leaves + s_leaves
            diverged = diverged | (active & s_div)
            ok = active & ~s_turn & ~s_div
            take = ok & (torch.rand(C, device=device).log() < s_log_w - log_w)
            tk = take[:, None]
            prop_z = torch.where(tk, s_prop[0], prop_z)
            prop_e = torch.where(take, s_prop[1], prop_e)
            prop_g = torch.where(tk, s_prop[2], prop_g)
            log_w = torch.where(ok, _logaddexp(log_w, s_log_w), log_w)
            okf, okb = (ok & forward)[:, None], (ok & ~forward)[:, None]
            right = [torch.where(okf, e, x) for e, x in zip(end, right)]
            left = [torch.where(okb, e, x) for e, x in zip(end, left)]
            r_sum = torch.where(ok[:, None], r_sum + s_r_sum, r_sum)
            turning = ((left[3] * r_sum).sum(-1) <= 0) | ((right[3] * r_sum).sum(-1) <= 0)
            active = ok & ~turning
            if not bool(active.any()):
                break
        moved = (prop_z != self.z).any(-1)
        self.z, self.energy, self.grad = prop_z, prop_e, prop_g
        return sum_accept / n_leaves.clamp(min=1), moved, diverged

    def _subtree(self, start: List[torch.Tensor], step: torch.Tensor, depth: int,
                 h0: torch.Tensor, active: torch.Tensor) -> Tuple[Any, ...]:
        C = self.num_chains
        dtype, device = self.z.dtype, self.z.device
        z, r, grad, v = start
        prop = [z, h0, grad]
        log_w = torch.full((C,), -math.inf, dtype=dtype, device=device)
        r_sum = torch.zeros_like(r)
        sum_accept = torch.zeros(C, dtype=dtype, device=device)
        leaves = torch.zeros(C, dtype=dtype, device=device)
        turning = torch.zeros(C, dtype=torch.bool, device=device)
        diverging = torch.zeros(C, dtype=torch.bool, device=device)
        live = active.clone()
        ck_v: List[Optional[torch.Tensor]] = [None] * (depth + 1)
        ck_sum: List[Optional[torch.Tensor]] = [None] * (depth + 1)
        prop_z, prop_e, prop_g = prop
        leaf = self._leaf
        inverse = self.inverse
        for n in range(1 << depth):
            log_u = torch.rand(C, dtype=dtype, device=device).log()
            r_sum_before = r_sum
            (z, r, grad, v, log_w, prop_z, prop_e, prop_g, sum_accept, leaves, diverging,
             r_sum, valid) = leaf(z, r, grad, v, step, inverse, h0, live, log_w, prop_z, prop_e,
                                  prop_g, sum_accept, leaves, diverging, r_sum, log_u)
            for k in range(1, depth + 1):
                if n % (1 << k) == 0:
                    ck_v[k], ck_sum[k] = v, r_sum_before
            for k in range(1, depth + 1):
                if n % (1 << k) == (1 << k) - 1:
                    rho = r_sum - ck_sum[k]
                    turn = ((ck_v[k] * rho).sum(-1) <= 0) | ((v * rho).sum(-1) <= 0)
                    turning = turning | (valid & turn)
            live = valid & ~turning
            if not bool(live.any()):
                break
        prop = [prop_z, prop_e, prop_g]
        return ([z, r, grad, v], prop, log_w, r_sum, sum_accept, leaves, turning, diverging)
