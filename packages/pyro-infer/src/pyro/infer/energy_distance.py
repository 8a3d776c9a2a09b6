"""``EnergyDistance``: a likelihood-free loss, the energy distance between the data and the
posterior predictive distribution."""

from __future__ import annotations

import math
from typing import Any, Callable, List

import torch

import pyro
from pyro import poutine
from pyro.infer.util import plate_nesting, site_log_prob
from pyro.poutine.util import site_is_subsample

__all__ = ["EnergyDistance"]

_PLATE = "energy_distance_particles"


def _particle_rows(value: torch.Tensor, event_dim: int, particle_dim: int,
                   num_particles: int) -> torch.Tensor:
    """Lay ``value`` out as ``(num_particles, -1)``: one flat row of a site's values per
    particle (a site that does not depend on the particle is repeated)."""
    batch_dims = value.dim() - event_dim
    dim = batch_dims + particle_dim  # position of the particle dim, counting from the left
    if dim < 0:
        value = value.expand((num_particles,) + value.shape)
    else:
        value = value.movedim(dim, 0).expand((num_particles,) + value.shape[:dim] + value.shape[dim + 1:])
    return value.reshape(num_particles, -1)


class EnergyDistance:
    """The energy distance between the observed data and the model's posterior predictive
    distribution under the guide, plus an optional prior term (Szekely and Rizzo, 2013).

    Each of ``num_particles`` particles draws ``z`` from the guide and then the observed sites
    ``x`` from the model given ``z``; ``x_i`` is particle ``i``'s observed values, all sites
    concatenated, and ``y`` the data. The loss is::

        mean_i |x_i - y|^beta - 1/2 mean_{i != j} |x_i - x_j|^beta
            - prior_scale * sum_i log p(z_i)

    with ``|.|`` the Euclidean norm. It needs no likelihood, only samples: gradients flow
    through reparameterised draws (the guide must be fully reparameterised; observation
    sites without ``rsample`` contribute no gradient). Model params of the prior are trained
    only when ``prior_scale > 0``. Call the object, ``loss_fn(model, guide, *args)``, for
    the differentiable loss (it is what :class:`~pyro.infer.SVI` calls).

    Args:
        beta: the exponent, in ``(0, 2)``.
        prior_scale: the non-negative weight of the prior term.
        num_particles: at least 2.
        max_plate_nesting: the number of plate dims the model uses (guessed when ``inf``).

    Raises:
        ValueError: for an argument out of range; when called with a guide site that has no
            ``rsample``.
    """

    def __init__(self, beta: float = 1.0, prior_scale: float = 0.0, num_particles: int = 2,
                 max_plate_nesting: float = math.inf) -> None:
        if not (isinstance(beta, (float, int)) and 0 < beta < 2):
            raise ValueError(f"Expected beta in (0,2), actual {beta}")
        if not (isinstance(prior_scale, (float, int)) and prior_scale >= 0):
            raise ValueError(f"Expected prior_scale >= 0, actual {prior_scale}")
        if not (isinstance(num_particles, int) and num_particles >= 2):
            raise ValueError(f"Expected num_particles >= 2, actual {num_particles}")
        if max_plate_nesting != math.inf and (
                isinstance(max_plate_nesting, bool) or not isinstance(max_plate_nesting, int)
                or max_plate_nesting < 0):
            raise ValueError(f"EnergyDistance: max_plate_nesting must be a non-negative int or "
                             f"inf, got {max_plate_nesting!r}")
        self.beta = beta
        self.prior_scale = prior_scale
        self.num_particles = num_particles
        self.max_plate_nesting = max_plate_nesting

    def loss(self, *args: Any, **kwargs: Any) -> float:
        """Not available (as in Pyro): only the surrogate, ``self(model, guide, ...)``, is."""
        raise NotImplementedError("EnergyDistance implements only surrogate loss")

    def _norm_pow(self, diff: torch.Tensor) -> torch.Tensor:
        """``|diff|^beta`` over the last dim, with a finite gradient at zero."""
        sq = diff.pow(2).sum(-1)
        return sq.clamp(min=torch.finfo(sq.dtype).tiny).pow(self.beta / 2)

    def __call__(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Return the energy-distance loss of ``model`` and ``guide`` on ``args`` as a tensor."""
        if self.max_plate_nesting == math.inf:
            with poutine.block():
                guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
                model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(
                    *args, **kwargs)
            self.max_plate_nesting = plate_nesting(guide_trace, model_trace)
        n = self.num_particles
        dim = -int(self.max_plate_nesting) - 1

        def in_plate(fn: Callable) -> Callable:
            def wrapped(*a: Any, **k: Any) -> Any:
                with pyro.plate(_PLATE, n, dim=dim):
                    return fn(*a, **k)
            return wrapped

        guide_trace = poutine.trace(in_plate(guide)).get_trace(*args, **kwargs)
        for name, site in guide_trace.nodes.items():
            if (site["type"] == "sample" and not site["is_observed"] and not site_is_subsample(site)
                    and not getattr(site["fn"], "has_rsample", False)):
                raise ValueError(f"EnergyDistance requires fully reparametrized guides: the "
                                 f"guide's site '{name}' ({type(site['fn']).__name__}) has no "
                                 f"rsample")
        model_trace = poutine.trace(poutine.uncondition(poutine.replay(in_plate(model),
                                                                       trace=guide_trace))
                                    ).get_trace(*args, **kwargs)
        samples: List[torch.Tensor] = []
        data: List[torch.Tensor] = []
        prior: Any = 0.0
        for name, site in model_trace.nodes.items():
            if site["type"] != "sample" or site_is_subsample(site):
                continue
            if site["infer"].get("was_observed"):
                event_dim = len(getattr(site["fn"], "event_shape", ()))
                samples.append(_particle_rows(site["value"], event_dim, dim, n))
                data.append(_observed_value(site).reshape(-1))
            elif self.prior_scale > 0:
                prior = prior + site_log_prob(site, with_sum=False).sum()
        if not samples:
            raise ValueError("EnergyDistance: the model has no observed sites")
        x = torch.cat(samples, -1)
        y = torch.cat(data, -1)
        i, j = torch.triu_indices(n, n, offset=1, device=x.device)
        loss = self._norm_pow(x - y).mean() - 0.5 * self._norm_pow(x[i] - x[j]).mean()
        if self.prior_scale > 0:
            loss = loss - self.prior_scale * prior
        return loss


def _observed_value(site: dict) -> torch.Tensor:
    """The data an unconditioned site was observed at (kept by ``uncondition``)."""
    obs = site["infer"].get("obs")
    if obs is None:
        raise ValueError(f"EnergyDistance: cannot find the observed value of site '{site['name']}'")
    return torch.as_tensor(obs)
