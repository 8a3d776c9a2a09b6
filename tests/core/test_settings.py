"""pyro.settings: get/set/context/register, and settings registered by plugins."""

import sys
import types

import pytest
import torch

import pyro
from pyro import settings


def test_core_settings_read_and_write_their_homes():
    values = settings.get()
    assert values["validate_poutine"] is pyro.util.is_validation_enabled()
    assert "validate_distributions_torch" in values and list(values) == sorted(values)
    with settings.context(validate_poutine=False, validate_distributions_torch=False):
        assert not pyro.util.is_validation_enabled()
        assert torch.distributions.Distribution._validate_args is False
    assert settings.get("validate_poutine") is values["validate_poutine"]
    assert torch.distributions.Distribution._validate_args is values["validate_distributions_torch"]


def test_errors_name_the_setting_and_the_value():
    with pytest.raises(KeyError, match="unknown setting 'nope'"):
        settings.get("nope")
    with pytest.raises(KeyError, match="unknown setting 'nope'"):
        settings.set(nope=1)
    before = settings.get("validate_infer")
    with pytest.raises(TypeError, match="expected a bool, got int 3"):
        settings.set(validate_infer=3)
    assert settings.get("validate_infer") is before


def test_register_with_a_decorated_validator(monkeypatch):
    module = types.ModuleType("lead_settings_probe")
    module.inner = types.SimpleNamespace(tolerance=0.5)
    monkeypatch.setitem(sys.modules, "lead_settings_probe", module)

    @settings.register("probe_tolerance", "lead_settings_probe", "inner.tolerance")
    def _check(value):
        if value < 0:
            raise ValueError("probe_tolerance must be >= 0")

    try:
        assert settings.get("probe_tolerance") == 0.5
        settings.set(probe_tolerance=2.0)
        assert module.inner.tolerance == 2.0
        with pytest.raises(ValueError, match=">= 0"):
            settings.set(probe_tolerance=-1.0)
    finally:
        settings._REGISTERED.pop("probe_tolerance")
