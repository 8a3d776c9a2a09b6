"""``SVGD``: Stein variational gradient descent, a set of particles pushed toward the posterior,
and the Stein kernels it uses."""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch.distributions import biject_to

import pyro
from pyro import poutine
from pyro.infer.arg_checks import EngineArgumentError, EngineArgumentTypeError, check_callable, check_count, check_real, describe
from pyro.poutine.util import site_is_subsample

__all__ = ["IMQSteinKernel", "RBFSteinKernel", "SVGD", "SteinKernel"]

_PARTICLES = "svgd_particles"


class SteinKernel(metaclass=ABCMeta):
    """Base of the kernels :class:`SVGD` uses: a kernel of particles, dimension by dimension."""

    @abstractmethod
    def log_kernel_and_grad(self, particles: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(log_kernel, grad)`` for ``particles`` of shape ``(N, D)``.

        Both have shape ``(N, N, D)``: ``log_kernel[i, j, d]`` is the log of dimension ``d``'s
        kernel between particles ``i`` and ``j`` (a product kernel sums them over ``d``), and
        ``grad[i, j, d]`` its derivative with respect to ``particles[i, d]``.
        """
        raise NotImplementedError


def _check_particles(particles: torch.Tensor) -> None:
    if not isinstance(particles, torch.Tensor) or particles.dim() != 2:
        shape = tuple(particles.shape) if isinstance(particles, torch.Tensor) else type(particles)
        raise ValueError(f"particles must be a tensor of shape (num_particles, dim), got {shape}")


def _median_bandwidth(sq_dists: torch.Tensor, factor: Optional[float]) -> torch.Tensor:
    """The median heuristic per dimension: ``median_{i<j} d_ij^2 / log(N + 1)`` (times
    ``factor`` when given), from squared differences of shape ``(N, N, D)``."""
    n = sq_dists.size(0)
    i, j = torch.triu_indices(n, n, offset=1, device=sq_dists.device)
    median = sq_dists[i, j].median(0).values
    h = median / math.log(n + 1)
    if factor is not None:
        h = factor * h
    return h.clamp(min=torch.finfo(h.dtype).tiny)


def _check_bandwidth_factor(owner: str, factor: Any) -> None:
    if factor is not None:
        check_real(owner, "bandwidth_factor", factor)
        if not factor > 0:
            raise EngineArgumentError(f"{owner}: bandwidth_factor must be positive, got {factor}")


class RBFSteinKernel(SteinKernel):
    """The squared-exponential kernel ``exp(-(x_d - y_d)^2 / h_d)`` per dimension.

    Args:
        bandwidth_factor: multiplies the median-heuristic bandwidth
            ``h_d = median_{i<j} (x_id - x_jd)^2 / log(N + 1)``; ``None`` uses it as it is.
    """

    def __init__(self, bandwidth_factor: Optional[float] = None) -> None:
        _check_bandwidth_factor(type(self).__name__, bandwidth_factor)
        self.bandwidth_factor = bandwidth_factor

    def log_kernel_and_grad(self, particles: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        _check_particles(particles)
        delta = particles.unsqueeze(1) - particles.unsqueeze(0)
        sq = delta.pow(2)
        h = _median_bandwidth(sq.detach(), self.bandwidth_factor)
        return -sq / h, -2.0 * delta / h


class IMQSteinKernel(SteinKernel):
    """The inverse multi-quadric kernel ``(alpha + (x_d - y_d)^2 / h_d) ** beta`` per dimension,
    with the median-heuristic bandwidth of :class:`RBFSteinKernel`; its heavier tails keep
    particles spread in higher dimensions.

    Args:
        alpha: a positive offset.
        beta: a negative exponent, in ``(-1, 0)``.
        bandwidth_factor: multiplies the median-heuristic bandwidth.

    Raises:
        TypeError: an argument that is not a number.
        ValueError: ``alpha <= 0``, ``beta`` outside ``(-1, 0)`` or ``bandwidth_factor <= 0``
            (an ``AssertionError`` too, as Pyro's asserts).
    """

    def __init__(self, alpha: float = 0.5, beta: float = -0.5,
                 bandwidth_factor: Optional[float] = None) -> None:
        check_real("IMQSteinKernel", "alpha", alpha)
        check_real("IMQSteinKernel", "beta", beta)
        if not alpha > 0:
            raise EngineArgumentError(f"IMQSteinKernel: alpha must be positive, got {alpha}")
        if not -1 < beta < 0:
            raise EngineArgumentError(f"IMQSteinKernel: beta must lie in (-1, 0), got {beta}")
        _check_bandwidth_factor("IMQSteinKernel", bandwidth_factor)
        self.alpha = alpha
        self.beta = beta
        self.bandwidth_factor = bandwidth_factor

    def log_kernel_and_grad(self, particles: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        _check_particles(particles)
        delta = particles.unsqueeze(1) - particles.unsqueeze(0)
        sq = delta.pow(2)
        h = _median_bandwidth(sq.detach(), self.bandwidth_factor)
        base = self.alpha + sq / h
        return self.beta * base.log(), self.beta * 2.0 * delta / (h * base)


class _Site:
    __slots__ = ("name", "shape", "batch_dims", "transform", "start", "size")

    def __init__(self, name: str, shape: torch.Size, batch_dims: int, transform: Any,
                 start: int, size: int) -> None:
        self.name, self.shape, self.batch_dims = name, shape, batch_dims
        self.transform, self.start, self.size = transform, start, size


class SVGD:
    """Stein variational gradient descent (Liu and Wang, 2016).

    ``num_particles`` points in the unconstrained space of the model's latent sites move along
    ``phi(x_i) = mean_j [k(x_j, x_i) grad log p(x_j) + grad_{x_j} k(x_j, x_i)]``: the first term
    pulls them toward high density, the second pushes them apart, so that they come to
    represent the posterior. ``optim`` applies ``-phi`` as the gradient of the particles (one
    param, ``"svgd_particles"``). In ``"univariate"`` mode each dimension has its own kernel; in
    ``"multivariate"`` mode the kernel is their product. The model runs once per step with all
    particles in a plate left of its ``max_plate_nesting`` plates. Particles start at
    independent draws of the prior.

    Args:
        model: the model (observations conditioned in); every latent site must be continuous.
        kernel: a :class:`SteinKernel`.
        optim: a :class:`~pyro.optim.PyroOptim`.
        num_particles: the number of particles (at least 2).
        max_plate_nesting: the number of plate dims the model uses.
        mode: ``"univariate"`` or ``"multivariate"``.

    Raises:
        TypeError: a model that is not callable, a kernel that is not a :class:`SteinKernel`,
            an optimizer that is not a Pyro optimizer, a count that is not an int.
        ValueError: fewer than two particles, a negative ``max_plate_nesting``, an unknown
            ``mode``. Both are ``AssertionError`` s too, the type of Pyro's asserts here.
    """

    def __init__(self, model: Callable, kernel: SteinKernel, optim: Any, num_particles: int,
                 max_plate_nesting: int, mode: str = "univariate") -> None:
        check_callable("SVGD", "model", model)
        if not isinstance(kernel, SteinKernel):
            raise EngineArgumentTypeError(
                f"Must provide a valid SteinKernel: SVGD got {describe(kernel)} as kernel; pass "
                f"e.g. RBFSteinKernel() or IMQSteinKernel()")
        if not isinstance(optim, pyro.optim.PyroOptim):
            given = (f"the torch optimizer class torch.optim.{optim.__name__}"
                     if isinstance(optim, type) and issubclass(optim, torch.optim.Optimizer)
                     else describe(optim))
            raise EngineArgumentTypeError(
                f"Must provide a valid Pyro optimizer: SVGD got {given} as optim; pass e.g. "
                f"pyro.optim.Adam({{'lr': 0.1}})")
        check_count("SVGD", "num_particles", num_particles, minimum=0)
        if num_particles < 2:
            raise EngineArgumentError(
                f"Must use at least two particles: SVGD got num_particles={num_particles}")
        check_count("SVGD", "max_plate_nesting", max_plate_nesting, minimum=0)
        if mode not in ("univariate", "multivariate"):
            raise EngineArgumentError(
                f"SVGD: mode must be one of (univariate, multivariate), got {mode!r}")
        self.model = model
        self.kernel = kernel
        self.optim = optim
        self.num_particles = num_particles
        self.max_plate_nesting = max_plate_nesting
        self.mode = mode
        self._sites: Optional[List[_Site]] = None

    # ----- layout ------------------------------------------------------------------------------
    def _setup(self, args: tuple, kwargs: dict) -> None:
        sites: List[_Site] = []
        inits = []
        start = 0
        for _ in range(self.num_particles):
            with poutine.block():
                tr = poutine.trace(self.model).get_trace(*args, **kwargs)
            values = []
            for name, site in tr.nodes.items():
                if site["type"] != "sample" or site["is_observed"] or site_is_subsample(site):
                    continue
                if len(values) == len(sites):
                    fn = site["fn"]
                    if fn.support.is_discrete:
                        raise ValueError(f"SVGD: site '{name}' is discrete; SVGD needs continuous "
                                         f"latent sites")
                    transform = biject_to(fn.support)
                    shape = site["value"].shape
                    size = transform.inv.forward_shape(shape).numel()
                    batch_dims = len(fn.batch_shape)
                    if batch_dims > self.max_plate_nesting:
                        raise ValueError(
                            f"SVGD: site '{name}' has batch shape {tuple(fn.batch_shape)}, more "
                            f"dims than max_plate_nesting={self.max_plate_nesting}")
                    sites.append(_Site(name, shape, batch_dims, transform, start, size))
                    start += size
                values.append(sites[len(values)].transform.inv(site["value"].detach()).reshape(-1))
            inits.append(torch.cat(values) if values else torch.zeros(0))
            self._sites = sites
        if not sites:
            raise ValueError("SVGD: the model has no latent sample sites")
        pyro.param(_PARTICLES, torch.cat(inits))

    def _unpack(self, flat: torch.Tensor) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        """Constrained values ``(N, 1.., *site shape)`` laid out for the particle plate, and the
        per-particle log |det J| of the transforms."""
        n = self.num_particles
        x = flat.reshape(n, -1)
        values: Dict[str, torch.Tensor] = {}
        log_det = x.new_zeros(n)
        assert self._sites is not None
        for s in self._sites:
            u = x[:, s.start:s.start + s.size]
            u = u.reshape((n,) + tuple(s.transform.inv.forward_shape(s.shape)))
            value = s.transform(u)
            ladj = s.transform.log_abs_det_jacobian(u, value)
            log_det = log_det + ladj.reshape(n, -1).sum(-1)
            pad = (1,) * (self.max_plate_nesting - s.batch_dims)
            values[s.name] = value.reshape((n,) + pad + tuple(s.shape))
        return values, log_det

    def _log_density(self, flat: torch.Tensor, args: tuple, kwargs: dict) -> torch.Tensor:
        """Per-particle log joint in unconstrained space, shape ``(N,)``."""
        n = self.num_particles
        values, log_det = self._unpack(flat)
        dim = -self.max_plate_nesting - 1

        def vectorized(*a: Any, **k: Any) -> Any:
            with pyro.plate("svgd_particle_plate", n, dim=dim):
                return self.model(*a, **k)

        with poutine.block():
            tr = poutine.trace(poutine.condition(vectorized, data=values)).get_trace(*args, **kwargs)
        total = log_det
        for site in tr.nodes.values():
            if site["type"] != "sample" or site_is_subsample(site):
                continue
            lp = site["fn"].log_prob(site["value"])
            scale, mask = site["scale"], site["mask"]
            if mask is not None:
                lp = lp.masked_fill(~mask, 0.0) if isinstance(mask, torch.Tensor) else lp * mask
            lp = lp * scale
            m = self.max_plate_nesting
            if lp.dim() > m:
                if m:
                    lp = lp.sum(list(range(-m, 0)))
                total = total + lp.reshape(-1, lp.shape[-1]).sum(0)
            else:
                total = total + lp.sum()
        return total

    # ----- the interface -----------------------------------------------------------------------
    def step(self, *args: Any, **kwargs: Any) -> Dict[str, float]:
        """Move the particles one optimizer step along the Stein direction.

        Returns:
            For each latent site, the mean squared Stein direction ``phi`` over its particles
            and elements (it falls toward zero as the particles settle).
        """
        if self._sites is None:
            self._setup(args, kwargs)
        particles = pyro.param(_PARTICLES).unconstrained()
        x = particles.detach().reshape(self.num_particles, -1).requires_grad_()
        log_p = self._log_density(x.reshape(-1), args, kwargs)
        (score,) = torch.autograd.grad(log_p.sum(), x)
        log_k, grad_k = self.kernel.log_kernel_and_grad(x.detach())
        if self.mode == "multivariate":
            k = log_k.sum(-1).exp()  # (N, N)
            phi = (k.unsqueeze(-1) * (score.unsqueeze(1) + grad_k)).mean(0)
        else:
            k = log_k.exp()  # (N, N, D)
            phi = (k * (score.unsqueeze(1) + grad_k)).mean(0)
        particles.grad = -phi.reshape(particles.shape).detach()
        self.optim([particles])
        particles.grad = None
        assert self._sites is not None
        return {s.name: phi[:, s.start:s.start + s.size].pow(2).mean().item() for s in self._sites}

    def get_named_particles(self) -> Dict[str, torch.Tensor]:
        """Return ``{site name: its particles}``, constrained, each of shape
        ``(num_particles,) + site shape``."""
        if self._sites is None:
            raise RuntimeError("SVGD.get_named_particles: call step() first")
        with torch.no_grad():
            values, _ = self._unpack(pyro.param(_PARTICLES).unconstrained())
            return {name: v.reshape((self.num_particles,) + tuple(s.shape))
                    for (name, v), s in zip(values.items(), self._sites)}
