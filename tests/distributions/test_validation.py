"""Argument and sample validation: the scalar fast path gives torch's verdict, always."""

import math

import pytest
import torch
from torch.distributions import constraints

import pyro
import pyro.distributions as dist
from pyro.distributions.validation import _check

EDGE_VALUES = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, 1e-45, -1e-45, 1 - 1e-7, math.inf, -math.inf,
               math.nan, 7.0, 2.5, -3.0]
CONSTRAINTS = [
    constraints.real, constraints.positive, constraints.nonnegative,
    constraints.greater_than(-1.5), constraints.greater_than_eq(2.0), constraints.less_than(3.0),
    constraints.unit_interval, constraints.interval(-1.0, 2.0),
    constraints.half_open_interval(0.0, 2.0), constraints.boolean,
    constraints.nonnegative_integer, constraints.positive_integer,
    constraints.integer_interval(0, 3),
]


@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=repr)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scalar_check_agrees_with_torch(constraint, dtype):
    for x in EDGE_VALUES:
        value = torch.tensor(x, dtype=dtype)
        expected = bool(constraint.check(value).all())
        assert _check(constraint, value) is expected, (constraint, x)


@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=repr)
def test_tensor_check_is_torchs(constraint):
    value = torch.tensor(EDGE_VALUES)
    for i in range(len(EDGE_VALUES)):
        part = value[: i + 1]
        assert _check(constraint, part) is bool(constraint.check(part).all())


def test_integer_scalars():
    assert _check(constraints.nonnegative_integer, torch.tensor(3))
    assert not _check(constraints.nonnegative_integer, torch.tensor(-1))
    assert _check(constraints.boolean, torch.tensor(True))


@pytest.mark.parametrize("make,param", [
    (lambda: dist.Normal(0.0, -1.0), "scale"),
    (lambda: dist.Normal(math.nan, 1.0), "loc"),
    (lambda: dist.Beta(torch.tensor(-1.0), torch.tensor(2.0)), "concentration1"),
    (lambda: dist.Beta(torch.tensor(1.0), torch.tensor(0.0)), "concentration0"),
    (lambda: dist.LogNormal(0.0, torch.tensor(-2.0)), "scale"),
    (lambda: dist.Bernoulli(torch.tensor(1.5)), "probs"),
    (lambda: dist.Gamma(torch.tensor(2.0), torch.tensor(-1.0)), "rate"),
    (lambda: dist.Poisson(torch.tensor(-0.5)), "rate"),
    (lambda: dist.Normal(torch.zeros(3), torch.tensor([1.0, -1.0, 1.0])), "scale"),
    (lambda: dist.Dirichlet(torch.tensor([1.0, -1.0])), "concentration"),
])
def test_invalid_parameters_raise_naming_the_parameter(make, param):
    with pytest.raises(ValueError, match=f"parameter {param}"):
        make()


def test_validate_args_false_keyword_positional_and_global():
    assert dist.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    assert dist.Normal(0.0, -1.0, False).scale.item() == -1.0
    with pyro.validation_enabled(False):
        assert dist.Beta(torch.tensor(-1.0), torch.tensor(1.0)).concentration1.item() == -1.0
    with pytest.raises(ValueError):
        dist.Normal(0.0, -1.0, True)


def test_validation_flag_is_kept_on_the_distribution():
    d = dist.Beta(torch.tensor(2.0), torch.tensor(3.0))
    assert d._validate_args
    assert not dist.Beta(torch.tensor(2.0), torch.tensor(3.0), validate_args=False)._validate_args
    assert d.expand([4])._validate_args


@pytest.mark.parametrize("name,args,bad,good", [
    ("Beta", (2.0, 3.0), 1.5, 0.25),
    ("Gamma", (2.0, 3.0), -1.0, 0.5),
    ("LogNormal", (0.0, 1.0), -1.0, 2.0),
    ("Bernoulli", (0.3,), 0.5, 1.0),
    ("Poisson", (2.0,), 1.5, 3.0),
    ("Normal", (0.0, 1.0), math.nan, -4.0),
    ("Uniform", (0.0, 2.0), 2.5, 1.0),
])
def test_log_prob_validates_scalar_samples_like_torch(name, args, bad, good):
    args = tuple(torch.tensor(a) for a in args)
    d = getattr(dist, name)(*args)
    with pytest.raises(ValueError, match="support"):
        d.log_prob(torch.tensor(bad))
    with pytest.raises(ValueError):
        getattr(torch.distributions, name)(*args, validate_args=True).log_prob(torch.tensor(bad))
    reference = getattr(torch.distributions, name)(*args, validate_args=False)
    assert torch.allclose(d.log_prob(torch.tensor(good)), reference.log_prob(torch.tensor(good)),
                          rtol=1e-6, atol=1e-6)


def test_log_prob_validates_tensor_samples():
    d = dist.Beta(torch.ones(3), torch.ones(3))
    with pytest.raises(ValueError, match="support"):
        d.log_prob(torch.tensor([0.5, 1.5, 0.5]))
    with pytest.raises(ValueError, match="broadcastable"):
        d.log_prob(torch.full((4,), 0.5))


def test_site_error_names_the_site():
    def model():
        pyro.sample("p", dist.Beta(torch.tensor(2.0), torch.tensor(2.0)), obs=torch.tensor(1.2))

    with pytest.raises(ValueError, match="'p'"):
        pyro.poutine.trace(model).get_trace().compute_log_prob()
