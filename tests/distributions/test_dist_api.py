"""Validation errors, the plugin registry, constraints and transforms, KL, util and 0.1 names."""

import math
import types
import warnings

import pytest
import torch

import pyro
import pyro.distributions as dist
from pyro.distributions import constraints, transforms
from pyro.distributions.util import broadcast_shape, is_identically_zero, scale_and_mask, sum_rightmost
from pyro.plugins import get_plugin_manager, hookimpl


# ----- bad input -------------------------------------------------------------------------------
def test_invalid_parameter_names_distribution_argument_and_shape():
    with pytest.raises(ValueError, match=r"scale \(Tensor of shape \(3,\)\) of distribution Normal"):
        dist.Normal(torch.zeros(3), -torch.ones(3))
    with pytest.raises(ValueError, match=r"probs .* of distribution Bernoulli"):
        dist.Bernoulli(torch.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"Normal: .*loc: shape \(3,\), scale: shape \(2,\)"):
        dist.Normal(torch.zeros(3), torch.ones(2))
    with pytest.raises(ValueError, match=r"ZeroInflatedPoisson: give exactly one of gate"):
        dist.ZeroInflatedPoisson(torch.ones(2))
    with pytest.raises(ValueError, match=r"Delta: event_dim=2 .* shape \(3,\)"):
        dist.Delta(torch.zeros(3), event_dim=2)
    with pytest.raises(ValueError, match=r"GammaPoisson"):
        dist.GammaPoisson(torch.ones(3), torch.ones(2))


def test_validation_off_accepts_bad_parameters():
    with pyro.validation_enabled(False):
        d = dist.Normal(torch.zeros(2), -torch.ones(2))
        assert torch.isnan(d.log_prob(torch.zeros(2))).all()
    assert dist.is_validation_enabled()


def test_observation_outside_support_names_site_and_support():
    def model():
        pyro.sample("counts", dist.Poisson(torch.ones(2)), obs=torch.tensor([1.0, -2.0]))

    tr = pyro.poutine.trace(model).get_trace()
    with pytest.raises(ValueError, match=r"site 'counts'(.|\n)*within the support(.|\n)*Poisson"):
        tr.log_prob_sum()
    with pytest.raises(ValueError, match=r"within the support .* of the distribution ZeroInflatedPoisson"):
        dist.ZeroInflatedPoisson(torch.ones(2), gate=torch.full((2,), 0.1)).log_prob(torch.tensor([0.5, 1.0]))


