"""``HMC``: Hamiltonian Monte Carlo with a fixed trajectory length and warm-up adaptation.

The kernel works on one flat vector holding every unconstrained latent (in the order of the
model's trace); :meth:`HMC.sample` takes and returns Pyro's dict of tensors.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from pyro.infer.arg_checks import check_callable
from pyro.infer.autoguide.initialization import init_to_uniform
from pyro.infer.mcmc.adaptation import BlockMassMatrix, WarmupAdapter
from pyro.infer.mcmc.compiled import capture, check_points
from pyro.infer.mcmc.mcmc_kernel import MCMCKernel
from pyro.infer.mcmc.util import initialize_model
from pyro.ops.integrator import _EXCEPTION_HANDLERS

__all__ = ["HMC"]

Params = Dict[str, torch.Tensor]

#: An energy error beyond this marks a divergent transition (as Stan and Pyro use).
MAX_ENERGY_ERROR = 1000.0


class _Layout:
    """Where each site's unconstrained value lies in the flat vector."""

    def __init__(self, params: Params) -> None:
        self.names = list(params)
        self.shapes = [params[n].shape for n in self.names]
        self.sizes = [params[n].numel() for n in self.names]
        self.size = sum(self.sizes)

    def flatten(self, params: Params) -> torch.Tensor:
        parts = [params[n].reshape(-1) for n in self.names]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def unflatten(self, z: torch.Tensor) -> Params:
        if len(self.names) == 1:
            return {self.names[0]: z.reshape(self.shapes[0])}
        return {n: part.reshape(shape) for n, part, shape in
                zip(self.names, z.split(self.sizes), self.shapes)}


class _FullMassError(ValueError, AssertionError):
    """A bad ``full_mass`` (an ``AssertionError`` too, as Pyro raises)."""


def _check_full_mass(full_mass: Any) -> None:
    if isinstance(full_mass, bool):
        return
    if not isinstance(full_mass, (list, tuple)) or not all(
            isinstance(block, tuple) and block and all(isinstance(n, str) for n in block)
            for block in full_mass):
        raise _FullMassError(f"full_mass should be a list of tuples of site names. Got "
                             f"{full_mass!r}")
    names = [n for block in full_mass for n in block]
    if len(set(names)) != len(names):
        raise _FullMassError(f"Site names specified in full_mass are duplicated. Got "
                             f"{full_mass!r}")


def _mass_matrix_shape(full_mass: Union[bool, Sequence[Tuple[str, ...]]], layout: "_Layout"
                       ) -> Dict[Tuple[str, ...], Tuple[int, ...]]:
    """``{(site, ...): (n,) or (n, n)}`` of ``full_mass`` over the sites of ``layout``."""
    sizes = dict(zip(layout.names, layout.sizes))
    if isinstance(full_mass, bool):
        n = layout.size
        return {tuple(layout.names): (n, n) if full_mass else (n,)}
    unknown = [n for block in full_mass for n in block if n not in sizes]
    if unknown:
        raise _FullMassError(f"full_mass should be a list of tuples of site names. Got "
                             f"{list(full_mass)!r}; {unknown} are not latent sites of the model "
                             f"(those are {layout.names})")
    shape: Dict[Tuple[str, ...], Tuple[int, ...]] = {}
    for block in full_mass:
        n = sum(sizes[name] for name in block)
        shape[tuple(block)] = (n, n)
    dense = {name for block in full_mass for name in block}
    rest = tuple(name for name in layout.names if name not in dense)
    if rest:
        shape[rest] = (sum(sizes[name] for name in rest),)
    return shape


def _check_positive(**values: Any) -> None:
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"HMC: {name} must be a number, got {type(value).__name__} {value!r}")
        if not value > 0:
            raise ValueError(f"HMC: {name} must be positive, got {value!r}")


