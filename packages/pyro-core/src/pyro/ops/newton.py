"""One Newton step for many small independent variables at once (``pyro.ops.newton``), pure torch.

``x`` has shape ``batch_shape + (D,)`` with ``D`` in 1, 2, 3; ``loss`` is a scalar that sums
independent terms, one per batch element, so that the Hessian is block diagonal with one
``D x D`` block per element. Each element moves to the minimum of its local quadratic model::

    mode = x - inverse(H) @ g          cov = inverse(H)

With ``trust_radius = r`` the step stays within ``r`` of ``x``:

- ``D == 1``: the curvature is floored at ``1e-8`` (always, radius or not), and the step
  ``g / h`` is clipped to ``[-r, r]``; ``cov = 1 / h`` is the floored curvature's inverse.
- ``D in (2, 3)``: ``H`` is replaced by ``H + lam * I`` with
  ``lam = max(|g| / r - eigmin(H), 1e-8)``, so that every eigenvalue of the regularised
  matrix is at least ``|g| / r`` and the step is at most ``r`` long; ``cov`` is the inverse of
  the regularised matrix. Without a radius ``H`` is used as it is (indefinite or not).

The results are built with ``create_graph=True``, so they are differentiable with respect to
whatever ``loss`` and ``x`` depend on (once less than ``loss`` is). These are the numbers of
Pyro 1.9.2's ``newton_step`` (checked to rounding in the tests); where Pyro's ``3 x 3``
eigenvalue formula gives NaN (a Hessian with three equal eigenvalues under a trust radius),
this one gives the answer.
"""

from __future__ import annotations

import numbers
from typing import Callable, Dict, Optional, Tuple, Union

import torch

from pyro.util import warn_if_nan

__all__ = ["newton_step", "newton_step_1d", "newton_step_2d", "newton_step_3d", "newton_step_from_grad"]

TrustRadius = Optional[Union[float, torch.Tensor]]

#: The smallest curvature (``D == 1``) or trust-region regulariser (``D > 1``) a step uses.
MIN_CURVATURE = 1e-8


def _check_loss(owner: str, loss: torch.Tensor) -> None:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"{owner}: loss must be a scalar torch.Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(f"Expected loss to be a scalar, actual shape {loss.shape}")


def _check_x(owner: str, x: torch.Tensor, size: Optional[int]) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{owner}: x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 1:
        raise ValueError(f"Expected x to have at least one dimension, actual shape {x.shape}")
    if size is not None and x.shape[-1] != size:
        raise ValueError(f"Expected x to have rightmost size {size}, actual shape {x.shape}")


def _check_trust_radius(owner: str, trust_radius: TrustRadius) -> None:
    if trust_radius is None or isinstance(trust_radius, torch.Tensor):
        return
    if isinstance(trust_radius, bool) or not isinstance(trust_radius, numbers.Real):
        raise TypeError(f"{owner}: trust_radius must be None, a positive number or a tensor, got "
                        f"{type(trust_radius).__name__} {trust_radius!r}"[:200])
    if not trust_radius > 0:
        raise ValueError(f"{owner}: trust_radius must be > 0, got {trust_radius}")


