"""The pyro-api peer test suite, run against this implementation."""

import pytest

pytest.importorskip("pyroapi")

from pyroapi import pyro_backend  # noqa: E402
from pyroapi.tests import *  # noqa: E402,F401,F403


@pytest.fixture
def backend():
    with pyro_backend("pyro"):
        yield
