"""``Trace_MMD``: reconstruction plus the maximum mean discrepancy between the guide's latents
and the prior's (the InfoVAE / MMD-VAE objective)."""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Tuple

import torch

from pyro.infer.arg_checks import EngineArgumentTypeError, check_real, describe
from pyro.infer.elbo import ELBO
from pyro.infer.util import get_importance_trace, torch_backward, torch_item
from pyro.poutine.util import site_is_subsample

__all__ = ["Trace_MMD"]


def _rows(value: torch.Tensor, n: int, particle_dim: int, event_dim: int) -> torch.Tensor:
    """``value`` as ``(n, -1)``: one flat row per particle (repeated when it does not vary)."""
    pos = value.dim() - event_dim + particle_dim
    if pos < 0:
        value = value.expand((n,) + value.shape)
    else:
        value = value.movedim(pos, 0)
        value = value.expand((n,) + value.shape[1:])
    return value.reshape(n, -1)


def _entry(table: Any, argument: str, name: str) -> Any:
    """``table[name]`` for a dict (a ``KeyError`` naming the site when it is missing), else
    ``table`` itself."""
    if not isinstance(table, dict):
        return table
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"Trace_MMD: {argument} has no entry for the latent site {name!r}; it has "
                       f"{sorted(table)}") from None


class Trace_MMD(ELBO):
    """The MMD objective of Zhao, Song and Ermon (InfoVAE, 2017).

    ``-mean_i log p(x | z_i) + mmd_scale * MMD^2(q, p)``: the observed sites' log-likelihood
    under guide draws ``z_i``, plus, for every latent site, the (biased, all-pairs) squared
    maximum mean discrepancy between the guide's ``num_particles`` draws and as many draws of
    the model's prior at that site::

        mean_ij k(zq_i, zq_j) + mean_ij k(zp_i, zp_j) - 2 mean_ij k(zq_i, zp_j)

    with each particle's value of the site flattened into one row. ``kernel`` is a callable
    ``kernel(X, Z) -> (len(X), len(Z))`` (a ``pyro.contrib.gp`` kernel is one), or a dict of
    them by site name. Gradients are pathwise: the guide must be reparameterised.

    Args:
        kernel: the kernel, or ``{site name: kernel}``.
        mmd_scale: the weight of the MMD term, or ``{site name: weight}``.
        num_particles, max_plate_nesting, max_iarange_nesting, vectorize_particles,
        strict_enumeration_warning, ignore_jit_warnings, retain_graph: as for
            :class:`~pyro.infer.ELBO`.

    Raises:
        TypeError: a kernel that is not callable, an ``mmd_scale`` that is neither a number
            nor a dict of numbers.
        KeyError: (at the loss) a dict of kernels or of scales without an entry for a latent
            site, naming the site and the keys given.
    """

    def __init__(self, kernel: Any, mmd_scale: Any = 1, num_particles: int = 10,
                 max_plate_nesting: float = math.inf, max_iarange_nesting: Any = None,
                 vectorize_particles: bool = True, strict_enumeration_warning: bool = True,
                 ignore_jit_warnings: bool = False, retain_graph: Any = None) -> None:
        super().__init__(num_particles=num_particles, max_plate_nesting=max_plate_nesting,
                         max_iarange_nesting=max_iarange_nesting,
                         vectorize_particles=vectorize_particles,
                         strict_enumeration_warning=strict_enumeration_warning,
                         ignore_jit_warnings=ignore_jit_warnings, retain_graph=retain_graph)
        kernels = kernel.values() if isinstance(kernel, dict) else [kernel]
        if not all(callable(k) for k in kernels):
            raise TypeError("`kernel` should be a callable kernel(X, Z), e.g. a "
                            "pyro.contrib.gp kernel, or a dict of them by site name")
        if isinstance(mmd_scale, dict):
            for name, scale in mmd_scale.items():
                check_real("Trace_MMD", f"mmd_scale[{name!r}]", scale)
        elif not isinstance(mmd_scale, (int, float, torch.Tensor)) or isinstance(mmd_scale, bool):
            raise EngineArgumentTypeError(f"Trace_MMD: mmd_scale must be a number or a dict of "
                                          f"them by site name, got {describe(mmd_scale)}")
        self.kernel = kernel
        self.mmd_scale = mmd_scale

    def _get_trace(self, model: Callable, guide: Callable, args: tuple, kwargs: dict) -> Tuple[Any, Any]:
        return get_importance_trace("flat", self.max_plate_nesting, model, guide, args, kwargs)

    def _site_kernel(self, name: str) -> Any:
        return _entry(self.kernel, "kernel", name)

    def _site_scale(self, name: str) -> Any:
        return _entry(self.mmd_scale, "mmd_scale", name)

    def differentiable_loss(self, model: Callable, guide: Callable, *args: Any,
                            **kwargs: Any) -> torch.Tensor:
        """Return the MMD objective as a differentiable tensor."""
        n = self.num_particles
        recon: Any = 0.0
        q_rows: Dict[str, List[torch.Tensor]] = {}
        p_rows: Dict[str, List[torch.Tensor]] = {}
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            vectorized = self.vectorize_particles and n > 1
            m = n if vectorized else 1
            dim = -int(self.max_plate_nesting) if vectorized else -int(self.max_plate_nesting) - 1
            for name, site in model_trace.nodes.items():
                if site["type"] != "sample" or site_is_subsample(site):
                    continue
                if site["is_observed"]:
                    recon = recon + site["log_prob_sum"]
                    continue
                guide_site = guide_trace.nodes.get(name)
                if guide_site is None:
                    continue
                event_dim = len(getattr(site["fn"], "event_shape", ()))
                prior_draw = site["fn"].rsample() if site["fn"].has_rsample else site["fn"].sample()
                q_rows.setdefault(name, []).append(_rows(guide_site["value"], m, dim, event_dim))
                p_rows.setdefault(name, []).append(_rows(prior_draw, m, dim, event_dim))
        self.__dict__.pop("_recorded_traces", None)
        loss = -recon / n
        for name in q_rows:
            zq = torch.cat(q_rows[name])
            zp = torch.cat(p_rows[name])
            k = self._site_kernel(name)
            mmd = k(zq, zq).mean() + k(zp, zp).mean() - 2 * k(zq, zp).mean()
            loss = loss + self._site_scale(name) * mmd
        return torch.as_tensor(loss)

    def loss(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Return the MMD objective as a float (no gradients)."""
        with torch.no_grad():
            loss = torch_item(self.differentiable_loss(model, guide, *args, **kwargs))
        self._warn_if_nan(loss)
        return loss

    def loss_and_grads(self, model: Callable, guide: Callable, *args: Any, **kwargs: Any) -> float:
        """Compute the MMD objective, backpropagate it into the params; return a float."""
        loss = self.differentiable_loss(model, guide, *args, **kwargs)
        torch_backward(loss, self.retain_graph)
        loss = torch_item(loss)
        self._warn_if_nan(loss)
        return loss
