"""pyro-api's own contract tests (``pyroapi.tests``) run on this package as the ``"pyro"`` backend.

They are the checks every pyro-api backend must pass: data generation, plates, params, the
optimizers and SVI (plain and JIT) as ``pyro.generic`` users reach them.
"""

import pytest
from pyroapi import pyro_backend
from pyroapi.tests import *  # noqa: F401,F403  (the contract tests themselves)


@pytest.fixture
def backend():
    with pyro_backend("pyro"):
        yield
