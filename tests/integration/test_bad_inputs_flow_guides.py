"""Wrong arguments to pyro-nn's flow autoguides fail when the guide is built (or, for what the
transform function returns, at its first call), naming the guide and the argument; valid
guides still give the flow's exact density and warn nothing."""

import functools
import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.distributions.transforms as T
from pyro.infer.autoguide import AutoIAFNormal, AutoNormalizingFlow


def model():
    pyro.sample("z", dist.Normal(torch.zeros(3), 1.0).to_event(1))


@pytest.mark.parametrize("make, error, words", [
    (lambda: AutoIAFNormal(model, hidden_dim="x"), TypeError,
     r"^AutoIAFNormal: hidden_dim must be an int, got str 'x'$"),
    (lambda: AutoIAFNormal(model, hidden_dim=2.5), TypeError,
     r"^AutoIAFNormal: hidden_dim must be an int, got float 2\.5$"),
    (lambda: AutoIAFNormal(model, hidden_dim=-3), ValueError,
     r"^AutoIAFNormal: hidden_dim must be >= 1, got -3$"),
    (lambda: AutoIAFNormal(model, hidden_dim=[8, 0]), ValueError,
     r"^AutoIAFNormal: hidden_dim must be positive, got \[8, 0\]$"),
    (lambda: AutoIAFNormal(model, stabel=True), TypeError,
     r"^AutoIAFNormal got unexpected keyword arguments \['stabel'\]; expected some of "
     r"\['log_scale_min_clip', 'log_scale_max_clip', 'sigmoid_bias', 'stable'\]$"),
    (lambda: AutoIAFNormal(model, log_scale_min_clip=2.0, log_scale_max_clip=1.0), ValueError,
     r"^AutoIAFNormal: log_scale_min_clip=2\.0 must not exceed log_scale_max_clip=1\.0$"),
    (lambda: AutoNormalizingFlow(model, init_transform_fn=42), TypeError,
     r"^AutoNormalizingFlow: init_transform_fn must be a function of the latent dimension, got int$"),
    (lambda: AutoNormalizingFlow(model, lambda: T.planar(3)), TypeError,
     r"^AutoNormalizingFlow: init_transform_fn must take one argument \(the latent dimension\), "
     r"got <lambda>\(\)$"),
])
def test_bad_guide_arguments_fail_when_the_guide_is_built(make, error, words):
    with pytest.raises(error, match=words):
        make()


@pytest.mark.parametrize("returned, shown", [(42, "int 42"), ("planar", "str 'planar'")])
def test_transform_function_returning_a_non_transform(returned, shown):
    pyro.clear_param_store()
    guide = AutoNormalizingFlow(model, lambda dim: returned)
    with pytest.raises(ValueError, match=rf"^AutoNormalizingFlow: init_transform_fn\(3\) returned "
                                         rf"{shown}; expected a Transform"):
        guide()


def test_transform_of_the_wrong_size_is_named_at_the_first_call():
    pyro.clear_param_store()
    guide = AutoNormalizingFlow(model, lambda dim: T.planar(dim + 1))
    with pytest.raises(ValueError, match=r"^Planar: input of shape \(3,\), expected \(\.\.\., 4\)"):
        guide()


@pytest.mark.parametrize("make", [
    lambda: AutoIAFNormal(model, hidden_dim=5),
    lambda: AutoIAFNormal(model, hidden_dim=[5, 5], num_transforms=2, stable=True),
    lambda: AutoNormalizingFlow(model, functools.partial(T.iterated, 2, T.planar)),
    lambda: AutoNormalizingFlow(model, lambda dim: [T.planar(dim), T.radial(dim)]),
])
def test_valid_guides_warn_nothing_and_give_the_flows_density(make):
    pyro.clear_param_store()
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        guide = make()
        sample = guide()["z"]
        posterior = guide.get_posterior()
        transforms = guide.get_transform()
        parts = transforms if isinstance(transforms, list) else [transforms]
        # the density by hand: the base Normal at the pre-image, less the log-dets
        z = posterior.rsample((4,)).detach()
        base = torch.randn(4, 3)
        x = base
        log_det = torch.zeros(4)
        for t in parts:
            y = t(x)
            log_det = log_det + t.log_abs_det_jacobian(x, y)
            x = y
        expected = dist.Normal(0.0, 1.0).log_prob(base).sum(-1) - log_det
        assert torch.allclose(posterior.log_prob(x), expected, atol=1e-5)
    assert sample.shape == (3,) and z.shape == (4, 3)
    pyro.clear_param_store()
