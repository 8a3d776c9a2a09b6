"""Several NUTS chains as one batch: the chain is a batch dim of the model, trees in lockstep.

The model runs once per leapfrog step for every chain, inside an extra plate (the chain dim,
left of the model's own plates), so the Python work of the model and the autograd graph are
paid once for all chains. Each chain keeps its own step size, mass matrix (diagonal or dense),
adaptation, tree and random choices; the trees are built in lockstep, leaf by leaf, and a chain
whose subtree or tree has ended is masked until the others finish. The result has the same
distribution as running the chains one after another.

:func:`batched_potential` checks at the start that the batched model gives every chain the
same potential and gradient as the model run alone; when it does not (a model that does not
broadcast over an extra batch dim, enumeration, ...), :class:`NotVectorizable` is raised and
the runner falls back to sequential chains.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from pyro.infer.mcmc.adaptation import FlatMassMatrix, WarmupAdapter
from pyro.infer.mcmc.hmc import MAX_ENERGY_ERROR, _Layout
from pyro.infer.mcmc.potential import PotentialEnergy, _SubstituteAndScore
from pyro.poutine.plate_messenger import PlateMessenger

__all__ = ["NotVectorizable", "VectorizedNUTS"]

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

    def __init__(self, kernel: Any, potential: _BatchedPotential, z: torch.Tensor,
                 warmup_steps: int) -> None:
        self.kernel = kernel
        self.potential = potential
        self.num_chains, self.dim = z.shape
        self.warmup_steps = warmup_steps
        self.max_tree_depth = kernel._max_tree_depth
        self.t = 0
        self.z = z
        self.energy, self.grad = self._energy_and_grad(z)
        if not bool(torch.isfinite(self.energy).all()):
            raise NotVectorizable("non-finite initial energy")
        self.masses = [FlatMassMatrix(self.dim, kernel._full_mass, z.dtype, z.device)
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
        self.divergences: List[List[int]] = [[] for _ in range(self.num_chains)]
        self.accept_cnt = [0] * self.num_chains
        self.mean_accept = [0.0] * self.num_chains

    # ----- batched pieces -------------------------------------------------------------------
    def _energy_and_grad(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            energy = self.potential(leaf)
            grad, = torch.autograd.grad(energy.sum(), leaf)
        return energy.detach(), grad

    def _stack_masses(self) -> None:
        self._inverses = [m.inverse for m in self.masses]
        self.inverse = torch.stack(self._inverses)
        self.factor = torch.stack([m._momentum_factor for m in self.masses])

    def _velocity(self, r: torch.Tensor) -> torch.Tensor:
        if self.kernel._full_mass:
            return (self.inverse @ r.unsqueeze(-1)).squeeze(-1)
        return self.inverse * r

    def _momentum(self) -> torch.Tensor:
        eps = torch.randn(self.num_chains, self.dim, dtype=self.z.dtype, device=self.z.device)
        if self.kernel._full_mass:
            return (self.factor @ eps.unsqueeze(-1)).squeeze(-1)
        return self.factor * eps

    def _step_size_finder(self, c: int) -> Callable[[], float]:
        kernel = self.kernel
        energy = self.potential.energy
        layout = self.potential.layout

        def find() -> float:
            mass = self.masses[c]
            z = self.z[c]
            adapter = self.adapters[c] if c < len(self.adapters) else None
            step = adapter.step_size if adapter is not None else kernel._adapter._init_step_size

            def energy_grad(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
                with torch.enable_grad():
                    leaf = x.detach().requires_grad_(True)
                    e = energy(layout.unflatten(leaf))
                    g, = torch.autograd.grad(e, leaf)
                return e.detach(), g

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
                a.step(t, self.z[c], float(accept_prob[c]))
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
        neg_inf = torch.full((C,), -math.inf, dtype=dtype, device=device)
        for n in range(1 << depth):
            lv = live[:, None]
            r1 = r - 0.5 * step * grad
            z1 = z + step * self._velocity(r1)
            z1 = torch.where(lv, z1, z)  # masked chains stay where they are (finite)
            e1, g1 = self._energy_and_grad(z1)
            r1 = r1 - 0.5 * step * g1
            v1 = self._velocity(r1)
            h = e1 + 0.5 * (r1 * v1).sum(-1)
            delta = h - h0
            delta = torch.where(torch.isnan(delta), torch.full_like(delta, math.inf), delta)
            sum_accept = sum_accept + torch.where(live, torch.exp(torch.clamp(-delta, max=0.0)),
                                                  torch.zeros_like(delta))
            leaves = leaves + live.to(dtype)
            div = live & (delta > MAX_ENERGY_ERROR)
            diverging = diverging | div
            valid = live & ~div
            vl = valid[:, None]
            leaf_w = torch.where(valid, -delta, neg_inf)
            new_w = _logaddexp(log_w, leaf_w)
            take = valid & (torch.rand(C, device=device).log() < leaf_w - new_w)
            tk = take[:, None]
            prop = [torch.where(tk, z1, prop[0]), torch.where(take, e1, prop[1]),
                    torch.where(tk, g1, prop[2])]
            log_w = torch.where(valid, new_w, log_w)
            z = torch.where(vl, z1, z)
            r = torch.where(vl, r1, r)
            grad = torch.where(vl, g1, grad)
            v = torch.where(vl, v1, v)
            for k in range(1, depth + 1):
                if n % (1 << k) == 0:
                    ck_v[k], ck_sum[k] = v, r_sum
            r_sum = torch.where(vl, r_sum + r, r_sum)
            for k in range(1, depth + 1):
                if n % (1 << k) == (1 << k) - 1:
                    rho = r_sum - ck_sum[k]
                    turn = ((ck_v[k] * rho).sum(-1) <= 0) | ((v * rho).sum(-1) <= 0)
                    turning = turning | (valid & turn)
            live = valid & ~turning
            if not bool(live.any()):
                break
        return ([z, r, grad, v], prop, log_w, r_sum, sum_accept, leaves, turning, diverging)