def test_bad_mask_and_expand():
    d = dist.Normal(torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="bool"):
        d.mask(torch.ones(3))
    with pytest.raises(ValueError, match=r"mask of shape \(2,\) .* batch_shape \(3,\)"):
        d.mask(torch.ones(2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"Normal: cannot expand batch_shape \(3,\) to \(4,\)"):
        d.expand((4,))
    with pytest.raises(ValueError, match=r"cannot expand batch_shape \(3,\) to \(2,\)"):
        dist.ExpandedDistribution(d, (2,))


# ----- inside models ---------------------------------------------------------------------------
def test_plate_expands_and_masks_in_trace():
    data = torch.tensor([1.0, 2.0, 3.0])

    def model():
        with pyro.plate("data", 3):
            pyro.sample("x", dist.Normal(0.0, 1.0).mask(torch.tensor([True, False, True])), obs=data)
            pyro.sample("y", dist.Normal(torch.zeros(2), 1.0).to_event(1))

    tr = pyro.poutine.trace(model).get_trace()
    tr.compute_score_parts()
    assert tr.nodes["y"]["fn"].batch_shape == (3,) and tr.nodes["y"]["value"].shape == (3, 2)
    expected = -0.5 * (1 + 9) - math.log(2 * math.pi)
    assert torch.allclose(tr.nodes["x"]["log_prob_sum"], torch.tensor(expected))
    y = tr.nodes["y"]["value"]
    assert torch.allclose(tr.nodes["y"]["score_parts"].entropy_term,
                          (-0.5 * y ** 2 - 0.5 * math.log(2 * math.pi)).sum(-1))


# ----- plugins ---------------------------------------------------------------------------------
class Triangular(dist.TorchDistribution):
    """A third-party distribution: the symmetric triangular density on [loc - 1, loc + 1]."""

    arg_constraints = {"loc": constraints.real}
    has_rsample = True

    def __init__(self, loc, validate_args=None):
        self.loc = torch.as_tensor(loc)
        super().__init__(self.loc.shape, torch.Size(), validate_args=validate_args)

    @constraints.dependent_property
    def support(self):
        return constraints.interval(self.loc - 1, self.loc + 1)

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        u = torch.rand(shape, dtype=self.loc.dtype) + torch.rand(shape, dtype=self.loc.dtype)
        return self.loc + u - 1

    def log_prob(self, value):
        return torch.log((1 - (value - self.loc).abs()).clamp(min=0))


_triangular_plugin = types.SimpleNamespace(
    pyro_register_distributions=hookimpl(lambda registry: registry.add("Triangular", Triangular)),
    pyro_register_constraints=hookimpl(
        lambda registry: registry.add("my_unit_disk", _UnitDisk())),
)


class _UnitDisk(constraints.Constraint):
    event_dim = 1

    def check(self, value):
        return value.norm(dim=-1) <= 1


def test_third_party_distribution_behaves_like_builtin():
    pm = get_plugin_manager()
    assert pm.register(_triangular_plugin, name="triangular-test")
    try:
        T = dist.Triangular
        assert T is Triangular
        assert dist.constraints.my_unit_disk.check(torch.tensor([0.6, 0.6]))
        d = T(torch.tensor([0.0, 1.0]))
        assert torch.allclose(d.log_prob(torch.tensor([0.5, 1.25])), torch.tensor([0.5, 0.75]).log())

        def model():
            with pyro.plate("p", 4):
                return pyro.sample("t", dist.Triangular(0.0))

        tr = pyro.poutine.trace(model).get_trace()
        x = tr.nodes["t"]["value"]
        assert x.shape == (4,)
        assert torch.allclose(tr.log_prob_sum(), torch.log(1 - x.abs()).sum())
        assert d.to_event(1).event_shape == (2,)
        assert d.expand((3, 2)).sample().shape == (3, 2)
        assert torch.allclose(d.mask(torch.tensor([False, True])).log_prob(torch.tensor([0.5, 1.25])),
                              torch.tensor([0.0, math.log(0.75)]))
        samples = T(torch.zeros(())).sample((20000,))
        assert abs(samples.mean()) < 5 * (1 / 6 / 20000) ** 0.5
        assert abs(samples.var() - 1 / 6) < 0.01
    finally:
        pm.unregister("triangular-test")
    with pytest.raises(AttributeError):
        dist.Triangular


def test_every_distribution_is_registered():
    from pyro.plugins import get_registry

    registry = get_registry("distributions")
    for name in ["Normal", "Delta", "Unit", "Empirical", "ImproperUniform", "MaskedDistribution",
                 "ExpandedDistribution", "FoldedDistribution", "ZeroInflatedPoisson",
                 "ZeroInflatedNegativeBinomial", "GammaPoisson", "BetaBinomial",
                 "DirichletMultinomial", "MixtureOfDiagNormals", "TransformedDistribution"]:
        assert registry.get(name) is getattr(dist, name)
        assert registry.owner(name) == "pyro-distributions"
    assert get_registry("constraints").get("ordered_vector") is constraints.ordered_vector
    assert get_registry("transforms").get("OrderedTransform") is transforms.OrderedTransform


# ----- constraints and the param store ---------------------------------------------------------
PYRO_CONSTRAINT_VALUES = {
    "integer": (torch.tensor([1.0, -2.0]), torch.tensor([1.0, 0.5])),
    "sphere": (torch.tensor([0.6, 0.8]), torch.tensor([0.6, 0.7])),
    "corr_matrix": (torch.tensor([[1.0, 0.3], [0.3, 1.0]]), torch.tensor([[1.0, 0.3], [0.3, 2.0]])),
    "ordered_vector": (torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([0.0, -1.0, 2.0])),
    "positive_ordered_vector": (torch.tensor([0.5, 1.0, 2.0]), torch.tensor([-0.5, 1.0, 2.0])),
    "softplus_positive": (torch.tensor([0.5]), torch.tensor([-0.5])),
    "softplus_lower_cholesky": (torch.tensor([[1.0, 0.0], [0.5, 2.0]]), torch.tensor([[1.0, 0.3], [0.5, 2.0]])),
    "unit_lower_cholesky": (torch.tensor([[1.0, 0.0], [0.5, 1.0]]), torch.tensor([[1.0, 0.0], [0.5, 2.0]])),
}


@pytest.mark.parametrize("name", sorted(PYRO_CONSTRAINT_VALUES))
def test_pyro_constraint_check(name):
    c = getattr(constraints, name)
    good, bad = PYRO_CONSTRAINT_VALUES[name]
    assert bool(c.check(good).all())
    assert not bool(c.check(bad).all())


@pytest.mark.parametrize("name", [n for n in sorted(PYRO_CONSTRAINT_VALUES) if n not in ("integer", "sphere")])
def test_pyro_constraint_param_roundtrip(name, tmp_path):
    c = getattr(constraints, name)
    good, _ = PYRO_CONSTRAINT_VALUES[name]
    value = pyro.param("p", good.double(), constraint=c)
    assert torch.allclose(value, good.double(), atol=1e-6)
    store = pyro.get_param_store()
    path = tmp_path / "params.pt"
    store.save(path)
    store.clear()
    store.load(path)
    assert store._constraints["p"] is c
    assert torch.allclose(pyro.param("p"), good.double(), atol=1e-6)


def test_sphere_transform_to():
    t = constraints.sphere
    y = dist.transform_to(t)(torch.tensor([3.0, 4.0]))
    assert torch.allclose(y, torch.tensor([0.6, 0.8]))


# ----- transforms ------------------------------------------------------------------------------
def _jacobian_logdet(t, x, event_dim):
    """log |det J| of ``t`` at ``x`` by autograd; matrices are parameterised by their lower
    triangle (the upper triangle mirrors it, so symmetric domains stay symmetric)."""
    if event_dim == 1:
        jac = torch.autograd.functional.jacobian(lambda v: t(v), x)
        return torch.linalg.slogdet(jac)[1]
    idx = torch.tril_indices(*x.shape[-2:])

    def g(v):
        full = torch.zeros_like(x)
        full[idx[0], idx[1]] = v
        full = full + full.tril(-1).T
        return t(full)[idx[0], idx[1]]

    jac = torch.autograd.functional.jacobian(g, x[idx[0], idx[1]])
    return torch.linalg.slogdet(jac)[1]


@pytest.mark.parametrize("t,x,event_dim", [
    (transforms.OrderedTransform(), torch.tensor([0.3, -1.0, 0.5], dtype=torch.float64), 1),
    (transforms.PositivePowerTransform(2.5), torch.tensor([0.7], dtype=torch.float64), 1),
    (transforms.ELUTransform(), torch.tensor([-0.7], dtype=torch.float64), 1),
    (transforms.LeakyReLUTransform(), torch.tensor([-0.7], dtype=torch.float64), 1),
    (transforms.Permute(torch.tensor([2, 0, 1])), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), 1),
    (transforms.LowerCholeskyAffine(torch.tensor([1.0, 2.0], dtype=torch.float64),
                                    torch.tensor([[2.0, 0.0], [0.5, 3.0]], dtype=torch.float64)),
     torch.tensor([0.3, -0.4], dtype=torch.float64), 1),
    (transforms.CholeskyTransform(), torch.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=torch.float64), 2),
    (transforms.SoftplusLowerCholeskyTransform(), torch.tensor([[0.2, 0.0], [0.3, -1.0]], dtype=torch.float64), 2),
])
def test_transform_inverse_and_log_det(t, x, event_dim):
    y = t(x)
    assert torch.allclose(t.inv(y), x)
    assert bool(t.codomain.check(y).all())
    expected = _jacobian_logdet(t, x, event_dim)
    actual = t.log_abs_det_jacobian(x, y).sum()
    assert torch.allclose(actual, expected, atol=1e-8), (actual, expected)


