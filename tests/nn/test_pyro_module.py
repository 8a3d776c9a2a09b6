"""PyroModule, PyroParam, PyroSample: site names, caching, the param store, pickling, local mode.

Names and store contents are what Pyro 1.9 gives for the same modules (facts: a PyroModule
attribute path joined by dots, a plain nn.Module attribute registered as ``path$$$param``).
"""

import copy
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn
from torch.distributions import constraints

import pyro
import pyro.distributions as dist
import pyro.ops.jit
from pyro import poutine
from pyro.nn import PyroModule, PyroModuleList, PyroParam, PyroSample, pyro_method
from pyro.nn.module import clear, module_local_params, to_pyro_module_


@pytest.fixture(autouse=True)
def _fresh_store():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


class Inner(PyroModule):
    def __init__(self):
        super().__init__()
        self.loc = PyroParam(torch.zeros(2))
        self.scale = PyroParam(torch.ones(2), constraints.positive)
        self.x = PyroSample(lambda self: dist.Normal(self.loc, self.scale).to_event(1))

    def forward(self):
        return self.x


class Outer(PyroModule):
    def __init__(self):
        super().__init__()
        self.inner = Inner()
        self.layers = PyroModuleList([PyroModule[nn.Linear](2, 2), PyroModule[nn.Linear](2, 2)])
        self.layers[1].weight = PyroSample(dist.Normal(0.0, 1.0).expand([2, 2]).to_event(2))
        self.seq = PyroModule[nn.Sequential](PyroModule[nn.Linear](2, 2), nn.ReLU())
        self.plain = nn.Linear(2, 1)

    def forward(self):
        h = self.inner()
        for layer in self.layers:
            h = layer(h)
        h = self.seq(h)
        return self.plain(h)


def _sites(tr):
    return [(name, site["type"]) for name, site in tr.nodes.items() if site["type"] in ("sample", "param")]


def test_nested_site_names_and_store_contents():
    model = Outer()
    tr = poutine.trace(model).get_trace()
    assert _sites(tr) == [
        ("inner.loc", "param"), ("inner.scale", "param"), ("inner.x", "sample"),
        ("layers.0.weight", "param"), ("layers.0.bias", "param"),
        ("layers.1.weight", "sample"), ("layers.1.bias", "param"),
        ("seq.0.weight", "param"), ("seq.0.bias", "param"),
        ("plain$$$weight", "param"), ("plain$$$bias", "param"),
    ]
    store = pyro.get_param_store()
    assert sorted(store.keys()) == sorted([
        "inner.loc", "inner.scale", "layers.0.weight", "layers.0.bias", "layers.1.bias",
        "seq.0.weight", "seq.0.bias", "plain$$$weight", "plain$$$bias",
    ])
    # the store holds the module's own leaf tensors (no copies)
    assert store.get_unconstrained("inner.scale") is model.inner.scale_unconstrained
    assert store.get_unconstrained("layers.0.weight") is model.layers[0].weight
    assert store.get_unconstrained("plain$$$weight") is model.plain.weight
    assert store["inner.scale"].tolist() == [1.0, 1.0]
    assert model.layers[1]._pyro_name == "layers.1" and model.seq[0]._pyro_name == "seq.0"


def test_named_parameters_and_named_pyro_params():
    model = Outer()
    names = [n for n, _ in model.named_parameters()]
    assert names[:2] == ["inner.loc_unconstrained", "inner.scale_unconstrained"]
    assert "layers.1.weight" not in names  # a PyroSample is no parameter
    pyro_params = dict(model.named_pyro_params())
    assert list(pyro_params)[:2] == ["inner.loc", "inner.scale"]
    assert "plain.weight" in pyro_params  # dotted, as torch names it
    torch.testing.assert_close(pyro_params["inner.scale"], torch.ones(2))
    assert [n for n, _ in model.inner.named_pyro_params(prefix="p", recurse=False)] == ["p.loc", "p.scale"]
    assert len(pyro.get_param_store()) == 0  # introspection registers nothing


