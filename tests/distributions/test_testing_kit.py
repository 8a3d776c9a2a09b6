"""pyro.distributions.testing (fakes, gof) and the copy_docs_from / weakmethod helpers."""

import gc
import math

import pytest
import scipy.stats as st
import torch

import pyro.distributions as dist
from pyro.distributions.testing import fakes, gof
from pyro.distributions.util import copy_docs_from, weakmethod

T = torch.float64


# ----- fakes --------------------------------------------------------------------------------

@pytest.mark.parametrize("fake, real, args", [
    (fakes.NonreparameterizedBeta, dist.Beta, (torch.tensor(2.0), torch.tensor(3.0))),
    (fakes.NonreparameterizedDirichlet, dist.Dirichlet, (torch.tensor([1.0, 2.0, 3.0]),)),
    (fakes.NonreparameterizedGamma, dist.Gamma, (torch.tensor(2.0), torch.tensor(3.0))),
    (fakes.NonreparameterizedNormal, dist.Normal, (torch.tensor(0.5), torch.tensor(2.0))),
])
def test_fakes_are_not_reparameterised(fake, real, args):
    params = [a.clone().requires_grad_() for a in args]
    d = fake(*params)
    assert isinstance(d, real) and real.has_rsample and d.has_rsample is False
    x = d()
    assert not x.requires_grad
    assert torch.allclose(d.log_prob(x), real(*args).log_prob(x))
    parts = d.score_parts(x)
    assert parts.score_function is parts.log_prob and parts.entropy_term == 0
    e = d.expand([4])
    assert type(e) is fake and e.has_rsample is False and e.batch_shape == (4,)


# ----- gof ----------------------------------------------------------------------------------

def test_chi2sf_matches_scipy():
    for x, s in [(0.5, 1), (3.0, 2), (12.7, 7), (60.0, 49)]:
        assert gof.chi2sf(x, s) == pytest.approx(st.chi2.sf(x, s), rel=1e-7)
    out = gof.chi2sf(torch.tensor([1.0, 2.0]), 3)
    assert torch.allclose(out, torch.tensor(st.chi2.sf([1.0, 2.0], 3), dtype=T))


def test_volume_of_sphere_and_nearest_neighbours():
    assert gof.volume_of_sphere(1, 2.0) == pytest.approx(4.0)
    assert gof.volume_of_sphere(2, 2.0) == pytest.approx(4 * math.pi)
    assert gof.volume_of_sphere(3, 2.0) == pytest.approx(4 / 3 * math.pi * 8)
    assert gof.volume_of_sphere(4, 1.0) == pytest.approx(math.pi ** 2 / 2)
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [3.0, 5.0], [10.0, 0.0]])
    assert torch.allclose(gof.get_nearest_neighbor_distances(x), torch.tensor([5.0, 1.0, 1.0, 65 ** 0.5]))
    with pytest.raises(ValueError, match="dim must be a positive int"):
        gof.volume_of_sphere(0, 1.0)


def test_multinomial_goodness_of_fit_is_pearsons_test():
    probs = torch.tensor([0.2, 0.3, 0.5])
    chi2 = 25 / 20 + 0 + 25 / 50
    assert gof.multinomial_goodness_of_fit(probs, torch.tensor([25, 30, 45])) == pytest.approx(
        st.chi2.sf(chi2, 2), rel=1e-6)
    # truncated: the missing 45 draws form a third bin of probability 0.5
    truncated = gof.multinomial_goodness_of_fit(probs[:2], torch.tensor([25, 30]), total_count=100)
    assert truncated == pytest.approx(st.chi2.sf(chi2, 2), rel=1e-6)
    assert gof.multinomial_goodness_of_fit(torch.tensor([0.5, 0.5, 0.0]), torch.tensor([5, 5, 1])) == 0.0
    with pytest.raises(ValueError, match=r"probs of shape \(3,\) and counts of shape \(2,\)"):
        gof.multinomial_goodness_of_fit(probs, torch.tensor([1, 2]))
    with pytest.raises(gof.InvalidTest):
        gof.multinomial_goodness_of_fit(torch.tensor([1.0]), torch.tensor([3]))


def test_unif01_and_exp_goodness_of_fit():
    assert issubclass(gof.InvalidTest, ValueError)
    with pytest.raises(gof.InvalidTest, match="use at least 250 samples"):
        gof.unif01_goodness_of_fit(torch.rand(200))
    assert gof.unif01_goodness_of_fit(torch.rand(5000)) > 1e-3
    assert gof.unif01_goodness_of_fit(torch.rand(5000) ** 1.3) < 1e-6
    assert gof.unif01_goodness_of_fit(torch.rand(5000) + 0.5) == 0.0
    assert gof.exp_goodness_of_fit(torch.distributions.Exponential(1.0).sample([5000])) > 1e-3
    assert gof.exp_goodness_of_fit(torch.distributions.Exponential(1.25).sample([5000])) < 1e-4


