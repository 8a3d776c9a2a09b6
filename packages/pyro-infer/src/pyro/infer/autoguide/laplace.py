"""The Laplace approximation: a MAP point, then a Gaussian from the curvature at that point."""

from __future__ import annotations

from typing import Any, Callable

import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.distributions import constraints
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
        unconstrained latent vector ``u`` at ``loc``. The returned guide's parameters are
        written to the param store as ``AutoMultivariateNormal.loc``, ``.scale``
        (``sqrt(diag(cov))``) and ``.scale_tril`` (``cholesky(cov) / scale[:, None]``),
        replacing any already there.

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
        gaussian._setup_prototype(*args, **kwargs)
        # Pyro's scale_tril here is a Cholesky factor with rows scaled, not unit diagonal.
        gaussian.scale_tril_constraint = constraints.lower_cholesky
        store = pyro.get_param_store()
        values = {"loc": (loc.detach().clone(), constraints.real),
                  "scale": (scale, gaussian.scale_constraint),
                  "scale_tril": (scale_tril / scale.unsqueeze(-1), constraints.lower_cholesky)}
        for key, (value, constraint) in values.items():
            name = gaussian._param_name(None, key)
            if name in store:
                del store[name]
            pyro.param(name, value, constraint=constraint)
            getattr(gaussian, key)  # the guide's nn.Parameter becomes the store's new tensor
        return gaussian


__all__ = ["AutoLaplaceApproximation"]
