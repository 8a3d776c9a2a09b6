"""A distribution that cannot be built names the ``pyro.sample`` site it was built for."""

import pytest
import torch
from torch.distributions import constraints

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine

NAN = torch.tensor(float("nan"))


class _Positive(dist.TorchDistribution):
    """A distribution of Pyro's own kind, validated by torch's base class."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.positive

    def __init__(self, rate, validate_args=None):
        self.rate = rate
        super().__init__(rate.shape, validate_args=validate_args)


CASES = {
    "Normal": lambda: dist.Normal(NAN, 1.0),  # checked by pyro.distributions.validation
    "Geometric": lambda: dist.Geometric(NAN),  # checked by torch itself
    "BetaBinomial": lambda: dist.BetaBinomial(NAN, 1.0, 3),  # Pyro's own, through its Beta
    "own class": lambda: _Positive(torch.tensor(-1.0)),  # Pyro's TorchDistribution base
}


@pytest.mark.parametrize("make", CASES.values(), ids=list(CASES))
@pytest.mark.parametrize("under", ["plain", "trace"])
def test_invalid_parameter_names_the_site(make, under):
    def model():
        return pyro.sample("theta", make())

    run = model if under == "plain" else poutine.trace(model).get_trace
    with pyro.validation_enabled(True), pytest.raises(ValueError) as info:
        run()
    message = str(info.value)
    assert message.startswith("site 'theta': "), message
    assert "Expected parameter" in message
    assert message.count("site 'theta'") == 1


def test_site_named_by_variable_and_fstring():
    layer = 2
    name = "w"
    with pyro.validation_enabled(True):
        with pytest.raises(ValueError, match=r"^site 'w_2': "):
            pyro.sample(f"{name}_{layer}", dist.Normal(torch.zeros(2), torch.tensor([1.0, -1.0])))
        with pytest.raises(ValueError, match=r"^site 'w': "):
            pyro.sample(name, dist.Normal(NAN, 1.0))


def test_shape_error_names_the_site():
    with pytest.raises(ValueError, match=r"^site 'y': Normal: parameters of incompatible shapes"):
        pyro.sample("y", dist.Normal(torch.zeros(2), torch.ones(3)))


def test_outside_a_sample_call_the_message_is_unchanged():
    with pyro.validation_enabled(True), pytest.raises(ValueError) as info:
        dist.Normal(NAN, 1.0)
    assert str(info.value).startswith("Expected parameter loc")


def test_validation_off_builds_the_distribution():
    with pyro.validation_enabled(False):
        d = pyro.sample("theta", dist.Normal(NAN, 1.0).expand([2]))
    assert d.shape == (2,) and torch.isnan(d).all()



# ----- Permute --------------------------------------------------------------------------------

@pytest.mark.parametrize("permutation, error, words", [
    (torch.tensor([0, 0, 2]), ValueError, r"^Permute: permutation \[0, 0, 2\] is not a permutation of 0\.\.2"),
    (torch.tensor([1, 2]), ValueError, r"^Permute: permutation \[1, 2\] is not a permutation of 0\.\.1"),
    (torch.tensor([[0, 1]]), ValueError, r"^Permute: permutation must be 1-d, got shape \(1, 2\)"),
    (torch.tensor([1.0, 0.0]), TypeError, r"^Permute: permutation must hold integer indices, got dtype torch.float32"),
])
def test_permute_needs_a_permutation(permutation, error, words):
    with pytest.raises(error, match=words):
        dist.transforms.Permute(permutation)


def test_permute_of_the_wrong_length_names_both_sizes():
    t = dist.transforms.Permute(torch.tensor([1, 0]))
    with pytest.raises(ValueError, match=r"^Permute: a permutation of 2 entries along dim -1, but the input "
                                         r"has shape \(4, 3\)"):
        t(torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"but the inverse's input has shape \(3,\)"):
        t.inv(torch.zeros(3))
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t(x).tolist() == [[2.0, 1.0], [4.0, 3.0]]
    assert torch.equal(t.inv(t(x)), x)
    assert dist.transforms.Permute([2, 0, 1])(torch.tensor([5.0, 6.0, 7.0])).tolist() == [7.0, 5.0, 6.0]


# ----- arguments of the wrong kind or size ----------------------------------------------------

@pytest.mark.parametrize("make, words", [
    (lambda: dist.Normal("a", 1.0), r"^Normal: parameter 'loc' must be a number or a tensor, got str 'a'$"),
    (lambda: dist.Normal([1.0, 2.0], 1.0), r"parameter 'loc' .* got list \[1\.0, 2\.0\]; wrap it in torch\.tensor"),
    (lambda: dist.Normal(None, 1.0), r"^Normal: parameter 'loc' must be a number or a tensor, got NoneType None$"),
    (lambda: dist.Gamma(1.0, object()), r"^Gamma: parameter 'rate' must be a number or a tensor, got object"),
    (lambda: dist.Categorical(probs="x"), r"^Categorical: parameter 'probs' must be a number or a tensor"),
    (lambda: dist.Independent(3, 1), r"^Independent: base_distribution must be a distribution instance, got int 3$"),
    (lambda: dist.Independent(dist.Normal, 1), r"base_distribution .* got the class Normal \(build an instance\)"),
    (lambda: dist.MixtureSameFamily(dist.Categorical(torch.ones(2)), "n"),
     r"^MixtureSameFamily: component_distribution must be a distribution instance, got str"),
])
def test_argument_of_the_wrong_kind_is_a_type_error_naming_it(make, words):
    with pytest.raises(TypeError, match=words) as info:
        make()
    assert isinstance(info.value, ValueError)  # what torch and Pyro raise here, still caught


def test_wrong_kind_inside_a_model_names_the_site():
    with pytest.raises(TypeError, match=r"^site 'mu': Normal: parameter 'scale'"):
        pyro.sample("mu", dist.Normal(0.0, "1"))


def test_optional_parameters_may_be_none():
    assert dist.Categorical(probs=None, logits=torch.zeros(3)).batch_shape == ()


@pytest.mark.parametrize("arg", ["covariance_matrix", "scale_tril", "precision_matrix"])
def test_multivariate_normal_loc_and_matrix_sizes_must_agree(arg):
    with pytest.raises(ValueError, match=rf"^MultivariateNormal: loc has size 3 in its last dim, but {arg} "
                                         r"has shape \(2, 2\); expected \(\.\.\., 3, 3\)$"):
        dist.MultivariateNormal(torch.zeros(3), **{arg: torch.eye(2)})
    # batch dims broadcast as before
    d = dist.MultivariateNormal(torch.zeros(4, 1, 3), **{arg: torch.eye(3).expand(5, 3, 3)})
    assert d.batch_shape == (4, 5) and d.event_shape == (3,)


@pytest.mark.parametrize("make", [
    lambda t: dist.RelaxedBernoulli(t, probs=torch.tensor(0.3)),
    lambda t: dist.RelaxedOneHotCategorical(t, probs=torch.ones(3) / 3),
])
def test_relaxed_temperature_must_be_positive(make):
    with pyro.validation_enabled(True):
        with pytest.raises(ValueError, match=r"temperature must be positive, got -1\.0"):
            make(torch.tensor(-1.0))
        assert torch.isfinite(make(torch.tensor(0.5)).rsample()).all()
    with pyro.validation_enabled(False):
        make(torch.tensor(-1.0))  # unchecked, as every parameter is with validation off