def test_root_name_prefixes_every_site():
    class Named(PyroModule):
        def __init__(self):
            super().__init__("root")
            self.p = PyroParam(torch.ones(1))
            self.sub = PyroModule[nn.Linear](1, 1)

        def forward(self):
            return self.p + self.sub.weight

    Named()()
    assert list(pyro.get_param_store().keys()) == ["root.p", "root.sub.weight"]


def test_pyro_sample_drawn_once_per_call():
    class M(PyroModule):
        def __init__(self):
            super().__init__()
            self.z = PyroSample(dist.Normal(0.0, 1.0))

        def forward(self):
            return self.z, self.z, self.twice()

        @pyro_method
        def twice(self):
            return 2 * self.z

    m = M()
    tr = poutine.trace(m).get_trace()
    a, b, c = tr.nodes["_RETURN"]["value"]
    assert a is b and torch.equal(c, 2 * a)
    assert _sites(tr) == [("z", "sample")]
    torch.manual_seed(0)
    first, second = m()[0], m()[0]
    assert first != second  # a new draw each call
    # a pyro_method on its own is a call too: one site
    assert _sites(poutine.trace(m.twice).get_trace()) == [("z", "sample")]
    # outside a call: a fresh draw, no site
    tr = poutine.trace(lambda: (m.z, m.z)).get_trace()
    assert _sites(tr) == [] and tr.nodes["_RETURN"]["value"][0] != tr.nodes["_RETURN"]["value"][1]


def test_prior_function_of_module_and_tensor_prior():
    class M(PyroModule):
        def __init__(self):
            super().__init__()
            self.loc = PyroParam(torch.tensor([1.0, -2.0]))
            self.x = PyroSample(lambda self: dist.Normal(self.loc, 0.5).to_event(1))
            self.y = PyroSample(lambda self: self.loc * 3.0)

        def forward(self):
            return self.x, self.y

    tr = poutine.trace(M()).get_trace()
    assert _sites(tr) == [("loc", "param"), ("x", "sample"), ("y", "sample")]
    torch.testing.assert_close(tr.nodes["x"]["fn"].base_dist.loc, torch.tensor([1.0, -2.0]))
    y = tr.nodes["y"]
    assert y["is_observed"] and y["infer"].get("_deterministic")
    torch.testing.assert_close(y["value"], torch.tensor([3.0, -6.0]))


def test_decorator_forms():
    class M(PyroModule):
        @PyroParam(constraint=constraints.positive, event_dim=1)
        def c(self):
            return torch.full((2,), 3.0)

        @PyroSample
        def z(self):
            return dist.Normal(self.c.sum(), 1.0)

        def forward(self):
            return self.z

    m = M()
    assert isinstance(M.c, PyroParam) and isinstance(M.z, PyroSample)
    tr = poutine.trace(m).get_trace()
    assert _sites(tr) == [("c", "param"), ("z", "sample")]
    torch.testing.assert_close(m.c_unconstrained.data, torch.full((2,), 3.0).log())
    assert m._pyro_params["c"][1] == 1


def test_pyro_param_constraint_and_event_dim_in_subsampled_plate():
    m = PyroModule()
    m.a = PyroParam(torch.tensor(0.25), constraints.unit_interval)
    m.w = PyroParam(torch.arange(10.0), event_dim=0)
    torch.testing.assert_close(m.a_unconstrained.data, torch.logit(torch.tensor(0.25)))
    torch.testing.assert_close(m.a, torch.tensor(0.25))

    @pyro_method
    def read(self):
        with pyro.plate("p", 10, subsample=torch.tensor([1, 3])):
            return self.w

    value = read(m)
    assert value.tolist() == [1.0, 3.0]
    assert m.w.tolist() == list(map(float, range(10)))  # outside a call: the whole value


