"""Inputs Pyro 1.9.2 accepts that the argument checks of issue 18 must keep accepting (each was
refused by a first version of those checks): user subclasses with their own signatures, numpy
scalars and bools, 0-dim tensors, decorated models, mappings that are not dicts."""

import functools
import math
import types
import warnings

import numpy as np
import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.distributions.transforms as transforms
import pyro.poutine as poutine
from pyro.infer import Trace_ELBO
from pyro.infer.autoguide import AutoNormal
from pyro.infer.autoguide.initialization import init_to_uniform, init_to_value
from pyro.infer.mcmc.util import diagnostics
from pyro.nn import PyroModule, PyroParam
from pyro.poutine._handler_checks import ObservedValueTypeError


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_subclass_expand_and_enumerate_support_keep_their_own_signatures():
    class OwnExpand(dist.Normal):
        def expand(self, batch_shape):
            return super().expand(batch_shape)

    class OwnExpandKeyword(dist.Normal):
        def expand(self, shape, _instance=None):
            return super().expand(shape, _instance)

    class OwnSupport(dist.Bernoulli):
        def enumerate_support(self):
            return super().enumerate_support(True)

    class OwnDefault(dist.Bernoulli):
        def enumerate_support(self, expand=False):
            return super().enumerate_support(expand)

    assert OwnExpand(torch.zeros(3), 1.0).expand((2, 3)).batch_shape == (2, 3)
    assert OwnExpandKeyword(torch.zeros(3), 1.0).expand(shape=(2, 3)).batch_shape == (2, 3)
    assert OwnSupport(torch.full((3,), 0.5)).enumerate_support().shape == (2, 3)
    assert OwnDefault(torch.full((3,), 0.5)).enumerate_support().shape == (2, 1)  # its own default
    with pytest.raises(ValueError, match=r"^OwnExpand: cannot expand batch_shape \(3,\) to \(4, 2\)"):
        OwnExpand(torch.zeros(3), 1.0).expand((4, 2))


def test_numpy_scalars_and_flags():
    assert Trace_ELBO(vectorize_particles=np.False_).vectorize_particles == np.False_
    assert not Trace_ELBO(vectorize_particles=None).vectorize_particles
    assert Trace_ELBO(vectorize_particles=torch.tensor(False)) is not None
    assert dist.Unit(np.float32(0.5)).log_factor.item() == 0.5
    assert dist.DirichletMultinomial(torch.ones(3), total_count=np.int64(5)).total_count.item() == 5
    torch.testing.assert_close(transforms.PositivePowerTransform(np.float32(2.0))(torch.tensor(3.0)),
                               torch.tensor(9.0))


def test_zero_dim_tensors_and_numpy_ints_where_numbers_go():
    assert transforms.DiscreteCosineTransform(smooth=torch.tensor(1.0)).smooth == 1.0
    assert callable(init_to_uniform(radius=torch.tensor(1.0)))
    assert poutine.markov(history=torch.tensor(2)).history == 2
    assert poutine.markov(history=math.inf).history == math.inf
    module = PyroModule()
    module.p = PyroParam(torch.ones(2, 3), event_dim=np.int64(1))
    assert module.p.shape == (2, 3)


def test_a_decorated_model_is_called_through_its_wrapper():
    def base(data, x):
        return pyro.sample("z", dist.Normal(x, 1.0))

    model = functools.wraps(base)(lambda x: base(None, x))
    pyro.clear_param_store()
    assert set(AutoNormal(model)(1.0)) == {"z"}


def test_mappings_that_are_not_dicts():
    samples = types.MappingProxyType({"x": torch.randn(2, 50, generator=torch.Generator().manual_seed(0))})
    assert set(diagnostics(samples)) == {"x"}
    assert callable(init_to_value(values=types.MappingProxyType({"x": torch.tensor(0.0)})))


def test_an_observed_list_is_refused_with_pyros_value_error_type():
    with pytest.raises(ValueError, match=r"site 'o': the observed value must be a torch\.Tensor") as info:
        poutine.trace(lambda: pyro.sample("o", dist.Normal(0.0, 1.0), obs=[1.0])).get_trace()
    assert isinstance(info.value, TypeError) and isinstance(info.value, ObservedValueTypeError)