class HMC(MCMCKernel):
    """Hamiltonian Monte Carlo.

    Args:
        model: the model (or give ``potential_fn``).
        potential_fn: a ``dict -> scalar`` potential energy of unconstrained values, for
            models written as a function; then set :attr:`initial_params` before running.
        step_size: the initial leapfrog step size.
        trajectory_length: the length of a trajectory (default ``2 * pi``); the number of
            leapfrog steps is ``max(1, int(trajectory_length / step_size))``.
        num_steps: a fixed number of leapfrog steps (overrides ``trajectory_length``).
        adapt_step_size: tune the step size during warm-up.
        adapt_mass_matrix: estimate the mass matrix during warm-up.
        full_mass: a dense mass matrix (``True``), a diagonal one (``False``), or a list of
            tuples of site names: each tuple a dense block, every other site diagonal.
        transforms: ``site -> transform`` onto the reals (default from the supports).
        max_plate_nesting: the model's plate dims (needed to enumerate discrete sites).
        jit_compile: compile the potential with ``torch.jit.trace``.
        jit_options: options of ``torch.jit.trace``.
        ignore_jit_warnings: silence the tracer's warnings.
        target_accept_prob: the acceptance probability the step size aims at.
        init_strategy: how the initial values are chosen.
        min_stepsize, max_stepsize: bounds on the adapted step size.
    """

    def __init__(self, model: Optional[Callable] = None,
                 potential_fn: Optional[Callable[[Params], torch.Tensor]] = None,
                 step_size: float = 1, trajectory_length: Optional[float] = None,
                 num_steps: Optional[int] = None, adapt_step_size: bool = True,
                 adapt_mass_matrix: bool = True,
                 full_mass: Union[bool, Sequence[Tuple[str, ...]]] = False,
                 transforms: Optional[Dict[str, Any]] = None,
                 max_plate_nesting: Optional[int] = None, jit_compile: bool = False,
                 jit_options: Optional[Dict[str, Any]] = None, ignore_jit_warnings: bool = False,
                 target_accept_prob: float = 0.8, init_strategy: Callable = init_to_uniform, *,
                 min_stepsize: float = 1e-10, max_stepsize: float = 1e10) -> None:
        if not ((model is None) ^ (potential_fn is None)):
            raise ValueError("Only one of `model` or `potential_fn` must be specified.")
        _check_positive(step_size=step_size, trajectory_length=trajectory_length,
                        num_steps=num_steps, min_stepsize=min_stepsize, max_stepsize=max_stepsize)
        if num_steps is not None and int(num_steps) != num_steps:
            raise ValueError(f"HMC: num_steps must be a positive int, got {num_steps!r}")
        if not 0 < target_accept_prob < 1:
            raise ValueError(f"HMC: target_accept_prob must be in (0, 1), got {target_accept_prob!r}")
        _check_full_mass(full_mass)
        check_callable(type(self).__name__, "init_strategy", init_strategy)
        check_callable(type(self).__name__, "model", model, optional=True)
        check_callable(type(self).__name__, "potential_fn", potential_fn, optional=True)
        self.model = model
        self.potential_fn = potential_fn
        self.transforms = transforms
        self._max_plate_nesting = max_plate_nesting
        self._jit_compile = jit_compile
        self._jit_options = jit_options
        self._ignore_jit_warnings = ignore_jit_warnings
        self._init_strategy = init_strategy
        self._min_stepsize = min_stepsize
        self._max_stepsize = max_stepsize
        if trajectory_length is not None:
            self.trajectory_length = trajectory_length
        elif num_steps is not None:
            self.trajectory_length = step_size * num_steps
        else:
            self.trajectory_length = 2 * math.pi
        self._num_steps = num_steps
        self._adapter = WarmupAdapter(step_size, adapt_step_size=adapt_step_size,
                                      target_accept_prob=target_accept_prob,
                                      adapt_mass_matrix=adapt_mass_matrix, dense_mass=full_mass)
        self._full_mass = full_mass
        self._initial_params: Optional[Params] = None
        self._layout: Optional[_Layout] = None
        self._compiled: Optional[Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]] = None
        self._mass: Optional[BlockMassMatrix] = None
        self._mass_adapter: BlockMassMatrix = BlockMassMatrix()
        self._reset()

    # ----- state --------------------------------------------------------------------------
    def _reset(self) -> None:
        self._t = 0
        self._warmup_steps: Optional[int] = None
        self._accept_cnt = 0
        self._mean_accept_prob = 0.0
        self._divergences: List[int] = []
        self._cache: Optional[Tuple[Params, torch.Tensor, torch.Tensor, torch.Tensor]] = None

    @property
    def step_size(self) -> float:
        """The current step size."""
        return self._adapter.step_size

    @step_size.setter
    def step_size(self, value: float) -> None:
        self._adapter.step_size = value

    @property
    def num_steps(self) -> int:
        """The number of leapfrog steps of one trajectory."""
        if self._num_steps is not None:
            return self._num_steps
        return max(1, int(self.trajectory_length / self.step_size))

    @property
    def inverse_mass_matrix(self) -> Dict[Tuple[str, ...], torch.Tensor]:
        """``{(site, ...): inverse mass matrix}``, one entry per block (a vector for a
        diagonal block, a matrix for a dense one)."""
        if self._mass is None:
            return {}
        return self._mass.inverse_mass_matrix

    @property
    def mass_matrix_adapter(self) -> BlockMassMatrix:
        """The mass matrix (a :class:`~pyro.infer.mcmc.BlockMassMatrix` by default; set an
        :class:`~pyro.infer.mcmc.ArrowheadMassMatrix` before running to use that)."""
        return self._mass if self._mass is not None else self._mass_adapter

    @mass_matrix_adapter.setter
    def mass_matrix_adapter(self, value: BlockMassMatrix) -> None:
        if not isinstance(value, BlockMassMatrix):
            raise TypeError(f"mass_matrix_adapter must be a BlockMassMatrix, got "
                            f"{type(value).__name__}")
        self._mass_adapter = value
        self._mass = None

    def _new_mass(self, layout: "_Layout", dtype: torch.dtype, device: torch.device,
                  fresh: bool = False) -> BlockMassMatrix:
        """The mass matrix configured for ``full_mass`` and bound to ``layout`` (a new
        object of the same class when ``fresh``)."""
        proto = self._mass_adapter
        mass = type(proto)(proto._init_scale) if fresh else proto
        mass.configure(_mass_matrix_shape(self._full_mass, layout),
                       adapt_mass_matrix=self._adapter.adapt_mass_matrix,
                       options={"dtype": dtype, "device": device})
        mass.bind(layout.names, layout.sizes)
        return mass

    @property
    def initial_params(self) -> Optional[Params]:
        """The unconstrained values the chain starts from."""
        return self._initial_params

    @initial_params.setter
    def initial_params(self, params: Params) -> None:
        self._initial_params = params

    # ----- the potential, over the flat vector ---------------------------------------------
    def _energy_and_grad(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The potential energy at flat ``z`` and its gradient (NaN energy when a registered
        exception handler absorbs an error)."""
        compiled = self._compiled
        if compiled is not None:
            return compiled(z)
        return self._eager_energy_and_grad(z)

    def _eager_energy_and_grad(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            try:
                energy = self.potential_fn(self._layout.unflatten(leaf))
            except Exception as e:
                if any(h(e) for h in _EXCEPTION_HANDLERS.values()):
                    return z.new_tensor(float("nan")), torch.zeros_like(z)
                raise
            grad, = torch.autograd.grad(energy, leaf)
        return energy.detach(), grad

    def _leapfrog(self, z: torch.Tensor, r: torch.Tensor, grad: torch.Tensor, step_size: float,
                  num_steps: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        half = 0.5 * step_size
        velocity = self._mass.velocity
        energy = None
        for _ in range(num_steps):
            r = r - half * grad
            z = z + step_size * velocity(r)
            energy, grad = self._energy_and_grad(z)
            r = r - half * grad
        return z, r, grad, energy

    def _find_reasonable_step_size(self) -> float:
        """Double or halve the step size until one leapfrog step's acceptance probability
        crosses 0.8 (from the current state)."""
        step_size = self.step_size
        z, energy, grad = self._z, self._energy, self._grad
        mass = self._mass
        r = mass.sample_momentum()
        h0 = float(energy + mass.kinetic(r))
        log_target = math.log(0.8)

        def delta(step: float) -> float:
            _, r1, _, e1 = self._leapfrog(z, r, grad, step, 1)
            h1 = float(e1 + mass.kinetic(r1))
            return h0 - h1 if math.isfinite(h1) else -math.inf

        d = delta(step_size)
        direction = 1 if d > log_target else -1
        for _ in range(100):
            new_step = step_size * (2.0 ** direction)
            if not self._min_stepsize <= new_step <= self._max_stepsize:
                break
            d = delta(new_step)
            if (direction == 1 and not d > log_target) or (direction == -1 and d > log_target):
                break
            step_size = new_step
        return step_size

    # ----- the kernel's lifecycle ---------------------------------------------------------
    def _initialize_model_properties(self, model_args: tuple, model_kwargs: dict) -> None:
        init_params, potential_fn, transforms, trace = initialize_model(
            self.model, model_args, model_kwargs, transforms=self.transforms,
            max_plate_nesting=self._max_plate_nesting, jit_compile=self._jit_compile,
            jit_options=self._jit_options, skip_jit_warnings=self._ignore_jit_warnings,
            init_strategy=self._init_strategy, initial_params=self._initial_params)
        self.potential_fn = potential_fn
        self.transforms = transforms
        self._prototype_trace = trace
        if self._initial_params is None:
            self._initial_params = init_params

    def setup(self, warmup_steps: int, *args: Any, **kwargs: Any) -> None:
        """Build the potential (for a model), the mass matrix and the adaptation schedule."""
        self._reset()
        self._warmup_steps = warmup_steps
        if self.model is not None:
            self._initialize_model_properties(args, kwargs)
        if self._initial_params is None:
            raise ValueError("HMC/NUTS with a potential_fn needs initial_params: set "
                             "kernel.initial_params or pass MCMC(initial_params=...)")
        params = {k: torch.as_tensor(v).detach() for k, v in self._initial_params.items()}
        self._layout = _Layout(params)
        z = self._layout.flatten(params)
        if not z.is_floating_point():
            raise ValueError("HMC/NUTS: initial_params must be floating-point tensors")
        self._mass = self._new_mass(self._layout, z.dtype, z.device)
        self._compiled = None
        if self.model is not None and not self._jit_compile:
            self._compiled = capture(self._eager_energy_and_grad, z, check_points(z, 2))
        self._set_state(z)
        if not bool(torch.isfinite(self._energy)):
            raise ValueError(f"HMC/NUTS: the potential energy at the initial params is "
                             f"{float(self._energy)}")
        adapter = self._adapter
        adapter.step_size = adapter._init_step_size
        adapter.configure(warmup_steps, mass_matrix=self._mass,
                          find_reasonable_step_size_fn=self._find_reasonable_step_size)

    def _set_state(self, z: torch.Tensor) -> None:
        self._z = z
        self._energy, self._grad = self._energy_and_grad(z)
        self._last_params: Optional[Params] = None

    def cleanup(self) -> None:
        """Drop the cached state of the chain."""
        self._cache = None
        self._compiled = None

    def _sync(self, params: Params) -> None:
        """Accept ``params`` as the current state unless they are what we returned last."""
        if params is self._last_params:
            return
        self._set_state(self._layout.flatten({k: v.detach() for k, v in params.items()}))

    def _output(self) -> Params:
        params = self._layout.unflatten(self._z)
        self._last_params = params
        return params

    def _adapt(self, accept_prob: float) -> None:
        t = self._t
        if t < self._warmup_steps:
            self._adapter.step(t, self._z, accept_prob, self._grad)
            self._adapter.step_size = min(max(self._adapter.step_size, self._min_stepsize),
                                          self._max_stepsize)
            if t == self._warmup_steps - 1:
                self.end_warmup()
        else:
            n = t - self._warmup_steps + 1
            self._mean_accept_prob += (accept_prob - self._mean_accept_prob) / n
        self._t += 1

    def sample(self, params: Params) -> Params:
        """One HMC transition: draw momenta, integrate, accept or reject."""
        self._sync(params)
        with torch.no_grad():
            mass = self._mass
            r = mass.sample_momentum()
            h0 = float(self._energy) + float(mass.kinetic(r))
            z, r, grad, energy = self._leapfrog(self._z, r, self._grad, self.step_size,
                                                self.num_steps)
            h1 = float(energy) + float(mass.kinetic(r))
            delta = h1 - h0
            if not math.isfinite(delta):
                delta = math.inf
            if delta > MAX_ENERGY_ERROR and self._t >= self._warmup_steps:
                self._divergences.append(self._t - self._warmup_steps)
            accept_prob = math.exp(min(0.0, -delta))
            if torch.rand(()).item() < accept_prob:
                self._z, self._energy, self._grad = z, energy, grad
                if self._t >= self._warmup_steps:
                    self._accept_cnt += 1
        self._adapt(accept_prob)
        return self._output()

    def logging(self) -> Dict[str, str]:
        """Step size and mean acceptance probability, for the progress bar."""
        return OrderedDict([("step size", "{:.2e}".format(self.step_size)),
                            ("acc. prob", "{:.3f}".format(self._mean_accept_prob))])

    def diagnostics(self) -> Dict[str, Any]:
        """``divergences`` (indices of divergent post-warm-up steps) and ``acceptance rate``."""
        n = self._t - (self._warmup_steps or 0)
        return {"divergences": self._divergences,
                "acceptance rate": self._accept_cnt / n if n > 0 else 0.0}