def test_store_reset_load_adoption_and_shape_error():
    m = Inner()
    m()
    store = pyro.get_param_store()
    pyro.clear_param_store()
    m()
    assert store.get_unconstrained("loc") is m.loc_unconstrained  # registered again
    # a value the store holds under the name (e.g. loaded) is taken by the PyroParam
    pyro.clear_param_store()
    pyro.param("scale", torch.tensor([7.0, 8.0]), constraint=constraints.positive)
    fresh = Inner()
    x_scale = poutine.trace(fresh).get_trace().nodes["scale"]["value"]
    torch.testing.assert_close(x_scale, torch.tensor([7.0, 8.0]))
    assert isinstance(fresh.scale_unconstrained, nn.Parameter)
    assert store.get_unconstrained("scale") is fresh.scale_unconstrained
    # a plain parameter keeps the module's value; the store then holds it
    pyro.clear_param_store()
    pyro.param("weight", torch.zeros(1, 1))
    lin = PyroModule[nn.Linear](1, 1)
    own = lin.weight.detach().clone()
    lin(torch.ones(1, 1))
    assert torch.equal(lin.weight.detach(), own)
    assert store.get_unconstrained("weight") is lin.weight
    # a stale value of another shape is an error naming both shapes
    pyro.clear_param_store()
    pyro.param("loc", torch.zeros(5))
    with pytest.raises(ValueError, match=r"'loc'.*\(5,\).*\(2,\)"):
        Inner()()


