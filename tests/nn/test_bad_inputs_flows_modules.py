"""Wrong arguments to pyro-nn's flows, PyroModule attributes and dense networks fail at the call
that was wrong, with the type Pyro uses and a message naming the class, the argument and what
was given; valid calls still give the right numbers and warn nothing."""

import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.distributions.transforms as T
from pyro.distributions import constraints
from pyro.nn import AutoRegressiveNN, ConditionalDenseNN, DenseNN, PyroModule, PyroParam, PyroSample


# ----- building a flow with a wrong argument ---------------------------------------------------
@pytest.mark.parametrize("make, error, words", [
    # sizes of the lower-case helpers, checked before any network is built
    (lambda: T.affine_autoregressive(0), ValueError,
     r"^affine_autoregressive: input_dim must be >= 1, got 0$"),
    (lambda: T.affine_autoregressive("3"), TypeError,
     r"^affine_autoregressive: input_dim must be an int, got str '3'$"),
    (lambda: T.affine_autoregressive(3, hidden_dims=8), TypeError,
     r"^affine_autoregressive: hidden_dims must be a list of ints, got 8$"),
    (lambda: T.affine_coupling(4, hidden_dims=0), TypeError,
     r"^affine_coupling: hidden_dims must be a list of ints, got 0$"),
    (lambda: T.neural_autoregressive(0), ValueError, r"^neural_autoregressive: input_dim must be >= 1"),
    (lambda: T.polynomial(0), ValueError, r"^polynomial: input_dim must be >= 1, got 0$"),
    (lambda: T.sylvester(0), ValueError, r"^sylvester: input_dim must be >= 1, got 0$"),
    (lambda: T.conditional_planar(3, 0), ValueError,
     r"^conditional_planar: context_dim must be >= 1, got 0$"),
    (lambda: T.conditional_affine_coupling(4, 0), ValueError,
     r"^conditional_affine_coupling: context_dim must be >= 1, got 0$"),
    # sizes of the classes
    (lambda: T.BatchNorm(3.5), TypeError, r"^BatchNorm: input_dim must be an int, got float 3\.5$"),
    (lambda: T.BatchNorm(0), ValueError, r"^BatchNorm: input_dim must be >= 1, got 0$"),
    (lambda: T.BlockAutoregressive(3.0), TypeError, r"^BlockAutoregressive: input_dim must be an int"),
    (lambda: T.BlockAutoregressive(3, hidden_factors=8), TypeError,
     r"^BlockAutoregressive: hidden_factors must be a list of ints, got 8$"),
    (lambda: T.GeneralizedChannelPermute(channels=0), ValueError,
     r"^GeneralizedChannelPermute: channels must be >= 1, got 0$"),
    (lambda: T.Householder(0), ValueError, r"^Householder: input_dim must be >= 1, got 0$"),
    (lambda: T.Householder(3, count_transforms=1.5), TypeError,
     r"^Householder: count_transforms must be an int, got float 1\.5$"),
    (lambda: T.MatrixExponential(0), ValueError, r"^MatrixExponential: input_dim must be >= 1, got 0$"),
    (lambda: T.MatrixExponential(3, iterations=2.5), TypeError,
     r"^MatrixExponential: iterations must be an int, got float 2\.5$"),
    (lambda: T.Planar("3"), TypeError, r"^Planar: input_dim must be an int, got str '3'$"),
    (lambda: T.planar(-2), ValueError, r"^Planar: input_dim must be >= 1, got -2$"),
    (lambda: T.radial(0), ValueError, r"^Radial: input_dim must be >= 1, got 0$"),
    (lambda: T.Polynomial(AutoRegressiveNN(3, [30], param_dims=[15]), 3, 2.5, 3), TypeError,
     r"^Polynomial: count_degree must be an int, got float 2\.5$"),
    (lambda: T.AffineCoupling(2.5, DenseNN(2, [4], [2, 2])), TypeError,
     r"^AffineCoupling: split_dim must be an int, got float 2\.5$"),
    # spline settings
    (lambda: T.Spline(4, count_bins=0), ValueError, r"^Spline: count_bins must be >= 1, got 0$"),
    (lambda: T.Spline(4, count_bins=2.5), TypeError, r"^Spline: count_bins must be an int, got float 2\.5$"),
    (lambda: T.Spline(4, bound=-1), ValueError, r"^Spline: bound must be positive, got -1$"),
    (lambda: T.Spline(4, bound="3"), TypeError, r"^Spline: bound must be a real number, got str '3'$"),
    (lambda: T.spline_autoregressive(3, count_bins=0), ValueError,
     r"^spline_autoregressive: count_bins must be >= 1, got 0$"),
    (lambda: T.spline_coupling(3, bound=0), ValueError, r"^spline_coupling: bound must be positive, got 0$"),
    (lambda: T.conditional_spline(3, 2, count_bins=0), ValueError,
     r"^conditional_spline: count_bins must be >= 1, got 0$"),
    # out-of-range settings that Pyro 1.9.2 accepts silently
    (lambda: T.BatchNorm(3, momentum=2), ValueError, r"^BatchNorm: momentum must be in \[0, 1\], got 2$"),
    (lambda: T.BatchNorm(3, epsilon=-1), ValueError, r"^BatchNorm: epsilon must be non-negative, got -1$"),
    (lambda: T.affine_autoregressive(3, log_scale_min_clip=5.0, log_scale_max_clip=-5.0), ValueError,
     r"^AffineAutoregressive: log_scale_min_clip=5\.0 must not exceed log_scale_max_clip=-5\.0$"),
    # a network that is not one
    (lambda: T.AffineAutoregressive(42), TypeError,
     r"^AffineAutoregressive: autoregressive_nn must be a network .*, got int 42$"),
    (lambda: T.AffineCoupling(2, 42), TypeError, r"^AffineCoupling: hypernet must be a network .*got int 42$"),
    (lambda: T.NeuralAutoregressive("arn"), TypeError,
     r"^NeuralAutoregressive: autoregressive_nn must be a network .*got str 'arn'$"),
    (lambda: T.ConditionalPlanar(None), TypeError, r"^ConditionalPlanar: nn must be a network .*got NoneType"),
    # unknown keywords of a conditional flow
    (lambda: T.ConditionalSplineAutoregressive(3, AutoRegressiveNN(3, [30]), bins=4), TypeError,
     r"^ConditionalSplineAutoregressive got unexpected keyword arguments \['bins'\]"),
    (lambda: T.ConditionalNeuralAutoregressive(AutoRegressiveNN(3, [30]), width=4), TypeError,
     r"^ConditionalNeuralAutoregressive got unexpected keyword arguments \['width'\]"),
])
def test_bad_flow_arguments(make, error, words):
    with pytest.raises(error, match=words):
        make()