def test_corr_matrix_transform_log_det():
    # Compare with the Jacobian of the off-diagonal map r -> L[1, 0] (dim 3, numerically).
    t = transforms.CorrMatrixCholeskyTransform()
    L = dist.transform_to(constraints.corr_cholesky)(torch.tensor([0.3, -0.5, 0.8], dtype=torch.float64))
    x = L @ L.T
    idx = torch.tril_indices(3, 3, -1)

    def g(v):
        full = torch.eye(3, dtype=torch.float64)
        full[idx[0], idx[1]] = v
        full = full + full.tril(-1).T
        return t(full)[idx[0], idx[1]]

    jac = torch.autograd.functional.jacobian(g, x[idx[0], idx[1]])
    assert torch.allclose(t.log_abs_det_jacobian(x, t(x)), torch.linalg.slogdet(jac)[1])
    assert torch.allclose(t.inv(t(x)), x)


@pytest.mark.parametrize("name", ["ordered_vector", "positive_ordered_vector", "corr_matrix",
                                  "softplus_positive", "softplus_lower_cholesky", "unit_lower_cholesky"])
def test_biject_to_pyro_constraints(name):
    c = getattr(constraints, name)
    t = dist.biject_to(c)
    shape = (3, 3) if c.event_dim == 2 else (3,)
    unconstrained = torch.randn(t.inverse_shape(shape) if hasattr(t, "inverse_shape") else shape,
                                dtype=torch.float64)
    y = t(unconstrained)
    assert bool(c.check(y).all())
    assert torch.allclose(t(t.inv(y)), y, atol=1e-8)


