"""Goodness-of-fit tests of a distribution's samples against its density: pyro-core's kit
(:mod:`pyro.plugins.gof`, pure torch, which the plugin conformance check uses too), under the
name distribution tests import it by."""

from pyro.plugins.gof import *  # noqa: F401,F403
from pyro.plugins.gof import __all__  # noqa: F401
