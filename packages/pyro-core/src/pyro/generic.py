"""``pyro.generic``: the pyro-api backend switch, re-exported from the ``pyroapi`` package.

``from pyro.generic import pyro, distributions, infer, optim`` gives modules that forward to
the backend chosen with ``pyro_backend("pyro")`` (the default) or another registered one, so one
program runs on several backends. Importing this module warns, as Pyro's does, that its home
is now ``pyroapi``.
"""

import warnings

warnings.warn("pyro.generic has moved to the pyroapi package", DeprecationWarning)

try:
    from pyroapi import (
        distributions,
        handlers,
        infer,
        ops,
        optim,
        pyro,
        pyro_backend,
        register_backend,
    )
except ImportError as e:  # pragma: no cover - pyro-api is a dependency of pyro-core
    raise ModuleNotFoundError(
        "pyro.generic needs the pyro-api package; install it with: pip install pyro-api",
        name="pyroapi",
    ) from e

__all__ = ["distributions", "handlers", "infer", "ops", "optim", "pyro", "pyro_backend",
           "register_backend"]