def test_attribute_set_and_delete():
    m = Inner()
    m()
    store = pyro.get_param_store()
    u = m.scale_unconstrained
    m.scale = torch.tensor([2.0, 4.0])  # a new constrained value, written in place
    assert m.scale_unconstrained is u
    torch.testing.assert_close(store["scale"], torch.tensor([2.0, 4.0]))
    m.loc = PyroParam(torch.tensor([3.0, 4.0]))  # a new declaration replaces the store entry
    assert "loc" not in store
    m()
    torch.testing.assert_close(store["loc"], torch.tensor([3.0, 4.0]))
    del m.scale
    assert "scale" not in store and "scale" not in m._pyro_params
    assert [n for n, _ in m.named_parameters()] == ["loc_unconstrained"]
    lin = PyroModule[nn.Linear](3, 2)
    lin.weight = PyroSample(dist.Normal(0.0, 1.0).expand([2, 3]).to_event(2))
    assert list(lin.state_dict()) == ["bias"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lin.nope
    outer = Outer()
    outer()
    del outer.layers
    del outer.plain
    assert sorted(store.keys()) == ["inner.loc", "inner.scale", "loc", "seq.0.bias", "seq.0.weight"]
    clear(outer)
    assert sorted(store.keys()) == ["loc"]
    assert list(outer.named_parameters()) == [] and list(outer._modules) == []


def test_unused_module_leaves_store_alone_on_delete():
    pyro.param("loc", torch.ones(2))
    m = Inner()
    del m.loc  # never called: the store entry is someone else's
    assert "loc" in pyro.get_param_store()


def test_class_caching_mro_and_errors():
    assert PyroModule[nn.Linear] is PyroModule[nn.Linear]
    assert PyroModule[PyroModule[nn.Linear]] is PyroModule[nn.Linear]
    assert PyroModule[nn.Module] is PyroModule
    assert PyroModule[nn.ModuleList] is PyroModuleList
    assert PyroModule[nn.Linear].__name__ == "PyroLinear"
    assert PyroModule[nn.Linear].__mro__[1:] == (nn.Linear, PyroModule, nn.Module, object)
    lazy = PyroModule[nn.LazyLinear](2)
    assert isinstance(lazy, PyroModule[nn.Linear]) and isinstance(lazy, nn.LazyLinear)
    with pytest.raises(TypeError, match="subclass of torch.nn.Module"):
        PyroModule[int]
    with pytest.raises(TypeError, match="distribution or a function"):
        PyroSample(3)
    with pytest.raises(TypeError, match="single argument 'self'"):
        PyroSample(lambda: dist.Normal(0.0, 1.0))
    with pytest.raises(ValueError, match="init_value"):
        PyroModule().p = PyroParam()
    with pytest.raises(TypeError, match="torch.nn.Module"):
        to_pyro_module_(3)
    with pytest.raises(TypeError, match="bool"):
        module_local_params(3)


def test_pickle_deepcopy_and_torch_save(tmp_path):
    lin = PyroModule[nn.Linear](3, 2)
    lin.bias = PyroParam(torch.tensor([0.5, 1.5]), constraints.positive)
    x = torch.randn(4, 3)
    expected = lin(x)
    assert pickle.loads(pickle.dumps(PyroModule[nn.Linear])) is PyroModule[nn.Linear]
    for copied in (pickle.loads(pickle.dumps(lin)), copy.deepcopy(lin)):
        assert type(copied) is PyroModule[nn.Linear]
        pyro.clear_param_store()
        torch.testing.assert_close(copied(x), expected)
    path = tmp_path / "pyromodule_lin.pt"
    torch.save(lin, path)
    pyro.clear_param_store()
    torch.testing.assert_close(torch.load(path, weights_only=False)(x), expected)


_NET = textwrap.dedent("""
    import torch
    from torch import nn
    from torch.distributions import constraints
    import pyro
    from pyro.nn import PyroModule, PyroParam

    class Net(PyroModule):
        def __init__(self):
            super().__init__()
            self.hidden = PyroModule[nn.Linear](3, 4)
            self.out = nn.Linear(4, 1)
            self.scale = PyroParam(torch.rand(1) + 0.5, constraints.positive)

        def forward(self, x):
            return self.out(torch.tanh(self.hidden(x))) * self.scale

    x = torch.linspace(-1, 1, 15).reshape(5, 3)
""")

_LOAD = textwrap.dedent("""
    import sys
    folder = sys.argv[1]
    expected = torch.load(folder + "/pred.pt")
    torch.manual_seed(1)  # other initial values than the saved module's
    net = Net()
    net.load_state_dict(torch.load(folder + "/net.pt"))
    pyro.get_param_store().load(folder + "/store.pt")
    with torch.no_grad():
        print(float((net(x) - expected).abs().max()))
    pyro.clear_param_store()
    net = Net()  # the store alone restores the PyroParams, not the plain torch parameters
    pyro.get_param_store().load(folder + "/store.pt")
    with torch.no_grad():
        print(float((net(x) - expected).abs().max()))
        print(float((net.scale - torch.load(folder + "/scale.pt")).abs().max()))
""")


def test_save_and_load_in_fresh_process(tmp_path):
    env = {}
    exec(_NET, env)
    torch.manual_seed(0)
    net = env["Net"]()
    with torch.no_grad():
        pred = net(env["x"])
    torch.save(net.state_dict(), tmp_path / "net.pt")
    pyro.get_param_store().save(tmp_path / "store.pt")
    torch.save(pred, tmp_path / "pred.pt")
    torch.save(net.scale.detach(), tmp_path / "scale.pt")
    script = tmp_path / "pyromodule_load.py"
    script.write_text(_NET + _LOAD)
    out = subprocess.run([sys.executable, str(script), str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout.split()
    both, store_only, scale = map(float, out)
    assert both < 1e-6
    assert store_only > 1e-3 and scale < 1e-6


def test_local_mode_keeps_params_out_of_the_store():
    data = torch.tensor([0.5, 1.5, 4.0])
    pyro.param("other", torch.ones(1))
    with module_local_params():
        class M(PyroModule):
            def __init__(self):
                super().__init__()
                self.loc = PyroParam(torch.tensor(1.0))
                self.lin = nn.Linear(1, 1)

            def forward(self):
                with pyro.plate("data", 3):
                    pyro.sample("obs", dist.Normal(self.loc, 1.0), obs=data)

        m = M()
        tr = poutine.trace(m).get_trace()
        assert _sites(tr) == [("data", "sample"), ("loc", "param"), ("obs", "sample")]
        assert list(pyro.get_param_store().keys()) == ["other"]
        assert tr.nodes["loc"]["value"].unconstrained() is m.loc_unconstrained
        tr.log_prob_sum().backward()
        # d/dloc sum log N(x | loc, 1) = sum(x - loc)
        torch.testing.assert_close(m.loc_unconstrained.grad, (data - 1.0).sum())
        _ = m.lin  # outside a call nothing is registered
    assert list(pyro.get_param_store().keys()) == ["other"]
    m()  # global mode again: the store sees the module
    assert sorted(pyro.get_param_store().keys()) == ["loc", "other"]


def test_condition_and_do():
    m = Inner()
    value = torch.tensor([9.0, 9.0])
    tr = poutine.trace(poutine.condition(m, data={"x": value})).get_trace()
    assert tr.nodes["x"]["is_observed"] and torch.equal(tr.nodes["x"]["value"], value)
    expected = dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1).log_prob(value)
    torch.testing.assert_close(tr.nodes["x"]["fn"].log_prob(value), expected)
    tr = poutine.trace(poutine.do(m, data={"x": value})).get_trace()
    assert torch.equal(tr.nodes["_RETURN"]["value"], value)
    assert not any(site.get("is_observed") for site in tr.nodes.values() if site["type"] == "sample")


def test_to_pyro_module_names():
    net = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 1)))
    to_pyro_module_(net)
    assert type(net[1][0]) is PyroModule[nn.Linear] and net[1][0]._pyro_name == "1.0"
    net[0].weight = PyroSample(dist.Normal(0.0, 1.0).expand([3, 2]).to_event(2))
    tr = poutine.trace(net).get_trace(torch.randn(4, 2))
    assert _sites(tr) == [("0.weight", "sample"), ("0.bias", "param"),
                          ("1.0.weight", "param"), ("1.0.bias", "param")]
    shallow = nn.Sequential(nn.Linear(2, 3))
    to_pyro_module_(shallow, recurse=False)
    assert isinstance(shallow, PyroModule) and not isinstance(shallow[0], PyroModule)


