"""The Laplace approximation: a MAP point, then a Gaussian from the curvature at that point."""

from __future__ import annotations

from typing import Any, Callable

import torch

import pyro.distributions as dist
from pyro import poutine
from pyro.infer.autoguide.continuous import AutoContinuous, AutoMultivariateNormal
from pyro.infer.autoguide.initialization import init_to_median


def _hessian(loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The Hessian of a scalar ``loss`` with respect to the vector ``x``, by double backward."""
    (grad,) = torch.autograd.grad(loss, x, create_graph=True)
    rows = [torch.autograd.grad(grad[i], x, retain_graph=True)[0] for i in range(x.numel())]
    return torch.stack(rows)


class AutoLaplaceApproximation(AutoContinuous):
    """A guide for the Laplace approximation of the posterior in unconstrained space.

    Fit it with an ELBO as a MAP estimate: the latent vector is a point mass at the parameter
    ``AutoLaplaceApproximation.loc``. Then :meth:`laplace_approximation` returns an
    :class:`AutoMultivariateNormal` centred at that point whose covariance is the inverse
    Hessian of the negative log joint density (with the transforms' log-Jacobians) there.

    Args:
        model: the model.
        init_loc_fn: init strategy (default :func:`init_to_median`).

    Example::

        guide = AutoLaplaceApproximation(model)
        svi = SVI(model, guide, Adam({"lr": 0.05}), Trace_ELBO())
        ...
        gaussian = guide.laplace_approximation(data)
    """

    def __init__(self, model: Callable, init_loc_fn: Callable = init_to_median) -> None:
        super().__init__(model, init_loc_fn=init_loc_fn)

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self._loc_init = self._init_loc()
        self._declare("loc", self._loc_init.clone(), suffix=False)

    @property
    def loc(self) -> torch.Tensor:
        """The point estimate of the latent vector (unconstrained space)."""
        self._ready()
        return self._site_value("loc")

    def get_posterior(self, *args: Any, **kwargs: Any) -> dist.Distribution:
        """Return a point mass at :attr:`loc`: ``Delta(loc).to_event(1)``."""
        return dist.Delta(self.loc).to_event(1)

    def laplace_approximation(self, *args: Any, **kwargs: Any) -> AutoMultivariateNormal:
        """Return an :class:`AutoMultivariateNormal` at ``loc`` with the inverse Hessian as covariance.

        The Hessian is that of ``-log p(x(u), data) - log |dx/du|`` with respect to the
        unconstrained latent vector ``u`` at ``loc``. As in Pyro the returned guide is fixed:
        its ``loc``, ``scale`` (``sqrt(diag(cov))``) and ``scale_tril``
        (``cholesky(cov) / scale[:, None]``) are buffers of the guide, not parameters, so SVI
        does not train them and the param store is left as it was.

        Args:
            *args, **kwargs: the model's arguments.

        Raises:
            ValueError: the Hessian is not positive definite (``loc`` is not at a mode).
        """
        self._ensure_prototype(*args, **kwargs)
        loc = self.loc
        leaf = loc.unconstrained() if hasattr(loc, "unconstrained") else loc
        guide_trace = poutine.trace(self).get_trace(*args, **kwargs)
        model_trace = poutine.trace(poutine.replay(self.model, trace=guide_trace)).get_trace(
            *args, **kwargs)
        loss = guide_trace.log_prob_sum() - model_trace.log_prob_sum()
        hessian = _hessian(loss, leaf).detach()
        cov = torch.linalg.inv(hessian)
        scale_tril, info = torch.linalg.cholesky_ex(cov)
        if bool(info.any()):
            raise ValueError(
                f"{self._pyro_name}.laplace_approximation: the Hessian at loc is not positive "
                f"definite; fit the guide to a mode first")
        scale = cov.diagonal().sqrt()

        gaussian = AutoMultivariateNormal(self.model, init_loc_fn=self.init_loc_fn)
        # Buffers first: the prototype set-up then makes no parameter of these names.
        buffers = gaussian.__dict__["_buffers"]
        buffers["loc"] = loc.detach().clone()
        buffers["scale"] = scale
        buffers["scale_tril"] = scale_tril / scale.unsqueeze(-1)
        gaussian._setup_prototype(*args, **kwargs)
        return gaussian


__all__ = ["AutoLaplaceApproximation"]
