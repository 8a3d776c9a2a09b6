"""pyro.optim (package pyro-optim): optimizers for parameters created while a program runs.

:class:`PyroOptim` wraps a torch optimizer; ``pyro.optim.<Name>`` for every optimizer and
learning-rate scheduler in :mod:`torch.optim` builds one (``pyro.optim.Adam({"lr": 0.01})``).
:class:`ClippedAdam`, :class:`DCTAdam` and :class:`AdagradRMSProp` are Pyro's own optimizers, and
:class:`DistributedOptimizer` trains data-parallel on :mod:`torch.distributed`. Optimizers that
other packages register through the ``pyro_register_optimizers`` hook are attributes here too.
"""

from typing import Any

from pyro.optim.distributed import DistributedOptimizer, DistributedTrainingError
from pyro.optim import multi  # noqa: F401  (an attribute after `import pyro.optim`, as in Pyro 1.9)
from pyro.optim.lr_scheduler import PyroLRScheduler
from pyro.optim.optim import PyroOptim
from pyro.optim.pytorch_optimizers import *  # noqa: F401,F403
from pyro.optim.pytorch_optimizers import __all__ as _wrapped

__all__ = sorted(["DistributedOptimizer", "DistributedTrainingError", "PyroLRScheduler", "PyroOptim", *_wrapped])


def __getattr__(name: str) -> Any:
    from pyro.plugins import resolve

    return resolve("optimizers", name, __name__)
