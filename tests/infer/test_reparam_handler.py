"""poutine.reparam (dict and callable configs, errors), the Reparam base and the strategies."""

import pytest
import torch

import pyro
import pyro.distributions as dist
import pyro.infer.reparam as reparam_pkg
import pyro.poutine as poutine
from pyro.distributions.testing.gof import auto_goodness_of_fit
from pyro.infer.reparam import (
    AutoReparam,
    GumbelSoftmaxReparam,
    LocScaleReparam,
    MinimalReparam,
    ProjectedNormalReparam,
    Reparam,
    ReparamMessenger,
    TransformReparam,
)

TEST_FAILURE_RATE = 1e-3


class DoubledNormal(Reparam):
    """A third-party reparameterizer: x ~ Normal(m, s) as x = 2 y, y ~ Normal(m / 2, s / 2)."""

    def __init__(self):
        self.seen_args = []

    def apply(self, msg):
        self.seen_args.append(self.args_kwargs)
        fn = msg["fn"]
        y = pyro.sample(msg["name"] + "_half", dist.Normal(fn.loc / 2, fn.scale / 2))
        value = 2 * y
        return {"fn": dist.Delta(value).mask(False), "value": value, "is_observed": True}


def model(n=1):
    with pyro.plate("draws", n):
        a = pyro.sample("a", dist.Normal(1.0, 2.0))
        b = pyro.sample("b", dist.Normal(a, 1.0))
    return a, b


def test_registered_as_a_poutine_handler():
    assert poutine.reparam is reparam_pkg.reparam
    assert poutine.ReparamMessenger is ReparamMessenger


def test_dict_config_touches_only_named_sites():
    tr = poutine.trace(poutine.reparam(model, {"b": LocScaleReparam(0.0)})).get_trace(3)
    assert [n for n, s in tr.nodes.items() if s["type"] == "sample"] == [
        "draws", "a", "b_decentered", "b"]
    assert isinstance(tr.nodes["a"]["fn"], dist.Normal) and not tr.nodes["a"]["is_observed"]


def test_third_party_reparam_keeps_the_joint_law():
    custom = DoubledNormal()
    tr = poutine.trace(poutine.reparam(model, {"a": custom})).get_trace(4000)
    a, b = tr.nodes["a"]["value"], tr.nodes["b"]["value"]
    assert torch.allclose(a, 2 * tr.nodes["a_half"]["value"])
    assert auto_goodness_of_fit(a, dist.Normal(1.0, 2.0).log_prob(a).exp()) > TEST_FAILURE_RATE
    r = b - a  # b | a ~ N(a, 1): the residual is N(0, 1) whatever a is
    assert auto_goodness_of_fit(r, dist.Normal(0.0, 1.0).log_prob(r).exp()) > TEST_FAILURE_RATE
    # The model's arguments reach the reparameterizer; they are cleared afterwards.
    assert custom.seen_args == [((4000,), {})]
    assert custom.args_kwargs is None


def test_callable_config_sees_every_site_and_nested_ones():
    seen = []

    def config(msg):
        seen.append((msg["name"], type(msg["fn"]).__name__))
        return LocScaleReparam(0.0) if msg["name"] == "a" else None

    tr = poutine.trace(poutine.reparam(model, config)).get_trace(2)
    # The plate's subsample site is not offered; the auxiliary site is.
    assert seen == [("a", "Normal"), ("a_decentered", "Normal"), ("b", "Normal")]
    assert "a_decentered" in tr.nodes


def test_context_manager_form():
    with poutine.trace() as tr:
        with poutine.reparam(config={"a": LocScaleReparam(0.0)}):
            model(2)
    assert "a_decentered" in tr.trace.nodes
    # no model arguments when used as a context manager
    custom = DoubledNormal()
    with poutine.reparam(config={"a": custom}):
        model(2)
    assert custom.seen_args == [None]


@pytest.mark.parametrize("bad", [3, "a", ["a"], {"a": 3}, {"a": dist.Normal(0.0, 1.0)}])
def test_bad_config(bad):
    with pytest.raises(TypeError, match="config"):
        poutine.reparam(model, bad)


def test_missing_config():
    with pytest.raises(TypeError, match="needs a config"):
        poutine.reparam(model)


def test_older_call_protocol_still_works_with_a_deprecation_warning():
    class OldStyle(Reparam):
        def __call__(self, name, fn, obs):
            y = pyro.sample(name + "_aux", dist.Normal(0.0, 1.0))
            return dist.Delta(fn.loc + fn.scale * y), fn.loc + fn.scale * y

    with pytest.warns(DeprecationWarning, match=r"Reparam.__call__\(\) is deprecated"):
        tr = poutine.trace(poutine.reparam(model, {"a": OldStyle()})).get_trace()
    assert tr.nodes["a"]["is_observed"]
    assert torch.allclose(tr.nodes["a"]["value"], 1.0 + 2.0 * tr.nodes["a_aux"]["value"])


def test_a_reparam_without_apply_fails_clearly():
    with pytest.raises(NotImplementedError, match="neither apply"):
        with pytest.warns(DeprecationWarning):
            poutine.trace(poutine.reparam(model, {"a": Reparam()})).get_trace()