# ----- KL --------------------------------------------------------------------------------------
def test_kl_divergence_wrapped_and_pyro_pairs():
    p = dist.Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]))
    q = dist.Normal(torch.tensor([1.0, 0.0]), torch.tensor([2.0, 1.0]))
    closed = (torch.log(q.scale / p.scale) + (p.scale ** 2 + (p.loc - q.loc) ** 2) / (2 * q.scale ** 2) - 0.5)
    assert torch.allclose(dist.kl_divergence(p, q), closed)
    assert torch.allclose(dist.kl_divergence(p.to_event(1), q.to_event(1)), closed.sum())
    p2 = p.expand((3, 2))
    q2 = q.expand((3, 2))
    assert torch.allclose(dist.kl_divergence(p2.to_event(2), q2.to_event(1).to_event(1)), 3 * closed.sum())
    mask = torch.tensor([True, False])
    assert torch.allclose(dist.kl_divergence(p.mask(mask), q.mask(True)), closed * mask)
    v = torch.tensor([0.5, -1.0])
    assert torch.allclose(dist.kl_divergence(dist.Delta(v), q), -q.log_prob(v))


# ----- util and Pyro 0.1 names -----------------------------------------------------------------
def test_util_helpers():
    assert broadcast_shape((3, 1), (4,), ()) == (3, 4)
    with pytest.raises(ValueError):
        broadcast_shape((3,), (4,))
    with pytest.raises(ValueError):
        broadcast_shape((1,), (4,), strict=True)
    x = torch.arange(24.0).reshape(2, 3, 4)
    assert torch.equal(sum_rightmost(x, 2), x.sum((-1, -2)))
    assert torch.equal(sum_rightmost(x, -1), x.sum((-1, -2)))
    assert sum_rightmost(2.0, 3) == 2.0
    assert is_identically_zero(0) and not is_identically_zero(torch.zeros(()))
    assert torch.equal(scale_and_mask(torch.tensor([1.0, float("-inf")]), 2.0, torch.tensor([True, False])),
                       torch.tensor([2.0, 0.0]))
    assert dist.score_parts.ScoreParts is pyro.ops.score_parts.ScoreParts


def test_pyro_01_aliases_warn_once():
    import pyro.util

    pyro.util._WARNED.difference_update({"Distribution.log_pdf", "Distribution.batch_log_pdf",
                                         "Distribution.analytic_mean", "Distribution.analytic_var"})
    d = dist.Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]))
    x = torch.tensor([0.5, 0.5])
    with pytest.warns(FutureWarning, match="log_prob"):
        assert torch.allclose(d.log_pdf(x), d.log_prob(x).sum())
    with pytest.warns(FutureWarning):
        assert torch.equal(d.batch_log_pdf(x), d.log_prob(x))
    with pytest.warns(FutureWarning):
        assert torch.equal(d.analytic_mean(), torch.tensor([0.0, 1.0]))
    with pytest.warns(FutureWarning):
        assert torch.equal(d.analytic_var(), torch.tensor([1.0, 4.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d.log_pdf(x)  # second call: no warning


def test_empirical_and_delta_numbers():
    samples = torch.tensor([[1.0, 2.0], [1.0, 2.0], [3.0, 0.0]])
    e = dist.Empirical(samples, torch.tensor([0.0, 0.0, math.log(2.0)]))
    assert e.event_shape == (2,) and e.batch_shape == ()
    assert torch.allclose(e.log_prob(torch.tensor([1.0, 2.0])), torch.tensor(0.5).log())
    assert e.log_prob(torch.tensor([1.0, 0.0])) == float("-inf")
    assert torch.allclose(e.mean, torch.tensor([2.0, 1.0]))
    d = dist.Delta(torch.tensor([1.0, 2.0]), log_density=1.5, event_dim=1)
    assert d.log_prob(torch.tensor([1.0, 2.0])) == 1.5
    assert d.log_prob(torch.tensor([1.0, 2.5])) == float("-inf")
