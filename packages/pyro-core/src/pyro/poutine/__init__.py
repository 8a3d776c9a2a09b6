"""Effect handlers (``pyro.poutine``): the building blocks of inference algorithms.

Handlers registered by plugins are attributes of this module too: ``pyro.poutine.<name>``.

Several distributions fill this package's folder: pyro-core ships this ``__init__`` and the
handlers, pyro-infer the module paths Pyro 1.9 gives its inference handlers
(``enum_messenger``, ``reparam_messenger``, ``guide``, ``collapse_messenger``). The line below
adds every ``pyro/poutine/`` folder on ``sys.path`` to the search path, as ``pyro.ops`` does.
"""

__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from typing import Any

from pyro.poutine.block_messenger import BlockMessenger
from pyro.poutine.broadcast_messenger import BroadcastMessenger
from pyro.poutine.condition_messenger import ConditionMessenger
from pyro.poutine.do_messenger import DoMessenger
from pyro.poutine.equalize_messenger import EqualizeMessenger
from pyro.poutine.escape_messenger import EscapeMessenger
from pyro.poutine.handlers import (
    block,
    broadcast,
    condition,
    do,
    equalize,
    escape,
    infer_config,
    lift,
    markov,
    mask,
    queue,
    replay,
    scale,
    seed,
    substitute,
    trace,
    uncondition,
)
from pyro.poutine.infer_config_messenger import InferConfigMessenger
from pyro.poutine.legacy import (
    BlockPoutine,
    ConditionPoutine,
    EscapePoutine,
    IndepPoutine,
    LiftPoutine,
    Poutine,
    ReplayPoutine,
    ScalePoutine,
    TracePoutine,
)
from pyro.poutine.lift_messenger import LiftMessenger
from pyro.poutine.markov_messenger import MarkovMessenger
from pyro.poutine.mask_messenger import MaskMessenger
from pyro.poutine.messenger import Messenger, ReentrantMessenger, unwrap
from pyro.poutine.plate_messenger import CondIndepStackFrame, PlateMessenger
from pyro.poutine.replay_messenger import ReplayMessenger
from pyro.poutine.runtime import NonlocalExit, am_i_wrapped, apply_stack, effectful, get_mask
from pyro.poutine.scale_messenger import ScaleMessenger
from pyro.poutine.seed_messenger import SeedMessenger
from pyro.poutine.substitute_messenger import SubstituteMessenger
from pyro.poutine.trace_messenger import TraceHandler, TraceMessenger
from pyro.poutine.trace_struct import Trace
from pyro.poutine.uncondition_messenger import UnconditionMessenger
from pyro.poutine.util import enable_validation, is_validation_enabled


def __getattr__(name: str) -> Any:
    from pyro.plugins import resolve

    return resolve("handlers", name, __name__)


__all__ = [
    "BlockMessenger",
    "BlockPoutine",
    "BroadcastMessenger",
    "CondIndepStackFrame",
    "ConditionMessenger",
    "ConditionPoutine",
    "DoMessenger",
    "EqualizeMessenger",
    "EscapeMessenger",
    "EscapePoutine",
    "IndepPoutine",
    "InferConfigMessenger",
    "LiftMessenger",
    "LiftPoutine",
    "MarkovMessenger",
    "MaskMessenger",
    "Messenger",
    "NonlocalExit",
    "PlateMessenger",
    "Poutine",
    "ReentrantMessenger",
    "ReplayMessenger",
    "ReplayPoutine",
    "ScaleMessenger",
    "ScalePoutine",
    "SeedMessenger",
    "SubstituteMessenger",
    "Trace",
    "TraceHandler",
    "TraceMessenger",
    "TracePoutine",
    "UnconditionMessenger",
    "am_i_wrapped",
    "apply_stack",
    "block",
    "broadcast",
    "condition",
    "do",
    "effectful",
    "enable_validation",
    "equalize",
    "escape",
    "get_mask",
    "infer_config",
    "is_validation_enabled",
    "lift",
    "markov",
    "mask",
    "queue",
    "replay",
    "scale",
    "seed",
    "substitute",
    "trace",
    "uncondition",
    "unwrap",
]