def _strategy_model():
    pyro.sample("cauchy", dist.Cauchy(0.0, 1.0))
    pyro.sample("st", dist.StudentT(3.0, 0.0, 1.0))
    pyro.sample("pn", dist.ProjectedNormal(torch.ones(3)))
    pyro.sample("vec", dist.Normal(torch.zeros(2), 1.0).to_event(1))
    pyro.sample("mvn", dist.MultivariateNormal(torch.zeros(2), torch.eye(2)))
    pyro.sample("gumbel", dist.Gumbel(0.0, 1.0))
    pyro.sample("ln", dist.LogNormal(0.0, 1.0))
    pyro.sample("hn", dist.HalfNormal(1.0))
    pyro.sample("ral", dist.RelaxedOneHotCategorical(torch.tensor(1.0), torch.ones(3) / 3))
    pyro.sample("gamma", dist.Gamma(2.0, 1.0))
    pyro.sample("obs", dist.Normal(0.0, 1.0), obs=torch.tensor(0.5))


def _chosen(strategy):
    return {name: (type(r).__name__, getattr(r, "shape_params", None))
            for name, r in strategy.config.items() if r is not None}


def test_auto_reparam_choices():
    strategy = AutoReparam(centered=0.0)
    poutine.trace(strategy(_strategy_model)).get_trace()
    # The same choices as Pyro 1.9.2 makes for these sites.
    assert _chosen(strategy) == {
        "cauchy": ("LocScaleReparam", []), "st": ("LocScaleReparam", ["df"]),
        "pn": ("ProjectedNormalReparam", None), "pn_normal": ("LocScaleReparam", []),
        "vec": ("LocScaleReparam", []), "gumbel": ("LocScaleReparam", []),
        "ln": ("TransformReparam", None), "ln_base": ("LocScaleReparam", []),
        "ral": ("GumbelSoftmaxReparam", None),
    }
    assert strategy.config["obs"] is None and strategy.config["mvn"] is None
    assert strategy.config["cauchy_decentered"] is None
    assert all(r.centered == 0.0 for r in strategy.config.values()
               if isinstance(r, LocScaleReparam))


def test_minimal_reparam_choices():
    strategy = MinimalReparam()
    poutine.trace(poutine.reparam(_strategy_model, strategy)).get_trace()
    assert _chosen(strategy) == {"pn": ("ProjectedNormalReparam", None)}
    assert isinstance(strategy.config["pn"], ProjectedNormalReparam)


def test_strategy_keeps_its_choice_per_site():
    strategy = AutoReparam()
    msg = {"name": "z", "fn": dist.Normal(0.0, 1.0), "is_observed": False, "value": None}
    first = strategy(msg)
    assert strategy(msg) is first
    assert isinstance(first, LocScaleReparam) and first.centered is None


def test_auto_reparam_keeps_the_joint_law():
    def hier(n):
        with pyro.plate("draws", n):
            a = pyro.sample("a", dist.Normal(0.0, 1.0))
            b = pyro.sample("b", dist.LogNormal(a, 0.5))
            c = pyro.sample("c", dist.RelaxedOneHotCategorical(torch.tensor(0.5),
                                                               torch.tensor([0.3, 0.7])))
        return a, b, c

    strategy = AutoReparam(centered=0.0)
    tr = poutine.trace(strategy(hier)).get_trace(4000)
    assert isinstance(strategy.config["b"], TransformReparam)
    assert isinstance(strategy.config["c"], GumbelSoftmaxReparam)
    a, b = tr.nodes["a"]["value"], tr.nodes["b"]["value"]
    assert auto_goodness_of_fit(a, dist.Normal(0.0, 1.0).log_prob(a).exp()) > TEST_FAILURE_RATE
    r = (b.log() - a) / 0.5  # log b | a ~ N(a, 0.5)
    assert auto_goodness_of_fit(r, dist.Normal(0.0, 1.0).log_prob(r).exp()) > TEST_FAILURE_RATE
    # Every original site is deterministic given the auxiliary ones: the trace's density is
    # that of the auxiliary sites alone.
    tr.compute_log_prob()
    for name in ("a", "b", "c"):
        assert float(tr.nodes[name]["log_prob_sum"]) == 0.0


@pytest.mark.cuda
def test_reparameterized_sites_follow_the_device():
    device = torch.device("cuda")

    def cuda_model():
        with pyro.plate("p", 3, device=device):
            pyro.sample("x", dist.Normal(torch.ones(3, device=device), 2.0))
        pyro.sample("t", dist.StudentT(torch.tensor(3.0, device=device), 0.0, 1.0))
        pyro.sample("v", dist.Normal(torch.zeros(4, device=device), 1.0).to_event(1))
        pyro.sample("pn", dist.ProjectedNormal(torch.ones(3, device=device)))
        pyro.sample("r", dist.RelaxedOneHotCategorical(torch.tensor(0.5, device=device),
                                                       torch.ones(3, device=device) / 3))

    from pyro.infer.reparam import DiscreteCosineReparam, StudentTReparam

    config = {"x": LocScaleReparam(), "t": StudentTReparam(), "v": DiscreteCosineReparam(),
              "pn": ProjectedNormalReparam(), "r": GumbelSoftmaxReparam()}
    tr = poutine.trace(poutine.reparam(cuda_model, config)).get_trace()
    assert pyro.param("x_centered").device.type == "cuda"
    for name, site in tr.nodes.items():
        if site["type"] == "sample" and name != "p":
            assert site["value"].device.type == "cuda", name
