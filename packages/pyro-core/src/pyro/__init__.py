__path__ = __import__("pkgutil").extend_path(__path__, __name__)  # noqa: E402  (must stay first)

__doc__ = """A Pyro-compatible probabilistic programming language on PyTorch.

``import pyro`` loads only the core: primitives, handlers (``pyro.poutine``) and the param store.
The other packages (``pyro.distributions``, ``pyro.infer``, ``pyro.optim``, ``pyro.nn``) are
separate distributions sharing this namespace; they import on first use.
"""

import importlib
import importlib.abc
import sys
from typing import Any

from pyro import poutine
from pyro._barrier import barrier
from pyro.logger import log
from pyro.poutine.handlers import condition, do, markov
from pyro.primitives import (
    clear_param_store,
    deterministic,
    enable_validation,
    factor,
    get_param_store,
    iarange,
    irange,
    module,
    observe,
    param,
    plate,
    plate_stack,
    random_module,
    sample,
    subsample,
    validation_enabled,
)
from pyro.util import set_rng_seed

#: The Pyro release whose public API this framework implements, so that libraries gating on
#: ``pyro.__version__`` (ArviZ's ``from_pyro`` reads the model and its data only from 1.0 on)
#: treat it as that release. Each package's own version is in its metadata
#: (``importlib.metadata.version("pyro-core")``).
__version__ = "1.9.2"

# Subpackage -> (distribution, pip extra) for the namespaces shipped by other distributions.
_SUBPACKAGES = {
    "distributions": ("pyro-distributions", "distributions"),
    "infer": ("pyro-infer", "infer"),
    "optim": ("pyro-optim", "optim"),
    "nn": ("pyro-nn", "nn"),
}


# ``pyro.ops`` modules shipped by other distributions -> the subpackage of that distribution
# (a key of ``_SUBPACKAGES``). pyro-core's own ops modules (score_parts, jit) are not listed.
_OPS_MODULES = {
    "gamma_gaussian": "distributions",
    "gaussian": "distributions",
    "indexing": "distributions",
    "linalg": "distributions",
    "special": "distributions",
    "contract": "infer",
    "dual_averaging": "infer",
    "einsum": "infer",
    "integrator": "infer",
    "stats": "infer",
    "streaming": "infer",
    "arrowhead": "infer",
    "welford": "infer",
    "ssm_gp": "nn",
}

# ``pyro.poutine`` modules shipped by other distributions (Pyro 1.9's module paths of handlers
# that live in pyro-infer) -> the subpackage of that distribution.
_POUTINE_MODULES = {
    "collapse_messenger": "infer",
    "enum_messenger": "infer",
    "guide": "infer",
    "reparam_messenger": "infer",
}


def _subpackage_present(sub: str) -> bool:
    """Whether some folder of the ``pyro`` namespace holds the subpackage ``sub``."""
    import os

    return any(os.path.isdir(os.path.join(folder, sub)) for folder in __path__)


class _MissingSubpackageFinder(importlib.abc.MetaPathFinder):
    """Last finder on ``sys.meta_path``: explains which package provides a missing subpackage.

    Also covers the ``pyro.ops`` and ``pyro.poutine`` modules of other distributions
    (``pyro.ops.indexing`` is pyro-distributions', ``pyro.poutine.enum_messenger``
    pyro-infer's), when that distribution is not installed.
    """

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        prefix, _, sub = fullname.partition(".")
        if prefix != "pyro":
            return None
        for folder, table in (("ops.", _OPS_MODULES), ("poutine.", _POUTINE_MODULES)):
            if sub.startswith(folder):
                sub = table.get(sub[len(folder):], "")
                if not sub or _subpackage_present(sub):
                    return None  # installed, yet without this module: the usual error
                break
        if sub in _SUBPACKAGES:
            dist, extra = _SUBPACKAGES[sub]
            raise ModuleNotFoundError(
                f"No module named '{fullname}': it is provided by the {dist} package; "
                f'install it with: pip install "pyro-core[{extra}]"',
                name=fullname,
            )
        return None


if not any(isinstance(f, _MissingSubpackageFinder) for f in sys.meta_path):
    sys.meta_path.append(_MissingSubpackageFinder())


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES or name in ("plugins", "ops", "settings"):
        return importlib.import_module(f"pyro.{name}")
    if name == "render_model":  # lives in pyro-infer, which pyro-core cannot import eagerly
        return importlib.import_module("pyro.infer.inspect").render_model
    raise AttributeError(f"module 'pyro' has no attribute '{name}'")


__all__ = [
    "__version__",
    "barrier",
    "clear_param_store",
    "condition",
    "deterministic",
    "do",
    "enable_validation",
    "factor",
    "get_param_store",
    "iarange",
    "irange",
    "log",
    "markov",
    "module",
    "observe",
    "param",
    "plate",
    "plate_stack",
    "poutine",
    "random_module",
    "sample",
    "set_rng_seed",
    "settings",
    "subsample",
    "validation_enabled",
]
