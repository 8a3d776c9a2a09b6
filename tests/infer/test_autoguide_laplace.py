"""AutoLaplaceApproximation: a MAP fit, then the Gaussian from the Hessian at the mode, checked
against the analytic posterior of a linear-Gaussian model and a LogNormal site."""

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.autoguide import AutoLaplaceApproximation, AutoMultivariateNormal
from pyro.optim import ClippedAdam

PRIOR_COV = torch.tensor([[1.0, 0.6], [0.6, 2.0]])
PRIOR_LOC = torch.tensor([1.0, -1.0])
A = torch.tensor([[1.0, 0.5], [-0.3, 1.2], [0.7, 0.0]])
Y = torch.tensor([0.4, -1.1, 2.0])
# Built once: a MultivariateNormal checks its covariance each time it is made.
PRIOR = dist.MultivariateNormal(PRIOR_LOC, PRIOR_COV)


def linear_gaussian():
    x = pyro.sample("x", PRIOR)
    pyro.sample("y", dist.Normal(A @ x, 1.0).to_event(1), obs=Y)


def _analytic():
    precision = torch.linalg.inv(PRIOR_COV) + A.T @ A
    cov = torch.linalg.inv(precision)
    mean = cov @ (torch.linalg.inv(PRIOR_COV) @ PRIOR_LOC + A.T @ Y)
    return mean, precision, cov


def _fit(guide, model, steps=300):
    svi = SVI(model, guide, ClippedAdam({"lr": 0.1, "lrd": 0.99}), Trace_ELBO())
    for _ in range(steps):
        svi.step()


def test_linear_gaussian_mode_and_hessian():
    mean, precision, cov = _analytic()
    guide = AutoLaplaceApproximation(linear_gaussian)
    _fit(guide, linear_gaussian)
    assert torch.allclose(guide.loc, mean, atol=1e-3)
    gaussian = guide.laplace_approximation()
    assert isinstance(gaussian, AutoMultivariateNormal)
    posterior = gaussian.get_posterior()
    assert torch.allclose(posterior.loc, guide.loc.detach())
    assert torch.allclose(posterior.covariance_matrix, cov, atol=1e-5)
    assert torch.allclose(torch.linalg.inv(posterior.covariance_matrix), precision, atol=1e-4)
    # Pyro's split of the covariance: scale = sqrt(diag(cov)), scale_tril = chol(cov) / scale.
    scale = cov.diagonal().sqrt()
    assert torch.allclose(gaussian.scale, scale, atol=1e-5)
    assert torch.allclose(gaussian.scale_tril, torch.linalg.cholesky(cov) / scale[:, None],
                          atol=1e-5)
    # The new guide runs, with the fitted mode as its median.
    trace = poutine.trace(gaussian).get_trace()
    assert trace.nodes["x"]["value"].shape == (2,)
    assert torch.allclose(gaussian.median()["x"], mean, atol=1e-3)


def test_hessian_is_exact_away_from_the_mode():
    # For a Gaussian the Hessian is the precision everywhere: no fitting needed.
    _, precision, _ = _analytic()
    guide = AutoLaplaceApproximation(linear_gaussian)
    guide()
    pyro.get_param_store()["AutoLaplaceApproximation.loc"] = torch.tensor([3.0, -2.0])
    cov = guide.laplace_approximation().get_posterior().covariance_matrix
    assert torch.allclose(cov, torch.linalg.inv(precision), atol=1e-5)


def test_constrained_site_in_unconstrained_space():
    # s ~ LogNormal(0.5, 0.7): in u = log s the density (with the Jacobian) is N(0.5, 0.7), so
    # the mode is u = 0.5 and the inverse Hessian is 0.7 ** 2.
    def model():
        pyro.sample("s", dist.LogNormal(0.5, 0.7))
        pyro.sample("a", dist.Normal(-1.0, 0.5))

    guide = AutoLaplaceApproximation(model)
    _fit(guide, model)
    assert torch.allclose(guide.loc, torch.tensor([0.5, -1.0]), atol=1e-3)
    cov = guide.laplace_approximation().get_posterior().covariance_matrix
    assert torch.allclose(cov, torch.diag(torch.tensor([0.49, 0.25])), atol=1e-4)


def test_point_mass_sites_and_names():
    guide = AutoLaplaceApproximation(linear_gaussian)
    trace = poutine.trace(guide).get_trace()
    latent = trace.nodes["_AutoLaplaceApproximation_latent"]
    assert latent["infer"] == {"is_auxiliary": True}
    assert isinstance(latent["fn"], dist.Independent)
    assert list(pyro.get_param_store().keys()) == ["AutoLaplaceApproximation.loc"]
    with pytest.raises(NotImplementedError):
        guide.median()  # as in Pyro: only the Gaussian it returns has summaries


def test_not_a_mode_is_refused():
    # log density x^2 / 2: the Hessian of the loss is -1, so there is no Gaussian to return.
    def upside_down():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.factor("flip", x ** 2)

    guide = AutoLaplaceApproximation(upside_down)
    with pytest.raises(ValueError, match="not positive definite"):
        guide.laplace_approximation()
