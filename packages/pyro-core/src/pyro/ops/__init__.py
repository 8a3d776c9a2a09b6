__path__ = __import__("pkgutil").extend_path(__path__, __name__)  # noqa: E402  (must stay first)

__doc__ = """Tensor helpers shared by the packages of the framework.

Several distributions fill this namespace: pyro-core ships this ``__init__`` with its own
modules (``score_parts``, ``jit``), pyro-distributions ships ``indexing`` (and the other helpers
distributions need) without an ``__init__``. The first line adds every ``pyro/ops/`` folder
found on ``pyro.__path__`` to this package's search path, so those modules import from a
regular install and from an editable one alike.
"""
