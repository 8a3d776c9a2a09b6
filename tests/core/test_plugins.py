"""The plugin manager, registries, ``pyro.plugins.testing`` and import-time isolation (core only)."""

import os
import subprocess
import sys
import textwrap
import types

import pytest
import torch

import pyro
from pyro.plugins import (
    PluginLoadWarning,
    PyroPluginManager,
    RegistrationError,
    get_plugin_manager,
    hookimpl,
    set_plugin_manager,
)
from pyro.plugins import testing
from pyro.plugins.testing import pyro_plugin_checks, pyro_plugin_manager, pyro_register  # noqa: F401  (fixtures)


def run_python(code):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYRO_")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=120)


def make_plugin(name, **hooks):
    module = types.ModuleType(name)
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, hookimpl(fn))
    return module


class TinyDist(torch.distributions.Normal):
    pass


def test_import_pyro_scans_no_entry_points_and_imports_no_plugin_module():
    result = run_python("""
        import importlib.metadata, sys
        calls = []
        real = importlib.metadata.entry_points
        importlib.metadata.entry_points = lambda *a, **k: calls.append(k.get("group")) or real(*a, **k)
        import pyro, pyro.poutine, pyro.params
        pyro.sample("x", __import__("torch").distributions.Normal(0.0, 1.0))
        loaded = sorted(m for m in sys.modules
                        if m == "pyro.plugins.manager" or m.endswith("._plugin") or m == "pluggy")
        print(calls.count("pyro"), loaded)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 []"


def test_first_registry_lookup_discovers_plugins_once():
    result = run_python("""
        import importlib.metadata, sys
        calls = []
        real = importlib.metadata.entry_points
        importlib.metadata.entry_points = lambda *a, **k: calls.append(k.get("group")) or real(*a, **k)
        import pyro.poutine
        pyro.poutine.__getattr__  # nothing yet
        from pyro.plugins import get_registry
        get_registry("handlers"); get_registry("handlers"); get_registry("constraints")
        print(calls.count("pyro"), "pyro._plugin" in sys.modules, "trace" in get_registry("handlers"))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1 True True"


MISSING = """
    import sys
    sys.path = [p for p in sys.path if "pyro-{pkg}" not in p]
    for finder in list(sys.meta_path):
        # editable installs may add a finder that maps the package to its source tree
        if "pyro_{mod}" in type(finder).__module__ or "__editable__" in type(finder).__module__:
            sys.meta_path.remove(finder)
    import pyro
    try:
        import pyro.{mod}
    except ModuleNotFoundError as e:
        print("ERROR:", e)
    else:
        print("imported", pyro.{mod}.__file__)
"""


@pytest.mark.parametrize("mod, pkg", [("infer", "infer"), ("distributions", "distributions"),
                                      ("optim", "optim"), ("nn", "nn")])
def test_missing_subpackage_names_package_and_extra(mod, pkg):
    result = run_python(MISSING.format(mod=mod, pkg=pkg))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"ERROR: No module named 'pyro.{mod}': it is provided by the pyro-{pkg} package; "
        f'install it with: pip install "pyro-core[{mod}]"'
    )


def test_missing_subpackage_finder_directly():
    finder = next(f for f in sys.meta_path if type(f).__name__ == "_MissingSubpackageFinder")
    with pytest.raises(ModuleNotFoundError, match=r'pip install "pyro-core\[infer\]"') as info:
        finder.find_spec("pyro.infer", None)
    assert info.value.name == "pyro.infer"
    assert finder.find_spec("pyro.something_else", None) is None
    assert finder.find_spec("numpy", None) is None


def test_namespace_extends_path():
    with open(pyro.__file__) as f:
        first_line = f.readline()
    assert "pkgutil" in first_line and "extend_path" in first_line


# ----- manager and registries -----------------------------------------------------------------


def test_fresh_manager_fixture_is_process_wide_and_isolated(pyro_plugin_manager):
    assert get_plugin_manager() is pyro_plugin_manager
    names = set(pyro_plugin_manager.plugins)
    assert "pyro-core" in names
    assert all(info.first_party for info in pyro_plugin_manager.plugins.values())
    assert pyro_plugin_manager.failures == []
    assert pyro.poutine.__getattr__("trace") is pyro.poutine.trace


def test_fixture_restores_previous_manager():
    sentinel = PyroPluginManager(load_entry_points=False)
    old = set_plugin_manager(sentinel)
    try:
        gen = pyro_plugin_manager.__wrapped__() if hasattr(pyro_plugin_manager, "__wrapped__") else None
        if gen is None:
            pytest.fail("the fixture function is not reachable")
        manager = next(gen)
        assert get_plugin_manager() is manager is not sentinel
        with pytest.raises(StopIteration):
            next(gen)
        assert get_plugin_manager() is sentinel
    finally:
        set_plugin_manager(old)


def test_register_and_undo(pyro_register, pyro_plugin_manager):
    def register_handlers(registry):
        registry.add("tiny_handler", pyro.poutine.scale)

    def register_dists(registry):
        registry.add("TinyDist", TinyDist)

    plugin = make_plugin("tiny", pyro_register_handlers=register_handlers,
                         pyro_register_distributions=register_dists)
    manager = pyro_register(plugin, name="tiny", distribution="tiny-dist")
    assert manager is pyro_plugin_manager
    assert pyro.poutine.tiny_handler is pyro.poutine.scale
    assert manager.get_registry("distributions").owner("TinyDist") == "tiny-dist"
    assert manager.registered()["tiny-dist"] == {"handlers": ["tiny_handler"], "distributions": ["TinyDist"]}
    testing.check_registered("handlers", "tiny_handler", pyro.poutine.scale)
    manager.unregister("tiny")
    assert "tiny_handler" not in manager.get_registry("handlers")
    with pytest.raises(AttributeError, match="tiny_handler"):
        pyro.poutine.tiny_handler


