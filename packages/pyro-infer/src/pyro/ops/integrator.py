"""The velocity Verlet (leapfrog) integrator of Hamiltonian dynamics, over dicts of tensors."""

from __future__ import annotations

import warnings
from typing import Callable, Dict, Tuple

import torch

__all__ = ["potential_grad", "register_exception_handler", "velocity_verlet"]

Params = Dict[str, torch.Tensor]

_EXCEPTION_HANDLERS: Dict[str, Callable[[Exception], bool]] = {}


def _is_singular_matrix_error(exception: Exception) -> bool:
    text = str(exception)
    return isinstance(exception, RuntimeError) and (
        "singular" in text or "input is not positive-definite" in text
        or "cholesky" in text.lower() and "not positive" in text)


def register_exception_handler(name: str, handler: Callable[[Exception], bool],
                               warn_on_overwrite: bool = True) -> None:
    """Register ``handler(exception) -> bool``: exceptions it accepts, raised while computing
    the potential's gradient, give a NaN potential (a rejected or divergent step) instead of
    ending the run.

    Args:
        name: the handler's name; a new handler under an existing name replaces the old one.
        handler: returns ``True`` for the exceptions to absorb.
        warn_on_overwrite: warn when ``name`` already had a handler.
    """
    if name in _EXCEPTION_HANDLERS and warn_on_overwrite:
        warnings.warn(f"Overwriting Exception handler with name {name}", RuntimeWarning)
    _EXCEPTION_HANDLERS[name] = handler


register_exception_handler("torch_singular", _is_singular_matrix_error, warn_on_overwrite=False)


def potential_grad(potential_fn: Callable[[Params], torch.Tensor],
                   z: Params) -> Tuple[Params, torch.Tensor]:
    """Return ``(grads, potential_energy)`` of ``potential_fn`` at ``z`` (a dict of tensors).

    An exception accepted by a registered handler (by default: a singular matrix in a linear
    algebra routine) gives zero gradients and a NaN potential energy.
    """
    leaves = {k: v.detach().requires_grad_(True) for k, v in z.items()}
    try:
        energy = potential_fn(leaves)
    except Exception as e:
        if any(h(e) for h in _EXCEPTION_HANDLERS.values()):
            first = next(iter(z.values()))
            return {k: torch.zeros_like(v) for k, v in z.items()}, first.new_tensor(float("nan"))
        raise
    names = list(leaves)
    grads = torch.autograd.grad(energy, [leaves[k] for k in names], allow_unused=True)
    out = {k: torch.zeros_like(leaves[k]) if g is None else g for k, g in zip(names, grads)}
    return out, energy.detach()


def velocity_verlet(z: Params, r: Params, potential_fn: Callable[[Params], torch.Tensor],
                    kinetic_grad: Callable[[Params], Params], step_size: float,
                    num_steps: int = 1, z_grads: Params = None
                    ) -> Tuple[Params, Params, Params, torch.Tensor]:
    """Integrate Hamiltonian dynamics for ``num_steps`` leapfrog steps of size ``step_size``.

    Args:
        z: positions, a dict of tensors (not modified).
        r: momenta with the same keys (not modified).
        potential_fn: ``dict -> scalar`` potential energy.
        kinetic_grad: ``dict -> dict``, the gradient of the kinetic energy in the momenta.
        step_size: the step size.
        num_steps: the number of leapfrog steps.
        z_grads: the potential's gradient at ``z``, if known (saves one evaluation).

    Returns:
        ``(z_next, r_next, z_grads, potential_energy)`` at the end of the trajectory.
    """
    z_next = dict(z)
    r_next = dict(r)
    energy = None
    if z_grads is None:
        z_grads, energy = potential_grad(potential_fn, z_next)
    half = 0.5 * step_size
    for _ in range(num_steps):
        for k in r_next:
            r_next[k] = r_next[k] - half * z_grads[k]
        dz = kinetic_grad(r_next)
        for k in z_next:
            z_next[k] = z_next[k] + step_size * dz[k]
        z_grads, energy = potential_grad(potential_fn, z_next)
        for k in r_next:
            r_next[k] = r_next[k] - half * z_grads[k]
    if energy is None:  # num_steps == 0 with known gradients
        _, energy = potential_grad(potential_fn, z_next)
    return z_next, r_next, z_grads, energy
