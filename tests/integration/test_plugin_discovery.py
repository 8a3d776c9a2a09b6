"""End-to-end entry-point discovery with two third-party plugin packages under tests/plugins/.

These tests are meaningful only when ``pyro-plugin-example`` and ``pyro-plugin-broken`` are
installed (the tox env installs them; by hand:
``pip install --no-deps -e tests/plugins/pyro-plugin-example -e tests/plugins/pyro-plugin-broken``);
otherwise they are skipped.
"""

import importlib.metadata
import json
import os
import subprocess
import sys
import types
import warnings

import pytest
import torch

import pyro
import pyro.poutine as poutine
from pyro.plugins import PluginLoadWarning, PyroPluginManager, hookimpl, set_plugin_manager


def _installed(dist):
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not (_installed("pyro-plugin-example") and _installed("pyro-plugin-broken")),
    reason="the example plugin packages of tests/plugins/ are not installed",
)

PYRO_SCRIPT = os.path.join(os.path.dirname(sys.executable), "pyro")


@pytest.fixture
def fresh_manager():
    """A newly discovered process-wide manager (plugins as installed), restored afterwards."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager = PyroPluginManager()
    old = set_plugin_manager(manager)
    try:
        yield manager, caught
    finally:
        set_plugin_manager(old)


def run_python(code, **env):
    full_env = dict(os.environ)
    for key in ("PYRO_DISABLE_PLUGIN_AUTOLOAD", "PYRO_DISABLE_PLUGINS"):
        full_env.pop(key, None)
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
                          timeout=120)


def test_example_distribution_resolves_on_pyro_distributions(fresh_manager):
    import pyro.distributions as dist
    from pyro_plugin_example import ExampleDist

    assert dist.ExampleDist is ExampleDist
    d = dist.ExampleDist(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 0.5]))
    x = torch.tensor([1.5, 2.0])
    assert d.log_prob(x).tolist() == pytest.approx([torch.log(torch.tensor(2.0)).item() - 1.0,
                                                    torch.log(torch.tensor(0.5)).item()], abs=1e-6)
    tr = poutine.trace(lambda: pyro.sample("x", d, obs=x)).get_trace()
    assert tr.log_prob_sum().item() == pytest.approx(d.log_prob(x).sum().item(), abs=1e-6)


def test_example_handler_resolves_on_pyro_poutine(fresh_manager):
    from pyro_plugin_example import example_handler

    assert pyro.poutine.example_handler is example_handler
    model = lambda: pyro.sample("z", torch.distributions.Normal(0.0, 1.0))  # noqa: E731
    tr = poutine.trace(pyro.poutine.example_handler(model, label="hello")).get_trace()
    assert tr.nodes["z"]["infer"]["example_label"] == "hello"


def test_broken_plugin_is_reported_and_does_not_stop_the_example(fresh_manager):
    manager, caught = fresh_manager
    failed = {f.name: f for f in manager.failures}
    assert "pyro-plugin-broken" in failed
    assert "broken on purpose" in failed["pyro-plugin-broken"].error
    assert failed["pyro-plugin-broken"].distribution == "pyro-plugin-broken"
    messages = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert any("pyro-plugin-broken" in m and "broken on purpose" in m for m in messages)
    assert "pyro-plugin-example" in manager.plugins
    assert manager.get_registry("distributions").owner("ExampleDist") == "pyro-plugin-example"


def test_cli_lists_plugins_as_json():
    result = subprocess.run([PYRO_SCRIPT, "plugins", "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    plugins = {p["name"]: p for p in report["plugins"]}
    example = plugins["pyro-plugin-example"]
    assert example["distribution"] == "pyro-plugin-example" and example["version"] == "0.0.1"
    assert example["first_party"] is False
    assert example["registered"] == {"distributions": ["ExampleDist"], "handlers": ["example_handler"]}
    assert "trace" in plugins["pyro-core"]["registered"]["handlers"]
    (broken,) = [f for f in report["failed"] if f["name"] == "pyro-plugin-broken"]
    assert broken["distribution"] == "pyro-plugin-broken" and "broken on purpose" in broken["error"]
    assert "pyro-plugin-broken" in result.stderr  # the warning


def test_cli_plain_text_listing():
    result = subprocess.run([PYRO_SCRIPT, "plugins"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pyro-plugin-example (pyro-plugin-example 0.0.1)  [third-party]" in result.stdout
    assert "distributions (1): ExampleDist" in result.stdout
    assert "handlers (1): example_handler" in result.stdout
    assert "failed to load:" in result.stdout and "pyro-plugin-broken" in result.stdout


CHECK = """
import warnings, json
warnings.simplefilter("always")
import pyro, pyro.poutine, pyro.distributions
from pyro.plugins import get_plugin_manager
m = get_plugin_manager()
print(json.dumps({
    "plugins": sorted(m.plugins),
    "failed": sorted(f.name for f in m.failures),
    "dist": hasattr(pyro.distributions, "ExampleDist"),
    "handler": hasattr(pyro.poutine, "example_handler"),
    "trace": hasattr(pyro.poutine, "trace"),
}))
"""


def test_disable_autoload_loads_no_third_party_plugin():
    result = run_python(CHECK, PYRO_DISABLE_PLUGIN_AUTOLOAD="1")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "pyro-plugin-example" not in report["plugins"] and "pyro-core" in report["plugins"]
    assert report["failed"] == [] and "pyro-plugin-broken" not in result.stderr
    assert report["dist"] is False and report["handler"] is False and report["trace"] is True


def test_disable_named_plugins():
    result = run_python(CHECK, PYRO_DISABLE_PLUGINS="pyro-plugin-broken")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["failed"] == [] and "PluginLoadWarning" not in result.stderr
    assert "pyro-plugin-example" in report["plugins"] and report["dist"] and report["handler"]
    result = run_python(CHECK, PYRO_DISABLE_PLUGINS=" pyro-plugin-example , pyro-plugin-broken ")
    report = json.loads(result.stdout)
    assert "pyro-plugin-example" not in report["plugins"] and report["failed"] == []
    assert report["dist"] is False and report["handler"] is False


def test_default_subprocess_loads_example_and_reports_broken():
    result = run_python(CHECK)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "pyro-plugin-example" in report["plugins"] and report["failed"] == ["pyro-plugin-broken"]
    assert report["dist"] and report["handler"]
    assert "PluginLoadWarning" in result.stderr and "broken on purpose" in result.stderr


def test_conflicting_name_is_an_error_naming_both_distributions(fresh_manager):
    manager, _ = fresh_manager
    impostor = types.ModuleType("impostor_plugin")

    class Impostor(torch.distributions.Normal):
        pass

    @hookimpl
    def pyro_register_distributions(registry):
        registry.add("ExampleDist", Impostor)

    impostor.pyro_register_distributions = pyro_register_distributions
    with pytest.warns(PluginLoadWarning) as record:
        manager.register(impostor, name="impostor", distribution="pyro-plugin-impostor")
        registry = manager.get_registry("distributions")
    message = " ".join(str(w.message) for w in record)
    assert "ExampleDist" in message
    assert "pyro-plugin-example" in message and "pyro-plugin-impostor" in message
    errors = " ".join(f.error for f in manager.failures)
    assert "pyro-plugin-example" in errors and "pyro-plugin-impostor" in errors
    # nothing is silently replaced: exactly one of the two holds the name, with its own owner
    from pyro_plugin_example import ExampleDist

    owner = registry.owner("ExampleDist")
    assert (registry.get("ExampleDist"), owner) in [(ExampleDist, "pyro-plugin-example"),
                                                    (Impostor, "pyro-plugin-impostor")]


def test_conformance_of_the_example_plugin():
    from pyro.plugins import testing
    from pyro_plugin_example import ExampleDist, _plugin, example_handler

    testing.check_distribution(ExampleDist(torch.zeros(3), torch.ones(3)))
    testing.check_distribution(ExampleDist(0.5, 2.0), sample_shape=(5,))
    testing.check_handler(example_handler, label="x")
    manager = testing.check_plugin_module(_plugin)
    assert manager.get_registry("distributions").get("ExampleDist") is ExampleDist