@pytest.mark.parametrize("permutation, error, words", [
    (torch.tensor([0, 0, 1]), ValueError,
     r"^GeneralizedChannelPermute: permutation \[0, 0, 1\] is not a permutation of 0\.\.2$"),
    (torch.tensor([0, 1, 5]), ValueError,
     r"^GeneralizedChannelPermute: permutation \[0, 1, 5\] is not a permutation of 0\.\.2$"),
    (torch.tensor([0.5, 1.0, 2.0]), TypeError,
     r"^GeneralizedChannelPermute: permutation must hold integer indices"),
])
def test_channel_permutation_that_is_not_one(permutation, error, words):
    with pytest.raises(error, match=words):
        T.GeneralizedChannelPermute(channels=3, permutation=permutation)


@pytest.mark.parametrize("make, error, words", [
    (lambda: T.permute(3, torch.tensor([0, 2])), ValueError,
     r"^permute: permutation has 2 entries, expected 3 \(input_dim\)$"),
    (lambda: T.permute(3, [0, 0, 1]), ValueError, r"permutation \[0, 0, 1\] is not a permutation of 0\.\.2"),
    (lambda: T.permute(3, [0.0, 1.0, 2.0]), TypeError, r"permutation must hold integer indices"),
    (lambda: T.permute(0), ValueError, r"^permute: input_dim must be >= 1, got 0$"),
    (lambda: T.permute(-1), ValueError, r"^permute: input_dim must be >= 1, got -1$"),
    (lambda: T.permute(3.0), TypeError, r"^permute: input_dim must be an int, got float 3\.0$"),
    (lambda: T.permute(3, dim=0), ValueError, r"^permute: 'dim' keyword argument must be negative, got 0$"),
    (lambda: T.permute((3, 4), dim=-1), ValueError,
     r"^permute: event shape \(3, 4\) must have same length as event_dim 1$"),
])
def test_bad_permute_arguments(make, error, words):
    with pytest.raises(error, match=words):
        make()


