"""The parameter store (``pyro.params``)."""

from pyro.params.param_store import (
    ParamStoreDict,
    StateDict,
    module_from_param_with_module_name,
    normalize_param_name,
    param_with_module_name,
    user_param_name,
)
from pyro.params.serialization import StateFileError

__all__ = [
    "ParamStoreDict",
    "StateDict",
    "StateFileError",
    "module_from_param_with_module_name",
    "normalize_param_name",
    "param_with_module_name",
    "user_param_name",
]
