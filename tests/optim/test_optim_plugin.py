"""pyro-optim registers through the plugin hook; third-party optimizers become pyro.optim.<Name>."""

import types
import warnings

import pytest
import torch

import pyro
import pyro.optim
from pyro.plugins import PluginLoadWarning, get_plugin_manager, get_registry, hookimpl
from pyro.optim.pytorch_optimizers import TORCH_OPTIMIZERS, TORCH_SCHEDULERS


def test_first_party_names_are_registered_by_pyro_optim():
    registry = get_registry("optimizers")
    expected = {"PyroOptim", "PyroLRScheduler", "ClippedAdam", "DCTAdam", "AdagradRMSProp", "DistributedOptimizer",
                *TORCH_OPTIMIZERS, *TORCH_SCHEDULERS}
    assert expected <= set(registry)
    for name in expected:
        assert registry.owner(name) == "pyro-optim"
        assert registry.get(name) is getattr(pyro.optim, name)


def test_third_party_optimizer_is_reachable_as_attribute():
    class HalfStep(torch.optim.SGD):
        """SGD at half the given rate."""

        def __init__(self, params, lr):
            super().__init__(params, lr=lr / 2)

    def make(optim_args, clip_args=None):
        return pyro.optim.PyroOptim(HalfStep, optim_args, clip_args)

    plugin = types.SimpleNamespace()
    plugin.pyro_register_optimizers = hookimpl(lambda registry: registry.add("HalfStep", make))
    manager = get_plugin_manager()
    assert manager.register(plugin, name="my-optimizers")
    try:
        optim = pyro.optim.HalfStep({"lr": 1.0})
        from pyro.optim import HalfStep as imported

        assert imported is make
        a = pyro.param("a", torch.tensor(1.0))
        a.backward()
        optim([a.unconstrained()])
        assert pyro.param("a").item() == 0.5
        assert get_registry("optimizers").owner("HalfStep") == "my-optimizers"
    finally:
        manager.unregister("my-optimizers")
    with pytest.raises(AttributeError, match="HalfStep"):
        pyro.optim.HalfStep


def test_third_party_cannot_replace_a_first_party_name():
    plugin = types.SimpleNamespace()
    plugin.pyro_register_optimizers = hookimpl(lambda registry: registry.add("Adam", object()))
    manager = get_plugin_manager()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager.register(plugin, name="impostor")
    try:
        assert any(issubclass(w.category, PluginLoadWarning) and "pyro-optim" in str(w.message) for w in caught)
        assert get_registry("optimizers").get("Adam") is pyro.optim.Adam
    finally:
        manager.unregister("impostor")
    assert get_registry("optimizers").get("Adam") is pyro.optim.Adam


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'pyro.optim' has no attribute 'NoSuchOptim'"):
        pyro.optim.NoSuchOptim