# ----- calling a flow on an input of the wrong size -------------------------------------------
@pytest.mark.parametrize("flow, words", [
    (lambda: T.BatchNorm(3), r"^BatchNorm: input of shape \(5, 4\), expected \(\.\.\., 3\)"),
    (lambda: T.Householder(3), r"^Householder: input of shape \(5, 4\), expected \(\.\.\., 3\)"),
    (lambda: T.Planar(3), r"^Planar: input of shape \(5, 4\), expected \(\.\.\., 3\)"),
    (lambda: T.Radial(3), r"^Radial: input of shape \(5, 4\), expected \(\.\.\., 3\)"),
])
def test_flow_called_on_the_wrong_size(flow, words):
    with pytest.raises(ValueError, match=words):
        flow()(torch.randn(5, 4))


def test_inverse_of_the_wrong_size():
    flow = T.Householder(3)
    with pytest.raises(ValueError, match=r"^Householder: value of shape \(4,\), expected \(\.\.\., 3\)"):
        flow.inv(torch.randn(4))
    bn = T.BatchNorm(3).eval()
    with pytest.raises(ValueError, match=r"^BatchNorm: value of shape \(2, 2\), expected \(\.\.\., 3\)"):
        bn.inv(torch.randn(2, 2))


# ----- .condition(context) with a wrong context ------------------------------------------------
_CONDITIONAL = [
    ("ConditionalAffineAutoregressive", lambda: T.conditional_affine_autoregressive(3, 2)),
    ("ConditionalAffineCoupling", lambda: T.conditional_affine_coupling(4, 2)),
    ("ConditionalGeneralizedChannelPermute",
     lambda: T.conditional_generalized_channel_permute(context_dim=2, channels=3)),
    ("ConditionalHouseholder", lambda: T.conditional_householder(3, 2)),
    ("ConditionalMatrixExponential", lambda: T.conditional_matrix_exponential(3, 2)),
    ("ConditionalNeuralAutoregressive", lambda: T.conditional_neural_autoregressive(3, 2)),
    ("ConditionalPlanar", lambda: T.conditional_planar(3, 2)),
    ("ConditionalRadial", lambda: T.conditional_radial(3, 2)),
    ("ConditionalSpline", lambda: T.conditional_spline(3, 2)),
    ("ConditionalSplineAutoregressive", lambda: T.conditional_spline_autoregressive(3, 2)),
]


@pytest.mark.parametrize("name, make", _CONDITIONAL, ids=[n for n, _ in _CONDITIONAL])
def test_condition_on_a_context_of_the_wrong_size(name, make):
    flow = make()
    with pytest.raises(ValueError, match=rf"^{name}\.condition: context of shape \(5, 4\), "
                                         r"expected \(\.\.\., 2\)"):
        flow.condition(torch.randn(5, 4))
    with pytest.raises(TypeError, match=rf"^{name}\.condition: context must be a tensor, got list"):
        flow.condition([0.0, 1.0])