def test_registered_before_or_after_registry_is_built(pyro_plugin_manager):
    handlers = pyro_plugin_manager.get_registry("handlers")
    plugin = make_plugin("late", pyro_register_handlers=lambda registry: registry.add("late_h", len))
    pyro_plugin_manager.register(plugin, name="late")
    assert handlers.get("late_h") is len
    with pytest.raises(ValueError, match="already registered"):
        pyro_plugin_manager.register(plugin, name="late")
    pyro_plugin_manager.unregister("late")
    assert "late_h" not in handlers


def test_conflict_and_bad_names_are_reported_and_undone(pyro_plugin_manager):
    def adds_trace(registry):
        registry.add("fine_name", len)
        registry.add("trace", len)

    plugin = make_plugin("dup", pyro_register_handlers=adds_trace)
    with pytest.warns(PluginLoadWarning, match="registered by both pyro-core and dup-dist"):
        pyro_plugin_manager.register(plugin, name="dup", distribution="dup-dist")
        handlers = pyro_plugin_manager.get_registry("handlers")
    assert handlers.get("trace") is pyro.poutine.trace
    assert "fine_name" not in handlers  # the failing hook's additions are undone
    assert pyro_plugin_manager.failures[-1].name == "dup"
    registry = pyro_plugin_manager.get_registry("distributions")
    with pytest.raises(RegistrationError, match="identifier"):
        registry._add("not a name", 1, "someone")


def test_plugin_with_unknown_hook_is_rejected(pyro_plugin_manager):
    plugin = make_plugin("typo", pyro_register_distribution=lambda registry: None)
    with pytest.warns(PluginLoadWarning, match="invalid hook"):
        assert pyro_plugin_manager.register(plugin, name="typo") is False
    assert "typo" not in pyro_plugin_manager.plugins
    with pytest.raises(AssertionError, match="not a pyro hook"):
        testing.check_plugin_module(plugin)


def test_unknown_registry_kind(pyro_plugin_manager):
    with pytest.raises(KeyError, match="unknown registry kind"):
        pyro_plugin_manager.get_registry("widgets")


def test_svi_step_hook_reaches_plugins(pyro_register, pyro_plugin_manager):
    seen = []
    plugin = make_plugin("progress", pyro_svi_step=lambda svi, step, loss: seen.append((step, loss)))
    pyro_register(plugin, name="progress")
    pyro_plugin_manager.hook.pyro_svi_step(svi=None, step=3, loss=1.5)
    assert seen == [(3, 1.5)]


# ----- conformance checks ---------------------------------------------------------------------


def test_check_distribution_accepts_torch_distributions(pyro_plugin_checks):
    pyro_plugin_checks.check_distribution(torch.distributions.Normal(torch.zeros(3), torch.ones(3)))
    pyro_plugin_checks.check_distribution(torch.distributions.Dirichlet(torch.ones(2, 4)))
    pyro_plugin_checks.check_distribution(torch.distributions.Bernoulli(0.3))


def test_check_distribution_catches_wrong_shapes():
    class BadLogProb(torch.distributions.Normal):
        def log_prob(self, value):
            return super().log_prob(value).sum(-1)

    with pytest.raises(AssertionError, match=r"BadLogProb: log_prob of a sample has shape \(\), expected batch_shape \(3,\)"):
        testing.check_distribution(BadLogProb(torch.zeros(3), 1.0))

    class BadExpand(torch.distributions.Normal):
        def expand(self, batch_shape, _instance=None):
            return self

    with pytest.raises(AssertionError, match="BadExpand: expand"):
        testing.check_distribution(BadExpand(torch.zeros(2), 1.0))

    class NanLogProb(torch.distributions.Normal):
        def log_prob(self, value):
            return super().log_prob(value) * float("nan")

    with pytest.raises(AssertionError, match="not finite"):
        testing.check_distribution(NanLogProb(0.0, 1.0))


def test_check_handler():
    testing.check_handler(pyro.poutine.scale, scale=2.0)
    testing.check_handler(pyro.poutine.block)

    def leaky(fn=None):
        from pyro.poutine.messenger import Messenger

        class Leaky(Messenger):
            def __exit__(self, *args):
                return None  # never pops itself

        return Leaky() if fn is None else Leaky()(fn)

    with pytest.raises(AssertionError, match=r"leaky: handler\(fn, ...\)\(\) left frames on the handler stack"):
        testing.check_handler(leaky)
    from pyro.poutine.runtime import _PYRO_STACK

    _PYRO_STACK.clear()


def test_testing_module_does_not_import_pyro_distributions():
    result = run_python("""
        import sys
        import pyro.plugins.testing
        print("pyro.distributions" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_opt_in_with_dash_p(tmp_path):
    (tmp_path / "test_uses_fixtures.py").write_text(textwrap.dedent("""
        import torch
        from pyro.plugins import get_plugin_manager, hookimpl

        class Plugin:
            @hookimpl
            def pyro_register_distributions(self, registry):
                registry.add("MyDist", torch.distributions.Normal)

        def test_it(pyro_register, pyro_plugin_checks):
            manager = pyro_register(Plugin(), name="mine")
            assert get_plugin_manager() is manager
            pyro_plugin_checks.check_distribution(torch.distributions.Normal(0.0, 1.0))
            assert manager.get_registry("distributions").get("MyDist") is torch.distributions.Normal
    """))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "pyro.plugins.testing",
                             "-p", "no:cacheprovider", str(tmp_path)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300)
    assert "1 passed" in result.stdout, result.stdout + result.stderr