@pytest.mark.parametrize("d, wrong", [
    (dist.Normal(0.0, 1.0), dist.Cauchy(0.0, 1.0)),
    (dist.Gamma(0.7, 2.0), dist.Gamma(1.5, 2.0)),
    (dist.Beta(2.0, 1.5), dist.Beta(4.0, 1.5)),
], ids=["Normal", "Gamma", "Beta"])
def test_density_goodness_of_fit(d, wrong):
    x = d.sample([4000])
    probs = d.log_prob(x).exp()
    good = gof.density_goodness_of_fit(x, probs)
    assert isinstance(good, float) and good > 1e-3
    assert gof.auto_goodness_of_fit(x, probs) == good
    assert gof.auto_goodness_of_fit(x.unsqueeze(-1), probs) == good
    assert gof.density_goodness_of_fit(x, wrong.log_prob(x).exp()) < 1e-4
    assert gof.density_goodness_of_fit(x, 1.25 * probs) < 1e-4


@pytest.mark.parametrize("d, dim", [
    (dist.MultivariateNormal(torch.zeros(2), torch.tensor([[1.0, 0.5], [0.5, 2.0]])), None),
    (dist.Normal(torch.zeros(3), 1.0).to_event(1), None),
    (dist.Dirichlet(torch.tensor([1.0, 2.0, 3.0])), 2),
], ids=["MVN2", "Normal3", "Dirichlet3"])
def test_vector_density_goodness_of_fit(d, dim):
    x = d.sample([4000])
    probs = d.log_prob(x).exp()
    if dim is not None:  # a density on the simplex, w.r.t. its first two coordinates
        x = x[:, :dim]
    good = gof.vector_density_goodness_of_fit(x, probs, dim=dim)
    assert good > 1e-3
    assert gof.auto_goodness_of_fit(x, probs, dim=dim) == good
    assert gof.vector_density_goodness_of_fit(x, 1.3 * probs, dim=dim) < 1e-4
    assert gof.vector_density_goodness_of_fit(x, 0.75 * probs, dim=dim) < 1e-4


def test_gof_bad_inputs_and_histogram(capsys):
    with pytest.raises(ValueError, match=r"samples of shape \(10,\) and probs of shape \(9,\)"):
        gof.density_goodness_of_fit(torch.rand(10), torch.rand(9))
    with pytest.raises(ValueError, match="probs contains NaN"):
        gof.vector_density_goodness_of_fit(torch.rand(10, 2), torch.full((10,), math.nan))
    gof.print_histogram(torch.tensor([0.2, 0.5, 0.3]), torch.tensor([10, 40, 20]))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Prob", "Count"]
    assert lines[1].split()[:2] == ["0.500", "40"] and lines[1].count("-") == gof.HISTOGRAM_WIDTH
    assert lines[2].split()[:2] == ["0.300", "20"] and lines[2].count("-") == gof.HISTOGRAM_WIDTH // 2


# ----- util ---------------------------------------------------------------------------------

class _Source:
    """Source doc."""

    def documented(self):
        """Documented in the source."""

    @property
    def prop(self):
        """A documented property."""
        return 1


def test_copy_docs_from():
    @copy_docs_from(_Source)
    class Short:
        def documented(self):
            pass

        @property
        def prop(self):
            return 2

        def extra(self):
            pass

    assert Short.__doc__ == f"See :class:`{__name__}._Source`"
    assert Short.documented.__doc__ == f"See :meth:`{__name__}._Source.documented`"
    assert Short.prop.__doc__ == f"See :meth:`{__name__}._Source.prop`" and Short().prop == 2
    assert Short.extra.__doc__ is None

    @copy_docs_from(_Source, full_text=True)
    class Full:
        """Own doc."""

        def documented(self):
            pass

    assert Full.__doc__ == "Own doc." and Full.documented.__doc__ == "Documented in the source."
    with pytest.raises(TypeError, match="expected a class"):
        copy_docs_from(_Source())


def test_weakmethod_holds_its_object_weakly():
    class Holder:
        def __init__(self):
            self.value = 3
            self.callback = self.add  # would be a reference cycle with a plain bound method

        @weakmethod
        def add(self, x):
            """Add the value."""
            return self.value + x

    h = Holder()
    callback = h.callback
    assert callback(4) == 7 and callback.__doc__ == "Add the value."
    del h
    gc.collect()
    with pytest.raises(AttributeError, match="self was garbage collected when calling self.add"):
        callback(1)
