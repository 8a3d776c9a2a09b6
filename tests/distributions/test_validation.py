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


@pytest.mark.parametrize("constraint", CONSTRAINTS + [
    constraints.independent(constraints.real, 1), constraints.independent(constraints.positive, 2),
], ids=repr)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
@pytest.mark.parametrize("shape", [(1,), (2, 3), (4, 1, 2), (40,)])
def test_small_tensor_check_agrees_with_torch(constraint, dtype, shape):
    generator = torch.Generator().manual_seed(0)
    edges = torch.tensor(EDGE_VALUES, dtype=torch.float64)
    n = math.prod(shape)
    for trial in range(60):
        picks = torch.randint(0, len(EDGE_VALUES), (n,), generator=generator)
        if trial % 3 == 0:  # mostly valid values, so that True verdicts are exercised too
            picks = picks % 3 + 2
        value = edges[picks].reshape(shape)
        if dtype == torch.int64:
            value = value.nan_to_num(0.0, 9.0, -9.0)
        value = value.to(dtype)
        try:
            expected = bool(constraint.check(value).all())
        except ValueError:  # too few dims for an independent constraint: torch's error stands
            with pytest.raises(ValueError):
                _check(constraint, value)
            continue
        assert _check(constraint, value) is expected, (constraint, value)


def _simplex_rows(dtype):
    """Rows on, near and off the simplex, including those within float rounding of the edge."""
    generator = torch.Generator().manual_seed(1)
    rows = [torch.softmax(torch.randn(k, generator=generator, dtype=torch.float64), -1)
            for k in (1, 2, 3, 5, 8, 16)]
    rows += [torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0])]
    out = []
    for row in rows:
        row = row.to(dtype)
        out.append(row)
        for delta in (5e-7, 9e-7, 9.9e-7, 1e-6, 1.01e-6, 2e-6, 1e-3):
            for sign in (1, -1):
                shifted = row.clone()
                shifted[0] = shifted[0] + sign * delta
                out.append(shifted)
        bad = row.clone()
        bad[-1] = -1e-30
        out.append(bad)
        for special in (math.nan, math.inf):
            odd = row.clone()
            odd[0] = special
            out.append(odd)
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_simplex_check_agrees_with_torch(dtype):
    rows = _simplex_rows(dtype)
    verdicts = set()
    for row in rows:
        expected = bool(constraints.simplex.check(row).all())
        verdicts.add(expected)
        assert _check(constraints.simplex, row) is expected, row
        batch = row.expand(3, row.shape[0])
        assert _check(constraints.simplex, batch) is expected
    assert verdicts == {True, False}
    # Several rows at once: one bad row makes the verdict False.
    good = torch.softmax(torch.randn(4, 3), -1).to(dtype)
    assert _check(constraints.simplex, good) is bool(constraints.simplex.check(good).all())
    good[2, 1] = -0.1
    assert _check(constraints.simplex, good) is False


def test_categorical_validates_probs_on_the_simplex():
    probs = torch.softmax(torch.randn(3, requires_grad=True), -1)
    dist.Categorical(probs)  # normalised: valid
    with pytest.raises(ValueError, match="parameter probs"):
        dist.Categorical(torch.tensor([0.5, -0.1, 0.6]))


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


def test_observed_data_checked_again_after_in_place_change():
    data = torch.rand(100)
    d = dist.Bernoulli(torch.tensor(0.3)).expand([100])
    data = (data > 0.5).float()
    d.log_prob(data)  # valid: remembered
    d.log_prob(data)
    data[3] = 0.5  # bumps the version counter
    with pytest.raises(ValueError, match="support"):
        d.log_prob(data)
    data[3] = 1.0
    d.log_prob(data)
    # The same tensor under another support is checked against that support.
    counts = torch.full((100,), 2.0)
    dist.Poisson(torch.tensor(1.0)).expand([100]).log_prob(counts)
    with pytest.raises(ValueError, match="support"):
        dist.Bernoulli(torch.tensor(0.3)).expand([100]).log_prob(counts)


def test_sample_shape_errors_match_torchs():
    d = dist.Normal(torch.zeros(3), 1.0)
    for bad in (torch.zeros(4), torch.zeros(2, 4)):
        with pytest.raises(ValueError) as ours:
            d.log_prob(bad)
        with pytest.raises(ValueError) as theirs:
            torch.distributions.Normal(torch.zeros(3), 1.0, validate_args=True).log_prob(bad)
        assert str(ours.value).split(":")[0] in str(theirs.value)
    mvn = dist.MultivariateNormal(torch.zeros(2), torch.eye(2))
    with pytest.raises(ValueError, match="event_shape"):
        mvn.log_prob(torch.zeros(3))


def test_only_shared_supports_are_remembered():
    from pyro.distributions.validation import _KNOWN_VALID

    def remembered(value):
        entry = _KNOWN_VALID.get(id(value))  # ids of dead tensors may be reused: ask the weakref
        return entry is not None and entry[0]() is value

    low = torch.tensor(0.0, requires_grad=True)
    value = torch.rand(100)
    dist.Uniform(low, low + 1.0).expand([100]).log_prob(value)
    assert not remembered(value)  # its support holds `low`, with autograd history
    dist.Normal(0.0, 1.0).expand([100]).log_prob(value)
    assert remembered(value)