def _gradient(owner: str, loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if not x.requires_grad:
        raise RuntimeError(f"{owner}: x does not require grad, so loss cannot be differentiated with "
                           f"respect to it (set x.requires_grad = True before computing loss)")
    (g,) = torch.autograd.grad(loss, [x], create_graph=True)
    return g


def _hessian_blocks(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``H[..., i, j] = d g[..., i] / d x[..., j]`` for each batch element (block diagonal part)."""
    if not g.requires_grad:  # loss is linear in x
        return g.new_zeros(g.shape + g.shape[-1:])
    rows = [torch.autograd.grad(g[..., i].sum(), [x], create_graph=True, allow_unused=True,
                                materialize_grads=True)[0]
            for i in range(g.shape[-1])]
    return torch.stack(rows, dim=-2)


def _broadcast_radius(trust_radius: TrustRadius, like: torch.Tensor) -> Union[float, torch.Tensor]:
    if isinstance(trust_radius, torch.Tensor):
        return trust_radius.to(dtype=like.dtype, device=like.device)
    return float(trust_radius)  # type: ignore[arg-type]


def _step_1d(g: torch.Tensor, x: torch.Tensor, trust_radius: TrustRadius) -> Tuple[torch.Tensor, torch.Tensor]:
    H = _hessian_blocks(g, x)
    warn_if_nan(g, "g")
    warn_if_nan(H, "H")
    h = H[..., 0].clamp(min=MIN_CURVATURE)  # shape batch + (1,)
    step = g / h
    if trust_radius is not None:
        r = _broadcast_radius(trust_radius, step)
        if isinstance(r, torch.Tensor):
            r = r.unsqueeze(-1)
            step = torch.minimum(torch.maximum(step, -r), r)
        else:
            step = step.clamp(min=-r, max=r)
    return x - step, h.reciprocal().unsqueeze(-1)


def _min_eigenvalue_2d(H: torch.Tensor) -> torch.Tensor:
    a, d = H[..., 0, 0], H[..., 1, 1]
    b = 0.5 * (H[..., 0, 1] + H[..., 1, 0])
    half_gap_sq = (0.5 * (a - d)) ** 2 + b * b
    # clamped away from 0 so that an isotropic H gets a zero (not NaN) derivative
    return 0.5 * (a + d) - half_gap_sq.clamp(min=torch.finfo(H.dtype).tiny).sqrt()


def _min_eigenvalue_3d(H: torch.Tensor) -> torch.Tensor:
    return torch.linalg.eigvalsh(0.5 * (H + H.transpose(-1, -2)))[..., 0]


def _inverse_2d(H: torch.Tensor) -> torch.Tensor:
    a, b, c, d = H[..., 0, 0], H[..., 0, 1], H[..., 1, 0], H[..., 1, 1]
    adjugate = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2)
    return adjugate / (a * d - b * c)[..., None, None]


def _inverse_3d(H: torch.Tensor) -> torch.Tensor:
    r0, r1, r2 = H[..., 0, :], H[..., 1, :], H[..., 2, :]
    c0 = torch.linalg.cross(r1, r2)
    c1 = torch.linalg.cross(r2, r0)
    c2 = torch.linalg.cross(r0, r1)
    det = (r0 * c0).sum(-1)
    return torch.stack([c0, c1, c2], dim=-1) / det[..., None, None]


def _step_nd(g: torch.Tensor, x: torch.Tensor, trust_radius: TrustRadius,
             min_eigenvalue: Callable[[torch.Tensor], torch.Tensor],
             inverse: Callable[[torch.Tensor], torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    H = _hessian_blocks(g, x)
    warn_if_nan(g, "g")
    warn_if_nan(H, "H")
    if trust_radius is not None:
        r = _broadcast_radius(trust_radius, g)
        regularizer = (torch.linalg.vector_norm(g, dim=-1) / r - min_eigenvalue(H)).clamp(min=MIN_CURVATURE)
        warn_if_nan(regularizer, "regularizer")
        eye = torch.eye(g.shape[-1], dtype=H.dtype, device=H.device)
        H = H + regularizer[..., None, None] * eye
    Hinv = inverse(H)
    warn_if_nan(Hinv, "Hinv")
    return x - (Hinv @ g.unsqueeze(-1)).squeeze(-1), Hinv


def _step_2d(g: torch.Tensor, x: torch.Tensor, trust_radius: TrustRadius) -> Tuple[torch.Tensor, torch.Tensor]:
    return _step_nd(g, x, trust_radius, _min_eigenvalue_2d, _inverse_2d)


def _step_3d(g: torch.Tensor, x: torch.Tensor, trust_radius: TrustRadius) -> Tuple[torch.Tensor, torch.Tensor]:
    return _step_nd(g, x, trust_radius, _min_eigenvalue_3d, _inverse_3d)


_STEPS: Dict[int, Callable[[torch.Tensor, torch.Tensor, TrustRadius], Tuple[torch.Tensor, torch.Tensor]]] = {
    1: _step_1d, 2: _step_2d, 3: _step_3d,
}


def _dispatch(owner: str, x: torch.Tensor):
    step = _STEPS.get(x.shape[-1])
    if step is None:
        raise NotImplementedError(f"newton_step_nd is not implemented: {owner} takes x with a rightmost "
                                  f"size of 1, 2 or 3, got shape {tuple(x.shape)}")
    return step


def newton_step_from_grad(grad: torch.Tensor, x: torch.Tensor,
                          trust_radius: TrustRadius = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`newton_step` for a caller that already has ``grad = d loss / d x``.

    ``grad`` must have been computed with ``create_graph=True`` (its graph gives the Hessian);
    one ``torch.autograd.grad`` call can then serve several variables, as
    :class:`pyro.optim.multi.Newton` does. Returns ``(mode, cov)`` like :func:`newton_step`.
    """
    _check_x("newton_step_from_grad", x, None)
    _check_trust_radius("newton_step_from_grad", trust_radius)
    if not isinstance(grad, torch.Tensor) or grad.shape != x.shape:
        shape = tuple(grad.shape) if isinstance(grad, torch.Tensor) else type(grad).__name__
        raise ValueError(f"newton_step_from_grad: grad must be a tensor of x's shape {tuple(x.shape)}, "
                         f"got {shape}")
    return _dispatch("newton_step_from_grad", x)(grad, x, trust_radius)


def _newton(owner: str, size: Optional[int], loss: torch.Tensor, x: torch.Tensor,
            trust_radius: TrustRadius) -> Tuple[torch.Tensor, torch.Tensor]:
    _check_x(owner, x, size)
    _check_loss(owner, loss)
    _check_trust_radius(owner, trust_radius)
    step = _dispatch(owner, x)
    return step(_gradient(owner, loss, x), x, trust_radius)


def newton_step(loss: torch.Tensor, x: torch.Tensor,
                trust_radius: TrustRadius = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Move each of a batch of small variables to the minimum of ``loss``'s local quadratic model.

    Args:
        loss: a scalar, twice differentiable in ``x``, that is a sum of independent terms, one
            per batch element of ``x`` (only the ``D x D`` diagonal blocks of the Hessian are used).
        x: the current values, shape ``batch_shape + (D,)`` with ``D`` 1, 2 or 3 (a 1-dim ``x``
            is one variable of size ``D``); it must require grad.
        trust_radius: ``None`` for a plain Newton step, or a positive number (or a tensor
            broadcasting with ``batch_shape``) bounding how far each element may move; the
            module docstring gives the rule.

    Returns:
        ``(mode, cov)``: the updated values, shaped like ``x``, and the inverse (regularised)
        Hessian blocks, shape ``batch_shape + (D, D)`` (a Laplace approximation's covariance when
        ``loss`` is a negative log-density). Both carry gradients: detach ``mode`` between the
        steps of an optimisation loop, or backpropagation runs through every step.

    Raises:
        NotImplementedError: for a rightmost size other than 1, 2 or 3.
        ValueError: for a 0-dim ``x``, a non-scalar ``loss`` or a trust radius <= 0.

    Example::

        x = torch.zeros(100, 2, requires_grad=True)
        for _ in range(10):
            x = x.detach().requires_grad_()
            x, cov = newton_step(my_loss(x), x, trust_radius=1.0)
    """
    return _newton("newton_step", None, loss, x, trust_radius)


def newton_step_1d(loss: torch.Tensor, x: torch.Tensor,
                   trust_radius: TrustRadius = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`newton_step` for ``x`` whose rightmost size is 1 (a ``ValueError`` otherwise);
    ``cov`` has shape ``x.shape[:-1] + (1, 1)``."""
    return _newton("newton_step_1d", 1, loss, x, trust_radius)


def newton_step_2d(loss: torch.Tensor, x: torch.Tensor,
                   trust_radius: TrustRadius = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`newton_step` for ``x`` whose rightmost size is 2 (a ``ValueError`` otherwise);
    ``cov`` has shape ``x.shape[:-1] + (2, 2)``."""
    return _newton("newton_step_2d", 2, loss, x, trust_radius)


def newton_step_3d(loss: torch.Tensor, x: torch.Tensor,
                   trust_radius: TrustRadius = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`newton_step` for ``x`` whose rightmost size is 3 (a ``ValueError`` otherwise);
    ``cov`` has shape ``x.shape[:-1] + (3, 3)``."""
    return _newton("newton_step_3d", 3, loss, x, trust_radius)