# ----- dense networks ---------------------------------------------------------------------------
@pytest.mark.parametrize("make, error, words", [
    (lambda: DenseNN(3, [4], nonlinearity=42), TypeError,
     r"^DenseNN: nonlinearity must be a module or function .*, got int 42$"),
    (lambda: DenseNN(3, [4], nonlinearity=torch.nn.ReLU), TypeError,
     r"^DenseNN: nonlinearity must be .*got the class ReLU \(pass an instance, e\.g\. ReLU\(\)\)$"),
    (lambda: DenseNN(3, [4], param_dims=[]), ValueError,
     r"^DenseNN: param_dims must name at least one output, got \[\]$"),
])
def test_bad_dense_network_arguments(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_dense_network_called_on_the_wrong_input_or_context():
    net = ConditionalDenseNN(3, 2, [4])
    with pytest.raises(ValueError, match=r"^ConditionalDenseNN: the input has shape \(6, 5\); "
                                         r"expected \(\.\.\., 3\)"):
        net(torch.randn(6, 5), context=torch.randn(2))
    with pytest.raises(ValueError, match=r"^ConditionalDenseNN: the context has shape \(5,\); "
                                         r"expected \(\.\.\., 2\)"):
        net(torch.randn(3), context=torch.randn(5))
    with pytest.raises(TypeError, match=r"^ConditionalDenseNN: the context must be a tensor, got str"):
        net(torch.randn(3), context="x")
    with pytest.raises(TypeError, match=r"^DenseNN: the input must be a tensor, got list"):
        DenseNN(3, [4])([1.0, 2.0, 3.0])


# ----- PyroModule attributes --------------------------------------------------------------------
class _Holder(PyroModule):
    def forward(self):
        return self.x


def _assign(value):
    m = _Holder()
    m.x = value
    return m


@pytest.mark.parametrize("value, error, words", [
    (lambda: PyroParam("x"), TypeError,
     r"^PyroParam 'x': init_value must be a tensor or a number \(or a function returning one\), "
     r"got str 'x'$"),
    (lambda: PyroParam(lambda: [1.0, 2.0]), TypeError,
     r"^PyroParam 'x': init_value must be .*, got list \[1\.0, 2\.0\]$"),
    (lambda: PyroParam(torch.ones(2), constraint="positive"), NotImplementedError,
     r"^PyroParam 'x': constraint must be a torch\.distributions\.constraints Constraint, got str "
     r"'positive' \(Cannot transform str constraints\)$"),
    (lambda: PyroParam(torch.ones(2), constraints.positive, 3), ValueError,
     r"^PyroParam 'x': event_dim=3 must be in 0\.\.1 for a value of shape \(2,\)$"),
    (lambda: PyroParam(torch.ones(2), constraints.positive, 1.5), TypeError,
     r"^PyroParam 'x': event_dim must be an int, got float$"),
    (lambda: PyroParam(-torch.ones(2), constraints.positive), ValueError,
     r"^PyroParam 'x': init_value of shape \(2,\) is outside the constraint GreaterThan"),
])
def test_bad_pyro_param_fails_when_assigned(value, error, words):
    with pytest.raises(error, match=words):
        _assign(value())


def test_non_tensor_init_value_is_also_pyros_attribute_error():
    with pytest.raises(AttributeError, match="init_value must be a tensor"):
        _assign(PyroParam("x"))


def test_out_of_support_init_value_is_only_refused_under_validation():
    with pyro.validation_enabled(False):
        m = _assign(PyroParam(-torch.ones(2), constraints.positive))
    assert torch.isnan(m.x_unconstrained).all()  # what Pyro 1.9.2 gives, without validation


@pytest.mark.parametrize("returned, shown", [(42, "int 42"), ("x", "str 'x'")])
def test_prior_function_returning_a_non_distribution(returned, shown):
    m = _assign(PyroSample(lambda self: returned))
    words = rf"^PyroSample 'x': the prior function returned {shown}; expected a distribution"
    with pytest.raises(TypeError, match=words):
        m()  # inside a call
    with pytest.raises(TypeError, match=words):
        m.x  # read outside a call


# ----- valid calls: right numbers, no warning ---------------------------------------------------
def _log_det_by_autograd(flow, x):
    jac = torch.autograd.functional.jacobian(lambda v: flow(v), x)
    return torch.linalg.slogdet(jac)[1]


_VALID_VECTOR_FLOWS = [
    lambda: T.affine_autoregressive(3, hidden_dims=[10], log_scale_min_clip=-4.0),
    lambda: T.affine_coupling(3, hidden_dims=[8]),
    lambda: T.block_autoregressive(3, hidden_factors=[2]),
    lambda: T.householder(3, count_transforms=2),
    lambda: T.matrix_exponential(3, iterations=10),
    lambda: T.neural_autoregressive(3, hidden_dims=[10], width=4),
    lambda: T.planar(3),
    lambda: T.polynomial(3),
    lambda: T.radial(3),
    lambda: T.spline(3, count_bins=4, bound=2.5),
    lambda: T.spline_autoregressive(3, count_bins=4),
    lambda: T.spline_coupling(3, count_bins=4),
    lambda: T.sylvester(3, count_transforms=2),
    lambda: T.permute(3, [2, 0, 1]),
    # conditional flows, conditioned on a context of the right size
    lambda: T.conditional_affine_autoregressive(3, 2),
    lambda: T.conditional_affine_coupling(3, 2),
    lambda: T.conditional_householder(3, 2),
    lambda: T.conditional_matrix_exponential(3, 2),
    lambda: T.conditional_neural_autoregressive(3, 2),
    lambda: T.conditional_planar(3, 2),
    lambda: T.conditional_radial(3, 2),
    lambda: T.conditional_spline(3, 2, count_bins=4),
    lambda: T.conditional_spline_autoregressive(3, 2, count_bins=4),
]


@pytest.mark.parametrize("make", _VALID_VECTOR_FLOWS)
def test_valid_flows_warn_nothing_and_their_log_det_is_the_jacobians(make):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flow = make()
        if isinstance(flow, torch.nn.Module):
            flow = flow.double()
        if hasattr(flow, "condition"):
            flow = flow.condition(torch.tensor([0.3, -0.2], dtype=torch.float64))
        x = torch.randn(3, dtype=torch.float64)
        y = flow(x)
        log_det = flow.log_abs_det_jacobian(x, y)
        if log_det.dim():  # element-wise flows
            log_det = log_det.sum(-1)
    expected = _log_det_by_autograd(flow, x)
    assert torch.allclose(log_det, expected, atol=1e-8), (log_det, expected)


def test_valid_calls_that_the_checks_must_keep():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # a whole-number float permutation, as Pyro takes it, is the integer one
        by_float = T.GeneralizedChannelPermute(channels=3, permutation=torch.tensor([2.0, 0.0, 1.0]))
        by_int = T.GeneralizedChannelPermute(channels=3, permutation=torch.tensor([2, 0, 1]))
        assert torch.equal(by_float.permutation, by_int.permutation)
        assert torch.equal(by_int.permutation, torch.eye(3)[[2, 0, 1]])
        # Pyro's event-shape form of permute, and the plain size
        flow = T.permute((3, 2), torch.tensor([1, 2, 0]), dim=-2)
        x = torch.randn(4, 3, 2)
        assert flow.dim == -2 and torch.equal(flow(x), x[:, [1, 2, 0], :])
        assert torch.equal(T.permute(3, [2, 0, 1])(torch.tensor([1.0, 2.0, 3.0])), torch.tensor([3.0, 1.0, 2.0]))
        # edge values of the new checks
        bn = T.BatchNorm(2, momentum=1.0, epsilon=0.0).eval()
        assert torch.allclose(bn(torch.tensor([1.0, -2.0])), torch.tensor([1.0, -2.0]), atol=1e-5)
        T.BatchNorm(2, momentum=0.0)
        T.affine_autoregressive(2, log_scale_min_clip=1.0, log_scale_max_clip=1.0)
        DenseNN(2, [3], nonlinearity=torch.tanh)
        assert DenseNN(2, [], param_dims=[1])(torch.zeros(5, 2)).shape == (5, 1)
        # a conditioned flow broadcasts a batch of contexts against one input
        cond = T.conditional_planar(3, 2)
        assert cond.condition(torch.randn(4, 2))(torch.randn(3)).shape == (4, 3)


def test_valid_pyro_module_attributes_warn_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pyro.clear_param_store()
        m = _Holder()
        m.x = PyroParam(torch.tensor([1.0, 2.0]), constraints.positive, event_dim=1)
        assert torch.allclose(m(), torch.tensor([1.0, 2.0]))
        assert torch.allclose(m.x_unconstrained, torch.log(torch.tensor([1.0, 2.0])))
        m.x = PyroParam(0.5)  # a number is taken as a 0-dim tensor
        assert m().shape == () and m().item() == 0.5
        m.x = PyroParam(lambda: torch.zeros(3), constraints.real, 0)
        assert torch.equal(m(), torch.zeros(3))
        m.loc = PyroParam(torch.tensor(3.0))
        m.x = PyroSample(lambda self: dist.Normal(self.loc, 1e-6))
        assert abs(m().item() - 3.0) < 1e-4
        m.x = PyroSample(lambda self: torch.tensor(7.0))  # a tensor: a deterministic site
        trace = pyro.poutine.trace(m).get_trace()
        assert trace.nodes["x"]["value"].item() == 7.0
        pyro.clear_param_store()