def test_pyro_module_primitive_on_a_pyro_module():
    pyro.module("mod", Inner())
    assert sorted(pyro.get_param_store().keys()) == ["mod$$$loc_unconstrained", "mod$$$scale_unconstrained"]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_jit_compiled_log_prob_and_script():
    m = Inner()
    value = torch.tensor([0.3, -0.2])

    def log_prob():
        return poutine.trace(poutine.condition(m, data={"x": value})).get_trace().log_prob_sum()

    compiled = pyro.ops.jit.trace(log_prob, ignore_warnings=True)
    compiled()
    with torch.no_grad():
        m.loc = torch.tensor([1.0, 2.0])
    got = compiled()
    expected = dist.Normal(torch.tensor([1.0, 2.0]), 1.0).log_prob(value).sum()
    torch.testing.assert_close(got, expected)
    got.backward()
    torch.testing.assert_close(m.loc_unconstrained.grad, value - torch.tensor([1.0, 2.0]))

    lin = PyroModule[nn.Linear](3, 2)
    x = torch.randn(4, 3)
    scripted = torch.jit.script(lin)
    torch.testing.assert_close(scripted(x), x @ lin.weight.detach().T + lin.bias.detach())


def test_local_mode_through_pyro_settings_as_in_pyro():
    assert pyro.settings.get("module_local_params") is False

    class M(PyroModule):
        def __init__(self):
            super().__init__()
            self.loc = PyroParam(torch.tensor(1.0))

        def forward(self):
            return pyro.sample("x", dist.Normal(self.loc, 1.0))

    with pyro.settings.context(module_local_params=True):
        assert pyro.settings.get("module_local_params") is True
        M()()
        assert list(pyro.get_param_store().keys()) == []
    assert pyro.settings.get("module_local_params") is False
    M()()
    assert list(pyro.get_param_store().keys()) == ["loc"]
    with pytest.raises(TypeError, match="module_local_params must be a bool"):
        pyro.settings.set(module_local_params=1)
